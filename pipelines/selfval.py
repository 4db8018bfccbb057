"""Self-validation: find training rows whose label the model itself confidently contradicts, then remove or
relabel them before the final fine-tune.

The paper trains an initial model on all training rows, scores those same rows and drops a row when the model's
P(yes) confidently disagrees with its label (``p >= c`` on a negative, ``p <= 1 - c`` on a positive). A model
scored on rows it was trained on has fitted their labels, noisy ones included, so in-sample scores hide much of
the noise they are meant to find. Here the scores can instead be *out-of-fold*: the rows are split into ``k``
folds grouped by (task, query) (a query never spans folds, so no fold is scored by a model that saw the same
query) and each fold is scored by a model trained on the other folds. On those scores either the paper's
confidence rule applies, or confident learning (``cleanlab.filter.find_label_issues``), which sets its
thresholds per class from the model's own average confidence instead of a fixed ``c``.

Measured on synthetic data with 10% of labels flipped (tests/cpu/test_selfval.py, a model that memorizes its
training rows): in-sample flags at c=0.8 recover 1% of the flips; out-of-fold flags 64% at precision 0.75;
cleanlab 78% at precision 0.56, because it also counts the model's own errors as label issues.

Flags are applied only for a task whose scores show the model has learned it (ROC-AUC >= ``min_auc``): on the
demo, initial models trained for 12 steps ranked at chance (AUC 0.44-0.57) yet were "confident" (one fold model
drifted towards yes), and without the gate their flags removed 41% of the negatives at precision 0.11.

Everything here is model-agnostic: the recipe passes a ``fit_predict(train_df, heldout_df) -> p_yes`` that trains
the LoRA model and scores with Ray; the tests pass a small scikit-learn model. Nothing is lost: a removed row
goes to a quarantine-style frame with its reason and score, a relabeled row keeps its original as its parent.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ecomrel.config import Toggle
from ecomrel.manifest import Manifest, StageRun, read_manifest, run_stage
from ecomrel.records import read_records, write_records
from ecomrel.schema import Source

from .split import heldout_split
from .synthetic import noise_ids as planted_noise

logger = logging.getLogger(__name__)

Method = Literal["in_sample", "oof", "cleanlab"]
Action = Literal["remove", "relabel"]
#: ``fit_predict(train_df, heldout_df)`` trains a model on ``train_df`` and returns P(yes) for ``heldout_df``'s
#: rows, in their order.
FitPredict = Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]

METHODS: tuple[str, ...] = ("in_sample", "oof", "cleanlab")
REASON_CONTRADICTION = "confident_contradiction"
REASON_CLEANLAB = "cleanlab_label_issue"
RELABELED_SUFFIX = "-rl"
SWEEP_CONFIDENCES: tuple[float, ...] = (0.7, 0.8, 0.9)
_KEY = ["task", "id"]


class SelfValConfig(Toggle):
    method: Literal["in_sample", "oof", "cleanlab"] = Field(
        "oof",
        description="in_sample: the paper's rule on scores of one initial model trained on every row (cheapest, "
        "but a model that fitted a noisy label rarely contradicts it). oof: the same rule on out-of-fold scores "
        "(folds models, each trained on the other folds' queries). cleanlab: confident learning on the "
        "out-of-fold scores (per-class thresholds instead of confidence). Default oof: on synthetic data with 10% "
        "flipped labels, oof at c=0.8 found them with precision 0.75 / recall 0.64, cleanlab 0.56 / 0.78 (it counts "
        "the model's own errors as noise), in_sample recall 0.01.",
    )
    confidence: float = Field(
        0.8,
        gt=0.5,
        le=1.0,
        description="c of the confidence rule: flag a negative scored P(yes) >= c and a positive scored <= 1 - c "
        "(in_sample, oof; cleanlab ignores it).",
    )
    folds: int = Field(
        3, ge=2, description="Out-of-fold models (oof, cleanlab); folds are grouped by query, balanced per language."
    )
    action: Literal["remove", "relabel"] = Field(
        "remove",
        description="remove: flagged rows leave the training set (kept in a quarantine file). relabel: they stay "
        "with the flipped label, source 'relabeled' and the original id as parent_id.",
    )
    min_auc: float = Field(
        0.65,
        ge=0.0,
        le=1.0,
        description="Skill gate: a task's flags are applied only when the scores they come from rank its labels "
        "with at least this ROC-AUC. A model no better than chance cannot tell label noise from hard rows; "
        "measured on the demo, 12-step initial models scored AUC 0.44-0.57 and their 'confident' flags were 41% "
        "of the negatives at precision 0.11 against the planted noise. 0 turns the gate off.",
    )
    cleanlab_filter_by: Literal[
        "prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"
    ] = Field("prune_by_noise_rate", description="cleanlab.filter.find_label_issues filter_by (cleanlab method).")
    initial_train: dict[str, Any] = Field(
        default_factory=dict,
        description="Top-level `train` fields that override `train` for the initial model(s), e.g. "
        "{max_steps: 200, epochs: 1.0}; the final model trains with `train` unchanged.",
    )
    seed: int = Field(0, description="Seed of the fold assignment: same seed, same folds.")


#: Report groups of the ``source`` column: mined negatives are one group whatever the mining strategy.
SOURCE_GROUPS: dict[str, str] = {
    Source.ORIGINAL.value: "original",
    Source.TRANSLATED.value: "translated",
    Source.HARD_NEGATIVE.value: "mined_negative",
    Source.EASY_NEGATIVE.value: "mined_negative",
    Source.RANDOM_NEGATIVE.value: "mined_negative",
    Source.RELABELED.value: "relabeled",
}


def _require(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: dataframe lacks column(s) {missing}; has {list(df.columns)}")


def _require_unique_keys(df: pd.DataFrame, what: str) -> None:
    if not df.index.is_unique:
        raise ValueError(f"{what}: the dataframe index has duplicates; reset it (df.reset_index(drop=True))")
    dup = df.duplicated(_KEY, keep=False)
    if dup.any():
        row = df[dup].iloc[0]
        raise ValueError(f"{what}: (task, id) must be unique; row {row['id']!r} of task {row['task']} repeats")


def _require_labels(df: pd.DataFrame, what: str) -> None:
    bad = ~df["label"].isin([0, 1])
    if bad.any():
        row = df[bad].iloc[0]
        raise ValueError(
            f"{what}: {int(bad.sum())} row(s) have no 0/1 label; first: id {row['id']!r} (task {row['task']}), "
            f"field 'label' = {row['label']}. Self-validation needs labelled training rows."
        )


def _checked_scores(scores: np.ndarray, rows: pd.DataFrame, what: str) -> np.ndarray:
    """``scores`` as a float array, one finite probability per row of ``rows``, or a clear error."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.shape != (len(rows),):
        raise ValueError(f"{what}: expected {len(rows)} scores (one per row), got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{what}: field 'p_yes' must be a probability in [0, 1]; row id {rows['id'].iloc[i]!r} "
            f"(task {rows['task'].iloc[i]}) has {arr[i]!r}"
        )
    return arr


