"""The recipe's stages: each runs one piece of ``pipelines`` or ``train`` under a manifest.

A stage function takes the typed config, its input folders and its output folder, and returns ``(manifest,
ran)``; ``ecomrel.manifest.run_stage`` skips it when its manifest matches the config digest and the inputs'
fingerprints. Stages meet only through folders on disk.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from pathlib import Path

import pandas as pd

from ecomrel.artifacts import THRESHOLDS_FILE, Thresholds
from ecomrel.config import IngestConfig, MakeDataConfig, NegativesConfig, RecipeConfig
from ecomrel.manifest import Manifest, read_manifest, run_stage
from ecomrel.records import read_records, write_records
from ecomrel.schema import QUERY_FIELD, TARGET_FIELD, UNLABELED, Split, Task

Stage = tuple[Manifest, bool]


def make_data_stage(cfg: MakeDataConfig, out: Path, force: bool = False) -> Stage:
    from pipelines.synthetic import make_data

    def body(m: Manifest) -> None:
        summary = make_data(out, rows=cfg.rows, seed=cfg.seed, noise=cfg.noise)
        m.input_rows = m.output_rows = int(sum(summary["rows"].values()))
        m.extra = {"summary": summary}

    return run_stage("make_data", out, cfg.digest(), [], body, force)


def ingest_stage(cfg: IngestConfig, out: Path, force: bool = False) -> Stage:
    from pipelines.ingest import discover, ingest

    files = discover(cfg.inputs, cfg.answers_dir)
    inputs = [f.path for f in files] + [f.answers for f in files if f.answers is not None]
    return run_stage("ingest", out, cfg.digest(), inputs, lambda m: ingest(files, out, cfg, m), force)


def audit_stage(cfg: RecipeConfig, ingested: Path, out: Path, force: bool = False) -> Stage:
    from pipelines.audit import run_audit

    def body(m: Manifest) -> None:
        report = run_audit(ingested, out, cfg.audit)
        m.input_rows = m.output_rows = sum(sum(t["total_rows"].values()) for t in report["tasks"].values())
        m.extra = {"zero_shot": report["zero_shot"]}

    return run_stage("audit", out, cfg.audit.digest(), [ingested], body, force)


def split_stage(cfg: RecipeConfig, ingested: Path, out: Path, force: bool = False) -> Stage:
    """train / calib / test datasets. Calibration uses a task's labelled dev rows when it has them, else a
    held-out slice of its training queries (grouped by query, stratified by language)."""
    from pipelines.split import heldout_split

    def body(m: Manifest) -> None:
        rows = read_records(ingested)
        rows = rows[rows["task"].isin(cfg.tasks)]
        parts: dict[str, list[pd.DataFrame]] = {"train": [], "calib": [], "test": []}
        calibrated_on: dict[str, str] = {}
        for task, t in rows.groupby("task"):
            train = t[t["split"] == Split.TRAIN.value]
            dev = t[(t["split"] == Split.DEV.value) & (t["label"] != UNLABELED)]
            if len(dev):
                calib, calibrated_on[task] = dev, "dev_labels"
            else:
                train, calib = heldout_split(train, cfg.calibrate.validation_fraction, seed=cfg.calibrate.split_seed)
                calibrated_on[task] = "heldout_train"
            parts["train"].append(train)
            parts["calib"].append(calib)
            parts["test"].append(t[t["split"] == Split.TEST.value])
        for name, frames in parts.items():
            df = pd.concat(frames, ignore_index=True) if frames else rows.iloc[:0]
            write_records(df, out / name / "data")
            m.extra[f"{name}_rows"] = len(df)
        unlabelled_dev = rows[(rows["split"] == Split.DEV.value) & (rows["label"] == UNLABELED)]
        m.input_rows = len(rows)
        m.output_rows = sum(m.extra[f"{n}_rows"] for n in parts)
        m.extra.update(calibrated_on=calibrated_on, unlabelled_dev_rows=len(unlabelled_dev))

    digest = f"{cfg.calibrate.digest()}-{','.join(cfg.tasks)}"
    return run_stage("split", out, digest, [ingested], body, force)


def trainset_stage(train: Path, augmentations: list[Path], out: Path, force: bool = False) -> Stage:
    """The training set: the split's training rows plus every augmentation stage's rows. Augmented rows derived
    from a row outside the training split (a held-out calibration query) are dropped, so nothing leaks."""

    def body(m: Manifest) -> None:
        base = read_records(train)
        keep = set(base["id"])
        frames, dropped = [base], 0
        for part in augmentations:
            extra = read_records(part)
            ok = extra["parent_id"].isin(keep)
            dropped += int((~ok).sum())
            frames.append(extra[ok])
        df = pd.concat(frames, ignore_index=True)
        write_records(df, out / "data")
        m.input_rows = len(df) + dropped
        m.output_rows = len(df)
        m.quarantined_rows = dropped
        m.quarantined_by_reason = {"parent_not_in_train_split": dropped} if dropped else {}
        m.extra = {
            "rows_by_source": {k: int(v) for k, v in df["source"].value_counts().sort_index().items()},
            "rows_by_task_label": {
                f"{t}/{lab}": int(n) for (t, lab), n in df.groupby(["task", "label"]).size().items()
            },
            "positive_rate": {t: round(float(g["label"].mean()), 4) for t, g in df.groupby("task")},
        }

    return run_stage("trainset", out, "v2", [train, *augmentations], body, force)


def train_stage(cfg: RecipeConfig, trainset: Path, out: Path, force: bool = False) -> Stage:
    from train.lora import train_lora

    def body(m: Manifest) -> None:
        result = train_lora(cfg.train, trainset / "data", out)
        m.input_rows = read_manifest(trainset).output_rows
        m.output_rows = m.input_rows
        m.extra = {
            "adapter": str(result.adapter_dir),
            "steps": result.steps,
            "first_loss": result.first_loss,
            "final_loss": result.final_loss,
            "tokens_per_s_per_worker": result.tokens_per_s_per_worker,
            "train_wall_time_s": result.wall_time_s,
            "resumed_from_step": result.resumed_from_step,
            "workers": result.workers,
        }

    return run_stage("train", out, cfg.train.digest(), [trainset], body, force)


def score_stage(cfg: RecipeConfig, rows: Path, model_dir: Path, out: Path, force: bool = False) -> Stage:
    """P(yes) for every row of ``rows`` with the model in ``model_dir`` (base model + adapter)."""
    from pipelines.score import score_dataset

    def body(m: Manifest) -> None:
        thresholds = Thresholds.load(model_dir) if (model_dir / THRESHOLDS_FILE).is_file() else None
        base = thresholds.base_model if thresholds else cfg.train.base_model
        adapter = thresholds.adapter if thresholds else str(model_dir / "adapter")
        # score_dataset counts both sides and raises if a row was lost.
        counts = score_dataset(rows / "data", out / "data", base, adapter, cfg.score)
        m.input_rows, m.output_rows = counts["input_rows"], counts["output_rows"]
        m.extra = counts

    return run_stage("score", out, cfg.score.digest(), [rows, model_dir / "adapter"], body, force)


def calibrate_stage(
    cfg: RecipeConfig, scored: Path, split: Path, trained: Path, out: Path, force: bool = False
) -> Stage:
    """The served model: ``adapter/`` (copied from training) + ``thresholds.json`` tuned on the calib set."""
    from evaluation.calibrate import calibrate

    def body(m: Manifest) -> None:
        adapter = out / "adapter"
        shutil.rmtree(adapter, ignore_errors=True)
        shutil.copytree(trained / "adapter", adapter)
        sources = set(read_manifest(split).extra["calibrated_on"].values())
        df = read_records(scored)
        thresholds = calibrate(
            df,
            cfg.calibrate,
            base_model=cfg.train.base_model,
            adapter="adapter",
            calibrated_on=sources.pop() if len(sources) == 1 else "heldout_train",
            max_seq_len=cfg.score.max_seq_len,
            tasks=cfg.tasks,
        )
        thresholds.version = f"{cfg.name}-{read_manifest(trained).config_hash}"
        thresholds.save(out / THRESHOLDS_FILE)
        m.input_rows = m.output_rows = len(df)
        m.extra = {
            "thresholds": thresholds.tasks,
            "per_language": thresholds.per_language,
            "calibrated_on": thresholds.calibrated_on,
        }

    return run_stage("calibrate", out, cfg.calibrate.digest(), [scored, trained / "adapter"], body, force)


def _unscored_test_rows(ingested: Path) -> pd.DataFrame:
    """Quarantined test rows that still carry an id: a submission needs a line for them too."""
    qfile = ingested / "quarantine" / "quarantine.jsonl"
    files = read_manifest(ingested).extra.get("files", {})
    out = []
    for line in qfile.read_text(encoding="utf-8").splitlines() if qfile.is_file() else []:
        q = json.loads(line)
        meta = files.get(q["file"], {})
        if meta.get("split") != Split.TEST.value:
            continue
        try:
            raw = json.loads(q["raw"])
        except ValueError:
            continue
        if isinstance(raw, dict) and raw.get("id") is not None:
            task = meta["task"]
            out.append(
                {
                    "id": str(raw["id"]),
                    "task": task,
                    "language": str(raw.get("language", "")),
                    "query": str(raw.get(QUERY_FIELD) or ""),
                    "target": str(raw.get(TARGET_FIELD[Task(task)]) or ""),
                }
            )
    return pd.DataFrame(out, columns=["id", "task", "language", "query", "target"])


def report_stage(
    cfg: RecipeConfig,
    scored_calib: Path,
    scored_test: Path,
    model: Path,
    audit: Path,
    ingested: Path,
    out: Path,
    extra_sections: list[tuple[str, str]],
    force: bool = False,
) -> Stage:
    """Evaluation report on the calibration set (and on test when it has labels) + submission files."""
    from pipelines.audit import load_audit
    from evaluation.report import write_report
    from evaluation.submission import write_submissions

    def body(m: Manifest) -> None:
        thresholds = Thresholds.load(model)
        zero_shot = load_audit(audit)["zero_shot"]
        calib = read_records(scored_calib)
        test = read_records(scored_test)
        reports = {"calib": write_report(calib, thresholds, zero_shot, out / "calib", extra_sections)}
        if (test["label"] != UNLABELED).any():
            reports["test"] = write_report(test, thresholds, zero_shot, out / "test", extra_sections)
        unscored = _unscored_test_rows(ingested)
        files = write_submissions(test, thresholds, out / "submission", unscored=unscored)
        m.input_rows = len(calib) + len(test)
        m.output_rows = m.input_rows
        m.extra = {
            "submissions": {t: str(p) for t, p in files.items()},
            "unscored_test_rows": len(unscored),
            "reports": list(reports),
        }
        (out / "reports.json").write_text(json.dumps(reports, indent=2, default=str))

    inputs = [scored_calib, scored_test, model / THRESHOLDS_FILE, audit]
    digest = hashlib.sha256(json.dumps(extra_sections).encode()).hexdigest()[:16]
    return run_stage("report", out, digest, inputs, body, force)


def translate_stage(cfg: RecipeConfig, ingested: Path, audit: Path, out: Path, force: bool = False) -> Stage:
    """Translate high-resource training queries into each task's zero-shot languages, gated for quality."""
    from pipelines.audit import load_audit
    from pipelines.translate import translate_stage as translate

    def body(m: Manifest) -> None:
        zero_shot = {t: v for t, v in load_audit(audit)["zero_shot"].items() if t in cfg.tasks}
        report = translate(ingested, zero_shot, out, cfg.translate, cfg.embed)
        m.input_rows = report["planned"]
        m.output_rows = report["accepted"]
        m.quarantined_rows = report["planned"] - report["accepted"]
        m.quarantined_by_reason = dict(report.get("rejected_by_reason", {}))
        m.extra = report

    digest = f"{cfg.translate.digest()}-{cfg.embed.digest() if cfg.embed else ''}"
    return run_stage("translate", out, digest, [ingested, audit], body, force)


