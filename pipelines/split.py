"""A held-out calibration split of the training data, for when the dev set carries no labels.

Rows are grouped by (task, query): every row of a query goes to the same side, so the held-out F1 never rewards
memorising a query seen in training. Within each (task, language) stratum whole queries are drawn at random
until the stratum's held-out share is as close to ``fraction`` as whole queries allow, which keeps every
language's share of the held-out set close to its share of the training set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_GROUP = ["task", "query"]


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
