"""The evaluation report: Markdown + JSON + PNG plots from scored, labelled rows and the chosen thresholds.

Every model F1 stands beside the all-positive F1 (predict "relevant" for every row) and the gain over it: with
~69% positives the trivial rule already scores ~0.81 on QC. Seen and zero-shot languages are reported apart;
a language without labelled rows is listed as such, with no numbers (nothing to measure, nothing invented).
Later sections (data augmentation, ...) are passed in as ready Markdown via ``extra_sections``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ecomrel.artifacts import THRESHOLDS_FILE, Thresholds
from ecomrel.manifest import Manifest, StageRun, read_manifest, run_stage
from ecomrel.metrics import all_positive_f1, prf1, threshold_sweep
from ecomrel.records import read_records
from ecomrel.schema import UNLABELED

from .calibrate import labelled
from .submission import unscored_test_rows, write_submissions

REPORT_JSON = "report.json"
REPORTS_JSON = "reports.json"  # the report stage's {"calib": report, "test": report}
REPORT_MD = "report.md"
CURVE_GRID = np.round(np.arange(0.0, 1.0001, 0.005), 3)  # finer than calibration's grid: these are pictures


def metrics(rows: pd.DataFrame) -> dict:
    """n, positive rate, P/R/F1 of ``prediction``, the all-positive F1 and the gain, confusion counts."""
    m = prf1(rows["label"], rows["prediction"])
    trivial = all_positive_f1(rows["label"])
    return {
        "n": len(rows),
        "pos_rate": float(rows["label"].mean()),
        "precision": m["precision"],
        "recall": m["recall"],
        "f1": m["f1"],
        "all_positive_f1": trivial,
        "gain": m["f1"] - trivial,
        **{k: m[k] for k in ("tp", "fp", "fn", "tn")},
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
) -> dict:
    """Write ``report.json``, ``report.md`` and per-task PNGs into ``out_dir``; return the JSON as a dict.

    ``zero_shot`` maps each task to the languages it has no training rows for.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = predict(scored_dev, thresholds)
    lab = labelled(rows)
    report: dict = {
        "base_model": thresholds.base_model,
        "adapter": thresholds.adapter,
        "calibrated_on": thresholds.calibrated_on,
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
            "seen": _subset(t_lab, ~t_lab["language"].isin(zs)),
            "zero_shot": _subset(t_lab, t_lab["language"].isin(zs)),
            "languages": _languages(t_rows, t_lab, zs),
            "zero_shot_languages": sorted(zs),
            "unlabelled_zero_shot_languages": sorted(zs - set(t_lab["language"])),
        }
        if len(t_lab):
            report["plots"][task] = _plots(task, t_lab, entry, out_dir)
        report["tasks"][task] = entry
    (out_dir / REPORT_JSON).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (out_dir / REPORT_MD).write_text(_markdown(report, extra_sections))
    return report


def _subset(lab: pd.DataFrame, mask: pd.Series) -> dict | None:
    sub = lab[mask]
    if sub.empty:
        return None
    return {"languages": sorted(set(sub["language"])), **metrics(sub)}


def _languages(t_rows: pd.DataFrame, t_lab: pd.DataFrame, zs: set[str]) -> list[dict]:
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


def _markdown(report: dict, extra_sections: Sequence[tuple[str, str]]) -> str:
    lines = _summary_md(report)
    for task, e in report["tasks"].items():
        lines += ["", f"## {task}", ""]
        if e["overall"] is None:
            lines += [f"No labelled rows for {task} ({e['rows']} unlabelled): not evaluated.", ""]
        lines += _groups_md(e) + _languages_md(e) + _curves_md(e, report["plots"].get(task))
    for title, body in extra_sections:
        lines += ["", f"## {title}", "", body.rstrip()]
    return "\n".join(lines) + "\n"


