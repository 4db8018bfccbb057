"""The recipe: every stage in order, each writing ``runs/<name>/<stage>/`` plus a manifest.

Read ``_stages`` top to bottom: that is the order the stages run in. A stage whose manifest matches its inputs and
config is skipped, so re-running after a kill resumes where the recipe stopped (training resumes from its last
checkpoint). Stages that do not depend on an ablation arm (data, ingest, audit, split, translation, negatives)
live in the run folder and are shared by every arm; the rest live in ``arms/<arm>/`` when an arm is named.
Augmentation folders carry their config digest in the name, so a sweep over a knob keeps one folder per value.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ecomrel import telemetry
from ecomrel.config import RecipeConfig
from ecomrel.manifest import Manifest, read_manifest

from . import stages

log = logging.getLogger(__name__)


@dataclass
class RunLog:
    """What ran, what was skipped, and how long each stage took."""

    run: str
    stages: dict[str, dict] = field(default_factory=dict)

    def record(self, name: str, manifest: Manifest, ran: bool) -> Manifest:
        telemetry.record_stage(self.run, manifest, ran)
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


def arm_dir(cfg: RecipeConfig, arm: str | None) -> Path:
    """Where an arm's own stages (trainset onwards) live."""
    return cfg.run_dir / "arms" / arm if arm else cfg.run_dir


def run_recipe(cfg: RecipeConfig, force: bool = False, arm: str | None = None) -> RunLog:
    from cluster.ray_runtime import connect

    start = time.perf_counter()
    connect(cfg.ray)
    work = arm_dir(cfg, arm)
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(cfg.model_dump_json(indent=2))
    runlog = RunLog(cfg.name if not arm else f"{cfg.name}/{arm}")
    try:
        _stages(cfg, cfg.run_dir, work, runlog, force)
    except BaseException:
        telemetry.record_recipe_run(runlog.run, "failed")
        raise
    telemetry.record_recipe_run(runlog.run, "succeeded")
    total = time.perf_counter() - start
    (work / "recipe.json").write_text(json.dumps({"stages": runlog.stages, "wall_time_s": total}, indent=2))
    print(runlog.summary())
    print(f"recipe {runlog.run}: done in {total:.1f}s -> {work}")
    return runlog


def _stages(cfg: RecipeConfig, run: Path, work: Path, runlog: RunLog, force: bool) -> None:
    from pipelines.audit import format_table, load_audit

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
    if cfg.train is None:
        return

    # 4. Split: training rows, the calibration set (labelled dev, else held-out train queries), test rows.
    runlog.record("split", *stages.split_stage(cfg, run / "ingest", run / "split", force))

    # 5. Augmentation (shared by arms): translation into zero-shot languages; semantic (or random) negatives.
    augment: list[Path] = []
    if cfg.translate is not None and cfg.translate.enabled:
        out = run / f"translate-{cfg.translate.digest()[:8]}"
        runlog.record("translate", *stages.translate_stage(cfg, run / "ingest", run / "audit", out, force))
        augment.append(out)
    if cfg.negatives.enabled:
        neg, semantic = cfg.negatives, None
        if neg.random_negatives and cfg.embed is not None:
            # Random negatives compare with retrieval at the same count: mine (or reuse) the semantic run first.
            sem_cfg = neg.model_copy(update={"random_negatives": False})
            semantic = run / f"negatives-semantic-{sem_cfg.digest()[:8]}"
            runlog.record("negatives", *stages.negatives_stage(cfg, sem_cfg, run / "ingest", semantic, None, force))
        kind = "random" if neg.random_negatives else "semantic"
        out = run / f"negatives-{kind}-{neg.digest()[:8]}"
        name = "random_negatives" if neg.random_negatives else "negatives"
        runlog.record(name, *stages.negatives_stage(cfg, neg, run / "ingest", out, semantic, force))
        augment.append(out)

    # 6. The training set: original rows plus augmentation.
    runlog.record("trainset", *stages.trainset_stage(run / "split" / "train", augment, work / "trainset", force))

    # 7. Self-validation: flag rows whose confident (out-of-fold) prediction contradicts the label.
    trainset = work / "trainset"
    if cfg.selfval.enabled:
        noise_from = run / "data" if cfg.make_data.enabled else None  # planted noise: flags' precision/recall
        runlog.record("selfval", *stages.selfval_stage(cfg, trainset, work / "selfval", noise_from, force))
        trainset = work / "selfval"

    # 8. LoRA fine-tuning on Ray Train.
    runlog.record("train", *stages.train_stage(cfg, trainset, work / "train", force))

    # 9. Score the calibration set, tune thresholds, package the served model (adapter + thresholds.json).
    split = run / "split"
    runlog.record("score_calib", *stages.score_stage(cfg, split / "calib", work / "train", work / "score_calib", force))
    runlog.record(
        "calibrate",
        *stages.calibrate_stage(cfg, work / "score_calib", split, work / "train", work / "model", force),
    )

    # 10. Score test; 11. evaluation report + CIKM submission files.
    runlog.record("score_test", *stages.score_stage(cfg, split / "test", work / "model", work / "score_test", force))
    sections = augmentation_sections(augment, work / "trainset", work / "selfval" if cfg.selfval.enabled else None)
    runlog.record(
        "report",
        *stages.report_stage(
            cfg,
            work / "score_calib",
            work / "score_test",
            work / "model",
            run / "audit",
            run / "ingest",
            work / "report",
            sections,
            force,
        ),
    )
    print_results(work)


