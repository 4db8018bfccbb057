"""Mining one task: one function per kind of negative (the package docstring says what each kind is and why).

A task is mined query by query, and a query needs only its own anchors and the task's shared
:class:`TaskContext` (built once, :func:`task_context`: the anchors grouped by query, the quota plan and, for a
semantic run, the retrieval of every anchor query), so the stage mines ranges of queries in parallel
(:mod:`.stage`). :func:`mine_queries` draws each query's negatives from a generator seeded by (seed, task, query): a
query's negatives do not depend on which other queries share its range, nor on the order ranges run in.
:func:`hard_negatives` and :func:`easy_negatives` serve a semantic run over the :class:`Retrieval`;
:func:`random_negatives` serves the random arm."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ecomrel.schema import Source, split_category_path

from .config import NegativesConfig
from .guard import Drops, guard_thresholds, least_positive_similarity, passes_hard_rules, usable
from .index import search
from .inputs import TaskInput, text_key
from .rows import assign
from .slots import Matched, Quotas, draw, plan_quotas
from .vectors import MiningVectors

HARD, EASY, RANDOM = Source.HARD_NEGATIVE, Source.EASY_NEGATIVE, Source.RANDOM_NEGATIVE


@dataclass
class Tally:
    """What mining some queries of a task produced: rows by kind, candidates each kind lost by rule, and the
    similarity sum of the hard negatives kept. The tallies of disjoint sets of queries add up (:meth:`add`)."""

    counts: dict[str, int] = field(default_factory=dict)
    drops: dict[str, Drops] = field(default_factory=dict)
    hard_similarity_sum: float = 0.0

    def add(self, other: Tally) -> Tally:
        for kind, n in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n
        for kind, d in other.drops.items():
            self.drops.setdefault(kind, Drops()).add(d)
        self.hard_similarity_sum += other.hard_similarity_sum
        return self


@dataclass
class Retrieval:
    """What a semantic run knows about one task's anchor queries (in ``TaskInput.queries`` order) and targets."""

    corpus: np.ndarray  # target vectors, in ``TaskInput.corpus`` order
    queries: np.ndarray  # query vectors
    sims: np.ndarray  # (queries, k): similarity of each retrieved neighbour
    ids: np.ndarray  # (queries, k): corpus index of each retrieved neighbour, -1 when faiss found fewer
    least_positive: np.ndarray  # per query: s_pos of the margin guard
    thresholds: np.ndarray  # per query: the highest similarity a negative may have
    corpus_levels: list[tuple[str, ...]]  # QC: each target's category levels; QI: empty
    index: dict  # facts about the faiss index


@dataclass
class TaskContext:
    """Everything mining one task's queries needs besides their anchors: the task's input, the config, the quota
    plan and (semantic runs with something to mine) the retrieval. Built once per task; the stage puts it in
    Ray's object store for the blocks to share."""

    ti: TaskInput
    cfg: NegativesConfig
    quotas: Quotas
    retrieval: Retrieval | None  # rows in ``ti.queries`` order
    facts: dict  # for the report: queries, targets, (semantic) index facts and mean s_pos

    def summary(self) -> dict:
        """What the report needs of the context (small: it travels to the driver)."""
        return {
            "anchors": len(self.ti.anchor_keys),
            "requested_by_kind": dict(self.quotas.requested),
            "train_labels": dict(self.ti.train_labels),
            "facts": self.facts,
        }

    @property
    def mines(self) -> bool:
        """Whether there is anything to mine: anchor queries, targets and requested negatives."""
        return bool(self.ti.queries and self.ti.corpus and sum(self.quotas.requested.values()))


