"""The evaluation report: Markdown + JSON + PNG plots from scored, labelled rows and the chosen thresholds.

Every model F1 stands beside the all-positive F1 (predict "relevant" for every row) and the gain over it, with the
gain's paired-bootstrap 95% interval: with ~69% positives the trivial rule already scores ~0.81 on QC. The model's
ROC-AUC and PR-AUC (threshold-free) stand beside the untrained embedding-cosine baseline's (cosine(query, target)
under the run's ``embed`` model, its threshold tuned on the same calibration rows as the model's); a model that
ranks worse than that baseline is called out at the top. Seen and zero-shot languages are reported apart; a
language without labelled rows is listed as such, with no numbers (nothing to measure, nothing invented). Later
sections (data augmentation, ...) are passed in as ready Markdown via ``extra_sections``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecomrel.artifacts import THRESHOLDS_FILE, Thresholds
from ecomrel.manifest import Manifest, StageRun, read_manifest, run_stage
from ecomrel.metrics import all_positive_f1, paired_bootstrap_f1_delta, prf1, ranking_metrics, threshold_sweep
from ecomrel.records import read_records
from ecomrel.schema import UNLABELED

from .calibrate import labelled, score_thresholds
from .submission import unscored_test_rows, write_submissions

REPORT_JSON = "report.json"
REPORTS_JSON = "reports.json"  # the report stage's {"calib": report, "test": report}
REPORT_MD = "report.md"
CURVE_GRID = np.round(np.arange(0.0, 1.0001, 0.005), 3)  # finer than calibration's grid: these are pictures
#: The baseline stage's column of cosine(query, target) (pipelines/baseline.py; read here from disk, not imported).
COSINE = "cosine"
EMBEDDING_COSINE = "embedding_cosine"  # the baseline's key under every ``baselines`` entry
NO_BASELINE = "No embedding baseline was computed: the recipe has no `embed` section."


@dataclass(frozen=True)
class CosineBaseline:
    """The untrained embedding-cosine baseline: the embedder's name and a threshold on ``cosine`` per task, tuned
    on the calibration rows (:meth:`tune`). The rows a report evaluates carry the ``cosine`` column
    (:func:`with_cosine`)."""

    model: str
    thresholds: dict[str, float]

    @classmethod
    def tune(cls, model: str, calib: pd.DataFrame) -> CosineBaseline:
        """The F1-maximising cosine threshold per task on the labelled ``calib`` rows, swept over their cosines."""
        return cls(model, score_thresholds(calib, COSINE))

    def summary(self) -> dict:
        return {"model": self.model, "thresholds": self.thresholds}


def with_cosine(scored: pd.DataFrame, baseline_rows: pd.DataFrame) -> pd.DataFrame:
    """``scored`` plus the baseline's ``cosine`` of the same (task, id) row; a scored row without one is an error."""
    cos = baseline_rows[["task", "id", COSINE]]
    dup = cos.duplicated(["task", "id"])
    if dup.any():
        task, id_ = cos[dup].iloc[0][["task", "id"]]
        raise ValueError(f"baseline rows: task {task} id {id_!r} appears more than once")
    out = scored.drop(columns=[COSINE], errors="ignore").merge(cos, on=["task", "id"], how="left")
    missing = out[COSINE].isna()
    if missing.any():
        task, id_ = out[missing].iloc[0][["task", "id"]]
        raise ValueError(f"scored row task {task} id {id_!r} has no baseline cosine")
    return out


def metrics(rows: pd.DataFrame) -> dict:
    """n, positive rate, P/R/F1 of ``prediction``, the all-positive F1, the gain and its paired-bootstrap 95%
    interval, ROC-AUC and PR-AUC of ``p_yes`` (None with one class), confusion counts."""
    y = rows["label"].to_numpy(dtype=np.int64)
    m = prf1(y, rows["prediction"])
    trivial = all_positive_f1(y)
    ci = paired_bootstrap_f1_delta(y, np.ones_like(y), rows["prediction"].to_numpy(dtype=np.int64))
    return {
        "n": len(rows),
        "pos_rate": float(y.mean()),
        "precision": m["precision"],
        "recall": m["recall"],
        "f1": m["f1"],
        "all_positive_f1": trivial,
        "gain": m["f1"] - trivial,
        "gain_ci95": list(ci),
        **ranking_metrics(y, rows["p_yes"]),
        **{k: m[k] for k in ("tp", "fp", "fn", "tn")},
    }


