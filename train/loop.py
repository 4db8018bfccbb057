"""The Ray Train worker function: fine-tuning a model family on its two logits (no, yes), with checkpoints and
resume.

Read top to bottom, one worker does: set its threads, take the training table, build the model through a strategy
(DDP or DeepSpeed), resume from ``ray.train.get_checkpoint()`` if Ray hands one over (after a worker failure, or
when the driver re-runs the same ``RunConfig(name, storage_path)``: Train V2, the default in Ray 2.60, reloads its
checkpoint list from storage), then run optimizer steps, reporting a checkpoint every
``cfg.checkpoint_every_steps`` and at the end.

A checkpoint directory holds ``adapter/`` (the family's trained directory: a peft adapter, or an encoder with its
settings), the strategy's weights, optimizer and scheduler
state, and ``train_state.json`` (step, per-step metrics so far, the run's resume key). The data position is the
step itself: micro-batch ``step * grad_accum_steps`` of the seeded schedule (``train.data.Schedule``).
The final checkpoint also holds ``probe.json``: P(yes) of the in-training model on a few rows, which lets anyone
check that the saved adapter reloads into the same model.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from ecomrel import telemetry
from ecomrel.scoring import p_yes
from train.config import TrainConfig

from .data import Rows, Schedule
from .families import Batcher, prompt_lengths
from .strategy import Strategy, build_strategy

log = logging.getLogger(__name__)

STATE_FILE = "train_state.json"
ADAPTER_DIR = "adapter"
PROBE_FILE = "probe.json"
PROBE_ROWS = 8


@dataclass
class TrainState:
    """What a checkpoint records besides weights and optimizer state."""

    resume_key: str
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    resumed_from_step: int | None = None

    def save(self, directory: Path) -> None:
        (directory / STATE_FILE).write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, directory: Path) -> TrainState:
        return cls(**json.loads((directory / STATE_FILE).read_text()))


def _setup_worker_logging() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _read_train_table() -> pa.Table:
    import ray.train

    shard = ray.train.get_dataset_shard("train")
    return pa.concat_tables(list(shard.iter_batches(batch_size=None, batch_format="pyarrow")))


def _encode(rows: Rows, idx: np.ndarray, batcher: Batcher, device: torch.device):
    """(the model's keyword tensors, labels, real tokens) of rows ``idx``, on ``device``."""
    batch, tokens = batcher([rows.task[i] for i in idx], [rows.query[i] for i in idx], [rows.target[i] for i in idx])
    labels = torch.as_tensor(rows.label[idx], dtype=torch.long)
    return {k: v.to(device) for k, v in batch.items()}, labels.to(device), tokens


def _all_reduce_sum(t: torch.Tensor) -> list[float]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)
    return t.tolist()


def _worker_placement(rank: int, world: int) -> list[dict]:
    """Where each rank ran (Ray node id, host), gathered from every worker: the run's record of its placement."""
    import socket

    import ray
    import torch.distributed as dist

    mine = {"rank": rank, "node_id": ray.get_runtime_context().get_node_id(), "host": socket.gethostname()}
    if not (dist.is_available() and dist.is_initialized()):
        return [mine]
    every: list = [None] * world
    dist.all_gather_object(every, mine)
    return every


def _probe(strategy: Strategy, rows: Rows) -> dict[str, list]:
    """P(yes) of the in-training model (eval mode) on the first rows; every rank runs it (ZeRO-3 needs all)."""
    idx = np.arange(min(PROBE_ROWS, len(rows)))
    batch, _, _ = _encode(rows, idx, strategy.trainable.batcher, strategy.device)
    logits = strategy.logits(batch).float()
    return {
        "task": [rows.task[i] for i in idx],
        "query": [rows.query[i] for i in idx],
        "target": [rows.target[i] for i in idx],
        "p_yes": p_yes(logits[:, 0], logits[:, 1]).cpu().tolist(),
    }


def _report(strategy: Strategy, state: TrainState, metrics: dict, rank: int, probe: dict | None = None) -> None:
    """Write a checkpoint and hand it to Ray Train (every rank calls this: it is a barrier)."""
    import ray.train

    with tempfile.TemporaryDirectory(prefix="ecomrel-ckpt-") as tmp:
        directory = Path(tmp)
        weights = strategy.trained_state_dict()
        if strategy.every_rank_saves or rank == 0:
            strategy.save(directory)
        if rank == 0:
            strategy.trainable.save_model(directory / ADAPTER_DIR, weights)
            state.save(directory)
            if probe is not None:
                (directory / PROBE_FILE).write_text(json.dumps(probe))
        writes = strategy.every_rank_saves or rank == 0
        checkpoint = ray.train.Checkpoint.from_directory(tmp) if writes else None
        ray.train.report(metrics, checkpoint=checkpoint)


@dataclass
class _Worker:
    """What one worker trains with: built once by :func:`_set_up`, used by every step."""

    cfg: TrainConfig
    rank: int
    world: int
    rows: Rows
    schedule: Schedule
    strategy: Strategy

    @property
    def total_steps(self) -> int:
        return self.schedule.total_steps


