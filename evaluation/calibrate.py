"""Decision thresholds on P(yes): the F1-maximising one per task, optionally per (task, language).

Only labelled rows (label 0/1) take part. A task with no labelled rows keeps its seed threshold (the paper's
values) and the result says so (``calibrated_on="seed"``) rather than pretending. A language gets its own
threshold only with at least ``min_rows_per_language`` labelled rows of both classes; with fewer, one noisy
sweep would overfit, and with one class every threshold below its lowest score ties at F1 = 1.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field

from ecomrel.artifacts import THRESHOLDS_FILE, Thresholds, read_prompt_template
from ecomrel.config import Section
from ecomrel.manifest import Manifest, StageRun, read_manifest, run_stage
from ecomrel.metrics import DEFAULT_GRID, best_score_threshold, best_threshold
from ecomrel.records import read_records
from ecomrel.schema import UNLABELED

log = logging.getLogger(__name__)


class CalibrateConfig(Section):
    per_language: bool = Field(
        False, description="Also tune a threshold per (task, language) with enough labelled dev rows."
    )
    min_rows_per_language: int = Field(50, ge=1, description="Fewer labelled rows: the task threshold applies.")
    seed_thresholds: dict[str, float] = Field(
        default_factory=lambda: {"QC": 0.4, "QI": 0.2},
        description="Thresholds used when no labelled dev rows exist (the paper's values).",
    )


def labelled(scored: pd.DataFrame, score: str = "p_yes") -> pd.DataFrame:
    """Rows with a 0/1 label and a ``score``; anything else in ``label`` is an error naming the row."""
    for col in ("task", "language", "label", score):
        if col not in scored.columns:
            raise ValueError(f"scored rows lack column {col!r}; have {list(scored.columns)}")
    bad = ~scored["label"].isin([0, 1, UNLABELED])
    if bad.any():
        row = scored[bad].iloc[0]
        raise ValueError(f"row id={row.get('id')!r}: label {row['label']} is not 0, 1 or {UNLABELED} (unlabelled)")
    rows = scored[scored["label"] != UNLABELED]
    nan = rows[score].isna()
    if nan.any():
        raise ValueError(f"row id={rows[nan].iloc[0].get('id')!r}: {score} is missing")
    return rows


def calibrate(
    scored: pd.DataFrame,
    cfg: CalibrateConfig,
    base_model: str,
    adapter: str | Path,
    calibrated_on: str,
    max_seq_len: int,
    tasks: Sequence[str] | None = None,
    grid: Sequence[float] = DEFAULT_GRID,
) -> Thresholds:
    """Sweep ``grid`` on the labelled rows of ``scored`` (columns task, language, label, p_yes).

    ``calibrated_on`` names where the labels came from ("dev_labels" or "heldout_train"); it becomes "seed" when
    any task had to fall back to ``cfg.seed_thresholds``. ``tasks`` defaults to the tasks present in ``scored``.
    """
    rows = labelled(scored)
    tasks = sorted(set(scored["task"])) if tasks is None else list(tasks)
    thresholds: dict[str, float] = {}
    per_language: dict[str, dict[str, float]] = {}
    seeded: list[str] = []
    for task in tasks:
        t_rows = rows[rows["task"] == task]
        if t_rows.empty:
            if task not in cfg.seed_thresholds:
                raise ValueError(f"task {task}: no labelled rows and no seed threshold in calibrate.seed_thresholds")
            thresholds[task] = cfg.seed_thresholds[task]
            seeded.append(task)
            log.warning("task %s: no labelled rows; using the seed threshold %.2f", task, thresholds[task])
            continue
        thresholds[task], f1 = best_threshold(t_rows["label"], t_rows["p_yes"], grid)
        log.info("task %s: threshold %.2f (F1 %.4f on %d labelled rows)", task, thresholds[task], f1, len(t_rows))
        if cfg.per_language:
            langs = _per_language(t_rows, cfg.min_rows_per_language, grid)
            if langs:
                per_language[task] = langs
    return Thresholds(
        base_model=base_model,
        adapter=str(adapter),
        tasks=thresholds,
        per_language=per_language,
        calibrated_on="seed" if seeded else calibrated_on,
        max_seq_len=max_seq_len,
    )


def _per_language(rows: pd.DataFrame, min_rows: int, grid: Sequence[float]) -> dict[str, float]:
    out = {}
    for language, g in rows.groupby("language", sort=True):
        if len(g) < min_rows or np.unique(g["label"]).size < 2:
            log.info(
                "language %s: %d labelled rows (%s classes): the task threshold applies",
                language,
                len(g),
                np.unique(g["label"]).size,
            )
            continue
        out[str(language)] = best_threshold(g["label"], g["p_yes"], grid)[0]
    return out


def score_thresholds(rows: pd.DataFrame, score: str) -> dict[str, float]:
    """The F1-maximising threshold on column ``score`` per task, swept over that column's own distinct values
    (:func:`ecomrel.metrics.best_score_threshold`), not the 0..1 grid: for scores that are not probabilities,
    such as the embedding-cosine baseline's. Only labelled rows count; a task without any gets no threshold."""
    lab = labelled(rows, score)
    out = {}
    for task, g in lab.groupby("task", sort=True):
        out[str(task)], f1 = best_score_threshold(g["label"], g[score])
        log.info("task %s: %s threshold %.4f (F1 %.4f on %d labelled rows)", task, score, out[str(task)], f1, len(g))
    return out


def calibrate_stage(
    cfg: CalibrateConfig,
    family: str,
    base_model: str,
    max_seq_len: int,
    tasks: Sequence[str],
    run_name: str,
    scored: Path,
    split: Path,
    trained: Path,
    out: Path,
    force: bool = False,
) -> StageRun:
    """The ``model`` stage, the served model: ``adapter/`` (copied from training) + ``thresholds.json``
    calibrated on the scored calibration rows."""

    def body(m: Manifest) -> None:
        adapter = out / "adapter"
        shutil.rmtree(adapter, ignore_errors=True)
        shutil.copytree(trained / "adapter", adapter)
        sources = set(read_manifest(split).extra["calibrated_on"].values())
        df = read_records(scored)
        thresholds = calibrate(
            df,
            cfg,
            base_model=base_model,
            adapter="adapter",
            calibrated_on=sources.pop() if len(sources) == 1 else "heldout_train",
            max_seq_len=max_seq_len,
            tasks=tasks,
        )
        thresholds.family = family
        thresholds.prompt_template = read_prompt_template(adapter)  # the adapter records what it was trained on
        thresholds.version = f"{run_name}-{read_manifest(trained).config_hash}"
        thresholds.save(out / THRESHOLDS_FILE)
        m.input_rows = m.output_rows = len(df)
        m.extra = {
            "thresholds": thresholds.tasks,
            "per_language": thresholds.per_language,
            "calibrated_on": thresholds.calibrated_on,
        }

    return run_stage("model", out, cfg.digest(), [scored, trained / "adapter"], body, force)
