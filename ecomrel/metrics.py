"""Positive-class F1 and friends, threshold sweeps, ranking metrics, paired-bootstrap intervals of F1 and ROC-AUC
differences.

Reports print the all-positive F1 (predict "relevant" for every row) beside the model's: with ~69% positives
that trivial rule already scores ~0.81 on QC, and a reader must see the real gain.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def prf1(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape}, y_pred {y_pred.shape}")
    tp = int(((y_true == 1) & (y_pred == 1)).sum())
    fp = int(((y_true == 0) & (y_pred == 1)).sum())
    fn = int(((y_true == 1) & (y_pred == 0)).sum())
    tn = int(((y_true == 0) & (y_pred == 0)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def all_positive_f1(y_true: Sequence[int]) -> float:
    y_true = np.asarray(y_true)
    return prf1(y_true, np.ones_like(y_true))["f1"]


def threshold_sweep(y_true, p_yes, grid: Sequence[float] = DEFAULT_GRID) -> pd.DataFrame:
    """precision / recall / F1 of ``p_yes >= t`` for every ``t`` in ``grid``."""
    y_true = np.asarray(y_true)
    p = np.asarray(p_yes, dtype=np.float64)
    rows = [{"threshold": float(t), **prf1(y_true, (p >= t).astype(int))} for t in grid]
    return pd.DataFrame(rows)


def best_threshold(y_true, p_yes, grid: Sequence[float] = DEFAULT_GRID) -> tuple[float, float]:
    """(threshold, F1) maximising F1; ties go to the threshold nearest 0.5 (the least extreme one)."""
    sweep = threshold_sweep(y_true, p_yes, grid)
    best = sweep["f1"].max()
    ties = sweep[np.isclose(sweep["f1"], best)]
    pick = ties.iloc[(ties["threshold"] - 0.5).abs().argsort().iloc[0]]
    return float(pick["threshold"]), float(pick["f1"])


def best_score_threshold(y_true, scores) -> tuple[float, float]:
    """(threshold, F1) maximising the F1 of ``scores >= threshold`` over every distinct value of ``scores``.

    For scores that are not probabilities (cosine similarities, logits), where a fixed 0..1 grid would be too
    coarse or out of range: every cut between two adjacent distinct scores is tried, the lowest score (everything
    predicted relevant) included. Ties go to the highest threshold (the fewest rows predicted relevant).
    """
    y = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1 or not len(y):
        raise ValueError(f"need two equal, non-empty 1-d arrays; got {y.shape}, {s.shape}")
    if not np.isin(y, (0, 1)).all() or np.isnan(s).any():
        raise ValueError("labels must be 0 or 1 and scores must not be NaN")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[s[1:] != s[:-1], True]  # the last row of each run of equal scores: a cut just below it
    tp = np.cumsum(y)[last]
    fp = np.cumsum(1 - y)[last]
    f1 = 2 * tp / (tp + fp + y.sum())  # 2TP / (2TP + FP + FN); the denominator is at least 1
    best = int(np.argmax(f1))  # the first maximum in descending score order: the highest threshold
    return float(s[last][best]), float(f1[best])


def ranking_metrics(y_true, scores) -> dict[str, float | None]:
    """ROC-AUC and PR-AUC (average precision) of ``scores`` as a ranking of the positives, threshold-free;
    both None when the rows hold one class only (neither is defined then)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if np.unique(y).size < 2:
        return {"roc_auc": None, "pr_auc": None}
    return {"roc_auc": float(roc_auc_score(y, s)), "pr_auc": float(average_precision_score(y, s))}


