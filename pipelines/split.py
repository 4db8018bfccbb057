"""The ``split`` stage: training rows, the calibration set and the test rows of an ingested dataset.

Calibration uses a task's labelled dev rows when it has them, else a held-out share of its training data. There,
rows are grouped by (task, query): every row of a query goes to the same side, so the held-out F1 never rewards
memorising a query seen in training. The stage streams through Ray Data: a deterministic hash of (seed, task,
query), computed in ``map_batches``, holds a query out with probability ``fraction``, so each language's held-out
share is ``fraction`` in expectation (binomially close for languages with many queries; a language of a handful
of queries may land wholly on one side). Rows are written once, partitioned by task and kind (``write_parquet``),
and the driver only moves the finished files into ``train/``, ``calib/`` and ``test/`` once it knows which tasks
have dev labels.

``heldout_split`` is the in-memory variant that draws whole queries until each (task, language) stratum's share is
as close to the fraction as whole queries allow: self-validation's folds use it.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from ecomrel.config import Section
from ecomrel.manifest import Manifest, StageRun, run_stage
from ecomrel.records import dataset_path, write_records
from ecomrel.schema import RECORD_COLUMNS, RECORD_SCHEMA, UNLABELED, Split

from .counts import parquet_files, stored_rows

_GROUP = ["task", "query"]
PARTS = ("train", "calib", "test")


class SplitConfig(Section):
    validation_fraction: float = Field(
        0.1,
        gt=0,
        lt=0.5,
        description="Without dev labels: share of train queries held out (grouped by query, "
        "stratified by language) for calibration.",
    )
    seed: int = Field(0, description="Seed of the held-out split: same seed, same queries held out.")


def heldout_split(df: pd.DataFrame, fraction: float, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train_df, heldout_df): about ``fraction`` of each (task, language)'s rows held out, by whole queries.

    A query whose rows span several languages is stratified under its most frequent one. A stratum of a single
    query stays in training (holding it out would take all of that language's training data). Same ``seed``,
    same split.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    missing = [c for c in (*_GROUP, "language") if c not in df.columns]
    if missing:
        raise ValueError(f"heldout_split: dataframe lacks column(s) {missing}; has {list(df.columns)}")
    if df.empty:
        return df.copy(), df.copy()

    # Each query's stratum language is its most frequent one (ties: alphabetical), found by sorting counts
    # rather than a Python function per group: CIKM-sized training sets have hundreds of thousands of queries.
    counts = df.groupby([*_GROUP, "language"], sort=False).size().rename("n").reset_index()
    counts = counts.sort_values([*_GROUP, "n", "language"], ascending=[True, True, False, True], kind="stable")
    groups = counts.drop_duplicates(_GROUP).set_index(_GROUP)[["language"]]
    groups["rows"] = counts.groupby(_GROUP, sort=False)["n"].sum()
    groups = groups.reset_index()
    rng = np.random.default_rng(seed)
    held: list[pd.DataFrame] = []
    for _, stratum in groups.groupby(["task", "language"], sort=True):
        sizes = stratum["rows"].to_numpy()
        target = fraction * sizes.sum()
        taken = 0
        keep = []
        for i in rng.permutation(len(stratum)):
            if abs(taken + sizes[i] - target) < abs(taken - target):  # only if it brings the share closer
                keep.append(i)
                taken += sizes[i]
        held.append(stratum.iloc[keep][_GROUP])
    heldout_keys = pd.concat(held, ignore_index=True)
    is_held = pd.MultiIndex.from_frame(df[_GROUP]).isin(pd.MultiIndex.from_frame(heldout_keys))
    return df[~is_held].copy(), df[is_held].copy()


_PART = "_part"  # the hive partition column of the one pass: "<task>.<kind>"


def held_out(tasks: np.ndarray, queries: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """True where (task, query) is held out: a stable 64-bit hash of the pair (SipHash keyed by ``seed``, the
    same on every machine and run) below ``fraction`` of its range."""
    keys = pd.Series(tasks, dtype=object) + "\x1f" + pd.Series(queries, dtype=object)
    key = hashlib.sha256(f"split-{seed}".encode()).hexdigest()[:16]
    h = pd.util.hash_array(keys.to_numpy(dtype=object), hash_key=key, categorize=True)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53) < fraction


def _assign(batch: pa.Table, tasks: list[str], fraction: float, seed: int) -> pa.Table:
    """Ray Data batch function: the rows of ``tasks`` with their ``_part`` ("<task>.<kind>")."""
    batch = batch.select(RECORD_COLUMNS).cast(RECORD_SCHEMA)
    batch = batch.filter(pc.is_in(batch["task"], pa.array(tasks, pa.string())))
    task = batch["task"].to_numpy(zero_copy_only=False)
    split = batch["split"].to_numpy(zero_copy_only=False)
    labelled = batch["label"].to_numpy() != UNLABELED
    held = held_out(task, batch["query"].to_numpy(zero_copy_only=False), fraction, seed)
    kind = np.where(
        split == Split.TRAIN.value,
        np.where(held, "heldout", "train"),
        np.where(split == Split.DEV.value, np.where(labelled, "dev_labelled", "dev_unlabelled"), "test"),
    )
    return batch.append_column(_PART, pa.array((pd.Series(task, dtype=object) + "." + kind).to_numpy(), pa.string()))


def split_dataset(ingested: Path, out: Path, tasks: Sequence[str], cfg: SplitConfig, m: Manifest) -> None:
    """Write ``out/{train,calib,test}/data`` from the ingested rows of ``tasks``; fill ``m`` with the counts."""
    import ray.data

    staging = out / "_parts"
    for folder in (staging, *(out / name for name in PARTS)):
        shutil.rmtree(folder, ignore_errors=True)
    ds = ray.data.read_parquet(str(dataset_path(ingested)))
    ds = ds.map_batches(
        _assign,
        fn_kwargs={"tasks": list(tasks), "fraction": cfg.validation_fraction, "seed": cfg.seed},
        batch_format="pyarrow",
    )
    ds.write_parquet(str(staging), partition_cols=[_PART])

    groups = {d.name.split("=", 1)[1]: d for d in staging.iterdir() if d.is_dir()} if staging.is_dir() else {}
    rows = {key: stored_rows(d) for key, d in groups.items()}
    present = sorted({key.split(".")[0] for key in groups})
    calibrated_on = {t: "dev_labels" if rows.get(f"{t}.dev_labelled") else "heldout_train" for t in present}
    for key, folder in groups.items():
        task, kind = key.split(".")
        dev_labels = calibrated_on[task] == "dev_labels"
        # Where each kind of row goes; unlabelled dev rows go nowhere (counted in the manifest).
        part = {
            "train": "train",
            "heldout": "train" if dev_labels else "calib",
            "dev_labelled": "calib",
            "dev_unlabelled": None,
            "test": "test",
        }[kind]
        if part is None:
            continue
        dest = out / part / "data"
        dest.mkdir(parents=True, exist_ok=True)
        for f in parquet_files(folder):
            f.rename(dest / f"{task}-{kind}-{f.name}")
    shutil.rmtree(staging, ignore_errors=True)

    for name in PARTS:
        data = out / name / "data"
        if not parquet_files(data):  # an empty part is still a dataset, with the record columns
            write_records(pd.DataFrame(columns=RECORD_COLUMNS), data)
        m.extra[f"{name}_rows"] = stored_rows(data)
    m.input_rows = sum(rows.values())
    m.output_rows = sum(m.extra[f"{name}_rows"] for name in PARTS)
    m.extra.update(
        calibrated_on=calibrated_on,
        unlabelled_dev_rows=sum(n for key, n in rows.items() if key.endswith(".dev_unlabelled")),
    )


def split_stage(cfg: SplitConfig, tasks: Sequence[str], ingested: Path, out: Path, force: bool = False) -> StageRun:
    """The ``split`` stage: ``out/{train,calib,test}/data`` from the ingested rows of ``tasks``."""
    return run_stage(
        "split",
        out,
        f"{cfg.digest()}-{','.join(tasks)}",
        [ingested],
        lambda m: split_dataset(Path(ingested), Path(out), tasks, cfg, m),
        force,
    )
