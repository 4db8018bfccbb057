"""Data stages at scale: wall time, rows/s, peak driver RSS and peak object-store use per stage and size.

Synthetic CIKM-shaped data (``pipelines.synthetic.make_data``: train + dev + test for QC and QI, dev and test a fifth
of train each) goes through make-data -> ingest -> audit -> split at each ``--rows`` (training rows per task), and
through negatives (IVF index, the bundled multilingual-e5-small) at each ``--negatives-rows``. Every size runs in a
fresh process on a fresh local Ray (``--cpus``), so one size's memory never inflates the next's; make-data runs in
its own process too (its generator holds the rows it draws; it is not a streaming stage).

Per stage it prints the wall time, input rows per second, the driver process's peak RSS (sampled every 50 ms) and
the peak object-store use across the cluster (Plasma bytes used, sampled every 0.5 s), and the ratio of each peak
RSS to the same stage's at the smallest size: a streaming stage keeps that ratio near 1.

    python benchmarks/scale.py --rows 30000,300000,1000000 --negatives-rows 30000,100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import cluster  # noqa: E402, F401  (sets Ray's token auth before Ray is first imported, as the CLI does)

MIB = 1 << 20


class Peaks:
    """Samples the driver's RSS and the cluster's object-store use in a background thread while a stage runs."""

    def __init__(self, ray_state=None) -> None:
        import psutil

        self._proc = psutil.Process()
        self._state = ray_state
        self.rss = self.store = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _store_bytes(self) -> int:
        from ray._private.internal_api import get_memory_info_reply

        return int(get_memory_info_reply(self._state).store_stats.object_store_bytes_used)

    def _run(self) -> None:
        tick = 0
        while not self._stop.is_set():
            self.rss = max(self.rss, self._proc.memory_info().rss)
            if self._state is not None and tick % 10 == 0:
                self.store = max(self.store, self._store_bytes())
            tick += 1
            self._stop.wait(0.05)

    def __enter__(self) -> Peaks:
        self._start = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._start
        self._stop.set()
        self._thread.join()
        self.rss = max(self.rss, self._proc.memory_info().rss)


def _result(stage: str, rows_per_task: int, rows: int, p: Peaks, **extra) -> dict:
    return {
        "stage": stage,
        "rows_per_task": rows_per_task,
        "rows": rows,
        "wall_s": round(p.wall, 2),
        "rows_per_s": round(rows / p.wall) if p.wall else 0,
        "rss_mib": round(p.rss / MIB),
        "store_mib": round(p.store / MIB) if p.store else None,
        **extra,
    }


def run_make_data(n: int, out: Path) -> dict:
    from pipelines.synthetic import make_data

    with Peaks() as p:
        summary = make_data(out, rows=n, seed=0, noise=0.05)
    return _result("make_data", n, int(sum(summary["rows"].values())), p)


def _start_ray(cpus: int):
    """A fresh local Ray, started the way the CLI starts it (token auth), without progress bars."""
    import ray
    from ray._private.internal_api import get_state_from_address
    from ray.data import DataContext

    from cluster.ray_runtime import connect
    from ecomrel.config import RayConfig

    for attempt in range(3):  # a loaded machine can miss Ray's fixed 30 s raylet start-up wait
        try:
            connect(RayConfig(num_cpus=cpus, include_dashboard=False))
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    return get_state_from_address(ray.get_runtime_context().gcs_address)


def run_data_stages(n: int, raw: Path, work: Path, cpus: int) -> list[dict]:
    from pipelines.audit import AuditConfig, audit_stage
    from pipelines.ingest import IngestConfig, ingest_stage
    from pipelines.split import SplitConfig, split_stage

    state = _start_ray(cpus)
    results = []
    with Peaks(state) as p:
        m, _ = ingest_stage(IngestConfig(inputs=[str(raw)]), work / "ingest", force=True)
    results.append(_result("ingest", n, m.input_rows, p, quarantined=m.quarantined_rows))
    with Peaks(state) as p:
        m, _ = audit_stage(AuditConfig(), work / "ingest", work / "audit", force=True)
    results.append(_result("audit", n, m.input_rows, p))
    with Peaks(state) as p:
        m, _ = split_stage(SplitConfig(), ["QC", "QI"], work / "ingest", work / "split", force=True)
    results.append(_result("split", n, m.input_rows, p))
    return results


def run_negatives(n: int, work: Path, cpus: int) -> list[dict]:
    from ecomrel.bundled import materialize_multilingual_e5_small
    from pipelines.embed import EmbedConfig
    from pipelines.ingest import IngestConfig, ingest_stage
    from pipelines.negatives.config import NegativesConfig
    from pipelines.negatives.stage import negatives_stage

    state = _start_ray(cpus)
    if not (work / "ingest" / "manifest.json").is_file():
        ingest_stage(IngestConfig(inputs=[str(work / "raw")]), work / "ingest")
    embed = EmbedConfig(
        model=str(materialize_multilingual_e5_small()), query_prompt="query", passage_prompt="passage", concurrency=cpus
    )
    cfg = NegativesConfig(index="ivf")
    with Peaks(state) as p:
        m, _ = negatives_stage("negatives", cfg, embed, work / "ingest", None, work / "negatives", force=True)
    return [_result("negatives", n, m.input_rows, p, mined=m.output_rows)]


def _child(args: list[str]) -> list[dict]:
    """Run one measurement in a fresh process; its results come back as JSON on the last stdout line."""
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{' '.join(args)}: exit {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _table(results: list[dict]) -> str:
    base = {}
    for r in results:
        base.setdefault(r["stage"], r)
    lines = [
        "| stage | rows/task | input rows | wall s | rows/s | peak driver RSS MiB | RSS vs smallest "
        "| peak object store MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = r["rss_mib"] / base[r["stage"]]["rss_mib"]
        store = "-" if r["store_mib"] is None else r["store_mib"]
        lines.append(
            f"| {r['stage']} | {r['rows_per_task']:,} | {r['rows']:,} | {r['wall_s']} | {r['rows_per_s']:,} | "
            f"{r['rss_mib']} | {ratio:.2f}x | {store} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="30000,300000,1000000", help="Training rows per task, comma-separated.")
    parser.add_argument("--negatives-rows", default="30000,100000", help="Sizes for negatives ('' to skip).")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/ecomrel-scale"))
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")
    parser.add_argument("--child", choices=["make_data", "data", "negatives"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        work = args.work_dir / str(args.n)
        if args.child == "make_data":
            out = [run_make_data(args.n, work / "raw")]
        elif args.child == "data":
            out = run_data_stages(args.n, work / "raw", work, args.cpus)
        else:
            out = run_negatives(args.n, work, args.cpus)
        print(json.dumps(out))
        return

    common = ["--work-dir", str(args.work_dir), "--cpus", str(args.cpus)]
    results: list[dict] = []
    sizes = [int(x) for x in args.rows.split(",") if x]
    neg_sizes = [int(x) for x in args.negatives_rows.split(",") if x]
    for n in sorted(set(sizes) | set(neg_sizes)):
        if not (args.work_dir / str(n) / "raw" / "train_QI.txt").is_file():
            results += _child(["--child", "make_data", "--n", str(n), *common])
        if n in sizes:
            results += _child(["--child", "data", "--n", str(n), *common])
        print(_table(results), flush=True)
    for n in neg_sizes:
        results += _child(["--child", "negatives", "--n", str(n), *common])
    order = ["make_data", "ingest", "audit", "split", "negatives"]
    results.sort(key=lambda r: (order.index(r["stage"]), r["rows_per_task"]))
    print()
    print(_table(results))
    goal = [r for r in results if r["stage"] in ("ingest", "audit", "split")]
    for n in sorted({r["rows_per_task"] for r in goal}):
        wall = sum(r["wall_s"] for r in goal if r["rows_per_task"] == n)
        print(f"ingest + audit + split at {n:,} rows/task: {wall:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