# -- folds and scores --------------------------------------------------------------------------------------------


def assign_folds(df: pd.DataFrame, k: int, seed: int = 0) -> pd.Series:
    """Fold number (0 .. k-1) per row, index-aligned with ``df``.

    Rows are grouped by (task, query), so a query never spans folds, and each (task, language) stratum is spread
    evenly over the folds. Built from :func:`pipelines.split.heldout_split`: fold ``f`` is a held-out share
    ``1 / (k - f)`` of the rows no earlier fold took, so every fold gets about ``1 / k`` of every stratum and the
    last fold takes the rest (including strata of a single query, which heldout_split never holds out).
    """
    if k < 2:
        raise ValueError(f"assign_folds: k must be >= 2, got {k}")
    _require(df, ["task", "query", "language"], "assign_folds")
    if not df.index.is_unique:
        raise ValueError("assign_folds: the dataframe index has duplicates; reset it (df.reset_index(drop=True))")
    folds = pd.Series(k - 1, index=df.index, dtype=np.int64, name="fold")
    rest = df[["task", "query", "language"]]
    for fold in range(k - 1):
        rest, held = heldout_split(rest, 1.0 / (k - fold), seed=seed + fold)
        folds.loc[held.index] = fold
    return folds


def oof_scores(df: pd.DataFrame, k: int, seed: int, fit_predict: FitPredict) -> pd.Series:
    """Out-of-fold P(yes) per row (index-aligned, named ``p_yes``): fold ``f`` is scored by
    ``fit_predict(rows not in f, rows in f)``, so no row is scored by a model that trained on it or its query."""
    folds = assign_folds(df, k, seed)
    p_yes = pd.Series(np.nan, index=df.index, dtype=np.float64, name="p_yes")
    for fold in range(k):
        held_mask = folds == fold
        if not held_mask.any():
            continue
        train, held = df[~held_mask], df[held_mask]
        logger.info("self-validation fold %d/%d: training on %d rows, scoring %d", fold + 1, k, len(train), len(held))
        p_yes[held_mask] = _checked_scores(fit_predict(train, held), held, f"fit_predict, fold {fold}")
    return p_yes