def _summary_md(report: dict) -> list[str]:
    lines = [
        "# Evaluation report",
        "",
        f"Base model `{report['base_model']}`, adapter `{report['adapter']}`; thresholds calibrated on "
        f"**{report['calibrated_on']}**.",
        "",
        '*All-positive F1* is the F1 of predicting "relevant" for every row; *gain* = model F1 − all-positive F1.',
        "",
    ]
    if report["calibrated_on"] == "seed":
        lines += ["**Thresholds are seed values, not calibrated**: at least one task had no labelled rows.", ""]
    lines += [
        "## Summary",
        "",
        "| task | threshold | labelled rows | F1 | all-positive F1 | gain | precision | recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task, e in report["tasks"].items():
        o = e["overall"] or {}
        lines.append(
            f"| {task} | {_num(e['threshold'])} | {e['labelled_rows']} | {_num(o.get('f1'))} | "
            f"{_num(o.get('all_positive_f1'))} | {_gain(o.get('gain'))} | {_num(o.get('precision'))} | "
            f"{_num(o.get('recall'))} |"
        )
    return lines


def _groups_md(e: dict) -> list[str]:
    lines = [
        "### Seen vs zero-shot languages",
        "",
        "| group | languages | rows | F1 | all-positive F1 | gain | precision | recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("seen", "zero_shot"):
        g = e[name]
        if g is None:
            lines.append(f"| {name.replace('_', '-')} | — | 0 | no labelled rows | — | — | — | — |")
        else:
            lines.append(
                f"| {name.replace('_', '-')} | {', '.join(g['languages'])} | {g['n']} | {_num(g['f1'])} | "
                f"{_num(g['all_positive_f1'])} | {_gain(g['gain'])} | {_num(g['precision'])} | "
                f"{_num(g['recall'])} |"
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
        "| language | kind | rows | labelled | threshold | F1 | all-positive F1 | gain | precision | recall | "
        "positive rate |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lang in e["languages"]:
        m = lang["metrics"]
        kind = lang["kind"].replace("_", "-")
        head = f"| {lang['language']} | {kind} | {lang['rows']} | {lang['labelled_rows']} |"
        if m is None:
            lines.append(f"{head} {_num(lang['threshold'])} | no labels | — | — | — | — | — |")
        else:
            lines.append(
                f"{head} {_num(lang['threshold'])} | {_num(m['f1'])} | {_num(m['all_positive_f1'])} | "
                f"{_gain(m['gain'])} | {_num(m['precision'])} | {_num(m['recall'])} | {_num(m['pos_rate'])} |"
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
    """A plain-text table for the terminal: F1 beside all-positive F1 and gain, per task and language."""
    header = f"{'task':<5} {'language':<10} {'kind':<10} {'labelled':>8} {'F1':>7} {'all-pos':>7} {'gain':>8}"
    lines = [header, "-" * len(header)]
    for task, e in report["tasks"].items():
        o = e["overall"]
        rows = [("all", "", e["labelled_rows"], o)]
        rows += [(g["language"], g["kind"], g["labelled_rows"], g["metrics"]) for g in e["languages"]]
        for language, kind, n, m in rows:
            if m is None:
                lines.append(f"{task:<5} {language:<10} {kind:<10} {n:>8} {'no labels':>24}")
            else:
                lines.append(
                    f"{task:<5} {language:<10} {kind:<10} {n:>8} {m['f1']:>7.4f} {m['all_positive_f1']:>7.4f} "
                    f"{m['gain']:>+8.4f}"
                )
    return "\n".join(lines)


def report_stage(
    sections: Sequence[tuple[str, str]],
    scored_calib: Path,
    scored_test: Path,
    model: Path,
    audit: Path,
    ingested: Path,
    out: Path,
    force: bool = False,
) -> StageRun:
    """The ``report`` stage: the evaluation report on the calibration set (and on test when it has labels), and
    the CIKM submission files. ``sections`` are the upstream stages' Markdown sections (augmentation, ...)."""

    def body(m: Manifest) -> None:
        thresholds = Thresholds.load(model)
        zero_shot = read_manifest(audit).extra["zero_shot"]
        calib = read_records(scored_calib)
        test = read_records(scored_test)
        reports = {"calib": write_report(calib, thresholds, zero_shot, out / "calib", sections)}
        if (test["label"] != UNLABELED).any():
            reports["test"] = write_report(test, thresholds, zero_shot, out / "test", sections)
        unscored = unscored_test_rows(ingested)
        files = write_submissions(test, thresholds, out / "submission", unscored=unscored)
        m.input_rows = m.output_rows = len(calib) + len(test)
        m.extra = {
            "submissions": {t: str(p) for t, p in files.items()},
            "unscored_test_rows": len(unscored),
            "reports": list(reports),
        }
        (out / REPORTS_JSON).write_text(json.dumps(reports, indent=2, default=str))

    inputs = [scored_calib, scored_test, model / THRESHOLDS_FILE, audit]
    digest = hashlib.sha256(json.dumps(list(sections)).encode()).hexdigest()[:16]
    return run_stage("report", out, digest, inputs, body, force)
