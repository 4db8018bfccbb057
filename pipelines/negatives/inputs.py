"""The stage's input: the ingested records, checked against RECORD_SCHEMA, and each task's view of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


@dataclass
class TaskInput:
    """One task's view of the data: what is known, what to anchor on, what to draw from."""

    task: str
    anchors: list[dict]  # positive training rows (id, task, language, query), sorted by id
    corpus: list[str]  # unique training targets, sorted
    known_positive: dict[str, set[str]]  # query -> targets labelled 1 in any split
    #: QC only: query -> the level tuples of its known positives (for the taxonomy rule), else empty.
    positive_levels: dict[str, list[tuple[str, ...]]]
    existing: set[tuple[str, str]]  # every (query, target) pair present in any split
    train_labels: pd.Series  # labels of the task's training rows (for the balance report)

    @property
    def is_qc(self) -> bool:
        return self.task == Task.QC.value

    def anchors_by_query(self) -> dict[str, list[int]]:
        """query -> indices of its anchors, queries in the order of their first anchor."""
        by_query: dict[str, list[int]] = {}
        for i, anchor in enumerate(self.anchors):
            by_query.setdefault(anchor["query"], []).append(i)
        return by_query


def task_input(records: pd.DataFrame, task: str) -> TaskInput:
    df = records[records["task"] == task]
    positives = df[df["label"] == 1]
    known: dict[str, set[str]] = {}
    for q, t in zip(positives["query"], positives["target"], strict=True):
        known.setdefault(q, set()).add(t)
    levels: dict[str, list[tuple[str, ...]]] = {}
    if task == Task.QC.value:
        levels = {q: [tuple(split_category_path(p)) for p in sorted(ps)] for q, ps in known.items()}
    train = df[df["split"] == Split.TRAIN.value]
    anchors = train.loc[train["label"] == 1, ["id", "task", "language", "query"]].sort_values("id", kind="stable")
    return TaskInput(
        task=task,
        anchors=anchors.to_dict("records"),
        corpus=sorted(set(train["target"])),
        known_positive=known,
        positive_levels=levels,
        existing=set(zip(df["query"], df["target"], strict=True)),
        train_labels=train["label"],
    )


def all_task_inputs(records: pd.DataFrame) -> list[TaskInput]:
    """One :class:`TaskInput` per task present in ``records``, in :class:`Task` order."""
    return [task_input(records, t.value) for t in Task if (records["task"] == t.value).any()]
