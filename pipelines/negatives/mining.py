"""Mining one task: one function per kind of negative (the package docstring says what each kind is and why).
:func:`hard_negatives` and :func:`easy_negatives` serve a semantic run query by query over its :class:`Retrieval`;
:func:`random_negatives` serves the random arm; :func:`mine_task` runs the right ones and hands the picks to the
anchors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ecomrel.schema import Source, split_category_path

from .config import NegativesConfig
from .guard import Drops, guard_thresholds, least_positive_similarity, passes_hard_rules, usable
from .index import search
from .inputs import TaskInput
from .rows import assign
from .slots import draw, quotas
from .vectors import MiningVectors

HARD, EASY, RANDOM = Source.HARD_NEGATIVE, Source.EASY_NEGATIVE, Source.RANDOM_NEGATIVE


@dataclass
class Mined:
    """One task's result: what each kind was asked for, the rows, the drops per kind and facts for the report."""

    requested: dict[str, int]
    rows: list[dict] = field(default_factory=list)
    drops: dict[str, Drops] = field(default_factory=dict)
    facts: dict = field(default_factory=dict)


@dataclass
class Retrieval:
    """What a semantic run knows about one task's queries (in ``anchors_by_query`` order) and targets."""

    corpus: np.ndarray  # target vectors, in ``TaskInput.corpus`` order
    queries: np.ndarray  # query vectors
    sims: np.ndarray  # (queries, k): similarity of each retrieved neighbour
    ids: np.ndarray  # (queries, k): corpus index of each retrieved neighbour, -1 when faiss found fewer
    least_positive: np.ndarray  # per query: s_pos of the margin guard
    thresholds: np.ndarray  # per query: the highest similarity a negative may have
    corpus_levels: list[tuple[str, ...]]  # QC: each target's category levels; QI: empty
    index: dict  # facts about the faiss index


def mine_task(
    ti: TaskInput,
    cfg: NegativesConfig,
    rng: np.random.Generator,
    vectors: MiningVectors | None,
    match: Mapping[str, int] | None = None,
) -> Mined:
    """Mine one task. ``vectors`` is None only for the random arm; ``match`` (random arm only) is anchor id ->
    negatives to draw for it, instead of the config's rate."""
    quota = quotas(ti, cfg, rng, match)
    by_query = ti.anchors_by_query()
    mined = Mined(requested={kind.value: int(q.sum()) for kind, q in quota.items()})
    facts = {"queries": len(by_query), "targets": len(ti.corpus)}
    if not by_query or not ti.corpus or not sum(mined.requested.values()):
        mined.facts = facts
    elif cfg.random_negatives:
        drops = mined.drops.setdefault(RANDOM.value, Drops())
        for q, anchors in by_query.items():
            picks = random_negatives(ti, rng, q, int(quota[RANDOM][anchors].sum()), drops)
            assign(mined.rows, ti, anchors, quota[RANDOM], [(ti.corpus[j], None, None) for j in picks], RANDOM)
        mined.facts = facts
    else:
        index, similarity = _mine_semantic(ti, cfg, rng, vectors, by_query, quota, mined)
        mined.facts = {"index": index, **facts, "similarity": similarity}
    return mined


def _mine_semantic(
    ti: TaskInput,
    cfg: NegativesConfig,
    rng: np.random.Generator,
    vectors: MiningVectors,
    by_query: dict[str, list[int]],
    quota: dict[Source, np.ndarray],
    mined: Mined,
) -> tuple[dict, dict]:
    """Hard, then easy negatives, query by query, into ``mined``. Returns the index facts and a similarity
    summary (mean ``s_pos`` of the guard, mean similarity of the hard negatives kept)."""
    ret = retrieve(ti, cfg, rng, vectors, list(by_query))
    hard_drops = mined.drops.setdefault(HARD.value, Drops())
    easy_drops = mined.drops.setdefault(EASY.value, Drops())
    hard_sims: list[float] = []
    for qi, (q, anchors) in enumerate(by_query.items()):
        hard = hard_negatives(ti, cfg, rng, ret, qi, q, int(quota[HARD][anchors].sum()), hard_drops)
        hard_sims.extend(s for _, _, s in hard)
        assign(mined.rows, ti, anchors, quota[HARD], [(ti.corpus[j], r, s) for r, j, s in hard], HARD)
        taken = {j for _, j, _ in hard}
        easy = easy_negatives(ti, rng, ret, qi, q, int(quota[EASY][anchors].sum()), easy_drops, taken)
        assign(mined.rows, ti, anchors, quota[EASY], [(ti.corpus[j], None, None) for j in easy], EASY)
    similarity = {
        "least_positive_mean": round(float(ret.least_positive.mean()), 4),
        "hard_negative_mean": round(float(np.mean(hard_sims)), 4) if hard_sims else None,
    }
    return ret.index, similarity


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
