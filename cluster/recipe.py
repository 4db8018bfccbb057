"""The recipe: every stage in order, each writing ``runs/<name>/<stage>/`` plus a manifest.

Read it top to bottom: that is the order the stages run in. A stage whose manifest matches its inputs and config
is skipped, so re-running after a kill resumes where the recipe stopped (training resumes from its last
checkpoint).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from ecomrel.config import RecipeConfig
from ecomrel.manifest import Manifest

from . import stages

log = logging.getLogger(__name__)


@dataclass
class RunLog:
    """What ran, what was skipped, and how long each stage took."""

    stages: dict[str, dict] = field(default_factory=dict)

    def record(self, name: str, manifest: Manifest, ran: bool) -> Manifest:
        self.stages[name] = {
            "ran": ran,
            "wall_time_s": manifest.wall_time_s,
            "input_rows": manifest.input_rows,
            "output_rows": manifest.output_rows,
            "quarantined_rows": manifest.quarantined_rows,
        }
        verb = "ran" if ran else "skipped (current)"
        log.info(
            "stage %-12s %s in %.1fs: %d -> %d rows",
            name,
            verb,
            manifest.wall_time_s,
            manifest.input_rows,
            manifest.output_rows,
        )
        return manifest

    def summary(self) -> str:
        lines = [f"{'stage':<14}{'status':<10}{'wall s':>9}{'in':>9}{'out':>9}{'quar.':>7}"]
        for name, s in self.stages.items():
            status = "ran" if s["ran"] else "skipped"
            lines.append(
                f"{name:<14}{status:<10}{s['wall_time_s']:>9.1f}{s['input_rows']:>9}{s['output_rows']:>9}"
                f"{s['quarantined_rows']:>7}"
            )
        return "\n".join(lines)


def run_recipe(cfg: RecipeConfig, force: bool = False) -> RunLog:
    from cluster.ray_runtime import connect
    from pipelines.audit import format_table, load_audit

    start = time.perf_counter()
    connect(cfg.ray)
    run = cfg.run_dir
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(cfg.model_dump_json(indent=2))
    runlog = RunLog()

    # 1. Data: synthetic CIKM files (demo) or the files the config names.
    ingest_cfg = cfg.ingest
    if cfg.make_data.enabled:
        runlog.record("make_data", *stages.make_data_stage(cfg.make_data, run / "data", force))
        if not ingest_cfg.inputs:
            ingest_cfg = ingest_cfg.model_copy(update={"inputs": [str(run / "data")]})

    # 2. Ingest + validate; 3. language audit.
    runlog.record("ingest", *stages.ingest_stage(ingest_cfg, run / "ingest", force))
    runlog.record("audit", *stages.audit_stage(cfg, run / "ingest", run / "audit", force))
    print(format_table(load_audit(run / "audit")))

    if cfg.train is not None:
        # 4. Split: training rows, the calibration set (labelled dev, else held-out train queries), test rows.
        runlog.record("split", *stages.split_stage(cfg, run / "ingest", run / "split", force))

        # 5. The training set: original rows plus augmentation.
        parts = [run / "split" / "train"]
        runlog.record("trainset", *stages.trainset_stage(parts, run / "trainset", force))

        # 6. LoRA fine-tuning on Ray Train.
        runlog.record("train", *stages.train_stage(cfg, run / "trainset", run / "train", force))

        # 7. Score the calibration set, tune thresholds, package the served model (adapter + thresholds.json).
        runlog.record(
            "score_calib", *stages.score_stage(cfg, run / "split" / "calib", run / "train", run / "score_calib", force)
        )
        runlog.record(
            "calibrate",
            *stages.calibrate_stage(cfg, run / "score_calib", run / "split", run / "train", run / "model", force),
        )

        # 8. Score test; 9. evaluation report + CIKM submission files.
        runlog.record(
            "score_test", *stages.score_stage(cfg, run / "split" / "test", run / "model", run / "score_test", force)
        )
        runlog.record(
            "report",
            *stages.report_stage(
                cfg,
                run / "score_calib",
                run / "score_test",
                run / "model",
                run / "audit",
                run / "ingest",
                run / "report",
                [],
                force,
            ),
        )
        _print_results(run)

    total = time.perf_counter() - start
    (run / "recipe.json").write_text(json.dumps({"stages": runlog.stages, "wall_time_s": total}, indent=2))
    print(runlog.summary())
    print(f"recipe {cfg.name}: done in {total:.1f}s -> {run}")
    return runlog


def _print_results(run) -> None:
    from train.report import format_f1_table

    reports = json.loads((run / "report" / "reports.json").read_text())
    for name, report in reports.items():
        print(f"\n== F1 on the {'calibration set' if name == 'calib' else 'test set'} ==")
        print(format_f1_table(report))
    print(f"\nmodel: {run / 'model'} (adapter + thresholds.json); submissions: {run / 'report' / 'submission'}")
    print(f"serve it: ecomrel serve {run / 'model'}")
