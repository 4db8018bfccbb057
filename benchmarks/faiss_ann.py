"""faiss exact vs approximate search at negative-mining scale: build time, query time and recall@k.

Targets are synthetic unit vectors (dim 384, multilingual-e5-small's width) drawn around random cluster centres,
so neighbourhoods have structure the way sentence embeddings do (uniform random vectors in 384 dimensions have
none, and every index looks bad on them). Indexes are built by the miner's own ``build_index`` from a
NegativesConfig, so the knobs measured are the ones a recipe sets. Exact search (faiss "Flat") is the baseline and
the recall reference; everything runs in this one process on this machine's cores. Wall and CPU seconds are both
printed: on a shared machine CPU seconds show the work, wall seconds what a user waits. "speed-up" is exact
search's query wall time over this index's, "cpu ratio" the same in CPU seconds. Each index is built once and its
search-time knob (IVF nprobe, HNSW efSearch) swept on it.

    python benchmarks/faiss_ann.py                     # 100k and 1M targets, 1000 queries, k=20
    python benchmarks/faiss_ann.py --sizes 100000 --queries 500
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from pipelines.negatives import build_index, recall_at_k
from pipelines.negatives.config import NegativesConfig


def clustered_unit_vectors(
    n: int, dim: int, centres: np.ndarray, rng: np.random.Generator, chunk: int = 100_000
) -> np.ndarray:
    """``n`` float32 unit vectors, each a random centre plus same-scale Gaussian noise (built in chunks)."""
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        block = centres[rng.integers(0, len(centres), m)] + rng.standard_normal((m, dim), dtype=np.float32)
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


#: Search-time knobs swept on one built index (faiss reads them at search time, so no rebuild).
_SWEEP = {"ivf": ("nprobe", (8, 32, 128)), "hnsw": ("efSearch", (64, 128, 256, 512))}


def bench_size(n: int, dim: int, n_queries: int, k: int, configs: dict[str, NegativesConfig], seed: int) -> None:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(10, n // 1000), dim), dtype=np.float32)
    t0 = time.perf_counter()
    targets = clustered_unit_vectors(n, dim, centres, rng)
    queries = clustered_unit_vectors(n_queries, dim, centres, rng)
    print(f"\n== {n:,} targets x {dim} dims, {n_queries} queries, k={k} (data {time.perf_counter() - t0:.1f} s)")
    print(
        f"{'index':<6} {'build s':>8} {'build cpu':>9} {'search':<14} {'query s':>8} {'query cpu':>9} {'q/s':>7} "
        f"{'recall@k':>9} {'speed-up':>9} {'cpu ratio':>9}"
    )
    exact_ids = None
    exact_query_s = exact_query_cpu = 0.0
    for name, cfg in configs.items():
        cpu = time.process_time()
        index, info = build_index(targets, cfg)
        build_cpu = time.process_time() - cpu
        built = f"{name:<6} {info['build_s']:>8.1f} {build_cpu:>9.1f}"
        knob, values = _SWEEP.get(cfg.index, ("", (None,)))
        target = index.hnsw if cfg.index == "hnsw" else index
        for value in values:
            if value is not None:
                setattr(target, knob, value)
            start, cpu = time.perf_counter(), time.process_time()
            _, ids = index.search(queries, k)
            query_s, query_cpu = time.perf_counter() - start, time.process_time() - cpu
            if exact_ids is None:
                exact_ids, exact_query_s, exact_query_cpu = ids, query_s, query_cpu
            search = f"{knob}={value}" if value is not None else "exact"
            print(
                f"{built} {search:<14} {query_s:>8.3f} {query_cpu:>9.3f} {n_queries / query_s:>7.0f} "
                f"{recall_at_k(ids, exact_ids):>9.4f} {exact_query_s / query_s:>8.1f}x "
                f"{exact_query_cpu / max(query_cpu, 1e-9):>8.1f}x",
                flush=True,
            )
            built = f"{'':<6} {'':>8} {'':>9}"
        del index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--hnsw-ef-construction", type=int, default=NegativesConfig().hnsw_ef_construction)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import faiss

    configs = {
        "flat": NegativesConfig(index="flat"),
        "ivf": NegativesConfig(index="ivf"),
        "hnsw": NegativesConfig(index="hnsw", hnsw_ef_construction=args.hnsw_ef_construction),
    }
    d = NegativesConfig()
    print(
        f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}; ivf_nlist={d.ivf_nlist} (capped at n/39), hnsw_m={d.hnsw_m}, "
        f"hnsw_ef_construction={args.hnsw_ef_construction}; config defaults for search: ivf_nprobe={d.ivf_nprobe}, "
        f"hnsw_ef_search={d.hnsw_ef_search}"
    )
    for n in args.sizes:
        bench_size(n, args.dim, args.queries, args.k, configs, args.seed)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
