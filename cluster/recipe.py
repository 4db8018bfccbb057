"""The recipe: every stage in order, each writing ``runs/<name>/<stage>/`` plus a manifest.

Read it top to bottom: that is the order the stages run in. A stage whose manifest matches its inputs and config
is skipped, so re-running after a kill resumes where the recipe stopped.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ecomrel.config import IngestConfig, MakeDataConfig, RecipeConfig
from ecomrel.manifest import Manifest, run_stage

log = logging.getLogger(__name__)


@dataclass
class RunLog:
    """What ran, what was skipped, and how long each stage took."""

    stages: dict[str, dict] = field(default_factory=dict)

    def record(self, name: str, manifest: Manifest, ran: bool) -> None:
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

    def summary(self) -> str:
        lines = [f"{'stage':<14}{'status':<10}{'wall s':>9}{'in':>9}{'out':>9}{'quar.':>7}"]
        for name, s in self.stages.items():
            status = "ran" if s["ran"] else "skipped"
            lines.append(
                f"{name:<14}{status:<10}{s['wall_time_s']:>9.1f}{s['input_rows']:>9}{s['output_rows']:>9}"
                f"{s['quarantined_rows']:>7}"
            )
        return "\n".join(lines)


def make_data_stage(cfg: MakeDataConfig, out: Path, force: bool = False) -> tuple[Manifest, bool]:
    from pipelines.synthetic import make_data

    def body(m: Manifest) -> None:
        summary = make_data(out, rows=cfg.rows, seed=cfg.seed, noise=cfg.noise)
        m.output_rows = int(sum(summary["rows"].values())) if isinstance(summary.get("rows"), dict) else 0
        m.input_rows = m.output_rows
        m.extra = {"summary": summary}

    return run_stage("make_data", out, cfg.digest(), [], body, force)


def ingest_stage(cfg: IngestConfig, out: Path, force: bool = False) -> tuple[Manifest, bool]:
    from pipelines.ingest import discover, ingest

    files = discover(cfg.inputs, cfg.answers_dir)
    inputs = [f.path for f in files] + [f.answers for f in files if f.answers is not None]
    return run_stage("ingest", out, cfg.digest(), inputs, lambda m: ingest(files, out, cfg, m), force)


def audit_stage(cfg: RecipeConfig, ingested: Path, out: Path, force: bool = False) -> tuple[Manifest, bool]:
    from pipelines.audit import run_audit

    def body(m: Manifest) -> None:
        report = run_audit(ingested, out, cfg.audit)
        m.input_rows = m.output_rows = sum(sum(t["total_rows"].values()) for t in report["tasks"].values())
        m.extra = {"zero_shot": report["zero_shot"]}

    return run_stage("audit", out, cfg.audit.digest(), [ingested], body, force)


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
        runlog.record("make_data", *make_data_stage(cfg.make_data, run / "data", force))
        if not ingest_cfg.inputs:
            ingest_cfg = ingest_cfg.model_copy(update={"inputs": [str(run / "data")]})

    # 2. Ingest + validate; 3. language audit.
    runlog.record("ingest", *ingest_stage(ingest_cfg, run / "ingest", force))
    runlog.record("audit", *audit_stage(cfg, run / "ingest", run / "audit", force))
    print(format_table(load_audit(run / "audit")))

    total = time.perf_counter() - start
    (run / "recipe.json").write_text(json.dumps({"stages": runlog.stages, "wall_time_s": total}, indent=2))
    print(runlog.summary())
    print(f"recipe {cfg.name}: done in {total:.1f}s -> {run}")
    return runlog