def in_sample_scores(df: pd.DataFrame, fit_predict: FitPredict) -> pd.Series:
    """The paper's scores: one model trained on every row scores those same rows."""
    return pd.Series(_checked_scores(fit_predict(df, df), df, "fit_predict"), index=df.index, name="p_yes")


def selfval_scores(df: pd.DataFrame, cfg: SelfValConfig, fit_predict: FitPredict) -> pd.Series:
    """The scores ``cfg.method`` flags on: in-sample for ``in_sample``, out-of-fold for ``oof`` and ``cleanlab``."""
    if cfg.method == "in_sample":
        return in_sample_scores(df, fit_predict)
    return oof_scores(df, cfg.folds, cfg.seed, fit_predict)


# -- flags --------------------------------------------------------------------------------------------------------


def _cleanlab_issues(labels: np.ndarray, p_yes: np.ndarray, task: str, filter_by: str) -> np.ndarray:
    # Imported here: cleanlab pulls in scikit-learn (~1.5 s), which only the cleanlab method needs.
    from cleanlab.filter import find_label_issues

    counts = np.bincount(labels, minlength=2)
    if counts.min() < 2:
        raise ValueError(
            f"flag: cleanlab needs at least 2 rows of each label per task; task {task} has "
            f"{counts[0]} negatives and {counts[1]} positives"
        )
    pred_probs = np.column_stack([1.0 - p_yes, p_yes])
    # n_jobs=1: cleanlab's process pool buys nothing on two classes and would compete with Ray's workers.
    return find_label_issues(labels, pred_probs=pred_probs, filter_by=filter_by, n_jobs=1)


def flag(
    df: pd.DataFrame, method: Method, c: float = 0.8, *, cleanlab_filter_by: str = "prune_by_noise_rate"
) -> pd.DataFrame:
    """Flag rows whose label the scores in ``df['p_yes']`` contradict.

    ``in_sample`` / ``oof``: confident contradiction, ``(p_yes >= c and label == 0) or (p_yes <= 1 - c and label
    == 1)`` (the two names only say where the scores came from). ``cleanlab``: confident learning on the scores,
    per task (``c`` is unused: thresholds are each class's average self-confidence); meant for out-of-fold scores.
    Returns ``id, task, flagged, reason, p_yes, label`` index-aligned with ``df`` (``reason`` is missing, NA,
    when not flagged).
    """
    if method not in METHODS:
        raise ValueError(f"flag: method must be one of {METHODS}, got {method!r}")
    if not 0.5 < c <= 1.0:
        raise ValueError(f"flag: confidence c must be in (0.5, 1], got {c}")
    _require(df, ["id", "task", "label", "p_yes"], "flag")
    _require_labels(df, "flag")
    p_yes = _checked_scores(df["p_yes"].to_numpy(), df, "flag")
    labels = df["label"].to_numpy().astype(np.int64)

    if method == "cleanlab":
        flagged = np.zeros(len(df), dtype=bool)
        tasks = df["task"].to_numpy()
        for task in pd.unique(tasks):
            rows = tasks == task
            flagged[rows] = _cleanlab_issues(labels[rows], p_yes[rows], str(task), cleanlab_filter_by)
        reason = REASON_CLEANLAB
    else:
        # P(no) = 1 - p_yes >= c rather than p_yes <= 1 - c: 1 - 0.8 is 0.19999999999999996 in floating point.
        flagged = ((p_yes >= c) & (labels == 0)) | ((1.0 - p_yes >= c) & (labels == 1))
        reason = REASON_CONTRADICTION
    return pd.DataFrame(
        {
            "id": df["id"].to_numpy(),
            "task": df["task"].to_numpy(),
            "flagged": flagged,
            "reason": np.where(flagged, reason, None),
            "p_yes": p_yes,
            "label": labels.astype(np.int8),
        },
        index=df.index,
    )


