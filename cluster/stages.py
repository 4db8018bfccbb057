"""The stage registry: every stage of the recipe by name, with its typed config and the function that runs it.

A stage's name is its run folder's name (``runs/<name>/<stage>/``; augmentation stages whose variants coexist add
``-<config digest>``), the ``stage`` its manifest records, the ``stage`` tag of its metrics, and the name
``ecomrel stage NAME`` takes. Each stage lives in one module of ``pipelines/``, ``train/`` or ``evaluation/``; this
table only says where. The stage functions take their own config section and their input folders, write their
output folder and manifest through ``ecomrel.manifest.run_stage``, and return ``(manifest, ran)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecomrel.config import Section
from ecomrel.manifest import StageRun
from ecomrel.records import read_records, write_records
from evaluation import calibrate, report
from pipelines import audit, baseline, ingest, negatives, score, selfval, split, synthetic, trainset, translate
from pipelines.embed import EmbedConfig
from train import trainer
from train.config import TrainConfig

ReportSection = Callable[[Path], tuple[str, str]]
#: Functions that serve two stages (score_calib / score_test, negatives / random_negatives) take the name first.
_SHARED = (score.score_stage, negatives.negatives_stage)


@dataclass(frozen=True)
class StageSpec:
    """One stage: ``section`` is its config's key in the recipe YAML (None: it has no settings of its own)."""

    name: str
    module: str
    run: Callable[..., StageRun]
    section: str | None = None
    config: type[Section] | None = None
    report_section: ReportSection | None = None
    shared: bool = False  # the function serves several stages (``_SHARED``) and takes the stage name first

    def __call__(self, *args, out: Path, force: bool = False) -> StageRun:
        """Run the stage into ``out``; a function shared by two stages is told which one it runs as."""
        if self.shared:
            return self.run(self.name, *args, out, force=force)
        return self.run(*args, out, force=force)

    @property
    def summary(self) -> str:
        """The first sentence of the stage function's docstring, without its reST quoting."""
        text = " ".join((self.run.__doc__ or "").strip().split("\n\n")[0].split()).replace("``", "")
        return text.split(". ")[0].removesuffix(".")


def _spec(
    name: str,
    run: Callable[..., StageRun],
    section: str | None = None,
    config: type[Section] | None = None,
    report_section: ReportSection | None = None,
) -> StageSpec:
    shared = any(s is run for s in _SHARED)
    return StageSpec(name, run.__module__, run, section, config, report_section, shared)


#: Every stage, in recipe order.
STAGES: dict[str, StageSpec] = {
    s.name: s
    for s in (
        _spec("make_data", synthetic.make_data_stage, "make_data", synthetic.MakeDataConfig),
        _spec("ingest", ingest.ingest_stage, "ingest", ingest.IngestConfig),
        _spec("audit", audit.audit_stage, "audit", audit.AuditConfig),
        _spec("split", split.split_stage, "split", split.SplitConfig),
        _spec("baseline", baseline.baseline_stage, "embed", EmbedConfig),
        _spec("translate", translate.translate_stage, "translate", translate.TranslateConfig, translate.report_section),
        _spec("negatives", negatives.negatives_stage, "negatives", negatives.NegativesConfig, negatives.report_section),
        _spec(
            "random_negatives",
            negatives.negatives_stage,
            "negatives",
            negatives.NegativesConfig,
            negatives.report_section,
        ),
        _spec("trainset", trainset.trainset_stage, report_section=trainset.report_section),
        _spec("selfval", selfval.selfval_stage, "selfval", selfval.SelfValConfig, selfval.report_section),
        _spec("train", trainer.train_stage, "train", TrainConfig),
        _spec("score_calib", score.score_stage, "score", score.ScoreConfig),
        _spec("model", calibrate.calibrate_stage, "calibrate", calibrate.CalibrateConfig),
        _spec("score_test", score.score_stage, "score", score.ScoreConfig),
        _spec("report", report.report_stage),
    )
}


def fold_model(train_cfg, score_cfg) -> selfval.FoldModel:
    """Self-validation's initial model: the ``train`` stage's trainer fitted on a fold, the ``score`` stage's scorer
    on the held-out rows (the two packages meet here, not inside ``pipelines``)."""

    def fit_predict(train_df: pd.DataFrame, heldout_df: pd.DataFrame, work: Path) -> np.ndarray:
        write_records(train_df, work / "trainset" / "data")
        result = trainer.train_model(train_cfg, work / "trainset" / "data", work / "train")
        write_records(heldout_df, work / "heldout" / "data")
        score.score_dataset(
            work / "heldout" / "data",
            work / "scored" / "data",
            train_cfg.base_model,
            str(result.adapter_dir),
            score_cfg,
            family=train_cfg.family,
        )
        scored = read_records(work / "scored", columns=["task", "id", "p_yes"]).set_index(["task", "id"])["p_yes"]
        return scored.reindex(pd.MultiIndex.from_frame(heldout_df[["task", "id"]])).to_numpy()

    return fit_predict
