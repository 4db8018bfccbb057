"""The ``make_data`` stage: synthetic CIKM-format files (with answers and ground truth) written into the run."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ecomrel.config import Toggle
from ecomrel.manifest import Manifest, StageRun, run_stage

from .generator import make_data


class MakeDataConfig(Toggle):
    rows: int = Field(2000, ge=50, description="Training rows per task; dev and test get a fifth each.")
    seed: int = Field(0, description="Generator seed: same seed, same files.")
    noise: float = Field(0.05, ge=0.0, le=0.5, description="Fraction of training labels flipped (planted noise).")


def make_data_stage(cfg: MakeDataConfig, out: Path, force: bool = False) -> StageRun:
    """The ``make_data`` stage: synthetic CIKM files (train/dev/test x QC/QI), answers/ and ground_truth/."""

    def body(m: Manifest) -> None:
        summary = make_data(out, rows=cfg.rows, seed=cfg.seed, noise=cfg.noise)
        m.input_rows = m.output_rows = int(sum(summary["rows"].values()))
        m.extra = {"summary": summary}

    return run_stage("make_data", out, cfg.digest(), [], body, force)