def augmentation_sections(augment: list[Path], trainset: Path, selfval: Path | None) -> list[tuple[str, str]]:
    """Markdown sections for the report: acceptance by language pair, negatives by kind, label balance,
    self-validation flags."""
    sections = []
    for part in augment:
        m = read_manifest(part)
        if m.stage == "translate":
            lines = ["| task | pair | planned | accepted | acceptance | top rejection |", "|---|---|---|---|---|---|"]
            for p in m.extra.get("pairs", {}).values():
                top = max(p["rejected_by_reason"].items(), key=lambda kv: kv[1])[0] if p["rejected_by_reason"] else "-"
                acc = f"{p['acceptance']:.1%}" if p["acceptance"] is not None else "-"
                lines.append(
                    f"| {p['task']} | {p['source']}→{p['target']} | {p['planned']} | {p['accepted']} | {acc} | {top} |"
                )
            lines.append(f"\nRejected by reason: {m.extra.get('rejected_by_reason', {})}")
            sections.append(("Translation acceptance by language pair", "\n".join(lines)))
        elif m.stage == "negatives":
            lines = ["| task | anchors | mined | by kind | positive rate before → after |", "|---|---|---|---|---|"]
            for task, t in m.extra.get("tasks", {}).items():
                before, after = (t["label_balance"][k]["positive_fraction"] for k in ("before", "after"))
                lines.append(f"| {task} | {t['anchors']} | {t['mined']} | {t['counts']} | {before} → {after} |")
            sections.append(("Mined negatives by kind", "\n".join(lines)))
    ts = read_manifest(trainset).extra
    sections.append(
        (
            "Training set by source and label",
            f"Rows by source: {ts['rows_by_source']}\n\nRows by task/label: {ts['rows_by_task_label']}\n\n"
            f"Positive rate per task: {ts['positive_rate']}",
        ),
    )
    if selfval is not None:
        sv = read_manifest(selfval).extra
        rep = sv["report"]
        text = [
            f"Method {rep['method']}, confidence {rep['confidence']}; counts: {sv['counts']}",
            f"\nSkill gate (flags applied only where the initial models' ROC-AUC >= {rep.get('min_auc')}): "
            + ", ".join(
                f"{task} AUC {g['auc']} {'passed' if g['passed'] else 'failed'} ({g['flagged_before_gate']} flagged)"
                for task, g in rep.get("skill", {}).items()
            ),
            f"\nFlagged by source: {rep.get('by_source')}",
            f"\nFlagged by language: {rep.get('by_language')}",
            f"\nFlagged by label: {rep.get('by_label')}",
        ]
        if sv.get("sweep"):
            text += ["\n| method | c | flagged | precision | recall |", "|---|---|---|---|---|"]
            for r in sv["sweep"]:
                if r.get("task", "all") == "all":
                    text.append(
                        f"| {r['method']} | {r.get('c', '-')} | {r.get('flagged')} | "
                        f"{r.get('precision')} | {r.get('recall')} |"
                    )
        sections.append(("Self-validation", "\n".join(text)))
    return sections


def print_results(work: Path) -> None:
    from evaluation.report import format_f1_table

    reports = json.loads((work / "report" / "reports.json").read_text())
    for name, report in reports.items():
        print(f"\n== F1 on the {'calibration set' if name == 'calib' else 'test set'} ==")
        print(format_f1_table(report))
    print(f"\nmodel: {work / 'model'} (adapter + thresholds.json); submissions: {work / 'report' / 'submission'}")
    print(f"serve it: ecomrel serve {work / 'model'}")
