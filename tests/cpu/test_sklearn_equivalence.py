"""Our hand-written splits and metrics against the scikit-learn functions that could replace them (issue 12).

Each test runs ours and scikit-learn's on the same fixed data. Where they agree the test says how far; where they
do not, it pins the difference that keeps our code in place:

- ``heldout_split`` (any fraction of each (task, language) stratum's rows, by whole queries) has no scikit-learn
  counterpart. ``GroupShuffleSplit`` draws a fraction of *queries* and ignores languages; ``StratifiedGroupKFold``
  only cuts shares of 1/n, and it holds out a language that has a single query, which ``heldout_split`` keeps in
  training by contract.
- ``assign_folds`` and ``StratifiedGroupKFold`` both give query-grouped, language-balanced folds, but different
  ones: the self-validation figures (flags, precision, recall against planted noise) would change.
- ``prf1`` and ``precision_recall_fscore_support`` agree on counts, precision and recall; F1 differs in the last
  bit (scikit-learn computes 2TP / (2TP + FP + FN), we 2PR / (P + R)).
- ``threshold_sweep`` and ``precision_recall_curve`` read at the grid agree wherever the labels hold a positive;
  without one scikit-learn sets recall to 1 (and warns) where we report 0, and the curve has no TP/FP counts.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_curve, precision_recall_fscore_support
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

from ecomrel.metrics import DEFAULT_GRID, prf1, threshold_sweep
from pipelines.selfval import assign_folds
from pipelines.split import heldout_split


def _train_frame(seed: int = 0) -> pd.DataFrame:
    """Queries of 1-5 rows in four languages per task; Thai has a single query."""
    rng = np.random.default_rng(seed)
    rows = []
    for task in ("QC", "QI"):
        for language, queries in (("en", 300), ("es", 120), ("ja", 40), ("th", 1)):
            for q in range(queries):
                for k in range(int(rng.integers(1, 6))):
                    rows.append({"task": task, "language": language, "query": f"{language}-q{q}", "k": k})
    return pd.DataFrame(rows)


def _groups_and_strata(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return (df["task"] + "\x00" + df["query"]).to_numpy(), (df["task"] + "/" + df["language"]).to_numpy()


def _sklearn_folds(df: pd.DataFrame, k: int, seed: int) -> pd.Series:
    groups, strata = _groups_and_strata(df)
    folds = pd.Series(-1, index=df.index, dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Thai has fewer rows than folds
        splits = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(df, strata, groups)
        for fold, (_, test) in enumerate(splits):
            folds.iloc[test] = fold
    return folds


def _held_share(df: pd.DataFrame, held: np.ndarray) -> pd.Series:
    return pd.Series(held, index=df.index).groupby([df["task"], df["language"]]).mean()


def _same_partition(a: pd.Series, b: pd.Series) -> bool:
    """Whether two fold assignments put the same rows together (fold numbers aside)."""
    cells = pd.crosstab(a, b) > 0
    return bool((cells.sum(axis=0) == 1).all() and (cells.sum(axis=1) == 1).all())


def test_heldout_split_has_no_sklearn_equivalent():
    df = _train_frame()
    groups, strata = _groups_and_strata(df)
    _, held = heldout_split(df, 0.1, seed=0)
    ours = df.index.isin(held.index)
    shares = _held_share(df, ours)
    assert shares.drop(index="th", level=1).between(0.09, 0.11).all() and (shares.xs("th", level=1) == 0).all()

    # GroupShuffleSplit: 10% of the queries, whatever their language -> the language shares drift
    _, test = next(GroupShuffleSplit(n_splits=1, test_size=0.1, random_state=0).split(df, groups=groups))
    gss = np.isin(np.arange(len(df)), test)
    assert (gss != ours).any()
    assert (_held_share(df, gss).drop(index="th", level=1) - 0.1).abs().max() > 0.03

    # StratifiedGroupKFold(10), first fold: the shares hold, but a language's only query can be held out
    skf = (_sklearn_folds(df, 10, seed=0) == 0).to_numpy()
    assert (skf != ours).any()
    assert (_held_share(df, skf).xs("th", level=1) == 1).any()


@pytest.mark.parametrize("k", [3, 5])
def test_assign_folds_and_stratified_group_kfold_are_equally_valid_but_different(k):
    df = _train_frame()
    ours, theirs = assign_folds(df, k, seed=0), _sklearn_folds(df, k, seed=0)
    for folds in (ours, theirs):
        assert (df.assign(fold=folds).groupby(["task", "query"])["fold"].nunique() == 1).all()
        shares = df.assign(fold=folds).groupby(["task", "language"])["fold"].value_counts(normalize=True)
        assert (shares.drop(index="th", level=1) - 1 / k).abs().max() < 0.02
        assert folds.value_counts(normalize=True).between(1 / k - 0.01, 1 / k + 0.01).all()
    assert not _same_partition(ours, theirs)


def _label_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    edge = [([0, 0, 0], [0, 0, 0]), ([1, 1], [0, 0]), ([0, 0], [1, 1]), ([1, 1], [1, 1]), ([1, 0], [0, 1])]
    pairs = [(np.array(y), np.array(p)) for y, p in edge]
    for n in (1, 5, 37, 1000):
        pairs += [(rng.integers(0, 2, n), rng.integers(0, 2, n)) for _ in range(100)]
    return pairs


def test_prf1_matches_sklearn_except_the_last_bit_of_f1():
    f1_bits_differ = 0
    for y, pred in _label_pairs():
        ours = prf1(y, pred)
        tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
        p, r, f1, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
        assert (ours["tp"], ours["fp"], ours["fn"], ours["tn"]) == (tp, fp, fn, tn)
        assert (ours["precision"], ours["recall"]) == (p, r)
        assert ours["f1"] == pytest.approx(f1, abs=3e-16)
        f1_bits_differ += ours["f1"] != f1
    assert f1_bits_differ > 0


def _sweep_from_pr_curve(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """precision / recall / F1 of ``p >= t`` on the grid, read off ``precision_recall_curve``."""
    precision, recall, thresholds = precision_recall_curve(y, p, drop_intermediate=False)
    at = np.searchsorted(thresholds, DEFAULT_GRID, side="left")  # first score >= t; past the end: none predicted
    some = at < len(thresholds)
    at = np.minimum(at, len(thresholds) - 1)
    pr, rc = np.where(some, precision[at], 0.0), np.where(some, recall[at], 0.0)
    f1 = np.divide(2 * pr * rc, pr + rc, out=np.zeros_like(pr), where=pr + rc > 0)
    return pd.DataFrame({"precision": pr, "recall": rc, "f1": f1})


def test_threshold_sweep_matches_precision_recall_curve_when_there_are_positives():
    rng = np.random.default_rng(0)
    for n in (5, 50, 2000):
        for _ in range(30):
            y = rng.integers(0, 2, n)
            y[0] = 1
            p = np.round(rng.random(n), int(rng.choice([2, 3, 6])))  # rounded: scores equal to grid points
            ours = threshold_sweep(y, p)[["precision", "recall", "f1"]]
            pd.testing.assert_frame_equal(ours, _sweep_from_pr_curve(y, p), check_exact=True)

    y, p = np.zeros(10, dtype=int), rng.random(10)
    with pytest.warns(UserWarning, match="No positive class"):
        theirs = _sweep_from_pr_curve(y, p)
    assert (threshold_sweep(y, p)["recall"] == 0).all() and (theirs["recall"] == 1).any()