def task_context(
    ti: TaskInput, cfg: NegativesConfig, vectors: MiningVectors | None, matched: Matched | None = None
) -> TaskContext:
    """A task's :class:`TaskContext`. ``vectors`` is None only for the random arm; ``matched`` (random arm only)
    replaces the config's rate by a semantic run's per-anchor counts. A semantic run retrieves every anchor query
    here, in one faiss search (recall@k sampled with a generator seeded by (seed, task))."""
    if vectors is None and not cfg.random_negatives:
        raise ValueError("negatives: semantic mining needs embeddings (recipe key 'embed')")
    quotas = plan_quotas(ti.anchor_keys, cfg, matched)
    ctx = TaskContext(ti, cfg, quotas, None, {"queries": len(ti.queries), "targets": len(ti.corpus)})
    if ctx.mines and not cfg.random_negatives:
        rng = np.random.default_rng([cfg.seed, text_key(ti.task)])
        ctx.retrieval = retrieve(ti, cfg, rng, vectors, ti.queries)
        least = round(float(ctx.retrieval.least_positive.mean()), 4)
        ctx.facts = {"index": ctx.retrieval.index, **ctx.facts, "similarity": {"least_positive_mean": least}}
    return ctx


def mine_queries(ctx: TaskContext, start: int = 0, stop: int | None = None) -> tuple[list[dict], Tally]:
    """Mine the anchor queries ``ctx.ti.queries[start:stop]`` (all by default) for their anchors. Returns the mined
    rows (MINED_SCHEMA columns) and their :class:`Tally`. Raises when a mined id collides with an existing row id."""
    rows: list[dict] = []
    tally = Tally()
    if ctx.mines:
        for qi in range(start, len(ctx.ti.queries) if stop is None else stop):
            tally.add(_mine_query(ctx, qi, rows))
    return rows, tally


def _mine_query(ctx: TaskContext, qi: int, rows: list[dict]) -> Tally:
    """Mine query ``qi`` of ``ctx``'s task for its anchors (handed their negatives in id order), appending the rows
    to ``rows``; returns their tally."""
    ti, cfg = ctx.ti, ctx.cfg
    query = ti.queries[qi]
    lo, hi = int(ti.anchor_bounds[qi]), int(ti.anchor_bounds[qi + 1])
    anchors = [
        {"id": i, "task": ti.task, "language": lang, "query": query}
        for i, lang in zip(ti.anchor_ids[lo:hi], ti.anchor_languages[lo:hi], strict=True)
    ]
    tally = Tally()
    first = len(rows)
    quota = ctx.quotas.of(ti.anchor_keys[lo:hi])
    rng = np.random.default_rng([cfg.seed, text_key(ti.task, query)])
    if cfg.random_negatives:
        drops = tally.drops.setdefault(RANDOM.value, Drops())
        picks = random_negatives(ti, rng, query, int(quota[RANDOM].sum()), drops)
        assign(rows, anchors, quota[RANDOM], [(ti.corpus[j], None, None) for j in picks], RANDOM)
    else:
        ret = ctx.retrieval
        hard_drops = tally.drops.setdefault(HARD.value, Drops())
        easy_drops = tally.drops.setdefault(EASY.value, Drops())
        hard = hard_negatives(ti, cfg, rng, ret, qi, query, int(quota[HARD].sum()), hard_drops)
        assign(rows, anchors, quota[HARD], [(ti.corpus[j], r, s) for r, j, s in hard], HARD)
        tally.hard_similarity_sum = float(sum(s for _, _, s in hard))
        taken = {j for _, j, _ in hard}
        easy = easy_negatives(ti, rng, ret, qi, query, int(quota[EASY].sum()), easy_drops, taken)
        assign(rows, anchors, quota[EASY], [(ti.corpus[j], None, None) for j in easy], EASY)
    mined = rows[first:]
    for r in mined:
        tally.counts[r["source"]] = tally.counts.get(r["source"], 0) + 1
    _check_ids(ti, mined)
    return tally


def _check_ids(ti: TaskInput, rows: list[dict]) -> None:
    """Ids are unique per (task, split), as ingest keeps them (the CIKM files number each task from 0). Mined ids
    (anchor id + kind + number) are unique among themselves by construction; this checks them against the
    task's existing rows."""
    clash = ti.row_ids.isin([r["split"] for r in rows], [r["id"] for r in rows])
    if clash.any():
        r = rows[int(np.flatnonzero(clash)[0])]
        raise ValueError(
            f"mined ids collide with existing (task, split, id) keys, e.g. {(r['task'], r['split'], r['id'])!r}"
        )


