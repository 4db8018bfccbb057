"""The ``split`` stage: training rows, the calibration set and the test rows of an ingested dataset.

Calibration uses a task's labelled dev rows when it has them, else a held-out split of its training data. There,
rows are grouped by (task, query): every row of a query goes to the same side, so the held-out F1 never rewards
memorising a query seen in training. Within each (task, language) stratum whole queries are drawn at random
until the stratum's held-out share is as close to ``fraction`` as whole queries allow, which keeps every
language's share of the held-out set close to its share of the training set.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field

from ecomrel.config import Section
from ecomrel.manifest import Manifest, StageRun, run_stage
from ecomrel.records import read_records, write_records
from ecomrel.schema import UNLABELED, Split

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


def split_rows(rows: pd.DataFrame, cfg: SplitConfig) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """({"train", "calib", "test"} -> rows, task -> where its calibration rows came from)."""
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in PARTS}
    calibrated_on: dict[str, str] = {}
    for task, t in rows.groupby("task"):
        train = t[t["split"] == Split.TRAIN.value]
        dev = t[(t["split"] == Split.DEV.value) & (t["label"] != UNLABELED)]
        if len(dev):
            calib, calibrated_on[task] = dev, "dev_labels"
        else:
            train, calib = heldout_split(train, cfg.validation_fraction, seed=cfg.seed)
            calibrated_on[task] = "heldout_train"
        parts["train"].append(train)
        parts["calib"].append(calib)
        parts["test"].append(t[t["split"] == Split.TEST.value])
    frames = {n: pd.concat(f, ignore_index=True) if f else rows.iloc[:0] for n, f in parts.items()}
    return frames, calibrated_on


def split_stage(cfg: SplitConfig, tasks: Sequence[str], ingested: Path, out: Path, force: bool = False) -> StageRun:
    """The ``split`` stage: ``out/{train,calib,test}/data`` from the ingested rows of ``tasks``."""

    def body(m: Manifest) -> None:
        rows = read_records(ingested)
        rows = rows[rows["task"].isin(tasks)]
        frames, calibrated_on = split_rows(rows, cfg)
        for name, df in frames.items():
            write_records(df, out / name / "data")
            m.extra[f"{name}_rows"] = len(df)
        unlabelled_dev = rows[(rows["split"] == Split.DEV.value) & (rows["label"] == UNLABELED)]
        m.input_rows = len(rows)
        m.output_rows = sum(len(df) for df in frames.values())
        m.extra.update(calibrated_on=calibrated_on, unlabelled_dev_rows=len(unlabelled_dev))

    return run_stage("split", out, f"{cfg.digest()}-{','.join(tasks)}", [ingested], body, force)
