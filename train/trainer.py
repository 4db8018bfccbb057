"""The ``train`` stage: fine-tuning a relevance model (a model family of ``train.families``: LoRA on a causal LM
answering yes/no, or an encoder) on Ray Train's ``TorchTrainer``.

``train_model`` is the driver side: it validates the training folder, starts the trainer (DDP or DeepSpeed,
chosen by ``cfg.strategy``; the worker side is ``train.loop``) and turns the final checkpoint into the stage
output::

    out_dir/adapter/        the trained directory and the tokenizer: a peft adapter (causal_lm), or the fine-tuned
                            encoder with its settings (bi_encoder, cross_encoder; see ecomrel.encoders)
    out_dir/metrics.jsonl   one line per optimizer step: step, epoch, loss, lr, tokens_per_s (per worker), ...
    out_dir/probe.json      P(yes) of the in-training model on a few rows (reload check for the adapter)
    out_dir/ray/            Ray Train storage: run snapshot and checkpoints

Fault tolerance has two levels. A worker that dies is replaced by Ray Train (``FailureConfig(max_failures)``)
and the new worker group resumes from the latest checkpoint. A driver that dies leaves the run in
``out_dir/ray/model``; calling ``train_model`` again with the same config and data resumes from there (Train V2
reloads the run's checkpoint list from storage when the same ``RunConfig(name, storage_path)`` is used), and the
``train`` stage keeps ``ray/`` when it clears its folder for a re-run (``ecomrel.manifest.run_stage``'s ``keep``).
A changed config or dataset starts a fresh run instead of resuming an incompatible one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ecomrel.manifest import Manifest, StageRun, fingerprint, read_manifest, run_stage
from ecomrel.models import load_tokenizer
from train.config import TrainConfig

from .data import read_train_dir
from .loop import ADAPTER_DIR, PROBE_FILE, TrainState, train_loop_per_worker

if TYPE_CHECKING:
    from ray.train import UserCallback

log = logging.getLogger(__name__)

RUN_NAME = "model"
#: The stage folder's entry for Ray Train's storage, which the ``train`` stage keeps across runs to resume from.
CHECKPOINT_STORAGE = "ray"
METRICS_FILE = "metrics.jsonl"
_RUN_KEY_FILE = "run_key.json"
#: Settings that may change between a killed run and its resumption without invalidating its checkpoints.
_OPERATIONAL_FIELDS = {"checkpoint_every_steps", "keep_checkpoints", "max_failures", "torch_threads", "cpus_per_worker"}


@dataclass
class TrainResult:
    """Summary of a finished run. Losses are the all-worker mean of a step; ``tokens_per_s_per_worker`` counts
    real (non-padding) prompt tokens over all steps but the first; ``wall_time_s`` is this call's ``fit()``;
    ``resumed_from_step`` is the checkpoint step the last worker group started from (None: never resumed);
    ``workers`` is where each rank of the last worker group ran (rank, Ray node id, host)."""

    adapter_dir: Path
    steps: int
    final_loss: float
    first_loss: float
    tokens_per_s_per_worker: float
    wall_time_s: float
    resumed_from_step: int | None
    workers: list[dict]


def resume_key(cfg: TrainConfig, data_fingerprint: str) -> str:
    """Identity of a run for resumption: the config (minus operational settings) and the training data."""
    blob = json.dumps(
        [cfg.model_dump(mode="json", exclude=_OPERATIONAL_FIELDS), data_fingerprint], sort_keys=True
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _prepare_storage(storage: Path, key: str, resume: bool) -> None:
    """Keep the previous run's checkpoints only if we resume the very same run; otherwise start clean."""
    run_dir = storage / RUN_NAME
    key_file = storage / _RUN_KEY_FILE
    previous = json.loads(key_file.read_text())["resume_key"] if key_file.is_file() else None
    if run_dir.exists() and (not resume or previous != key):
        reason = "resume=False" if not resume else "the config or data changed"
        log.warning("discarding the previous training run in %s (%s)", run_dir, reason)
        shutil.rmtree(run_dir)
    storage.mkdir(parents=True, exist_ok=True)
    key_file.write_text(json.dumps({"resume_key": key}))


def _throughput(history: list[dict]) -> float:
    """Tokens/s per worker over the run, leaving out the first step (warm-up: allocation, lazy init)."""
    steps = history[1:] or history
    elapsed = sum(r["step_time_s"] for r in steps)
    return sum(r["tokens_per_s"] * r["step_time_s"] for r in steps) / elapsed if elapsed else 0.0