def skill_gate(flags: pd.DataFrame, min_auc: float) -> tuple[pd.DataFrame, dict]:
    """``flags`` with every flag of a task cleared when the task's scores rank its labels below ``min_auc``
    ROC-AUC (or it has a single label, where AUC is undefined), and per task: the AUC, whether it passed, and
    how many rows were flagged before the gate.

    A confident contradiction means something only from a model that has learned the task. An undertrained
    model can still be "confident": it has learned the class prior (or one fold model drifted towards yes),
    and then it flags whole swathes of one class, which removing would skew the training set.
    """
    from sklearn.metrics import roc_auc_score

    _require(flags, ["task", "label", "p_yes", "flagged", "reason"], "skill_gate")
    out = flags.copy()
    report: dict[str, dict] = {}
    for task, g in flags.groupby("task", sort=True):
        auc = float(roc_auc_score(g["label"], g["p_yes"])) if g["label"].nunique() == 2 else None
        passed = auc is not None and auc >= min_auc
        report[str(task)] = {
            "auc": None if auc is None else round(auc, 4),
            "passed": passed,
            "flagged_before_gate": int(g["flagged"].sum()),
        }
        if not passed:
            out.loc[g.index, "flagged"] = False
            out.loc[g.index, "reason"] = None
            logger.warning(
                "self-validation: task %s scores have ROC-AUC %s < min_auc %.2f; its %d flag(s) are not applied",
                task, "undefined" if auc is None else f"{auc:.3f}", min_auc, int(g["flagged"].sum()),
            )  # fmt: skip
    return out, report


# -- actions ------------------------------------------------------------------------------------------------------


