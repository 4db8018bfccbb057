"""Training rows: reading and validating the train folder, and the seeded order in which workers see them.

Every worker reads the whole (small: text only) training table from the object store through
``ray.train.get_dataset_shard`` (the driver never concatenates it) and takes its own slice of a seeded
permutation, instead of Ray Data's streaming split, whose assignment of blocks to workers is not reproducible.
Each worker sorts what it read into a canonical order, so the data order is a pure function of (seed, epoch,
world size): a checkpoint can record the exact data position (the micro-batch index) and a restarted worker
continues with exactly the rows it would have seen. Tokenization stays in the worker and happens per
micro-batch.
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
    """``train_dir`` as a validated, materialized Ray Dataset of ``TRAIN_COLUMNS``, never concatenated here.

    The check streams: each block's bad rows (:func:`bad_rows`) are computed where the block is, and the driver
    takes at most five of them for the message. The blocks stay in the object store, where each training worker
    reads the table through ``get_dataset_shard``. Materializing matters on a small cluster: the training workers
    hold every CPU, and a lazy dataset would need free CPUs for its read tasks once training has started.
    """
    import ray.data

    train_dir = Path(train_dir)
    if not (train_dir.is_dir() and any(train_dir.rglob("*.parquet"))):
        raise TrainDataError(f"{train_dir}: no Parquet files to train on")
    ds = ray.data.read_parquet(str(train_dir), include_paths=True, file_extensions=["parquet"])
    missing = [c for c in TRAIN_COLUMNS if c not in ds.schema().names]
    if missing:
        raise TrainDataError(f"{train_dir}: training data lacks column(s) {missing} (have {ds.schema().names})")
    ds = ds.select_columns(["path", *TRAIN_COLUMNS]).materialize()
    if ds.count() == 0:
        raise TrainDataError(f"{train_dir}: the Parquet files hold no rows")
    problems = ds.map_batches(bad_rows, batch_format="pyarrow", batch_size=None).take(5)
    if problems:
        lines = "; ".join(f"{p['path']} id={p['id']}: bad {p['field']}={p['value']!r}" for p in problems)
        raise TrainDataError(f"{train_dir}: rows the trainer cannot use (first {len(problems)}): {lines}")
    ds = ds.select_columns(TRAIN_COLUMNS).materialize()
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
    workers; the ``n_rows % world_size`` rows left over differ from epoch to epoch. A worker's rows of an epoch are
    cut into micro-batches of ``micro_batch_size`` in that order (the last one partial).

    Two options change how a worker's rows of an epoch are cut, never which rows they are:

    - ``groups`` (a group id per row, e.g. the task): no micro-batch mixes groups. Each group's rows (in
      permutation order) are cut apart; every worker runs the same number of micro-batches per epoch
      (``ceil(rows_per_worker / micro_batch_size) + groups - 1``, the most any worker can need): a worker that
      needs fewer gives the spare micro-batches, one at a time, to the group whose micro-batches are largest, and
      cuts that group's rows into as many near-equal micro-batches.
    - ``lengths`` (tokens per row): length bucketing. Within windows of ``bucket_window`` micro-batches the rows
      are sorted by length before they are cut, so a micro-batch pads its rows to similar lengths.

    Micro-batches then run in the order of their earliest row in the permutation, which keeps them shuffled. With
    neither option (or one group and no lengths) this is the plain cut. Everything is a pure function of the
    seed, the epoch, the rank and these arrays, so a resumed run sees exactly the micro-batches it would have.
    """

    n_rows: int
    world_size: int
    micro_batch_size: int
    grad_accum_steps: int
    epochs: float
    max_steps: int | None
    seed: int
    groups: np.ndarray | None = None
    lengths: np.ndarray | None = None
    bucket_window: int = 64
    _perm_cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _plan_cache: dict[tuple[int, int], list[np.ndarray]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.n_rows < self.world_size:
            raise TrainDataError(f"{self.n_rows} training rows cannot feed {self.world_size} workers")
        for name in ("groups", "lengths"):
            values = getattr(self, name)
            if values is not None and len(values) != self.n_rows:
                raise ValueError(f"Schedule.{name} has {len(values)} entries for {self.n_rows} rows")
        self._n_groups = 1 if self.groups is None else len(np.unique(self.groups))
        if self.rows_per_worker < self.micro_batches_per_epoch:
            raise TrainDataError(
                f"{self.rows_per_worker} rows per worker cannot fill {self.micro_batches_per_epoch} micro-batches "
                f"({self._n_groups} groups kept apart)"
            )

    @property
    def rows_per_worker(self) -> int:
        return self.n_rows // self.world_size

    @property
    def micro_batches_per_epoch(self) -> int:
        # Each group may end in a partial micro-batch: at most groups - 1 more than the plain cut.
        return math.ceil(self.rows_per_worker / self.micro_batch_size) + self._n_groups - 1

    @property
    def total_steps(self) -> int:
        if self.max_steps is not None:
            return self.max_steps
        return max(1, math.ceil(self.epochs * self.micro_batches_per_epoch / self.grad_accum_steps))

    def epoch(self, micro_batch: int) -> float:
        return micro_batch / self.micro_batches_per_epoch

    def _shard(self, epoch: int, rank: int) -> np.ndarray:
        """Rank ``rank``'s rows of epoch ``epoch``, in permutation order."""
        if epoch not in self._perm_cache:
            self._perm_cache.clear()
            rng = np.random.default_rng([self.seed, epoch])
            self._perm_cache[epoch] = rng.permutation(self.n_rows)[: self.rows_per_worker * self.world_size]
        return self._perm_cache[epoch][rank :: self.world_size]

    def indices(self, micro_batch: int, rank: int) -> np.ndarray:
        """Row indices of micro-batch ``micro_batch`` on worker ``rank``."""
        epoch, pos = divmod(micro_batch, self.micro_batches_per_epoch)
        if self.groups is None and self.lengths is None:
            return self._shard(epoch, rank)[pos * self.micro_batch_size : (pos + 1) * self.micro_batch_size]
        if (epoch, rank) not in self._plan_cache:
            self._plan_cache.clear()
            self._plan_cache[(epoch, rank)] = self._plan(self._shard(epoch, rank))
        return self._plan_cache[(epoch, rank)][pos]

    def _plan(self, shard: np.ndarray) -> list[np.ndarray]:
        """One worker's micro-batches of an epoch (see the class docstring)."""
        b = self.micro_batch_size
        position = {int(row): i for i, row in enumerate(shard)}
        if self.groups is None:
            parts = [shard]
        else:
            parts = [shard[self.groups[shard] == g] for g in np.unique(self.groups)]
        counts = [math.ceil(len(p) / b) for p in parts]
        for _ in range(self.micro_batches_per_epoch - sum(counts)):  # split the largest micro-batches
            sizes = [math.ceil(len(p) / c) if c and c < len(p) else 0 for p, c in zip(parts, counts, strict=True)]
            counts[int(np.argmax(sizes))] += 1
        batches: list[np.ndarray] = []
        for part, count in zip(parts, counts, strict=True):
            if self.lengths is not None:
                part = self._bucketed(part)
            if count == math.ceil(len(part) / b):
                batches += [part[i : i + b] for i in range(0, len(part), b)]
            else:
                batches += np.array_split(part, count)
        return sorted(batches, key=lambda batch: min(position[int(r)] for r in batch))

    def _bucketed(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` sorted by length within consecutive windows of ``bucket_window`` micro-batches."""
        window = self.bucket_window * self.micro_batch_size
        out = [rows[i : i + window] for i in range(0, len(rows), window)]
        return np.concatenate([w[np.argsort(self.lengths[w], kind="stable")] for w in out]) if out else rows