def _publish(checkpoint_dir: Path, out_dir: Path, base_model: str) -> None:
    """Copy the final trained directory (with the tokenizer, so it is self-contained) and probe into out_dir."""
    staging = out_dir / f".{ADAPTER_DIR}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(checkpoint_dir / ADAPTER_DIR, staging)
    load_tokenizer(base_model).save_pretrained(str(staging))
    weights = list(staging.glob("*.safetensors"))
    if not weights or any(w.stat().st_size == 0 for w in weights):
        raise RuntimeError(f"{staging}: the final checkpoint's weights are missing or empty ({weights})")
    target = out_dir / ADAPTER_DIR
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    shutil.copyfile(checkpoint_dir / PROBE_FILE, out_dir / PROBE_FILE)


def train_model(
    cfg: TrainConfig,
    train_dir: Path,
    out_dir: Path,
    resume: bool = True,
    callbacks: Sequence[UserCallback] = (),
) -> TrainResult:
    """Fine-tune ``cfg.family`` on ``cfg.base_model`` with the labelled rows of ``train_dir`` (Parquet, RECORD_SCHEMA).

    Ray must already be connected (``cluster.ray_runtime.connect``). ``callbacks`` are Ray Train
    ``UserCallback`` objects, run on the Train controller (progress reporting, experiment tracking, fault
    injection in tests). Returns a summary; the artifacts are in ``out_dir`` (see the module docstring).
    """
    import ray.train
    from ray.train.torch import TorchTrainer

    train_dir, out_dir = Path(train_dir), Path(out_dir).resolve()
    ds = read_train_dir(train_dir)
    key = resume_key(cfg, fingerprint(train_dir))
    storage = out_dir / CHECKPOINT_STORAGE
    _prepare_storage(storage, key, resume)

    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"train": cfg.model_dump(mode="json"), "resume_key": key, "run": out_dir.parent.name},
        scaling_config=ray.train.ScalingConfig(
            num_workers=cfg.num_workers, use_gpu=cfg.use_gpu, resources_per_worker={"CPU": cfg.cpus_per_worker}
        ),
        run_config=ray.train.RunConfig(
            name=RUN_NAME,
            storage_path=str(storage),
            failure_config=ray.train.FailureConfig(max_failures=cfg.max_failures),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=cfg.keep_checkpoints),
            callbacks=list(callbacks),
        ),
        datasets={"train": ds},
        # Every worker gets the whole table and takes its slice of a seeded permutation (see train.data).
        dataset_config=ray.train.DataConfig(datasets_to_split=[]),
    )
    start = time.perf_counter()
    result = trainer.fit()
    wall = time.perf_counter() - start
    if result.checkpoint is None:
        raise RuntimeError(f"{storage / RUN_NAME}: training finished without a checkpoint")

    with result.checkpoint.as_directory() as d:
        state = TrainState.load(Path(d))
        _publish(Path(d), out_dir, cfg.base_model)
    with (out_dir / METRICS_FILE).open("w") as fh:
        for record in state.history:
            fh.write(json.dumps(record) + "\n")
    history = state.history
    summary = TrainResult(
        adapter_dir=out_dir / ADAPTER_DIR,
        steps=state.step,
        final_loss=history[-1]["loss"] if history else float("nan"),
        first_loss=history[0]["loss"] if history else float("nan"),
        tokens_per_s_per_worker=_throughput(history),
        wall_time_s=wall,
        resumed_from_step=state.resumed_from_step,
        workers=result.metrics.get("workers", []),
    )
    log.info(
        "trained %d steps in %.1fs: loss %.4f -> %.4f, %.0f tokens/s/worker%s",
        summary.steps, wall, summary.first_loss, summary.final_loss, summary.tokens_per_s_per_worker,
        f", resumed from step {summary.resumed_from_step}" if summary.resumed_from_step is not None else "",
    )  # fmt: skip
    return summary


def train_stage(cfg: TrainConfig, trainset: Path, out: Path, force: bool = False) -> StageRun:
    """The ``train`` stage: the model family of ``cfg.family`` fine-tuned on the training set folder ``trainset``."""

    def body(m: Manifest) -> None:
        result = train_model(cfg, trainset / "data", out)
        m.input_rows = m.output_rows = read_manifest(trainset).output_rows
        m.extra = {
            "adapter": str(result.adapter_dir),
            "steps": result.steps,
            "first_loss": result.first_loss,
            "final_loss": result.final_loss,
            "tokens_per_s_per_worker": result.tokens_per_s_per_worker,
            "train_wall_time_s": result.wall_time_s,
            "resumed_from_step": result.resumed_from_step,
            "workers": result.workers,
        }

    # Ray Train's checkpoints (``ray/``) outlive a killed run: the next one resumes from the last of them.
    return run_stage("train", out, cfg.digest(), [trainset], body, force, keep=[CHECKPOINT_STORAGE])