def _flag_mask(df: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """``flags``' flagged/reason/p_yes for every row of ``df``, matched on (task, id), index-aligned with ``df``."""
    _require(flags, [*_KEY, "flagged", "reason", "p_yes"], "apply_action (flags)")
    _require(df, [*_KEY, "label", "source", "parent_id"], "apply_action")
    _require_unique_keys(df, "apply_action")
    if flags.duplicated(_KEY).any():
        row = flags[flags.duplicated(_KEY)].iloc[0]
        raise ValueError(f"apply_action: flags list row {row['id']!r} of task {row['task']} twice")
    keys = df[_KEY].astype(str)
    matched = keys.merge(
        flags[[*_KEY, "flagged", "reason", "p_yes"]].astype({"task": str, "id": str}), on=_KEY, how="left"
    )
    if matched["flagged"].isna().any():
        row = matched[matched["flagged"].isna()].iloc[0]
        raise ValueError(f"apply_action: no flag for row id {row['id']!r} (task {row['task']})")
    matched.index = df.index
    matched["flagged"] = matched["flagged"].astype(bool)
    return matched


def apply_action(df: pd.DataFrame, flags: pd.DataFrame, action: Action) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(kept_df, removed_df, counts) after removing or relabelling the flagged rows.

    ``remove``: flagged rows leave the training set; ``len(kept) + len(removed) == len(df)``. ``relabel``: each
    flagged row is replaced, in place, by a copy with the flipped label, ``source="relabeled"``, ``parent_id`` =
    the original id and id ``"<id>-rl"``; ``len(kept) == len(df)``. Either way ``removed_df`` holds the flagged
    originals with their ``reason`` and ``p_yes``, for a quarantine-style file, so nothing is lost.
    """
    if action not in ("remove", "relabel"):
        raise ValueError(f"apply_action: action must be 'remove' or 'relabel', got {action!r}")
    matched = _flag_mask(df, flags)
    mask = matched["flagged"].to_numpy()
    removed = df[mask].copy()
    removed["reason"] = matched.loc[mask, "reason"].to_numpy()
    removed["p_yes"] = matched.loc[mask, "p_yes"].to_numpy()

    if action == "remove":
        kept = df[~mask].copy()
    else:
        kept = df.copy()
        new_ids = df.loc[mask, "id"].astype(str) + RELABELED_SUFFIX
        clash = new_ids[new_ids.isin(set(df["id"].astype(str)))]
        if len(clash):
            raise ValueError(f"apply_action: relabeled id {clash.iloc[0]!r} already exists in the dataset")
        kept.loc[mask, "parent_id"] = df.loc[mask, "id"].astype(str)
        kept.loc[mask, "id"] = new_ids
        kept.loc[mask, "label"] = (1 - df.loc[mask, "label"]).astype(df["label"].dtype)
        kept.loc[mask, "source"] = Source.RELABELED.value

    counts = {
        "action": action,
        "input_rows": len(df),
        "flagged_rows": int(mask.sum()),
        "kept_rows": len(kept),
        "removed_rows": len(removed),
        "relabeled_rows": int(mask.sum()) if action == "relabel" else 0,
        "flagged_by_reason": {str(k): int(v) for k, v in removed["reason"].value_counts().sort_index().items()},
        "flagged_by_task": {str(k): int(v) for k, v in removed["task"].value_counts().sort_index().items()},
    }
    return kept, removed, counts


# -- reports ------------------------------------------------------------------------------------------------------


def _group_counts(frame: pd.DataFrame, by: str) -> dict[str, dict]:
    out = {}
    for key, g in frame.groupby(by, sort=True):
        n, k = len(g), int(g["flagged"].sum())
        out[str(key)] = {"rows": n, "flagged": k, "flagged_rate": k / n}
    return out


def _noise_scores(frame: pd.DataFrame) -> dict:
    """Precision / recall of the flags against planted noise, on the rows that can carry it (source original)."""
    pop = frame[frame["source"] == Source.ORIGINAL.value]
    planted, flagged = int(pop["noisy"].sum()), int(pop["flagged"].sum())
    tp = int((pop["noisy"] & pop["flagged"]).sum())
    precision = tp / flagged if flagged else None
    recall = tp / planted if planted else None
    f1 = 2 * tp / (planted + flagged) if planted + flagged else None
    return {
        "rows": len(pop),
        "planted": planted,
        "flagged": flagged,
        "true_positives": tp,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def _with_context(flags: pd.DataFrame, df: pd.DataFrame, noise_ids: Mapping[str, set[str]] | None) -> pd.DataFrame:
    _require(flags, [*_KEY, "flagged", "label"], "flag_report (flags)")
    _require(df, [*_KEY, "language", "source"], "flag_report")
    frame = flags[[*_KEY, "flagged", "label"]].astype({"task": str, "id": str})
    context = df[[*_KEY, "language", "source"]].astype({"task": str, "id": str})
    frame = frame.merge(context, on=_KEY, how="left", validate="one_to_one")
    if frame["source"].isna().any():
        row = frame[frame["source"].isna()].iloc[0]
        raise ValueError(f"flag_report: flagged row id {row['id']!r} (task {row['task']}) is not in the dataset")
    frame["source_group"] = frame["source"].map(SOURCE_GROUPS).fillna("other")
    if noise_ids is not None:
        frame["noisy"] = [i in noise_ids.get(t, ()) for t, i in zip(frame["task"], frame["id"], strict=True)]
    return frame


def flag_report(flags: pd.DataFrame, df: pd.DataFrame, noise_ids: Mapping[str, set[str]] | None = None) -> dict:
    """What was flagged, by task, language, source group (original / translated / mined_negative / relabeled) and
    label; with ``noise_ids`` (task -> planted-noise ids, e.g. ``pipelines.synthetic.noise_ids``) also precision
    and recall against the planted noise, overall and per task. Only original rows can carry planted noise, so
    both are computed on original rows (a flagged mined negative may well be a false negative the miner let
    through, but it is no planted flip); the other groups' flag counts are in ``by_source``.
    """
    frame = _with_context(flags, df, noise_ids)
    report: dict = {
        "rows": len(frame),
        "flagged": int(frame["flagged"].sum()),
        "by_task": _group_counts(frame, "task"),
        "by_language": _group_counts(frame, "language"),
        "by_source": _group_counts(frame, "source_group"),
        "by_label": _group_counts(frame, "label"),
    }
    if noise_ids is not None:
        report["planted_noise"] = {
            "all": _noise_scores(frame),
            **{str(task): _noise_scores(g) for task, g in frame.groupby("task", sort=True)},
        }
    return report


def sweep_report(
    df: pd.DataFrame,
    scores: Mapping[str, pd.Series],
    noise_ids: Mapping[str, set[str]],
    confidences: Iterable[float] = SWEEP_CONFIDENCES,
    *,
    cleanlab_filter_by: str = "prune_by_noise_rate",
) -> pd.DataFrame:
    """Precision / recall against planted noise per method, confidence and task, from scores already computed.

    ``scores`` maps ``"in_sample"`` and/or ``"oof"`` to P(yes) per row (index-aligned with ``df``). Each gets the
    confidence rule at every ``c`` in ``confidences``; out-of-fold scores also get ``cleanlab`` (c is NaN there).
    No model is trained again. Columns: method, c, task ("all" and each task), rows, planted, flagged,
    true_positives, precision, recall, f1.
    """
    unknown = set(scores) - {"in_sample", "oof"}
    if unknown:
        raise ValueError(f"sweep_report: scores must be keyed 'in_sample' and/or 'oof', got {sorted(unknown)}")
    runs: list[tuple[str, float, pd.DataFrame]] = []
    for kind, p_yes in scores.items():
        scored = df.assign(p_yes=p_yes)
        for c in confidences:
            runs.append((kind, float(c), flag(scored, kind, c)))
        if kind == "oof":
            runs.append(("cleanlab", float("nan"), flag(scored, "cleanlab", cleanlab_filter_by=cleanlab_filter_by)))
    rows = []
    for method, c, flags in runs:
        frame = _with_context(flags, df, noise_ids)
        groups = [("all", frame), *((str(t), g) for t, g in frame.groupby("task", sort=True))]
        for task, g in groups:
            rows.append({"method": method, "c": c, "task": task, **_noise_scores(g)})
    return pd.DataFrame(rows)


# -- the whole step -----------------------------------------------------------------------------------------------


@dataclass
class SelfValResult:
    """Everything one self-validation pass produces; the recipe writes each part to the stage folder."""

    kept: pd.DataFrame
    removed: pd.DataFrame
    flags: pd.DataFrame
    counts: dict
    report: dict
    sweep: pd.DataFrame | None


def self_validate(
    df: pd.DataFrame,
    cfg: SelfValConfig,
    fit_predict: FitPredict,
    noise_ids: Mapping[str, set[str]] | None = None,
) -> SelfValResult:
    """Score ``df`` (training rows only: keep calibration rows out), flag, act, report.

    Flags pass the skill gate (:func:`skill_gate`) before the action. With ``noise_ids`` (synthetic data) the report
    scores the applied flags against the planted noise, and a sweep over confidences and methods is computed on
    the same scores without the gate (what each rule would flag).
    """
    _require(df, ["id", "task", "language", "query", "target", "label", "source", "parent_id"], "self_validate")
    _require_unique_keys(df, "self_validate")
    _require_labels(df, "self_validate")
    p_yes = selfval_scores(df, cfg, fit_predict)
    flags = flag(df.assign(p_yes=p_yes), cfg.method, cfg.confidence, cleanlab_filter_by=cfg.cleanlab_filter_by)
    flags, skill = skill_gate(flags, cfg.min_auc)
    kept, removed, counts = apply_action(df, flags, cfg.action)
    report = {
        "method": cfg.method,
        "confidence": cfg.confidence,
        "min_auc": cfg.min_auc,
        "skill": skill,
        **flag_report(flags, df, noise_ids),
    }
    sweep = None
    if noise_ids is not None:
        kind = "in_sample" if cfg.method == "in_sample" else "oof"
        sweep = sweep_report(df, {kind: p_yes}, noise_ids, cleanlab_filter_by=cfg.cleanlab_filter_by)
    return SelfValResult(kept=kept, removed=removed, flags=flags, counts=counts, report=report, sweep=sweep)


# -- the stage ----------------------------------------------------------------------------------------------------

#: ``fold_model(train_df, heldout_df, work_dir) -> P(yes) of heldout_df's rows``: trains an initial model on
#: ``train_df`` and scores ``heldout_df`` with it, keeping its files in ``work_dir``. The recipe supplies it (it
#: composes the train and score stages, which this package does not import).
FoldModel = Callable[[pd.DataFrame, pd.DataFrame, Path], np.ndarray]


def selfval_stage(
    cfg: SelfValConfig,
    fold_model: FoldModel,
    model_digest: str,
    noise_from: Path | None,
    trainset: Path,
    out: Path,
    force: bool = False,
) -> StageRun:
    """The ``selfval`` stage: ``out/data`` is the filtered training set; ``out/quarantine/removed.parquet`` holds
    every removed (or relabelled) original with its reason and score; ``out/models/`` the initial models.

    ``model_digest`` identifies what ``fold_model`` trains and scores with (its configs), so a change re-runs the
    stage. ``noise_from``: a synthetic-data folder whose planted noise the flags are scored against."""
    models = itertools.count()  # one initial model per call: k folds (oof) or one (in-sample)

    def fit_predict(train_df: pd.DataFrame, heldout_df: pd.DataFrame) -> np.ndarray:
        return fold_model(train_df, heldout_df, out / "models" / f"model{next(models)}")

    def body(m: Manifest) -> None:
        df = read_records(trainset)
        noise = planted_noise(noise_from) if noise_from is not None else None
        result = self_validate(df, cfg, fit_predict, noise)
        write_records(result.kept, out / "data")
        (out / "quarantine").mkdir(parents=True, exist_ok=True)
        result.removed.to_parquet(out / "quarantine" / "removed.parquet", index=False)
        m.input_rows = len(df)
        m.output_rows = len(result.kept)
        if cfg.action == "remove":
            m.quarantined_rows = len(result.removed)
            m.quarantined_by_reason = {str(r): int(n) for r, n in result.removed["reason"].value_counts().items()}
        m.extra = {
            "counts": result.counts,
            "report": result.report,
            "sweep": result.sweep.to_dict(orient="records") if result.sweep is not None else None,
        }

    return run_stage("selfval", out, f"{cfg.digest()}-{model_digest}", [trainset], body, force)


def report_section(out: Path) -> tuple[str, str]:
    """The report's "Self-validation" section, from the stage's manifest."""
    sv = read_manifest(out).extra
    rep = sv["report"]
    gate = ", ".join(
        f"{task} AUC {g['auc']} {'passed' if g['passed'] else 'failed'} ({g['flagged_before_gate']} flagged)"
        for task, g in rep.get("skill", {}).items()
    )
    text = [
        f"Method {rep['method']}, confidence {rep['confidence']}; counts: {sv['counts']}",
        f"\nSkill gate (flags applied only where the initial models' ROC-AUC >= {rep.get('min_auc')}): {gate}",
        f"\nFlagged by source: {rep.get('by_source')}",
        f"\nFlagged by language: {rep.get('by_language')}",
        f"\nFlagged by label: {rep.get('by_label')}",
    ]
    if sv.get("sweep"):
        text += ["\n| method | c | flagged | precision | recall |", "|---|---|---|---|---|"]
        for r in sv["sweep"]:
            if r.get("task", "all") == "all":
                cells = (r["method"], r.get("c", "-"), r.get("flagged"), r.get("precision"), r.get("recall"))
                text.append("| " + " | ".join(map(str, cells)) + " |")
    return "Self-validation", "\n".join(text)