def retrieve(
    ti: TaskInput, cfg: NegativesConfig, rng: np.random.Generator, vectors: MiningVectors, queries: list[str]
) -> Retrieval:
    """The vectors of ``queries`` and of the task's targets, each query's guard threshold and faiss neighbours."""
    corpus = np.stack([vectors.targets[t] for t in ti.corpus])
    query_vecs = np.stack([vectors.queries[q] for q in queries])
    least = least_positive_similarity(ti, queries, vectors)
    sims, ids, index = search(corpus, query_vecs, cfg, rng)
    return Retrieval(
        corpus=corpus,
        queries=query_vecs,
        sims=sims,
        ids=ids,
        least_positive=least,
        thresholds=guard_thresholds(least, cfg.absolute_margin, cfg.relative_margin),
        corpus_levels=[tuple(split_category_path(t)) for t in ti.corpus] if ti.is_qc else [],
        index=index,
    )


def hard_negatives(
    ti: TaskInput,
    cfg: NegativesConfig,
    rng: np.random.Generator,
    ret: Retrieval,
    qi: int,
    query: str,
    need: int,
    drops: Drops,
) -> list[tuple[int, int, float]]:
    """Query ``qi``'s hard negatives as (rank, target index, similarity). Every candidate of the rank window is
    screened (so the drop counts describe the whole window), then the ``need`` nearest survivors are kept, or a
    random ``need`` of them (``sampling_strategy="random"``), in rank order."""
    valid: list[tuple[int, int, float]] = []
    for r in range(cfg.range_min, min(cfg.range_max, ret.ids.shape[1])):
        j, sim = int(ret.ids[qi, r]), float(ret.sims[qi, r])
        if j < 0:
            break
        levels = ret.corpus_levels[j] if ti.is_qc else None
        if passes_hard_rules(ti, query, ti.corpus[j], levels, sim, ret.thresholds[qi], drops):
            valid.append((r, j, sim))
    if cfg.sampling_strategy == "random" and len(valid) > need:
        valid = [valid[i] for i in sorted(rng.choice(len(valid), size=need, replace=False))]
    return valid[:need]


def easy_negatives(
    ti: TaskInput,
    rng: np.random.Generator,
    ret: Retrieval,
    qi: int,
    query: str,
    need: int,
    drops: Drops,
    taken: set[int],
) -> list[int]:
    """Up to ``need`` target indices far from query ``qi``, drawn at random, none in ``taken`` (its hard
    negatives). Far: for QC, another top level than every known positive of the query; for QI, outside its
    retrieved top_k and not above its guard threshold."""
    far = _far_category(ti, ret, query) if ti.is_qc else _far_title(ret, qi)
    return draw(rng, len(ti.corpus), need, lambda j: far(j) and usable(ti, query, ti.corpus[j], drops), taken)


def _far_category(ti: TaskInput, ret: Retrieval, query: str) -> Callable[[int], bool]:
    tops = {lv[0] for lv in ti.positive_levels[query] if lv}
    return lambda j: bool(ret.corpus_levels[j]) and ret.corpus_levels[j][0] not in tops


def _far_title(ret: Retrieval, qi: int) -> Callable[[int], bool]:
    retrieved = set(ret.ids[qi].tolist())
    qv, threshold = ret.queries[qi], ret.thresholds[qi]
    return lambda j: j not in retrieved and float(qv @ ret.corpus[j]) <= threshold


def random_negatives(ti: TaskInput, rng: np.random.Generator, query: str, need: int, drops: Drops) -> list[int]:
    """Up to ``need`` target indices for ``query`` drawn uniformly from the task's training targets, minus its
    known positives and existing pairs."""
    return draw(rng, len(ti.corpus), need, lambda j: usable(ti, query, ti.corpus[j], drops), set())