def baseline_metrics(rows: pd.DataFrame, baseline: CosineBaseline | None, task: str) -> dict:
    """``{"embedding_cosine": ...}`` on labelled ``rows`` of ``task``: the cosine threshold, P/R/F1 of
    ``cosine >= threshold`` (None without a tuned threshold), ROC-AUC and PR-AUC of the cosine; None when no
    baseline was computed or there are no rows."""
    if baseline is None or rows.empty:
        return {EMBEDDING_COSINE: None}
    y = rows["label"].to_numpy(dtype=np.int64)
    threshold = baseline.thresholds.get(task)
    m = dict.fromkeys(("precision", "recall", "f1"))
    if threshold is not None:
        m = prf1(y, (rows[COSINE].to_numpy() >= threshold).astype(np.int64))
    return {
        EMBEDDING_COSINE: {
            "threshold": threshold,
            "precision": m["precision"],
            "recall": m["recall"],
            "f1": m["f1"],
            **ranking_metrics(y, rows[COSINE]),
        }
    }


def predict(scored: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """``scored`` plus the threshold applied to each row (per language when calibrated so) and ``prediction``."""
    out = scored.copy()
    out["threshold"] = [thresholds.threshold(t, lang) for t, lang in zip(out["task"], out["language"], strict=True)]
    out["prediction"] = (out["p_yes"] >= out["threshold"]).astype(np.int64)
    return out


def write_report(
    scored_dev: pd.DataFrame,
    thresholds: Thresholds,
    zero_shot: Mapping[str, Sequence[str]],
    out_dir: str | Path,
    extra_sections: Sequence[tuple[str, str]] = (),
    baseline: CosineBaseline | None = None,
) -> dict:
    """Write ``report.json``, ``report.md`` and per-task PNGs into ``out_dir``; return the JSON as a dict.

    ``zero_shot`` maps each task to the languages it has no training rows for. With ``baseline``, the rows carry
    its ``cosine`` column and every figure of the model stands beside the embedding-cosine baseline's.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = predict(scored_dev, thresholds)
    lab = labelled(rows)
    if baseline is not None:
        labelled(rows, COSINE)  # the rows carry the baseline's cosine, with a value on every labelled row
    report: dict = {
        "base_model": thresholds.base_model,
        "adapter": thresholds.adapter,
        "calibrated_on": thresholds.calibrated_on,
        "embedding_baseline": None if baseline is None else baseline.summary(),
        "tasks": {},
        "plots": {},
    }
    for task in sorted(set(rows["task"]) | set(zero_shot)):
        zs = set(zero_shot.get(task, []))
        t_rows, t_lab = rows[rows["task"] == task], lab[lab["task"] == task]
        entry = {
            "threshold": thresholds.tasks.get(task),
            "per_language_thresholds": thresholds.per_language.get(task, {}),
            "rows": len(t_rows),
            "labelled_rows": len(t_lab),
            "overall": metrics(t_lab) if len(t_lab) else None,
            "baselines": baseline_metrics(t_lab, baseline, task),
            "seen": _subset(t_lab, ~t_lab["language"].isin(zs), baseline, task),
            "zero_shot": _subset(t_lab, t_lab["language"].isin(zs), baseline, task),
            "languages": _languages(t_rows, t_lab, zs, baseline, task),
            "zero_shot_languages": sorted(zs),
            "unlabelled_zero_shot_languages": sorted(zs - set(t_lab["language"])),
        }
        if len(t_lab):
            report["plots"][task] = _plots(task, t_lab, entry, out_dir)
        report["tasks"][task] = entry
    report["callouts"] = callouts(report)
    (out_dir / REPORT_JSON).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (out_dir / REPORT_MD).write_text(_markdown(report, extra_sections))
    return report


def callouts(report: dict) -> list[str]:
    """One plain sentence per task whose model ranks below the untrained embedding-cosine baseline (ROC-AUC)."""
    out = []
    for task, e in report["tasks"].items():
        model = (e["overall"] or {}).get("roc_auc")
        cosine = (e["baselines"][EMBEDDING_COSINE] or {}).get("roc_auc")
        if model is not None and cosine is not None and model < cosine:
            out.append(
                f"{task}: the model ranks below the untrained embedding-cosine baseline "
                f"(ROC-AUC {model:.4f} vs {cosine:.4f})."
            )
    return out


def _subset(lab: pd.DataFrame, mask: pd.Series, baseline: CosineBaseline | None, task: str) -> dict | None:
    sub = lab[mask]
    if sub.empty:
        return None
    return {
        "languages": sorted(set(sub["language"])),
        **metrics(sub),
        "baselines": baseline_metrics(sub, baseline, task),
    }


def _languages(
    t_rows: pd.DataFrame, t_lab: pd.DataFrame, zs: set[str], baseline: CosineBaseline | None, task: str
) -> list[dict]:
    out = []
    for language in sorted(set(t_rows["language"]) | zs):
        g = t_lab[t_lab["language"] == language]
        every = t_rows[t_rows["language"] == language]
        out.append(
            {
                "language": language,
                "kind": "zero_shot" if language in zs else "seen",
                "rows": len(every),
                "labelled_rows": len(g),
                "threshold": float(every["threshold"].iloc[0]) if len(every) else None,
                "metrics": metrics(g) if len(g) else None,
                "baselines": baseline_metrics(g, baseline, task),
            }
        )
    return out


# --- plots ---------------------------------------------------------------------------------------------------


def _plots(task: str, t_lab: pd.DataFrame, entry: dict, out_dir: Path) -> dict[str, str]:
    """PR curve, F1 vs threshold (chosen threshold marked), confusion matrix. Matplotlib's object API renders
    with Agg and touches no global pyplot state, so it is safe in workers and tests."""
    from matplotlib.figure import Figure

    sweep = threshold_sweep(t_lab["label"], t_lab["p_yes"], CURVE_GRID)
    overall, chosen = entry["overall"], entry["threshold"]
    files = {
        "pr_curve": f"pr_{task}.png",
        "f1_threshold": f"f1_threshold_{task}.png",
        "confusion": f"confusion_{task}.png",
    }

    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    defined = sweep[sweep["tp"] + sweep["fp"] > 0]  # precision is undefined where nothing is predicted positive
    ax.plot(defined["recall"], defined["precision"], label="model (threshold sweep)")
    ax.scatter([overall["recall"]], [overall["precision"]], color="red", zorder=3, label="chosen threshold(s)")
    ax.scatter([1.0], [overall["pos_rate"]], color="gray", marker="x", zorder=3, label="all positive")
    ax.set(xlabel="recall", ylabel="precision", title=f"{task}: precision-recall", xlim=(0, 1.02), ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / files["pr_curve"], dpi=100)

    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    ax.plot(sweep["threshold"], sweep["f1"], label="model F1")
    ax.axhline(overall["all_positive_f1"], color="gray", linestyle="--", label="all-positive F1")
    ax.axvline(chosen, color="red", linestyle=":", label=f"chosen threshold {chosen:.2f}")
    ax.set(xlabel="threshold on P(yes)", ylabel="F1", title=f"{task}: F1 vs threshold", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / files["f1_threshold"], dpi=100)

    fig = Figure(figsize=(4, 3.5))
    ax = fig.subplots()
    matrix = np.array([[overall["tp"], overall["fn"]], [overall["fp"], overall["tn"]]])
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > matrix.max() / 2 else "black")
    ax.set_xticks([0, 1], labels=["pred 1", "pred 0"])
    ax.set_yticks([0, 1], labels=["label 1", "label 0"])
    ax.set_title(f"{task}: confusion matrix")
    fig.tight_layout()
    fig.savefig(out_dir / files["confusion"], dpi=100)
    return files


# --- text ----------------------------------------------------------------------------------------------------


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.4f}"


def _gain(x: float | None) -> str:
    return "—" if x is None else f"{x:+.4f}"


def _ci(ci: Sequence[float] | None) -> str:
    return "—" if ci is None else f"[{ci[0]:+.4f}, {ci[1]:+.4f}]"


def _cos(baselines: dict, key: str) -> str:
    """A figure of the embedding-cosine baseline, or — when there is none."""
    return _num((baselines[EMBEDDING_COSINE] or {}).get(key))


def _markdown(report: dict, extra_sections: Sequence[tuple[str, str]]) -> str:
    lines = _summary_md(report) + _baseline_md(report)
    for task, e in report["tasks"].items():
        lines += ["", f"## {task}", ""]
        if e["overall"] is None:
            lines += [f"No labelled rows for {task} ({e['rows']} unlabelled): not evaluated.", ""]
        lines += _groups_md(e) + _languages_md(e) + _curves_md(e, report["plots"].get(task))
    for title, body in extra_sections:
        lines += ["", f"## {title}", "", body.rstrip()]
    return "\n".join(lines) + "\n"


def _summary_md(report: dict) -> list[str]:
    lines = ["# Evaluation report", ""]
    for sentence in report["callouts"]:
        lines += [f"**{sentence}**", ""]
    if report["embedding_baseline"] is None:
        lines += [NO_BASELINE, ""]
    lines += [
        f"Base model `{report['base_model']}`, adapter `{report['adapter']}`; thresholds calibrated on "
        f"**{report['calibrated_on']}**.",
        "",
        '*All-positive F1* is the F1 of predicting "relevant" for every row; *gain* = model F1 − all-positive F1, '
        "with its paired-bootstrap 95% interval. *Cosine* is the untrained embedding-cosine baseline.",
        "",
    ]
    if report["calibrated_on"] == "seed":
        lines += ["**Thresholds are seed values, not calibrated**: at least one task had no labelled rows.", ""]
    lines += [
        "## Summary",
        "",
        "| task | threshold | labelled rows | F1 | all-positive F1 | gain | gain 95% CI | ROC-AUC | PR-AUC | "
        "cosine F1 | cosine ROC-AUC | precision | recall |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task, e in report["tasks"].items():
        o = e["overall"] or {}
        lines.append(
            f"| {task} | {_num(e['threshold'])} | {e['labelled_rows']} | {_num(o.get('f1'))} | "
            f"{_num(o.get('all_positive_f1'))} | {_gain(o.get('gain'))} | {_ci(o.get('gain_ci95'))} | "
            f"{_num(o.get('roc_auc'))} | {_num(o.get('pr_auc'))} | {_cos(e['baselines'], 'f1')} | "
            f"{_cos(e['baselines'], 'roc_auc')} | {_num(o.get('precision'))} | {_num(o.get('recall'))} |"
        )
    return lines


def _baseline_md(report: dict) -> list[str]:
    base = report["embedding_baseline"]
    if base is None:
        return []
    lines = [
        "",
        "## Embedding-cosine baseline",
        "",
        f"cosine(query, target) under the untrained embedder `{base['model']}`, relevant when at least a threshold "
        "tuned per task (F1-maximising) on the same calibration rows as the model's.",
        "",
        "| task | cosine threshold | F1 | precision | recall | ROC-AUC | PR-AUC | model ROC-AUC | model PR-AUC |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for task, e in report["tasks"].items():
        b, o = e["baselines"][EMBEDDING_COSINE], e["overall"] or {}
        if b is None:
            lines.append(f"| {task} | {_num(base['thresholds'].get(task))} | no labelled rows |{' — |' * 6}")
            continue
        lines.append(
            f"| {task} | {_num(b['threshold'])} | {_num(b['f1'])} | {_num(b['precision'])} | {_num(b['recall'])} | "
            f"{_num(b['roc_auc'])} | {_num(b['pr_auc'])} | {_num(o.get('roc_auc'))} | {_num(o.get('pr_auc'))} |"
        )
    return lines


def _groups_md(e: dict) -> list[str]:
    lines = [
        "### Seen vs zero-shot languages",
        "",
        "| group | languages | rows | F1 | all-positive F1 | gain | gain 95% CI | ROC-AUC | cosine F1 | "
        "cosine ROC-AUC | precision | recall |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("seen", "zero_shot"):
        g = e[name]
        if g is None:
            lines.append(f"| {name.replace('_', '-')} | — | 0 | no labelled rows |{' — |' * 8}")
        else:
            lines.append(
                f"| {name.replace('_', '-')} | {', '.join(g['languages'])} | {g['n']} | {_num(g['f1'])} | "
                f"{_num(g['all_positive_f1'])} | {_gain(g['gain'])} | {_ci(g['gain_ci95'])} | "
                f"{_num(g['roc_auc'])} | {_cos(g['baselines'], 'f1')} | {_cos(g['baselines'], 'roc_auc')} | "
                f"{_num(g['precision'])} | {_num(g['recall'])} |"
            )
    if e["unlabelled_zero_shot_languages"]:
        lines += [
            "",
            f"Zero-shot languages with no labelled rows, not evaluated: "
            f"{', '.join(e['unlabelled_zero_shot_languages'])}.",
        ]
    return lines


def _languages_md(e: dict) -> list[str]:
    lines = [
        "",
        "### Per language",
        "",
        "| language | kind | rows | labelled | threshold | F1 | all-positive F1 | gain | ROC-AUC | cosine F1 | "
        "cosine ROC-AUC | precision | recall | positive rate |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lang in e["languages"]:
        m = lang["metrics"]
        kind = lang["kind"].replace("_", "-")
        head = f"| {lang['language']} | {kind} | {lang['rows']} | {lang['labelled_rows']} |"
        if m is None:
            lines.append(f"{head} {_num(lang['threshold'])} | no labels |{' — |' * 8}")
        else:
            lines.append(
                f"{head} {_num(lang['threshold'])} | {_num(m['f1'])} | {_num(m['all_positive_f1'])} | "
                f"{_gain(m['gain'])} | {_num(m['roc_auc'])} | {_cos(lang['baselines'], 'f1')} | "
                f"{_cos(lang['baselines'], 'roc_auc')} | {_num(m['precision'])} | {_num(m['recall'])} | "
                f"{_num(m['pos_rate'])} |"
            )
    return lines


def _curves_md(e: dict, plots: dict | None) -> list[str]:
    if not plots:
        return []
    o = e["overall"]
    return [
        "",
        "### Curves and confusion matrix",
        "",
        f"![precision-recall]({plots['pr_curve']}) ![F1 vs threshold]({plots['f1_threshold']}) "
        f"![confusion matrix]({plots['confusion']})",
        "",
        "| | predicted 1 | predicted 0 |",
        "|---|---|---|",
        f"| label 1 | {o['tp']} | {o['fn']} |",
        f"| label 0 | {o['fp']} | {o['tn']} |",
    ]


def format_f1_table(report: dict) -> str:
    """A plain-text table for the terminal: F1 beside all-positive F1 and gain, the model's ROC-AUC beside the
    embedding-cosine baseline's F1 and ROC-AUC, per task and language; the report's call-outs above it."""
    notes = [*report["callouts"], *([NO_BASELINE] if report["embedding_baseline"] is None else [])]
    header = (
        f"{'task':<5} {'language':<10} {'kind':<10} {'labelled':>8} {'F1':>7} {'all-pos':>7} {'gain':>8} "
        f"{'ROC-AUC':>7} {'cos-F1':>7} {'cos-AUC':>7}"
    )
    lines = [*notes, *([""] if notes else []), header, "-" * len(header)]
    for task, e in report["tasks"].items():
        rows = [("all", "", e["labelled_rows"], e["overall"], e["baselines"])]
        rows += [(g["language"], g["kind"], g["labelled_rows"], g["metrics"], g["baselines"]) for g in e["languages"]]
        for language, kind, n, m, b in rows:
            head = f"{task:<5} {language:<10} {kind:<10} {n:>8}"
            if m is None:
                lines.append(f"{head} {'no labels':>24}")
                continue
            cos = b[EMBEDDING_COSINE] or {}
            lines.append(
                f"{head} {m['f1']:>7.4f} {m['all_positive_f1']:>7.4f} {m['gain']:>+8.4f} {_num(m['roc_auc']):>7} "
                f"{_num(cos.get('f1')):>7} {_num(cos.get('roc_auc')):>7}"
            )
    return "\n".join(lines)


def report_stage(
    sections: Sequence[tuple[str, str]],
    scored_calib: Path,
    scored_test: Path,
    model: Path,
    audit: Path,
    ingested: Path,
    baseline: Path | None,
    out: Path,
    force: bool = False,
) -> StageRun:
    """The ``report`` stage: the evaluation report on the calibration set (and on test when it has labels), and
    the CIKM submission files. ``sections`` are the upstream stages' Markdown sections (augmentation, ...);
    ``baseline`` is the ``baseline`` stage's folder (None: no embedding baseline, and the report says so)."""

    def body(m: Manifest) -> None:
        thresholds = Thresholds.load(model)
        zero_shot = read_manifest(audit).extra["zero_shot"]
        calib = read_records(scored_calib)
        test = read_records(scored_test)
        cosine = None
        if baseline is not None:
            calib = with_cosine(calib, read_records(baseline / "calib"))
            test = with_cosine(test, read_records(baseline / "test"))
            cosine = CosineBaseline.tune(read_manifest(baseline).extra["model"], calib)
        reports = {"calib": write_report(calib, thresholds, zero_shot, out / "calib", sections, cosine)}
        if (test["label"] != UNLABELED).any():
            reports["test"] = write_report(test, thresholds, zero_shot, out / "test", sections, cosine)
        unscored = unscored_test_rows(ingested)
        files = write_submissions(test, thresholds, out / "submission", unscored=unscored)
        m.input_rows = m.output_rows = len(calib) + len(test)
        m.extra = {
            "submissions": {t: str(p) for t, p in files.items()},
            "unscored_test_rows": len(unscored),
            "reports": list(reports),
            "embedding_baseline": None if cosine is None else cosine.summary(),
        }
        (out / REPORTS_JSON).write_text(json.dumps(reports, indent=2, default=str))

    inputs = [scored_calib, scored_test, model / THRESHOLDS_FILE, audit, *([baseline] if baseline is not None else [])]
    digest = hashlib.sha256(json.dumps(list(sections)).encode()).hexdigest()[:16]
    return run_stage("report", out, digest, inputs, body, force)
