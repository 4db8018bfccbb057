"""The ``trainset`` stage: the split's training rows plus every augmentation stage's rows, as one dataset.

Augmented rows derived from a row outside the training split (a held-out calibration query) are quarantined with
the reason ``parent_not_in_train_split``, so nothing the calibration set holds leaks into training.

The stage streams (Ray Data in, ``write_parquet`` out). The one piece of global state the driver holds is the
set of training-row keys the parent check looks up: a sorted array of 64-bit hashes of ``(task, id)``, 8 bytes
per training row (8 MB for a million rows), shipped once to the object store and read by every block. A 64-bit
hash collision would keep a row whose parent is not in the training split; for a million keys its chance is about
n^2 / 2^65 = 3e-8. The counts of the report are summed per block.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ecomrel.manifest import Manifest, StageRun, read_manifest, run_stage
from ecomrel.records import read_dataset, write_dataset
from ecomrel.schema import RECORD_COLUMNS

#: Bumped when the stage's output for the same inputs changes, so current manifests stop matching.
FORMAT_VERSION = "v2"


def row_keys(task: pd.Series, row_id: pd.Series) -> np.ndarray:
    """64-bit hashes of ``(task, id)``: ids are unique per task (the CIKM files number each task from 0)."""
    text = task.astype(str).to_numpy(dtype=object) + "\x1f" + row_id.astype(str).to_numpy(dtype=object)
    return pd.util.hash_array(text.astype(object))


def _train_keys(batch: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"key": row_keys(batch["task"], batch["id"])})


def _mark(batch: pd.DataFrame, keys, augmented: bool) -> pd.DataFrame:
    """Add ``keep``: an original row always, an augmented row when its parent is a training row."""
    import ray

    batch = batch[RECORD_COLUMNS].copy()
    if augmented:
        batch["keep"] = np.isin(row_keys(batch["task"], batch["parent_id"]), ray.get(keys), assume_unique=False)
    else:
        batch["keep"] = True
    return batch


def _kept(batch: pd.DataFrame) -> pd.DataFrame:
    return batch[batch["keep"]].drop(columns="keep")


def _counts(batch: pd.DataFrame) -> pd.DataFrame:
    return batch.groupby(["source", "task", "label", "keep"]).size().rename("n").reset_index()


def build_trainset(train: Path, augmentations: Sequence[Path], out: Path, m: Manifest) -> None:
    import ray

    base = read_dataset(train, columns=RECORD_COLUMNS)
    keys = np.concatenate(
        [b["key"] for b in base.map_batches(_train_keys, batch_format="pandas").iter_batches(batch_format="numpy")]
        or [np.zeros(0, np.uint64)]
    )
    keys_ref = ray.put(np.unique(keys))
    parts = [base.map_batches(_mark, fn_args=(keys_ref, False), batch_format="pandas")]
    for part in augmentations:
        parts.append(read_dataset(part).map_batches(_mark, fn_args=(keys_ref, True), batch_format="pandas"))
    marked = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    marked = marked.materialize()  # read once: counted, then written (blocks stay in the object store)

    counts: Counter = Counter()
    for block in marked.map_batches(_counts, batch_format="pandas").iter_batches(batch_format="pandas"):
        for source, task, label, keep, n in block.itertuples(index=False):
            counts[(source, task, int(label), bool(keep))] += int(n)
    write_dataset(marked.map_batches(_kept, batch_format="pandas"), out / "data")

    kept = {k: n for k, n in counts.items() if k[3]}
    dropped = sum(n for k, n in counts.items() if not k[3])
    output = sum(kept.values())
    by_source: Counter = Counter()
    by_task_label: Counter = Counter()
    positives: Counter = Counter()
    per_task: Counter = Counter()
    for (source, task, label, _), n in kept.items():
        by_source[source] += n
        by_task_label[f"{task}/{label}"] += n
        per_task[task] += n
        positives[task] += n * label
    m.input_rows = output + dropped
    m.output_rows = output
    m.quarantined_rows = dropped
    m.quarantined_by_reason = {"parent_not_in_train_split": dropped} if dropped else {}
    m.extra = {
        "rows_by_source": dict(sorted(by_source.items())),
        "rows_by_task_label": dict(sorted(by_task_label.items())),
        "positive_rate": {t: round(positives[t] / n, 4) for t, n in sorted(per_task.items())},
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
