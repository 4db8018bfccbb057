"""The faiss inner-product index over a task's targets, built from ``faiss.index_factory`` strings, and recall@k of
an approximate index against exact search."""

from __future__ import annotations

import time

import numpy as np

from .config import NegativesConfig

#: faiss' minimum number of training points per IVF centroid.
_IVF_POINTS_PER_LIST = 39


def build_index(vectors: np.ndarray, cfg: NegativesConfig):
    """A faiss inner-product index over unit vectors (so scores are cosines): exact ("Flat"), or IVF ("IVF{nlist},
    Flat") / HNSW ("HNSW{m},Flat") for corpora where exact search is too slow. Returns (index, facts about it for
    the report).

    IVF lists are capped at n/39 (faiss' minimum of 39 training points per centroid), so small corpora still
    train; nprobe is capped at the list count.
    """
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
    index.train(vectors)  # k-means for IVF; a no-op for Flat and HNSW
    index.add(vectors)
    info = {"kind": cfg.index, "targets": n, "dim": dim, **knobs, "build_s": round(time.perf_counter() - start, 4)}
    return index, info


def _factory_spec(cfg: NegativesConfig, n: int) -> tuple[str, dict]:
    """The ``faiss.index_factory`` string for ``cfg.index`` over ``n`` targets, and its knobs for the report."""
    if cfg.index == "flat":
        return "Flat", {}
    if cfg.index == "ivf":
        nlist = max(1, min(cfg.ivf_nlist, n // _IVF_POINTS_PER_LIST))
        return f"IVF{nlist},Flat", {"nlist": nlist, "nprobe": min(cfg.ivf_nprobe, nlist)}
    if cfg.index == "hnsw":
        knobs = {"m": cfg.hnsw_m, "ef_construction": cfg.hnsw_ef_construction, "ef_search": cfg.hnsw_ef_search}
        return f"HNSW{cfg.hnsw_m},Flat", knobs
    raise ValueError(f"unknown index kind {cfg.index!r}")


def search(
    corpus: np.ndarray, queries: np.ndarray, cfg: NegativesConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Each query's ``top_k`` nearest targets (at most all of them) as (similarities, target indices, facts).
    For an approximate index the facts add recall@k on ``recall_queries`` queries sampled with ``rng``."""
    index, info = build_index(corpus, cfg)
    k = min(cfg.top_k, len(corpus))
    start = time.perf_counter()
    sims, ids = index.search(queries, k)
    info["search_s"] = round(time.perf_counter() - start, 4)
    if cfg.index != "flat":
        sample = np.sort(rng.choice(len(queries), size=min(cfg.recall_queries, len(queries)), replace=False))
        _, exact_ids = exact_search(corpus, queries[sample], k)
        info.update(recall_at_k=round(recall_at_k(ids[sample], exact_ids), 4), recall_k=k, recall_queries=len(sample))
    return sims, ids, info


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
