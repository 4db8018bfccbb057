"""The stage's input: the ingested records, checked against RECORD_SCHEMA, and each task's view of them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecomrel.records import dataset_path, read_records
from ecomrel.schema import RECORD_COLUMNS, UNLABELED, Split, Task, split_category_path

_LABELS = {0, 1, UNLABELED}
_REQUIRED = ("id", "task", "split", "language", "query", "target", "source")


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
    for col in _REQUIRED:
        if df[col].isna().any():
            _fail(df, where, df[col].isna(), col, "is null")
    for col, allowed in (("task", {t.value for t in Task}), ("split", {s.value for s in Split})):
        bad = ~df[col].isin(allowed)
        if bad.any():
            _fail(df, where, bad, col, f"is {df.loc[bad, col].iloc[0]!r}, expected one of {sorted(allowed)}")
    bad = ~df["label"].isin(_LABELS)
    if bad.any():
        _fail(df, where, bad, "label", f"is {df.loc[bad, 'label'].iloc[0]!r}, expected 0, 1 or {UNLABELED}")
    return df


def _fail(df: pd.DataFrame, where: Path, mask: pd.Series, field_name: str, what: str) -> None:
    row = df.index[mask][0]
    raise ValueError(f"{where}: row {row} (id {df.at[row, 'id']!r}): field {field_name!r} {what}")


class KeySet:
    """A set of string tuples held as sorted 64-bit hashes (blake2b, stable across processes): 8 bytes per member,
    whatever the strings' length. A false "member" needs a 64-bit collision (about n^2 / 2^65: 3e-8 for a
    million members), which at worst leaves one candidate negative out."""

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = np.unique(np.asarray(keys, dtype=np.uint64))

    @staticmethod
    def hash(*columns: Sequence[str]) -> np.ndarray:
        """The key of each row of ``columns`` (parallel sequences of strings)."""
        return np.fromiter(
            (_key(parts) for parts in zip(*columns, strict=True)), dtype=np.uint64, count=len(columns[0])
        )

    def __contains__(self, item: tuple[str, ...]) -> bool:
        key = np.uint64(_key(item))
        i = int(np.searchsorted(self.keys, key))
        return i < len(self.keys) and self.keys[i] == key

    def isin(self, *columns: Sequence[str]) -> np.ndarray:
        """Membership of each row of ``columns``: a binary search per row in the sorted keys (``np.isin`` would
        sort the whole set again on every call, and mining calls this once per query)."""
        keys = KeySet.hash(*columns)
        if not len(self.keys):
            return np.zeros(len(keys), dtype=bool)
        return self.keys[np.searchsorted(self.keys, keys).clip(max=len(self.keys) - 1)] == keys

    def __len__(self) -> int:
        return len(self.keys)


def _key(parts: Sequence[str]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest(), "little")


def text_key(*parts: str) -> int:
    """The stable 64-bit key of a tuple of strings (the same as a :class:`KeySet` member's)."""
    return _key(parts)


@dataclass
class TaskInput:
    """One task's view of the data: what is known, what to draw from, and the anchors (its positive training rows)
    grouped by query, so that any range of queries can be mined on its own (:func:`.mining.mine_queries`).

    This is all the mining keeps of a dataset: the task's known positives, its unique training targets (the
    corpus; for QC the distinct category paths, a few thousand), its anchors' ids and languages, and 8-byte keys of
    every pair and row id (not the rows)."""

    task: str
    queries: list[str]  # the distinct queries of the anchors, sorted
    #: The anchors sorted by (query, id): query ``queries[i]`` owns ``anchor_ids[anchor_bounds[i]:anchor_bounds[i+1]]``.
    anchor_ids: list[str]
    anchor_languages: list[str]
    anchor_bounds: np.ndarray
    anchor_keys: np.ndarray  # KeySet.hash(split, id) of every anchor (uint64; what per-anchor quotas are drawn from)
    corpus: list[str]  # unique training targets, sorted
    known_positive: dict[str, set[str]]  # query -> targets labelled 1 in any split
    #: QC only: query -> the level tuples of its known positives (for the taxonomy rule), else empty.
    positive_levels: dict[str, list[tuple[str, ...]]]
    existing: KeySet  # every (query, target) pair present in any split
    row_ids: KeySet  # every (split, id) of the task's rows (mined ids must not collide with them)
    train_labels: dict[int, int]  # label -> training rows (for the balance report)

    @property
    def is_qc(self) -> bool:
        return self.task == Task.QC.value


def _task_input(
    task: str,
    positives: pd.DataFrame,
    corpus: set[str],
    pair_keys: np.ndarray,
    id_keys: np.ndarray,
    train_labels: dict[int, int],
) -> TaskInput:
    """A task's input from its positive rows (any split), unique training targets, keys and label counts."""
    known: dict[str, set[str]] = {}
    for q, t in zip(positives["query"], positives["target"], strict=True):
        known.setdefault(q, set()).add(t)
    levels: dict[str, list[tuple[str, ...]]] = {}
    if task == Task.QC.value:
        levels = {q: [tuple(split_category_path(p)) for p in sorted(ps)] for q, ps in known.items()}
    train = positives[positives["split"] == Split.TRAIN.value]
    by_query: dict[str, list[tuple[str, str]]] = {}
    for q, i, lang in zip(train["query"], train["id"], train["language"], strict=True):
        by_query.setdefault(q, []).append((i, lang))
    queries = sorted(by_query)
    anchors = [a for q in queries for a in sorted(by_query[q])]
    ids = [i for i, _ in anchors]
    return TaskInput(
        task=task,
        queries=queries,
        anchor_ids=ids,
        anchor_languages=[lang for _, lang in anchors],
        anchor_bounds=np.cumsum([0] + [len(by_query[q]) for q in queries]),
        anchor_keys=KeySet.hash([Split.TRAIN.value] * len(ids), ids),
        corpus=sorted(corpus),
        known_positive=known,
        positive_levels=levels,
        existing=KeySet(pair_keys),
        row_ids=KeySet(id_keys),
        train_labels=train_labels,
    )


def _keys(batch: pd.DataFrame) -> pd.DataFrame:
    """Per row: its task, split and label, and the keys of its (query, target) pair and its (split, id)."""
    return pd.DataFrame(
        {
            "task": batch["task"].to_numpy(),
            "train": (batch["split"] == Split.TRAIN.value).to_numpy(),
            "label": batch["label"].to_numpy(),
            "pair": KeySet.hash(batch["query"].tolist(), batch["target"].tolist()),
            "id": KeySet.hash(batch["split"].tolist(), batch["id"].tolist()),
        }
    )


def _positives(batch: pd.DataFrame) -> pd.DataFrame:
    return batch.loc[batch["label"] == 1, ["id", "task", "split", "language", "query", "target"]]


def _train_targets(batch: pd.DataFrame) -> pd.DataFrame:
    return batch.loc[batch["split"] == Split.TRAIN.value, ["task", "target"]].drop_duplicates()


def _inputs_from_parts(parts: dict[str, list[pd.DataFrame]]) -> list[TaskInput]:
    """Task inputs from per-block :func:`_positives`, :func:`_train_targets` and :func:`_keys` frames."""
    positives = pd.concat(parts["positives"], ignore_index=True)
    targets = pd.concat(parts["targets"], ignore_index=True)
    keys = pd.concat(parts["keys"], ignore_index=True)
    inputs = []
    for t in Task:
        mine = keys[keys["task"] == t.value]
        if mine.empty:
            continue
        train = mine.loc[mine["train"], "label"].value_counts()
        inputs.append(
            _task_input(
                t.value,
                positives[positives["task"] == t.value],
                set(targets.loc[targets["task"] == t.value, "target"]),
                mine["pair"].to_numpy(),
                mine["id"].to_numpy(),
                {int(k): int(v) for k, v in train.items()},
            )
        )
    return inputs


def all_task_inputs(records: pd.DataFrame) -> list[TaskInput]:
    """One :class:`TaskInput` per task present in ``records`` (a table in memory), in :class:`Task` order."""
    return _inputs_from_parts(
        {"positives": [_positives(records)], "targets": [_train_targets(records)], "keys": [_keys(records)]}
    )


def stream_task_inputs(path: Path) -> list[TaskInput]:
    """:func:`all_task_inputs` of an ingested dataset, streamed with Ray Data: every block is checked against
    RECORD_SCHEMA where it is (the first error, naming the file, the row id and the field, is raised here) and
    reduced to its positives, its unique training targets and its keys; the caller (the stage's preparing task)
    holds only those."""
    import ray.data

    ds = ray.data.read_parquet(str(dataset_path(path)), include_paths=True).materialize()  # read once, used 4 ways
    errors = ds.map_batches(_errors, batch_format="pandas", batch_size=None).take(1)
    if errors:
        raise ValueError(errors[0]["error"])
    reducers = {"positives": _positives, "targets": _train_targets, "keys": _keys}
    parts = {
        name: list(ds.map_batches(fn, batch_format="pandas").iter_batches(batch_format="pandas", batch_size=None))
        or [fn(pd.DataFrame({c: pd.Series(dtype=object) for c in RECORD_COLUMNS}))]
        for name, fn in reducers.items()
    }
    return _inputs_from_parts(parts)


def _errors(batch: pd.DataFrame) -> pd.DataFrame:
    """The first problem of a block of ``read_parquet(include_paths=True)`` (:func:`_check_rows`, naming the
    block's file), as a one-row frame; none: an empty one."""
    where = Path(str(batch["path"].iloc[0])) if len(batch) else Path("?")
    missing = [c for c in RECORD_COLUMNS if c not in batch.columns]
    try:
        if missing:
            raise ValueError(f"{where}: missing columns {missing} (expected ecomrel.schema.RECORD_SCHEMA)")
        _check_rows(batch[RECORD_COLUMNS], where)
    except ValueError as e:
        return pd.DataFrame({"error": [str(e)]})
    return pd.DataFrame({"error": pd.Series(dtype=object)})