def build_schedule(cfg: TrainConfig, rows: Rows, world: int) -> Schedule:
    """The seeded schedule of ``rows`` for ``world`` workers: one task per micro-batch under prefix sharing (a
    micro-batch shares one prefix), rows of similar prompt length together under length bucketing."""
    return Schedule(
        len(rows), world, cfg.micro_batch_size, cfg.grad_accum_steps, cfg.epochs, cfg.max_steps, cfg.seed,
        groups=np.unique(rows.task, return_inverse=True)[1] if cfg.prefix_sharing else None,
        lengths=prompt_lengths(cfg, rows.task, rows.query, rows.target) if cfg.length_bucketing else None,
        bucket_window=cfg.bucket_window,
    )  # fmt: skip


def _set_up(cfg: TrainConfig) -> _Worker:
    """This worker's threads, its copy of the training table, the seeded schedule and the strategy-built model."""
    import ray.train

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(cfg.torch_threads or max(1, int(cfg.cpus_per_worker)))

    rows = Rows.from_table(_read_train_table())
    schedule = build_schedule(cfg, rows, world)
    strategy = build_strategy(cfg, schedule.total_steps)
    return _Worker(cfg, rank, world, rows, schedule, strategy)


def _resume_or_start(w: _Worker, resume_key: str) -> TrainState:
    """The checkpoint Ray hands over, loaded into the strategy, with its state; without one, a fresh state.

    A checkpoint saved under another resume key (another config or dataset) is an error, never silently used."""
    import ray.train

    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        if w.rank == 0:
            cfg = w.cfg
            log.info(
                "training %d rows on %d workers: %d steps of %d x %d x %d rows (%s)",
                len(w.rows), w.world, w.total_steps, cfg.micro_batch_size, cfg.grad_accum_steps, w.world,
                cfg.strategy,
            )  # fmt: skip
        return TrainState(resume_key=resume_key)
    with checkpoint.as_directory() as d:
        saved = TrainState.load(Path(d))
        if saved.resume_key != resume_key:
            raise RuntimeError(
                f"checkpoint {checkpoint.path} belongs to another config or dataset "
                f"(resume key {saved.resume_key} != {resume_key})"
            )
        w.strategy.load(Path(d))
    saved.resumed_from_step = saved.step
    if w.rank == 0:
        log.info("resumed from step %d of %d (%s)", saved.step, w.total_steps, checkpoint.path)
    return saved


def _optimizer_step(w: _Worker, step: int) -> tuple[dict[str, Any], float]:
    """Run optimizer step number ``step + 1``: its ``grad_accum_steps`` micro-batches of the schedule, then the
    update. Returns its metrics record and the real tokens it trained on, summed over all workers."""
    start = time.perf_counter()
    lr = w.strategy.lr()
    accum = w.cfg.grad_accum_steps
    # (loss x rows, rows, real tokens), kept on the device: one host sync per step, at the all-reduce.
    stats = torch.zeros(3, dtype=torch.float64, device=w.strategy.device)
    for k in range(accum):
        idx = w.schedule.indices(step * accum + k, w.rank)
        batch, labels, tokens = _encode(w.rows, idx, w.strategy.trainable.batcher, w.strategy.device)
        loss = w.strategy.micro_step(batch, labels, boundary=k == accum - 1)
        stats[0] += loss.double() * len(idx)
        stats[1] += len(idx)
        stats[2] += tokens
    w.strategy.optimizer_step()
    loss_sum, n_rows, tokens = _all_reduce_sum(stats)
    elapsed = time.perf_counter() - start
    record = {
        "step": step + 1,
        "epoch": round(w.schedule.epoch((step + 1) * accum), 4),
        "loss": loss_sum / n_rows,
        "lr": lr,
        "tokens_per_s": tokens / w.world / elapsed,
        "examples_per_s": n_rows / elapsed,
        "step_time_s": elapsed,
    }
    return record, tokens


def _train_steps(w: _Worker, state: TrainState, run: str) -> None:
    """Optimizer steps from ``state.step`` to the end, each recorded in ``state.history``; a checkpoint every
    ``checkpoint_every_steps`` steps (the last step's is the final report's)."""
    while state.step < w.total_steps:
        record, tokens = _optimizer_step(w, state.step)
        state.step += 1
        state.history.append(record)
        if w.rank == 0:
            telemetry.record_train_step(run, record["loss"], int(tokens))
            log.info(
                "step %d/%d epoch %.2f loss %.4f lr %.2e tokens/s/worker %.0f examples/s %.1f",
                state.step, w.total_steps, record["epoch"], record["loss"], record["lr"], record["tokens_per_s"],
                record["examples_per_s"],
            )  # fmt: skip
        if state.step % w.cfg.checkpoint_every_steps == 0 and state.step < w.total_steps:
            _report(w.strategy, state, record, w.rank)


def _final_report(w: _Worker, state: TrainState) -> None:
    """The final checkpoint, with the probe; its metrics are the last step's plus the step the run resumed from
    and where every rank ran."""
    probe = _probe(w.strategy, w.rows)
    final = dict(state.history[-1]) if state.history else {"step": state.step}
    final["resumed_from_step"] = state.resumed_from_step
    final["workers"] = _worker_placement(w.rank, w.world)
    _report(w.strategy, state, final, w.rank, probe=probe)


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """Ray Train entry point. ``config``: {"train": TrainConfig as JSON, "resume_key": str, "run": name for
    telemetry (optional)}."""
    _setup_worker_logging()
    w = _set_up(TrainConfig.model_validate(config["train"]))
    state = _resume_or_start(w, config["resume_key"])
    _train_steps(w, state, config.get("run", "train"))
    _final_report(w, state)