def negatives_stage(
    cfg: RecipeConfig,
    neg_cfg: NegativesConfig,
    ingested: Path,
    out: Path,
    match_from: Path | None = None,
    force: bool = False,
) -> Stage:
    """Semantic hard + easy negatives, or random ones (the ablation arm; with ``match_from``, a semantic run's
    output, as many per anchor as it has)."""
    from pipelines.negatives import mine_negatives

    def body(m: Manifest) -> None:
        report = mine_negatives(ingested, out, cfg.embed, neg_cfg, match_from=match_from)
        m.input_rows = sum(t["anchors"] for t in report["tasks"].values())  # positive training rows (anchors)
        m.output_rows = report["output_rows"]
        m.extra = report

    embed = cfg.embed.digest() if cfg.embed and not neg_cfg.random_negatives else ""
    inputs = [ingested] if match_from is None else [ingested, match_from]
    return run_stage("negatives", out, f"{neg_cfg.digest()}-{embed}", inputs, body, force)


def selfval_stage(cfg: RecipeConfig, trainset: Path, out: Path, noise_from: Path | None, force: bool = False) -> Stage:
    """Self-validation: score the training set with initial model(s) (in-sample, or out-of-fold by query-grouped
    folds), flag confident contradictions, remove or relabel them. ``out/data`` is the filtered training set;
    ``out/quarantine/removed.parquet`` holds every removed (or relabelled) original with its reason and score."""
    from pipelines.score import score_dataset
    from pipelines.selfval import self_validate
    from train.lora import train_lora

    initial = cfg.selfval.initial_train_config(cfg.train)

    models = itertools.count()  # one initial model per call: k folds (oof) or one (in-sample)

    def fit_predict(train_df: pd.DataFrame, heldout_df: pd.DataFrame):
        fold = out / "models" / f"model{next(models)}"
        write_records(train_df, fold / "trainset" / "data")
        result = train_lora(initial, fold / "trainset" / "data", fold / "train")
        write_records(heldout_df, fold / "heldout" / "data")
        score_dataset(
            fold / "heldout" / "data", fold / "scored" / "data", initial.base_model, str(result.adapter_dir), cfg.score
        )
        scored = read_records(fold / "scored", columns=["task", "id", "p_yes"]).set_index(["task", "id"])["p_yes"]
        return scored.reindex(pd.MultiIndex.from_frame(heldout_df[["task", "id"]])).to_numpy()

    def body(m: Manifest) -> None:
        from pipelines.synthetic import noise_ids

        df = read_records(trainset)
        noise = noise_ids(noise_from) if noise_from is not None else None
        result = self_validate(df, cfg.selfval, fit_predict, noise)
        write_records(result.kept, out / "data")
        (out / "quarantine").mkdir(parents=True, exist_ok=True)
        result.removed.to_parquet(out / "quarantine" / "removed.parquet", index=False)
        m.input_rows = len(df)
        m.output_rows = len(result.kept)
        if cfg.selfval.action == "remove":
            m.quarantined_rows = len(result.removed)
            m.quarantined_by_reason = {str(r): int(n) for r, n in result.removed["reason"].value_counts().items()}
        m.extra = {
            "counts": result.counts,
            "report": result.report,
            "sweep": result.sweep.to_dict(orient="records") if result.sweep is not None else None,
        }

    digest = f"{cfg.selfval.digest()}-{cfg.train.digest()}-{cfg.score.digest()}"
    return run_stage("selfval", out, digest, [trainset], body, force)
