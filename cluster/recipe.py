"""The recipe: every stage in order, each writing ``runs/<name>/<stage>/`` plus a manifest.

Read ``plan`` top to bottom: that is the order the stages run in, each an entry of ``cluster.stages.STAGES``. A
stage whose manifest matches its inputs and config is skipped, so re-running after a kill resumes where the recipe
stopped (training resumes from its last checkpoint). Stages that do not depend on an ablation arm (data, ingest,
audit, split, the embedding baseline, translation, negatives) live in the run folder and are shared by every arm;
the rest live in ``arms/<arm>/`` when an arm is named. Augmentation folders carry their config digest in the name
(``translate-<digest>``), so a sweep over a knob keeps one folder per value.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ecomrel import telemetry
from ecomrel.manifest import MANIFEST, Manifest, StageRun, read_manifest
from pipelines.audit import format_table, load_audit

from .config import RecipeConfig
from .stages import STAGES as S
from .stages import fold_model

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


@dataclass(frozen=True)
class Step:
    """One stage of a recipe: the registry's stage ``name``, its output folder, and the call that runs it."""

    name: str
    out: Path
    call: Callable[[bool], StageRun]

    def run(self, force: bool = False) -> StageRun:
        return self.call(force)


def run_recipe(cfg: RecipeConfig, force: bool = False, arm: str | None = None) -> RunLog:
    from cluster.ray_runtime import connect

    start = time.perf_counter()
    connect(cfg.ray)
    work = arm_dir(cfg, arm)
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(cfg.model_dump_json(indent=2))
    runlog = RunLog(cfg.name if not arm else f"{cfg.name}/{arm}")
    try:
        for step in plan(cfg, work):
            runlog.record(step.name, *step.run(force))
            if step.name == "audit":
                print(format_table(load_audit(step.out)))
    except BaseException:
        telemetry.record_recipe_run(runlog.run, "failed")
        raise
    telemetry.record_recipe_run(runlog.run, "succeeded")
    total = time.perf_counter() - start
    (work / "recipe.json").write_text(json.dumps({"stages": runlog.stages, "wall_time_s": total}, indent=2))
    print(runlog.summary())
    print(f"recipe {runlog.run}: done in {total:.1f}s -> {work}")
    if (work / "report" / MANIFEST).is_file():
        print_results(work)
    return runlog


def run_stage_by_name(cfg: RecipeConfig, name: str, arm: str | None = None) -> Manifest:
    """Run the recipe's stage ``name`` (forced) and return its manifest. Every stage before it in the recipe must
    have run: those are the folders it may read."""
    from cluster.ray_runtime import connect

    steps = plan(cfg, arm_dir(cfg, arm))
    names = [s.name for s in steps]
    if name not in names:
        raise LookupError(f"stage {name!r} is not in this recipe (its stages: {', '.join(names)})")
    i = len(names) - 1 - names[::-1].index(name)  # random_negatives' semantic run is also named "negatives"
    missing = [str(s.out) for s in steps[:i] if not (s.out / MANIFEST).is_file()]
    if missing:
        raise LookupError(f"stage {name!r} needs {', '.join(missing)}: run the recipe up to it first")
    connect(cfg.ray)
    manifest, _ = steps[i].run(force=True)
    return manifest


def plan(cfg: RecipeConfig, work: Path) -> list[Step]:
    """The recipe's stages in the order they run, for the run folder ``cfg.run_dir`` and the arm folder ``work``.

    Read top to bottom: data, ingest, audit; then (with training) split, the embedding baseline (with an
    ``embed`` section), augmentation, training set, self-validation, training, calibration and the report. Stages up
    to the augmentation live in the run folder and are shared by every arm; augmentation folders carry their config
    digest, so a sweep keeps one per value.
    """
    run, steps = cfg.run_dir, []

    def add(name: str, out: Path, *args) -> Path:
        steps.append(Step(name, out, lambda force: S[name](*args, out=out, force=force)))
        return out

    ingest_cfg = cfg.ingest
    if cfg.make_data.enabled:
        data = add("make_data", run / "make_data", cfg.make_data)
        ingest_cfg = ingest_cfg if ingest_cfg.inputs else ingest_cfg.model_copy(update={"inputs": [str(data)]})
    ingested = add("ingest", run / "ingest", ingest_cfg)
    audit = add("audit", run / "audit", cfg.audit, ingested)
    if not cfg.train.enabled:
        return steps
    split = add("split", run / "split", cfg.split, cfg.tasks, ingested)
    baseline = add("baseline", run / "baseline", cfg.embed, split) if cfg.embed is not None else None

    augment: list[Path] = []
    if cfg.translate.enabled:
        out = run / f"translate-{cfg.translate.digest()[:8]}"
        augment.append(add("translate", out, cfg.translate, cfg.embed, cfg.tasks, ingested, audit))
    if cfg.negatives.enabled:
        augment.append(_negatives(cfg, run, ingested, add))

    trained_on = add("trainset", work / "trainset", split / "train", augment)
    if cfg.selfval.enabled:
        noise_from = run / "make_data" if cfg.make_data.enabled else None  # planted noise: flags' precision/recall
        initial = cfg.initial_train_config()
        fold = fold_model(initial, cfg.score)
        digest = f"{initial.digest()}-{cfg.score.digest()}"
        trained_on = add("selfval", work / "selfval", cfg.selfval, fold, digest, noise_from, trained_on)
    trained = add("train", work / "train", cfg.train, trained_on)

    family, base = cfg.train.family, cfg.train.base_model
    calib = add("score_calib", work / "score_calib", cfg.score, family, base, split / "calib", trained)
    model = add(
        "model",
        work / "model",
        cfg.calibrate,
        family,
        base,
        cfg.score.max_seq_len,
        cfg.tasks,
        cfg.name,
        calib,
        split,
        trained,
    )
    test = add("score_test", work / "score_test", cfg.score, family, base, split / "test", model)
    sources = [*augment, work / "trainset", *([work / "selfval"] if cfg.selfval.enabled else [])]

    def report(force: bool) -> StageRun:  # upstream sections exist only once those stages ran
        sections = [S[read_manifest(src).stage].report_section(src) for src in sources]
        return S["report"](sections, calib, test, model, audit, ingested, baseline, out=work / "report", force=force)

    steps.append(Step("report", work / "report", report))
    return steps


def _negatives(cfg: RecipeConfig, run: Path, ingested: Path, add) -> Path:
    """Semantic negatives, or random ones (the ablation arm): with an embedder, the random arm first mines (or
    reuses) the semantic run and draws exactly as many per anchor as it produced."""
    neg = cfg.negatives
    semantic = None
    if cfg.embed is not None:
        sem = neg.model_copy(update={"random_negatives": False})
        semantic = add("negatives", run / f"negatives-{sem.digest()[:8]}", sem, cfg.embed, ingested, None)
    if not neg.random_negatives:
        return semantic
    return add("random_negatives", run / f"random_negatives-{neg.digest()[:8]}", neg, None, ingested, semantic)


def print_results(work: Path) -> None:
    from evaluation.report import REPORTS_JSON, format_f1_table

    reports = json.loads((work / "report" / REPORTS_JSON).read_text())
    for name, report in reports.items():
        print(f"\n== F1 on the {'calibration set' if name == 'calib' else 'test set'} ==")
        print(format_f1_table(report))
    print(f"\nmodel: {work / 'model'} (adapter + thresholds.json); submissions: {work / 'report' / 'submission'}")
    print(f"serve it: ecomrel serve {work / 'model'}")
