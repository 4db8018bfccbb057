"""Training rows: reading and validating the train folder, and the seeded order in which workers see them.

Every worker receives the whole (small: text only) training table and takes its own slice of a seeded
permutation, instead of Ray Data's streaming split. That makes the data order a pure function of
(seed, epoch, world size), so a checkpoint can record the exact data position (the micro-batch index) and a
restarted worker continues with exactly the rows it would have seen. Tokenization stays in the worker and
happens per micro-batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecomrel.schema import Task

#: Columns the training loop reads.
TRAIN_COLUMNS = ["id", "task", "query", "target", "label"]
_TASKS = pa.array([t.value for t in Task])
_BAD_SCHEMA = pa.schema([("path", pa.string()), ("id", pa.string()), ("field", pa.string()), ("value", pa.string())])


class TrainDataError(ValueError):
    """The training folder is missing, empty, or has a row the trainer cannot use (message names file/row/field)."""


def bad_rows(batch: pa.Table) -> pa.Table:
    """The rows of ``batch`` (from ``read_parquet(include_paths=True)``) that cannot be trained on, as
    (path, id, field, value): a label other than 0/1, an unknown task, an empty query or target."""
    checks = [
        ("label", pc.invert(pc.is_in(batch["label"], pa.array([0, 1], batch["label"].type)))),
        ("task", pc.invert(pc.is_in(batch["task"], _TASKS))),
        ("query", pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(batch["query"])), 0)),
        ("target", pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(batch["target"])), 0)),
    ]
    parts = []
    for name, mask in checks:
        mask = pc.fill_null(mask, True)  # a null is as bad as a wrong value
        rows = batch.filter(mask)
        if rows.num_rows:
            parts.append(
                pa.table(
                    {
                        "path": rows["path"].cast(pa.string()),
                        "id": rows["id"].cast(pa.string()),
                        "field": pa.array([name] * rows.num_rows, pa.string()),
                        "value": rows[name].cast(pa.string()),
                    }
                )
            )
    if not parts:
        return _BAD_SCHEMA.empty_table()
    return pa.concat_tables(parts)


def read_train_dir(train_dir: Path):
    """``train_dir`` as a validated, materialized Ray Dataset of ``TRAIN_COLUMNS``.

    The table is text only (~100 MB for the 640k CIKM training rows), so after the parallel read it is checked in
    one pass here and handed to the trainer as a single in-memory dataset. Materializing matters on a small
    cluster: the training workers hold every CPU, and a lazy dataset would need free CPUs for its read tasks once
    training has started.
    """
    import ray
    import ray.data

    train_dir = Path(train_dir)
    if not (train_dir.is_dir() and any(train_dir.rglob("*.parquet"))):
        raise TrainDataError(f"{train_dir}: no Parquet files to train on")
    ds = ray.data.read_parquet(str(train_dir), include_paths=True, file_extensions=["parquet"]).materialize()
    table = pa.concat_tables(ray.get(ds.to_arrow_refs()), promote_options="default")
    missing = [c for c in TRAIN_COLUMNS if c not in table.column_names]
    if missing:
        raise TrainDataError(f"{train_dir}: training data lacks column(s) {missing} (have {table.column_names})")
    if table.num_rows == 0:
        raise TrainDataError(f"{train_dir}: the Parquet files hold no rows")
    problems = bad_rows(table).slice(0, 5).to_pylist()
    if problems:
        lines = "; ".join(f"{p['path']} id={p['id']}: bad {p['field']}={p['value']!r}" for p in problems)
        raise TrainDataError(f"{train_dir}: rows the trainer cannot use (first {len(problems)}): {lines}")
    ds = ray.data.from_arrow(table.select(TRAIN_COLUMNS))
    # Each worker reads this small table once; a progress bar per worker would only interleave with the loss log.
    ds.context.enable_progress_bars = False
    return ds


@dataclass(frozen=True)
class Rows:
    """The training table in a canonical order (sorted), as plain lists for per-row tokenization."""

    task: list[str]
    query: list[str]
    target: list[str]
    label: np.ndarray

    @classmethod
    def from_table(cls, table: pa.Table) -> Rows:
        # Sorting makes the order independent of how Ray Data happened to deliver blocks.
        table = table.sort_by([(c, "ascending") for c in TRAIN_COLUMNS])
        return cls(
            task=table["task"].to_pylist(),
            query=table["query"].to_pylist(),
            target=table["target"].to_pylist(),
            label=table["label"].to_numpy().astype(np.int64),
        )

    def __len__(self) -> int:
        return len(self.task)


@dataclass
class Schedule:
    """Which rows each worker trains on at each micro-batch, and how many optimizer steps the run has.

    Micro-batches are numbered globally across epochs (micro-batch ``m`` of every worker is in epoch
    ``m // micro_batches_per_epoch``); a checkpoint at optimizer step ``s`` resumes at micro-batch
    ``s * grad_accum_steps``. Each epoch draws a fresh permutation from ``(seed, epoch)`` and deals it out to the
    workers; the ``n_rows % world_size`` rows left over differ from epoch to epoch.
    """

    n_rows: int
    world_size: int
    micro_batch_size: int
    grad_accum_steps: int
    epochs: float
    max_steps: int | None
    seed: int
    _perm_cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.n_rows < self.world_size:
            raise TrainDataError(f"{self.n_rows} training rows cannot feed {self.world_size} workers")

    @property
    def rows_per_worker(self) -> int:
        return self.n_rows // self.world_size

    @property
    def micro_batches_per_epoch(self) -> int:
        return math.ceil(self.rows_per_worker / self.micro_batch_size)

    @property
    def total_steps(self) -> int:
        if self.max_steps is not None:
            return self.max_steps
        return max(1, math.ceil(self.epochs * self.micro_batches_per_epoch / self.grad_accum_steps))

    def epoch(self, micro_batch: int) -> float:
        return micro_batch / self.micro_batches_per_epoch

    def indices(self, micro_batch: int, rank: int) -> np.ndarray:
        """Row indices of micro-batch ``micro_batch`` on worker ``rank``."""
        epoch, pos = divmod(micro_batch, self.micro_batches_per_epoch)
        if epoch not in self._perm_cache:
            self._perm_cache.clear()
            rng = np.random.default_rng([self.seed, epoch])
            self._perm_cache[epoch] = rng.permutation(self.n_rows)[: self.rows_per_worker * self.world_size]
        shard = self._perm_cache[epoch][rank :: self.world_size]
        return shard[pos * self.micro_batch_size : (pos + 1) * self.micro_batch_size]
