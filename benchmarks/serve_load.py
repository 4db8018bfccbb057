"""Load on a real local Serve app: dynamic batching on vs off, then overload at twice the sustainable rate.

  1. batching on   closed loop: ``--concurrency`` clients send single-pair requests, ``--requests`` per round
  2. batching off  the same load on a twin app with ``max_batch_size: 1`` (every pair its own model call)
                   The two apps run side by side and alternate for ``--rounds`` rounds; the best round of each
                   counts (a busy machine slows rounds, never speeds them up), and ratios are on / off.
  3. overload      open loop at 2x the best batching-on throughput for ``--overload-s`` seconds against the
                   bounded queue: every answer must be 200 or 503 (no errors, no timeouts), and the replicas'
                   RSS, sampled throughout, must stay flat

All traffic goes to 127.0.0.1; every phase is bounded in requests and in time. Without ``--model-dir`` a tiny
random Qwen3 (``--hidden-size``, ``--layers``) with a random LoRA adapter is built in a temporary folder.

    HF_HUB_OFFLINE=1 python benchmarks/serve_load.py
    HF_HUB_OFFLINE=1 python benchmarks/serve_load.py --model-dir runs/demo/train/model --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import numpy as np
import psutil

from cluster.ray_runtime import connect  # first: sets RAY_AUTH_MODE=token before Ray is imported
from ecomrel.config import RayConfig
from serve.settings import ServeConfig

APP = "serve-load-bench"
_QUERIES = ["red running shoes", "wireless earbuds", "funda para movil", "coque de telephone", "ランニングシューズ"]
_TARGETS = {
    "QC": ["sports & outdoors,running,shoes", "electronics,audio,earbuds", "automobiles, parts & accessories,tools"],
    "QI": ["Bluetooth 5.3 wireless earbuds with charging case", "Silicone phone case for iPhone 15, shockproof"],
}


def build_tiny_model_dir(root: Path, hidden_size: int, layers: int) -> Path:
    """Tiny Qwen3 + random LoRA adapter + thresholds.json: the artifacts a training run leaves."""
    import torch
    from peft import LoraConfig, get_peft_model

    from ecomrel.artifacts import Thresholds
    from ecomrel.models import load_causal_lm
    from ecomrel.tiny import build_tiny_causal_lm

    texts = _QUERIES + [t for ts in _TARGETS.values() for t in ts]
    base = build_tiny_causal_lm(root / "base", texts * 8, vocab_size=1024, hidden_size=hidden_size, num_layers=layers)
    torch.manual_seed(0)
    lora = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(load_causal_lm(str(base)), lora).save_pretrained(root / "adapter")
    Thresholds(
        base_model=str(base), adapter="adapter", tasks={"QC": 0.4, "QI": 0.2}, calibrated_on="seed", version="bench"
    ).save(root / "thresholds.json")
    return root


def _body(rng: random.Random) -> dict:
    task = rng.choice(["QC", "QI"])
    return {"pairs": [{"task": task, "query": rng.choice(_QUERIES), "target": rng.choice(_TARGETS[task])}]}


class RssSampler(threading.Thread):
    """Samples the resident memory of this app's replica processes every ``period_s``."""

    def __init__(self, pids: dict[str, int], period_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.period_s = period_s
        self.samples: dict[str, list[float]] = {name: [] for name in pids}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            for name, proc in self.procs.items():
                self.samples[name].append(proc.memory_info().rss / 2**20)
            self._stop_event.wait(self.period_s)

    def stop(self) -> dict[str, dict[str, float]]:
        self._stop_event.set()
        self.join()
        return {
            name: {"start_mib": s[0], "max_mib": max(s), "end_mib": s[-1], "growth_mib": max(s) - s[0]}
            for name, s in self.samples.items()
            if s
        }


def replica_pids(app: str) -> dict[str, int]:
    """Deployment name -> pid of its (single) live replica in ``app``, via Ray's state API."""
    import ray
    from ray.util.state import list_actors

    address = ray.get_runtime_context().gcs_address  # other Ray instances may run on this machine
    actors = list_actors(address=address, filters=[("state", "=", "ALIVE")], detail=True, limit=1000)
    prefix = f"ServeReplica:{app}:"
    return {a.class_name.removeprefix(prefix): a.pid for a in actors if a.class_name.startswith(prefix)}


def model_calls(settle_s: float = 45) -> dict[str, float]:
    """Model calls so far per scorer replica (series of the ``ecomrel_serve_batch_size`` histogram's count on
    Ray's metrics endpoint). Ray exports every few seconds, so this waits until two reads agree."""
    import ray
    import requests

    port = ray._private.worker.global_worker.node.metrics_export_port

    def read() -> dict[str, float]:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        return {
            series: float(value)
            for series, value in (line.rsplit(" ", 1) for line in text.splitlines())
            if series.startswith("ray_ecomrel_serve_batch_size_count{")
        }

    deadline = time.monotonic() + settle_s
    previous = read()
    while time.monotonic() < deadline:
        time.sleep(6)
        current = read()
        if current == previous:
            break
        previous = current
    return previous


def calls_between(before: dict[str, float], after: dict[str, float]) -> float:
    """Calls made between two reads; a replica replaced meanwhile drops out of ``after`` and is not counted."""
    return sum(count - before.get(series, 0.0) for series, count in after.items())


async def closed_loop(url: str, headers: dict, concurrency: int, total: int, deadline_s: float) -> dict:
    """``concurrency`` clients, each sending its next request when the previous one is answered."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    rng = random.Random(0)
    remaining = [total]
    stop_at = time.perf_counter() + deadline_s

    async def client(session: aiohttp.ClientSession) -> None:
        while remaining[0] > 0 and time.perf_counter() < stop_at:
            remaining[0] -= 1
            start = time.perf_counter()
            async with session.post(f"{url}/v1/relevance", json=_body(rng), headers=headers) as r:
                await r.read()
                codes[r.status] = codes.get(r.status, 0) + 1
            latencies.append(time.perf_counter() - start)

    async with aiohttp.ClientSession() as session:
        start = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        wall = time.perf_counter() - start
    lat = np.array(latencies)
    return {
        "requests": len(lat),
        "codes": codes,
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(lat) / wall, 1),
        "p50_ms": round(float(np.percentile(lat, 50)) * 1000, 1),
        "p99_ms": round(float(np.percentile(lat, 99)) * 1000, 1),
    }


async def open_loop(url: str, headers: dict, rate: float, duration_s: float, timeout_s: float) -> dict:
    """Requests start on a fixed schedule (``rate`` per second) whether or not earlier ones were answered."""
    rng = random.Random(1)
    outcomes: dict[str, int] = {}
    latency_by_code: dict[str, list[float]] = {}
    timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def one(session: aiohttp.ClientSession) -> None:
        start = time.perf_counter()
        try:
            async with session.post(f"{url}/v1/relevance", json=_body(rng), headers=headers) as r:
                await r.read()
                key = str(r.status)
        except TimeoutError:
            key = "timeout"
        except aiohttp.ClientError as exc:
            key = f"error:{type(exc).__name__}"
        outcomes[key] = outcomes.get(key, 0) + 1
        latency_by_code.setdefault(key, []).append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        n = int(rate * duration_s)
        start = time.perf_counter()
        tasks = []
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(session)))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    return {
        "offered_rps": round(rate, 1),
        "requests": n,
        "wall_s": round(wall, 2),
        "outcomes": outcomes,
        "p50_ms_by_outcome": {k: round(float(np.percentile(v, 50)) * 1000, 1) for k, v in latency_by_code.items()},
        "p99_ms_by_outcome": {k: round(float(np.percentile(v, 99)) * 1000, 1) for k, v in latency_by_code.items()},
        "served_rps": round(outcomes.get("200", 0) / wall, 1),
    }


def deploy(model_dir: Path, configs: dict[str, ServeConfig]) -> None:
    """One app per mode, side by side (each at ``/<mode>``): the modes alternate without redeploying."""
    from ray import serve

    from serve.app import build_app

    serve.run_many(
        [
            serve.RunTarget(build_app(model_dir, cfg), name=f"{APP}-{m}", route_prefix=f"/{m}")
            for m, cfg in configs.items()
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, help="A run's model directory (thresholds.json + adapter).")
    ap.add_argument("--hidden-size", type=int, default=768, help="Tiny model width when no --model-dir.")
    ap.add_argument("--layers", type=int, default=6, help="Tiny model depth when no --model-dir.")
    ap.add_argument("--concurrency", type=int, default=16, help="Closed-loop clients.")
    ap.add_argument("--requests", type=int, default=120, help="Requests per mode per round.")
    ap.add_argument("--rounds", type=int, default=3, help="Rounds of (on, off); the best round of each counts.")
    ap.add_argument("--round-timeout-s", type=float, default=120, help="Cap on each closed-loop run.")
    ap.add_argument("--max-batch-size", type=int, default=16)
    ap.add_argument("--batch-wait-s", type=float, default=0.01)
    ap.add_argument("--max-queued", type=int, default=16, help="Scorer queue bound (the overload phase meets it).")
    ap.add_argument("--overload-s", type=float, default=20)
    ap.add_argument("--num-cpus", type=float, default=1, help="CPUs of each scorer replica.")
    ap.add_argument("--out", type=Path, help="Also write the results as JSON here.")
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ray import serve

    tmp = tempfile.TemporaryDirectory(prefix="serve-load-")
    model_dir = args.model_dir or build_tiny_model_dir(Path(tmp.name), args.hidden_size, args.layers)
    token = secrets.token_urlsafe(24)
    token_file = Path(tmp.name) / "token"
    token_file.write_text(token)
    headers = {"Authorization": f"Bearer {token}"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    connect(RayConfig(num_cpus=2))
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    url = f"http://127.0.0.1:{port}"
    ongoing = max(args.concurrency, args.max_batch_size)  # closed-loop clients never meet the queue bound
    common = dict(
        auth_token_file=str(token_file),
        num_cpus=args.num_cpus,
        batch_wait_timeout_s=args.batch_wait_s,
        max_ongoing_requests=ongoing,
        target_ongoing_requests=ongoing,
        max_queued_requests=args.max_queued,
    )
    modes = {"on": args.max_batch_size, "off": 1}
    results: dict = {"concurrency": args.concurrency, "model_dir": str(model_dir), "rounds": {m: [] for m in modes}}
    try:
        deploy(model_dir, {m: ServeConfig(max_batch_size=b, **common) for m, b in modes.items()})
        for m in modes:  # warm-up
            asyncio.run(closed_loop(f"{url}/{m}", headers, args.concurrency, 2 * args.concurrency, 60))
        before = model_calls()
        for _ in range(args.rounds):
            for m in modes:
                run = asyncio.run(
                    closed_loop(f"{url}/{m}", headers, args.concurrency, args.requests, args.round_timeout_s)
                )
                results["rounds"][m].append(run)
                print(m, json.dumps(run), flush=True)
        # "off" makes one model call per request (one pair each): the remaining calls are "on"'s.
        calls_on = calls_between(before, model_calls()) - sum(r["requests"] for r in results["rounds"]["off"])
        best = {m: max(runs, key=lambda r: r["throughput_rps"]) for m, runs in results["rounds"].items()}
        results["batching_on"], results["batching_off"] = best["on"], best["off"]
        results["batching_on"]["mean_pairs_per_model_call"] = round(
            sum(r["requests"] for r in results["rounds"]["on"]) / calls_on, 2
        )
        results["ratio_on_vs_off"] = {
            "throughput": round(best["on"]["throughput_rps"] / best["off"]["throughput_rps"], 2),
            "p50_latency": round(best["on"]["p50_ms"] / best["off"]["p50_ms"], 2),
            "p99_latency": round(best["on"]["p99_ms"] / best["off"]["p99_ms"], 2),
        }
        print("best", json.dumps({m: best[m] for m in modes}), flush=True)
        print("ratio", json.dumps(results["ratio_on_vs_off"]), flush=True)

        sampler = RssSampler(replica_pids(f"{APP}-on"))
        sampler.start()
        rate = 2 * best["on"]["throughput_rps"]
        results["overload"] = asyncio.run(open_loop(f"{url}/on", headers, rate, args.overload_s, timeout_s=30))
        results["overload"]["rss"] = sampler.stop()
        print("overload", json.dumps(results["overload"]), flush=True)
    finally:
        serve.shutdown()
        tmp.cleanup()
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
