"""Training throughput: Ray Train (1 worker) against a plain torch loop, same model, data, threads and step code.

Both sides run the production components (``train.model`` LoRA + answer head, ``train.data.Schedule``, the
prompt encoder and ``pad_right``), so the ratio isolates what Ray Train adds per step: the worker process,
Ray Data ingest, the per-step all-reduce of the loss statistics, checkpoint reports. Start-up cost (Ray worker,
model load) is reported separately from the steady-state tokens/s; the first step is left out of both. The plain
loop runs before and after the Ray run and the ratio uses their mean.

    python benchmarks/train_throughput.py                      # tiny random Qwen3 (hidden 256, 4 layers)
    python benchmarks/train_throughput.py --model ~/.cache/ecomrel/models/gemma3-270m --steps 8

On a shared machine the numbers move with the neighbours' load: run it twice and compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

import cluster  # noqa: F401  (token auth for Ray: must come before the first import of ray)
from ecomrel.config import RayConfig
from ecomrel.lm import PromptEncoder, pad_right
from ecomrel.models import load_causal_lm, load_tokenizer
from ecomrel.schema import RECORD_SCHEMA
from train.config import LoraConfig, TrainConfig

QUERIES = ["red running shoes", "wireless earbuds", "phone case", "garden hose", "kitchen knife set",
           "zapatillas de running", "funda para movil", "chaussures de course", "coque de telephone"]  # fmt: skip
TARGETS = ["electronics,phones & accessories,cases", "electronics,audio,earbuds", "home & garden,garden,hoses",
           "home & garden,kitchen,knives", "sports & outdoors,running,shoes"]  # fmt: skip


def write_rows(out: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    rows = [
        {
            "id": f"b{i:06d}",
            "task": "QC",
            "split": "train",
            "language": "en",
            "query": QUERIES[rng.integers(len(QUERIES))],
            "target": TARGETS[rng.integers(len(TARGETS))],
            "label": int(rng.integers(2)),
            "source": "original",
            "parent_id": None,
        }
        for i in range(n)
    ]
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), out / "part-0.parquet")
    return out


def plain_torch(cfg: TrainConfig, data_dir: Path) -> tuple[float, float]:
    """(tokens/s after the first step, start-up seconds) of the same training step without Ray."""
    from train.data import Rows, Schedule
    from train.model import AnswerHead, add_lora, answer_loss, build_scheduler, trainable_parameters

    start = time.perf_counter()
    torch.set_num_threads(cfg.torch_threads)
    rows = Rows.from_table(pq.read_table(data_dir, columns=["id", "task", "query", "target", "label"]))
    schedule = Schedule(len(rows), 1, cfg.micro_batch_size, 1, cfg.epochs, cfg.max_steps, cfg.seed)
    tokenizer = load_tokenizer(cfg.base_model)
    encoder = PromptEncoder(tokenizer, cfg.max_seq_len)
    torch.manual_seed(cfg.seed)
    model = add_lora(load_causal_lm(cfg.base_model), cfg.lora)
    head = AnswerHead(model, encoder.tokens).train()
    params = [p for _, p in trainable_parameters(model)]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate)
    scheduler = build_scheduler(optimizer, schedule.total_steps, cfg.warmup_ratio)
    startup = time.perf_counter() - start

    tokens, elapsed = 0.0, 0.0
    for step in range(schedule.total_steps):
        t0 = time.perf_counter()
        idx = schedule.indices(step, 0)
        seqs = [encoder.encode(rows.task[i], rows.query[i], rows.target[i]) for i in idx]
        ids, mask = pad_right(seqs, tokenizer.pad_token_id)
        loss = answer_loss(head(ids, mask), torch.as_tensor(rows.label[idx], dtype=torch.long))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if step > 0:
            tokens += float(mask.sum())
            elapsed += time.perf_counter() - t0
    return tokens / elapsed, startup


def ray_train(cfg: TrainConfig, data_dir: Path, out: Path) -> tuple[float, float]:
    """(tokens/s per worker after the first step, wall time of the whole train_model call)."""
    from cluster.ray_runtime import connect
    from train.trainer import train_model

    connect(RayConfig(num_cpus=max(2, int(cfg.cpus_per_worker)), include_dashboard=False))
    start = time.perf_counter()
    result = train_model(cfg, data_dir, out, resume=False)
    return result.tokens_per_s_per_worker, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model directory (default: build a tiny random Qwen3)")
    ap.add_argument("--rows", type=int, default=512)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="torch threads on both sides (= CPUs of the worker)")
    args = ap.parse_args()
    # Set before transformers is first imported (lazily, by the model loaders) and before Ray starts its workers.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    with tempfile.TemporaryDirectory(prefix="ecomrel-bench-") as tmp:
        tmp = Path(tmp)
        model = args.model
        if model is None:
            from ecomrel.tiny import build_tiny_causal_lm

            model = str(build_tiny_causal_lm(tmp / "model", QUERIES + TARGETS, hidden_size=256, num_layers=4))
        data = write_rows(tmp / "data", args.rows)
        cfg = TrainConfig(
            base_model=model,
            strategy="ddp",
            num_workers=1,
            cpus_per_worker=args.threads,
            torch_threads=args.threads,
            micro_batch_size=args.micro_batch,
            max_steps=args.steps,
            checkpoint_every_steps=args.steps,  # one report at the end, as the plain loop saves nothing
            lora=LoraConfig(r=16, alpha=32, dropout=0.0),
        )
        # The baseline runs before and after Ray: on a shared machine the load drifts, and the two numbers show
        # by how much.
        before, plain_startup = plain_torch(cfg, data)
        ray_tps, ray_wall = ray_train(cfg, data, tmp / "out")
        after, _ = plain_torch(cfg, data)
    plain_tps = (before + after) / 2

    print(f"model: {model}  rows: {args.rows}  steps: {args.steps}  micro-batch: {args.micro_batch}  "
          f"threads: {args.threads}")  # fmt: skip
    print(f"plain torch : {plain_tps:10.0f} tokens/s   (before {before:.0f}, after {after:.0f}; "
          f"start-up {plain_startup:.1f}s)")  # fmt: skip
    print(f"Ray Train   : {ray_tps:10.0f} tokens/s/worker   (whole train_model call {ray_wall:.1f}s)")
    print(f"ratio Ray/plain: {ray_tps / plain_tps:.3f}")


if __name__ == "__main__":
    main()
