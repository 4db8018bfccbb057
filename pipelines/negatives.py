"""Semantic negative mining: label-0 training pairs that look relevant but are not (the paper's "semantic negative
sampling"), plus easy negatives and a uniform-random ablation arm.

Per task, every unique training target is embedded once as a passage and every query that has a positive training
row once as a query (one Ray Data actor pass for both kinds, see :mod:`pipelines.embed`); a faiss inner-product
index over the targets returns each query's ``top_k`` neighbours.

**Hard negatives** come from the retrieval-rank window ``[range_min, range_max)`` (raw ranks, 0 = nearest, so the
``rank`` column is where the target really sat). A candidate is rejected when

* it is labelled positive for the query anywhere in the data (any split), or the pair exists at all (no duplicates,
  and no label-0 copy of a dev/test pair);
* (QC) it lies on the same line of the taxonomy as a known positive: an ancestor or a descendant of it. Category
  paths form a tree, and the ancestors of a relevant category are relevant too; the embedder cannot see that, since
  a short path like ``clothing`` embeds far from ``red summer dress``;
* the margin guard fires: its similarity exceeds ``s_pos - absolute_margin`` or ``s_pos - |s_pos| *
  relative_margin``, where ``s_pos`` is the similarity of the query's *least* similar known positive. A target the
  embedder ranks like a known-relevant one is more likely an unlabelled positive than a negative, and the least
  similar positive gives the lowest, strictest threshold: it rejects anything that scores like *some* positive,
  where the most similar one would only reject what beats the best. sentence-transformers' ``mine_hard_negatives``
  makes the same choice (and uses the same sign-safe relative formula). For QC the reference is taken over the
  query's *most specific* positives (those that are not an ancestor of another of its positives): ancestors are
  already excluded by the taxonomy rule, and as a reference their low similarity would reject almost everything.
  On synthetic data (bundled e5-small, 2000 rows/task) this keeps about 450 instead of 136 of 966 requested QC
  hard negatives, with zero false negatives either way. The price of "least similar" remains: a noisy low-similarity
  "positive" starves its query of hard negatives, and a lost hard negative is cheaper than a false negative.

**Easy negatives** are clearly irrelevant targets drawn at random: for QC a category path whose top level differs
from the top level of every known positive of the query; for QI, whose item titles carry no category, a title that
is outside the query's retrieved ``top_k`` *and* below the same guard threshold (the data has no item->category
link, so "far in embedding space" stands in for "other top-level category").

**Random negatives** (``random_negatives=True``, the ablation arm) are targets drawn uniformly from the task's
training targets, minus known positives and existing pairs; nothing is embedded. Given a semantic run's output
(``match_from``) each anchor gets exactly as many as semantic mining gave it, so the arm compares retrieval with
chance at the same count (the recipe does this whenever an embedder is configured); without one, the config's rate.

Candidates are always *training* targets: dev/test rows only tell which pairs are positive or already exist.
Each anchor (positive training row) gets floor or ceil of ``negatives_per_positive`` negatives, ``hard_fraction``
of all slots hard; slots the filters leave empty are reported as a shortfall per kind, never back-filled with the
other kind, so the report shows what the data and the guard really allow.

Why not ``sentence_transformers.util.mine_hard_negatives`` itself: it embeds in-process (we embed on Ray actors),
it knows only the positives of the dataset it is given (we must exclude positives from every split and never
duplicate a dev/test pair), it has no easy/random arms, and it needs the ``datasets`` package, which ecomrel does
not install. Its parameter names (``range_min``, ``range_max``, ``absolute_margin``, ``relative_margin``,
``sampling_strategy``) and its guard semantics are kept, with one deliberate difference: its range counts ranks
after positives and guarded candidates are removed, ours counts raw retrieval ranks (see above).
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecomrel.config import EmbedConfig, NegativesConfig
from ecomrel.records import dataset_path, read_records
from ecomrel.schema import RECORD_COLUMNS, RECORD_SCHEMA, UNLABELED, Source, Split, Task, split_category_path

from .embed import Embedder, embed_queries_and_passages

log = logging.getLogger(__name__)

#: Mined rows: the record columns plus where the target sat in the query's retrieval list and its cosine
#: similarity to the query (both null for easy and random negatives).
MINED_SCHEMA = RECORD_SCHEMA.append(pa.field("rank", pa.int32(), nullable=True)).append(
    pa.field("similarity", pa.float32(), nullable=True)
)
DATA_DIR = "data"
_ID_SUFFIX = {Source.HARD_NEGATIVE: "hn", Source.EASY_NEGATIVE: "en", Source.RANDOM_NEGATIVE: "rn"}
_LABELS = {0, 1, UNLABELED}


# ----------------------------------------------------------------------------------------------------------- input


def load_records(path: Path) -> pd.DataFrame:
    """All rows of an ingested dataset (a stage folder, its ``data/`` folder or a Parquet file), checked against
    RECORD_SCHEMA; errors name the dataset, the row id and the field."""
    where = dataset_path(path)
    df = read_records(where)
    missing = [c for c in RECORD_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: missing columns {missing} (expected ecomrel.schema.RECORD_SCHEMA)")
    return _check_rows(df[RECORD_COLUMNS].reset_index(drop=True), where)


def _check_rows(df: pd.DataFrame, where: Path) -> pd.DataFrame:
    def fail(mask: pd.Series, field_name: str, what: str) -> None:
        row = df.index[mask][0]
        raise ValueError(f"{where}: row {row} (id {df.at[row, 'id']!r}): field {field_name!r} {what}")

    for col in ("id", "task", "split", "language", "query", "target", "source"):
        if df[col].isna().any():
            fail(df[col].isna(), col, "is null")
    for col, allowed in (("task", {t.value for t in Task}), ("split", {s.value for s in Split})):
        bad = ~df[col].isin(allowed)
        if bad.any():
            fail(bad, col, f"is {df.loc[bad, col].iloc[0]!r}, expected one of {sorted(allowed)}")
    bad = ~df["label"].isin(_LABELS)
    if bad.any():
        fail(bad, "label", f"is {df.loc[bad, 'label'].iloc[0]!r}, expected 0, 1 or {UNLABELED}")
    return df


# ---------------------------------------------------------------------------------------------------------- faiss


def build_index(vectors: np.ndarray, cfg: NegativesConfig):
    """A faiss inner-product index over unit vectors (so scores are cosines): exact ``IndexFlatIP``, or IVF /
    HNSW for corpora where exact search is too slow. Returns (index, facts about it for the report).

    IVF lists are capped at n/39 (faiss' minimum of 39 training points per centroid), so small corpora still
    train; nprobe is capped at the list count.
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    start = time.perf_counter()
    info: dict = {"kind": cfg.index, "targets": n, "dim": dim}
    if cfg.index == "flat":
        index = faiss.IndexFlatIP(dim)
    elif cfg.index == "ivf":
        nlist = max(1, min(cfg.ivf_nlist, n // 39))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = min(cfg.ivf_nprobe, nlist)
        info.update(nlist=nlist, nprobe=index.nprobe)
    elif cfg.index == "hnsw":
        index = faiss.IndexHNSWFlat(dim, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = cfg.hnsw_ef_construction
        index.hnsw.efSearch = cfg.hnsw_ef_search
        info.update(m=cfg.hnsw_m, ef_construction=cfg.hnsw_ef_construction, ef_search=cfg.hnsw_ef_search)
    else:
        raise ValueError(f"unknown index kind {cfg.index!r}")
    index.add(vectors)
    info["build_s"] = round(time.perf_counter() - start, 4)
    return index, info


def _build_index_factory(vectors: np.ndarray, cfg: NegativesConfig):
    """:func:`build_index` through ``faiss.index_factory`` ("Flat", "IVF{nlist},Flat", "HNSW{m},Flat"), to replace
    it once the two are shown to return the same neighbours."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    start = time.perf_counter()
    spec, knobs = _factory_spec(cfg, n)
    index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
    if cfg.index == "ivf":
        index.nprobe = knobs["nprobe"]
    elif cfg.index == "hnsw":
        index.hnsw.efConstruction = cfg.hnsw_ef_construction
        index.hnsw.efSearch = cfg.hnsw_ef_search
    index.train(vectors)
    index.add(vectors)
    info = {"kind": cfg.index, "targets": n, "dim": dim, **knobs, "build_s": round(time.perf_counter() - start, 4)}
    return index, info


def _factory_spec(cfg: NegativesConfig, n: int) -> tuple[str, dict]:
    """The ``faiss.index_factory`` string for ``cfg.index`` over ``n`` targets, and its knobs for the report."""
    if cfg.index == "flat":
        return "Flat", {}
    if cfg.index == "ivf":
        nlist = max(1, min(cfg.ivf_nlist, n // 39))
        return f"IVF{nlist},Flat", {"nlist": nlist, "nprobe": min(cfg.ivf_nprobe, nlist)}
    if cfg.index == "hnsw":
        knobs = {"m": cfg.hnsw_m, "ef_construction": cfg.hnsw_ef_construction, "ef_search": cfg.hnsw_ef_search}
        return f"HNSW{cfg.hnsw_m},Flat", knobs
    raise ValueError(f"unknown index kind {cfg.index!r}")


def exact_search(corpus: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-k (the reference for recall)."""
    import faiss

    index = faiss.IndexFlatIP(corpus.shape[1])
    index.add(np.ascontiguousarray(corpus, dtype=np.float32))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def recall_at_k(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each query's exact top-k ids that the approximate search also returned."""
    if exact.size == 0:
        return 1.0
    hits = []
    for a, e in zip(approx, exact, strict=True):
        truth = set(e[e >= 0].tolist())
        hits.append(len(truth & set(a[a >= 0].tolist())) / max(1, len(truth)))
    return float(np.mean(hits))


def guard_thresholds(
    least_positive_similarity: np.ndarray, absolute_margin: float | None, relative_margin: float | None
) -> np.ndarray:
    """Per query, the highest similarity a negative may have (inf without margins). Same formulas as
    sentence-transformers: ``s - absolute_margin`` and the sign-safe ``s - |s| * relative_margin``."""
    s = np.asarray(least_positive_similarity, dtype=np.float64)
    threshold = np.full_like(s, np.inf)
    if absolute_margin is not None:
        threshold = np.minimum(threshold, s - absolute_margin)
    if relative_margin is not None:
        threshold = np.minimum(threshold, s - np.abs(s) * relative_margin)
    return threshold


# --------------------------------------------------------------------------------------------------------- mining


@dataclass
class _TaskInput:
    """One task's view of the data: what is known, what to anchor on, what to draw from."""

    task: str
    anchors: list[dict]  # positive training rows (id, task, language, query), sorted by id
    corpus: list[str]  # unique training targets, sorted
    known_positive: dict[str, set[str]]  # query -> targets labelled 1 in any split
    #: QC only: query -> the level tuples of its known positives (for the taxonomy rule), else empty.
    positive_levels: dict[str, list[tuple[str, ...]]]
    existing: set[tuple[str, str]]  # every (query, target) pair present in any split
    train_labels: pd.Series  # labels of the task's training rows (for the balance report)


@dataclass
class _Drops:
    known_positive: int = 0
    existing_pair: int = 0
    taxonomy: int = 0
    margin_guard: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "known_positive": self.known_positive,
            "existing_pair": self.existing_pair,
            "taxonomy": self.taxonomy,
            "margin": self.margin_guard,
        }


@dataclass
class _Mined:
    rows: list[dict] = field(default_factory=list)
    drops: dict[str, _Drops] = field(default_factory=dict)


def _task_inputs(records: pd.DataFrame, task: str) -> _TaskInput:
    df = records[records["task"] == task]
    positives = df[df["label"] == 1]
    known: dict[str, set[str]] = {}
    for q, t in zip(positives["query"], positives["target"], strict=True):
        known.setdefault(q, set()).add(t)
    levels: dict[str, list[tuple[str, ...]]] = {}
    if task == Task.QC.value:
        levels = {q: [tuple(split_category_path(p)) for p in sorted(ps)] for q, ps in known.items()}
    train = df[df["split"] == Split.TRAIN.value]
    anchors = train.loc[train["label"] == 1, ["id", "task", "language", "query"]].sort_values("id", kind="stable")
    return _TaskInput(
        task=task,
        anchors=anchors.to_dict("records"),
        corpus=sorted(set(train["target"])),
        known_positive=known,
        positive_levels=levels,
        existing=set(zip(df["query"], df["target"], strict=True)),
        train_labels=train["label"],
    )


def _same_line(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """True when one category path is an ancestor of (or equal to) the other."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _reference_positives(ti: _TaskInput, query: str) -> list[str]:
    """The positives the margin guard measures against: all of them, except that for QC a positive that is an
    ancestor of another positive of the query is left out (see the module docstring)."""
    positives = sorted(ti.known_positive[query])
    if not ti.positive_levels:
        return positives
    levels = ti.positive_levels[query]  # sorted like ``positives``
    return [
        p
        for p, lv in zip(positives, levels, strict=True)
        if not any(len(other) > len(lv) and other[: len(lv)] == lv for other in levels)
    ]


def _allocate(n_anchors: int, cfg: NegativesConfig, rng: np.random.Generator) -> tuple[int, np.ndarray, np.ndarray]:
    """Split round(n_anchors * negatives_per_positive) negatives over anchors (each gets floor or ceil of the
    rate, the ceilings at random) and over hard/easy (round(total * hard_fraction) hard slots, at random).
    Returns (total, hard per anchor, easy per anchor)."""
    total = round(n_anchors * cfg.negatives_per_positive)
    base = math.floor(cfg.negatives_per_positive)
    quota = np.full(n_anchors, base, dtype=np.int64)
    extra = total - base * n_anchors
    if extra > 0:
        quota[rng.choice(n_anchors, size=extra, replace=False)] += 1
    n_hard = 0 if cfg.random_negatives else round(total * cfg.hard_fraction)
    slot_owner = np.repeat(np.arange(n_anchors), quota)
    is_hard = np.zeros(total, dtype=bool)
    is_hard[rng.choice(total, size=n_hard, replace=False)] = True
    hard = np.bincount(slot_owner[is_hard], minlength=n_anchors)
    return total, hard, quota - hard


def _draw(rng: np.random.Generator, n: int, need: int, accept: Callable[[int], bool], exclude: set[int]) -> list[int]:
    """Up to ``need`` distinct indices in [0, n) passing ``accept``, uniformly at random. Two cheap rounds of
    rejection sampling, then one full permutation so that a valid candidate is never missed by bad luck."""
    picked: list[int] = []
    if need <= 0:
        return picked
    seen = set(exclude)
    for attempt in range(3):
        candidates = rng.permutation(n) if attempt == 2 else rng.choice(n, size=min(n, 4 * need + 16), replace=False)
        for j in candidates.tolist():
            if j in seen:
                continue
            seen.add(j)
            if accept(j):
                picked.append(j)
                if len(picked) == need:
                    return picked
        if len(seen) >= n:
            break
    return picked


def _row(anchor: dict, target: str, source: Source, k: int, rank: int | None, sim: float | None) -> dict:
    return {
        "id": f"{anchor['id']}-{_ID_SUFFIX[source]}{k}",
        "task": anchor["task"],
        "split": Split.TRAIN.value,
        "language": anchor["language"],
        "query": anchor["query"],
        "target": target,
        "label": 0,
        "source": source.value,
        "parent_id": anchor["id"],
        "rank": rank,
        "similarity": sim,
    }


def _mine_task(
    ti: _TaskInput,
    cfg: NegativesConfig,
    rng: np.random.Generator,
    q_vec: dict[str, np.ndarray] | None,
    t_vec: dict[str, np.ndarray] | None,
    match: Mapping[str, int] | None = None,
) -> tuple[_Mined, dict]:
    """Mine one task. ``q_vec`` / ``t_vec`` map texts to unit vectors (None for the random arm). ``match`` (random
    arm only): anchor id -> negatives to draw for it, instead of the config's rate."""
    mined = _Mined()
    facts: dict = {}
    total, hard_quota, easy_quota = _allocate(len(ti.anchors), cfg, rng)
    if match is not None:
        hard_quota = np.array([match.get(a["id"], 0) for a in ti.anchors], dtype=np.int64)
        easy_quota = np.zeros_like(hard_quota)
        total = int(hard_quota.sum())
    by_query: dict[str, list[int]] = {}
    for i, q in enumerate(a["query"] for a in ti.anchors):
        by_query.setdefault(q, []).append(i)
    queries = list(by_query)
    n = len(ti.corpus)
    requested = (
        {Source.RANDOM_NEGATIVE.value: total}
        if cfg.random_negatives
        else {Source.HARD_NEGATIVE.value: int(hard_quota.sum()), Source.EASY_NEGATIVE.value: int(easy_quota.sum())}
    )
    if not queries or not n or total == 0:
        return mined, {"requested": requested, "queries": len(queries), "targets": n}

    def usable(q: str, t: str, drops: _Drops) -> bool:
        if t in ti.known_positive.get(q, ()):
            drops.known_positive += 1
            return False
        if (q, t) in ti.existing:
            drops.existing_pair += 1
            return False
        return True

    if cfg.random_negatives:
        drops = mined.drops.setdefault(Source.RANDOM_NEGATIVE.value, _Drops())
        for q in queries:
            need = int(hard_quota[by_query[q]].sum() + easy_quota[by_query[q]].sum())
            picks = _draw(rng, n, need, lambda j, q=q: usable(q, ti.corpus[j], drops), set())
            _assign(
                mined,
                ti,
                by_query[q],
                hard_quota + easy_quota,
                [(ti.corpus[j], None, None) for j in picks],
                Source.RANDOM_NEGATIVE,
            )
        return mined, {"requested": requested, "queries": len(queries), "targets": n}

    if q_vec is None or t_vec is None:
        raise ValueError("semantic mining needs query and target vectors")
    corpus_vecs = np.stack([t_vec[t] for t in ti.corpus])
    query_vecs = np.stack([q_vec[q] for q in queries])
    least_pos = np.array([min(float(q_vec[q] @ t_vec[p]) for p in _reference_positives(ti, q)) for q in queries])
    thresholds = guard_thresholds(least_pos, cfg.absolute_margin, cfg.relative_margin)

    index, info = build_index(corpus_vecs, cfg)
    k = min(cfg.top_k, n)
    start = time.perf_counter()
    sims, ids = index.search(query_vecs, k)
    info["search_s"] = round(time.perf_counter() - start, 4)
    if cfg.index != "flat":
        sample = np.sort(rng.choice(len(queries), size=min(cfg.recall_queries, len(queries)), replace=False))
        _, exact_ids = exact_search(corpus_vecs, query_vecs[sample], k)
        info["recall_at_k"] = round(recall_at_k(ids[sample], exact_ids), 4)
        info["recall_k"] = k
        info["recall_queries"] = len(sample)
    facts["index"] = info

    hard_drops = mined.drops.setdefault(Source.HARD_NEGATIVE.value, _Drops())
    easy_drops = mined.drops.setdefault(Source.EASY_NEGATIVE.value, _Drops())
    is_qc = ti.task == Task.QC.value
    corpus_levels = [tuple(split_category_path(t)) for t in ti.corpus] if is_qc else []
    hard_sims: list[float] = []
    window = range(cfg.range_min, min(cfg.range_max, k))
    for qi, q in enumerate(queries):
        anchors = by_query[q]
        # Hard: every candidate of the window is screened (so drop counts describe the whole window), then the
        # nearest survivors are kept ("top") or a random subset of them ("random").
        valid: list[tuple[int, int, float]] = []
        for r in window:
            j = int(ids[qi, r])
            if j < 0:
                break
            if not usable(q, ti.corpus[j], hard_drops):
                continue
            if is_qc and any(_same_line(corpus_levels[j], lv) for lv in ti.positive_levels[q]):
                hard_drops.taxonomy += 1
                continue
            if sims[qi, r] > thresholds[qi]:
                hard_drops.margin_guard += 1
                continue
            valid.append((r, j, float(sims[qi, r])))
        need = int(hard_quota[anchors].sum())
        if cfg.sampling_strategy == "random" and len(valid) > need:
            valid = [valid[i] for i in sorted(rng.choice(len(valid), size=need, replace=False))]
        chosen = valid[:need]
        hard_sims.extend(s for _, _, s in chosen)
        _assign(mined, ti, anchors, hard_quota, [(ti.corpus[j], r, s) for r, j, s in chosen], Source.HARD_NEGATIVE)

        # Easy: far from the query (see module docstring), never one of its hard negatives.
        taken = {j for _, j, _ in chosen}
        if is_qc:
            pos_tops = {lv[0] for lv in ti.positive_levels[q] if lv}

            def far(j: int, pos_tops=pos_tops) -> bool:
                return bool(corpus_levels[j]) and corpus_levels[j][0] not in pos_tops
        else:
            retrieved = set(ids[qi].tolist())
            qv, thr = query_vecs[qi], thresholds[qi]

            def far(j: int, retrieved=retrieved, qv=qv, thr=thr) -> bool:
                return j not in retrieved and float(qv @ corpus_vecs[j]) <= thr

        need = int(easy_quota[anchors].sum())
        picks = _draw(rng, n, need, lambda j, q=q, far=far: far(j) and usable(q, ti.corpus[j], easy_drops), taken)
        _assign(mined, ti, anchors, easy_quota, [(ti.corpus[j], None, None) for j in picks], Source.EASY_NEGATIVE)

    facts.update(
        requested=requested,
        queries=len(queries),
        targets=n,
        similarity={
            "least_positive_mean": round(float(least_pos.mean()), 4),
            "hard_negative_mean": round(float(np.mean(hard_sims)), 4) if hard_sims else None,
        },
    )
    return mined, facts


def _assign(
    mined: _Mined,
    ti: _TaskInput,
    anchors: list[int],
    quota: np.ndarray,
    picks: list[tuple[str, int | None, float | None]],
    source: Source,
) -> None:
    """Hand a query's picks to its anchor rows in order, each up to its quota (a shortfall hits the last)."""
    it = iter(picks)
    for a in anchors:
        anchor = ti.anchors[a]
        for k in range(int(quota[a])):
            pick = next(it, None)
            if pick is None:
                return
            target, rank, sim = pick
            mined.rows.append(_row(anchor, target, source, k, rank, sim))


def _balance(labels: pd.Series, mined_rows: int) -> dict:
    pos = int((labels == 1).sum())
    neg = int((labels == 0).sum())

    def side(p: int, n: int) -> dict:
        return {"positive": p, "negative": n, "positive_fraction": round(p / (p + n), 4) if p + n else None}

    return {"before": side(pos, neg), "after": side(pos, neg + mined_rows)}


@dataclass
class MiningVectors:
    """Unit vectors of the texts mining needs: anchor queries (query prompt) and targets (passage prompt)."""

    queries: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    facts: dict = field(default_factory=dict)


def mining_texts(records: pd.DataFrame) -> tuple[list[str], list[str]]:
    """What semantic mining embeds, each text once across tasks: the queries of positive training rows, and the
    training targets plus every known positive target of those queries (for the guard)."""
    inputs = _all_task_inputs(records)
    queries = sorted({a["query"] for ti in inputs for a in ti.anchors})
    passages = sorted(
        {t for ti in inputs for t in ti.corpus}
        | {p for ti in inputs for a in ti.anchors for p in ti.known_positive[a["query"]]}
    )
    return queries, passages


def embed_for_mining(
    records: pd.DataFrame, embed_cfg: EmbedConfig, embedder_cls: type[Embedder] = Embedder
) -> MiningVectors:
    """Embed :func:`mining_texts` in one pass over one Ray Data actor pool."""
    queries, passages = mining_texts(records)
    start = time.perf_counter()
    q_arr, p_arr = embed_queries_and_passages(queries, passages, embed_cfg, embedder_cls)
    facts = {
        "queries": len(queries),
        "passages": len(passages),
        "dim": int(p_arr.shape[1]) if passages else 0,
        "seconds": round(time.perf_counter() - start, 3),
    }
    return MiningVectors(dict(zip(queries, q_arr, strict=True)), dict(zip(passages, p_arr, strict=True)), facts)


def _all_task_inputs(records: pd.DataFrame) -> list[_TaskInput]:
    return [_task_inputs(records, t.value) for t in Task if (records["task"] == t.value).any()]


def mine_records(
    records: pd.DataFrame,
    neg_cfg: NegativesConfig,
    vectors: MiningVectors | None,
    match: Mapping[str, Mapping[str, int]] | None = None,
) -> tuple[pa.Table, dict]:
    """Mine negatives for ``records`` (all splits; anchors are the positive training rows). ``vectors`` is None
    only for the random arm; ``match`` (random arm only) is task -> anchor id -> how many to draw for that anchor
    (see :func:`matched_counts`). Returns the mined rows (MINED_SCHEMA) and the report."""
    if vectors is None and not neg_cfg.random_negatives:
        raise ValueError("negatives: semantic mining needs embeddings (recipe key 'embed')")
    if match is not None and not neg_cfg.random_negatives:
        raise ValueError("negatives: only the random arm draws counts matched to another run")
    report_tasks: dict[str, dict] = {}
    rows: list[dict] = []
    for task_no, ti in enumerate(_all_task_inputs(records)):
        rng = np.random.default_rng([neg_cfg.seed, task_no])
        q_vec, t_vec = (None, None) if neg_cfg.random_negatives else (vectors.queries, vectors.targets)
        mined, facts = _mine_task(ti, neg_cfg, rng, q_vec, t_vec, None if match is None else match.get(ti.task, {}))
        counts = {s.value: 0 for s in _ID_SUFFIX}
        for r in mined.rows:
            counts[r["source"]] += 1
        requested = facts.pop("requested")
        produced = len(mined.rows)
        report_tasks[ti.task] = {
            "anchors": len(ti.anchors),
            "requested": sum(requested.values()),
            "mined": produced,
            "shortfall": sum(requested.values()) - produced,
            "requested_by_kind": requested,
            "shortfall_by_kind": {k: v - counts[k] for k, v in requested.items()},
            "counts": {k: v for k, v in counts.items() if v},
            "drops": {k: d.as_dict() for k, d in mined.drops.items()},
            "label_balance": _balance(ti.train_labels, produced),
            **facts,
        }
        rows.extend(mined.rows)

    # Ids are unique per (task, split), as ingest keeps them (the CIKM files number each task from 0).
    clashes = set(zip(records["task"], records["split"], records["id"], strict=True)).intersection(
        (r["task"], r["split"], r["id"]) for r in rows
    )
    if clashes:
        raise ValueError(f"mined ids collide with existing (task, split, id) keys, e.g. {sorted(clashes)[0]!r}")
    totals = {s.value: 0 for s in _ID_SUFFIX}
    for r in rows:
        totals[r["source"]] += 1
    report = {
        "output_rows": len(rows),
        "counts": {k: v for k, v in totals.items() if v},
        "tasks": report_tasks,
        "embedding": vectors.facts if vectors is not None and not neg_cfg.random_negatives else None,
    }
    return pa.Table.from_pylist(rows, schema=MINED_SCHEMA), report


def matched_counts(semantic_dir: Path) -> dict[str, dict[str, int]]:
    """task -> anchor id -> negatives that semantic mining produced for it, from a semantic run's output: the
    random arm draws exactly these, so "retrieval vs random" compares the same number of negatives per anchor."""
    path = Path(semantic_dir) / DATA_DIR
    mined = read_records(path)
    bad = mined[~mined["source"].isin([Source.HARD_NEGATIVE.value, Source.EASY_NEGATIVE.value])]
    if len(bad):
        raise ValueError(
            f"{path}: row id {bad.iloc[0]['id']!r} has source {bad.iloc[0]['source']!r}; a random arm can only "
            "match the counts of a semantic run (hard/easy negatives)"
        )
    counts = mined.groupby(["task", "parent_id"]).size()
    out: dict[str, dict[str, int]] = {}
    for (task, anchor), n in counts.items():
        out.setdefault(str(task), {})[str(anchor)] = int(n)
    return out


def mine_negatives(
    train_dir: Path,
    out_dir: Path,
    embed_cfg: EmbedConfig | None,
    neg_cfg: NegativesConfig,
    embedder_cls: type[Embedder] = Embedder,
    match_from: Path | None = None,
) -> dict:
    """Mine label-0 pairs for the training rows of the ingested dataset in ``train_dir`` and write them (mined rows
    only, MINED_SCHEMA) to ``out_dir/data/``. Rows of other splits are read to know every labelled positive and
    every existing pair. ``embed_cfg`` may be None only for the random arm; ``match_from`` (random arm only) is a
    semantic run's output folder whose per-anchor counts the random draw matches. Returns the report: counts by
    kind and per task, label balance before/after, guard drops, index facts (recall@k when approximate)."""
    if embed_cfg is None and not neg_cfg.random_negatives:
        raise ValueError("negatives: semantic mining needs an embed config (recipe key 'embed')")
    started = time.perf_counter()
    records = load_records(Path(train_dir))
    vectors = None if neg_cfg.random_negatives else embed_for_mining(records, embed_cfg, embedder_cls)
    match = matched_counts(match_from) if match_from is not None else None
    table, report = mine_records(records, neg_cfg, vectors, match)
    report["matched_to"] = None if match_from is None else str(match_from)
    # Written here rather than with ecomrel.records.write_records so that rank/similarity keep their types even
    # when every value is null (easy and random negatives).
    data_dir = Path(out_dir) / DATA_DIR
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    pq.write_table(table, data_dir / "mined.parquet")
    report.update(data_dir=str(data_dir), wall_s=round(time.perf_counter() - started, 3))
    log.info(
        "mined %d negatives %s; shortfall %s",
        report["output_rows"],
        report["counts"],
        {t: r["shortfall_by_kind"] for t, r in report["tasks"].items()},
    )
    return report
