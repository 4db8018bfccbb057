"""The ``trainset`` stage: the split's training rows plus every augmentation stage's rows, as one dataset.

Augmented rows derived from a row outside the training split (a held-out calibration query) are quarantined with
the reason ``parent_not_in_train_split``, so nothing the calibration set holds leaks into training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ecomrel.manifest import Manifest, StageRun, read_manifest, run_stage
from ecomrel.records import read_records, write_records

#: Bumped when the stage's output for the same inputs changes, so current manifests stop matching.
FORMAT_VERSION = "v2"


def build_trainset(train: Path, augmentations: Sequence[Path], out: Path, m: Manifest) -> None:
    base = read_records(train)
    keep = set(base["id"])
    frames, dropped = [base], 0
    for part in augmentations:
        extra = read_records(part)
        ok = extra["parent_id"].isin(keep)
        dropped += int((~ok).sum())
        frames.append(extra[ok])
    df = pd.concat(frames, ignore_index=True)
    write_records(df, out / "data")
    m.input_rows = len(df) + dropped
    m.output_rows = len(df)
    m.quarantined_rows = dropped
    m.quarantined_by_reason = {"parent_not_in_train_split": dropped} if dropped else {}
    m.extra = {
        "rows_by_source": {k: int(v) for k, v in df["source"].value_counts().sort_index().items()},
        "rows_by_task_label": {f"{t}/{lab}": int(n) for (t, lab), n in df.groupby(["task", "label"]).size().items()},
        "positive_rate": {t: round(float(g["label"].mean()), 4) for t, g in df.groupby("task")},
    }


def trainset_stage(train: Path, augmentations: Sequence[Path], out: Path, force: bool = False) -> StageRun:
    """The ``trainset`` stage: the split's training rows plus the augmentation stages' rows derived from them."""

    def body(m: Manifest) -> None:
        build_trainset(train, augmentations, out, m)

    return run_stage("trainset", out, FORMAT_VERSION, [train, *augmentations], body, force)


def report_section(out: Path) -> tuple[str, str]:
    """The report's "Training set by source and label" section, from the stage's manifest."""
    ts = read_manifest(out).extra
    return (
        "Training set by source and label",
        f"Rows by source: {ts['rows_by_source']}\n\nRows by task/label: {ts['rows_by_task_label']}\n\n"
        f"Positive rate per task: {ts['positive_rate']}",
    )