def paired_bootstrap_f1_delta(
    y_true: Sequence[int],
    pred_base: Sequence[int],
    pred_arm: Sequence[int],
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of F1(arm) - F1(base) over rows resampled with replacement, both models on the same
    resample (paired), so the interval measures the difference between the models rather than the test set's luck.

    A row matters only through its (label, base prediction, arm prediction) cell, so a resample is drawn as the
    8 cell counts (multinomial, the same distribution as resampling rows): memory and time do not grow with the
    number of rows. With a few hundred evaluation rows an F1 delta of a few points is inside the noise; this says
    how far.
    """
    y, a, b = (np.asarray(v, dtype=np.int64) for v in (y_true, pred_base, pred_arm))
    _check_paired(y, a, b)
    if not np.isin(np.concatenate([y, a, b]), (0, 1)).all():
        raise ValueError("labels and predictions must be 0 or 1")
    cells = np.bincount(4 * y + 2 * a + b, minlength=8)  # cell index: label, base, arm as bits
    draws = np.random.default_rng(seed).multinomial(len(y), cells / len(y), size=n_boot)
    bits = np.arange(8)
    label, base, arm = (bits >> 2) & 1, (bits >> 1) & 1, bits & 1
    positives = draws @ label

    def f1(pred: np.ndarray) -> np.ndarray:
        tp = draws @ (label & pred)
        denom = draws @ pred + positives  # 2TP + FP + FN
        return np.divide(2 * tp, denom, out=np.zeros(n_boot), where=denom > 0)

    delta = f1(arm) - f1(base)
    return _percentile_interval(delta, level)


def paired_bootstrap_auc_delta(
    y_true: Sequence[int],
    scores_base: Sequence[float],
    scores_arm: Sequence[float],
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ROC-AUC(arm) - ROC-AUC(base) over rows resampled with replacement, both models on the
    same resample (paired), like :func:`paired_bootstrap_f1_delta` for the ranking.

    A resample is a vector of row multiplicities (multinomial, as resampling rows), and each model's AUC on it is
    the weighted Mann-Whitney statistic (ties count one half), computed for every resample at once from the
    rows' score ranks. Resamples that hold one class only are dropped (AUC is undefined there)."""
    y = np.asarray(y_true, dtype=np.int64)
    a, b = (np.asarray(v, dtype=np.float64) for v in (scores_base, scores_arm))
    _check_paired(y, a, b)
    if not np.isin(y, (0, 1)).all() or np.unique(y).size < 2:
        raise ValueError("labels must be 0 or 1, with both present")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("scores must not be NaN")
    weights = np.random.default_rng(seed).multinomial(len(y), np.full(len(y), 1 / len(y)), size=n_boot)
    pos, neg = weights * (y == 1), weights * (y == 0)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    ok = (n_pos > 0) & (n_neg > 0)
    delta = _weighted_auc(pos[ok], neg[ok], b) - _weighted_auc(pos[ok], neg[ok], a)
    return _percentile_interval(delta, level)


def _weighted_auc(pos: np.ndarray, neg: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per resample (rows of ``pos``/``neg``: each row's weight as a positive / a negative), the probability that a
    positive outscores a negative, ties counting one half."""
    order = np.argsort(scores, kind="stable")
    ranked = scores[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # first row of each distinct score
    # weight per distinct score, ascending (no rows x distinct-scores matrix: memory stays that of the weights)
    pos_g, neg_g = (np.add.reduceat(w[:, order], starts, axis=1) for w in (pos, neg))
    below = np.cumsum(neg_g, axis=1) - neg_g  # negatives strictly below each score
    wins = (pos_g * (below + 0.5 * neg_g)).sum(axis=1)
    return wins / (pos.sum(axis=1) * neg.sum(axis=1))


def _check_paired(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    if not (y.shape == a.shape == b.shape) or y.ndim != 1 or not len(y):
        raise ValueError(f"need three equal, non-empty 1-d arrays; got {y.shape}, {a.shape}, {b.shape}")


def _percentile_interval(delta: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap deltas."""
    tail = (1 - level) / 2
    lo, hi = np.quantile(delta, [tail, 1 - tail])
    return float(lo), float(hi)
