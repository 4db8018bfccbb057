"""Language audit: which languages each task and split covers, and which are zero-shot.

A language is *zero-shot* for a task when it appears in dev or test but not in train: the model never sees a
labelled example of it, which is what translation augmentation is for. The counts are one Ray Data map-reduce
over the ingested dataset (the driver sees one row per task x split x language x label); the rest is small tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from pydantic import Field

from ecomrel.config import Section
from ecomrel.languages import LANGUAGES
from ecomrel.manifest import Manifest, StageRun, run_stage
from ecomrel.records import dataset_path
from ecomrel.schema import UNLABELED, Split

from .counts import count_by

AUDIT_JSON = "audit.json"


class AuditConfig(Section):
    high_resource_min_rows: int = Field(
        100,
        ge=1,
        description="A train language with at least this many rows counts as high-resource "
        "(a translation source candidate).",
    )


_KEYS = ["task", "split", "language", "label"]


def count_rows(data: str | Path) -> pd.DataFrame:
    """Rows per (task, split, language, label): a map-reduce over the dataset's blocks (``pipelines.counts``)."""
    return count_by(dataset_path(data), _KEYS)


def audit(counts: pd.DataFrame, cfg: AuditConfig) -> dict:
    """The audit as plain data (JSON-ready)."""
    out: dict = {"tasks": {}}
    for task, t in counts.groupby("task", sort=True):
        by_split = {s: sorted(g["language"].unique()) for s, g in t.groupby("split")}
        train = set(by_split.get(Split.TRAIN.value, []))
        evaluated = set(by_split.get(Split.DEV.value, [])) | set(by_split.get(Split.TEST.value, []))
        rows = t.groupby(["split", "language"])["rows"].sum()
        table = {s: {lang: int(n) for lang, n in rows[s].items()} for s in rows.index.get_level_values(0).unique()}

        balance = {}
        for (split, lang), g in t[t["label"] != UNLABELED].groupby(["split", "language"]):
            labelled = int(g["rows"].sum())
            positives = int(g.loc[g["label"] == 1, "rows"].sum())
            balance.setdefault(split, {})[lang] = {
                "labelled": labelled,
                "positive": positives,
                "positive_rate": round(positives / labelled, 4) if labelled else None,
            }
        train_rows = table.get(Split.TRAIN.value, {})
        out["tasks"][task] = {
            "rows": table,
            "total_rows": {s: sum(v.values()) for s, v in table.items()},
            "label_balance": balance,
            "languages": by_split,
            "train_languages": sorted(train),
            "zero_shot": sorted(evaluated - train),
            "high_resource": sorted(lang for lang, n in train_rows.items() if n >= cfg.high_resource_min_rows),
            "unlabelled_eval_languages": sorted(
                lang for lang in evaluated if lang not in balance.get(Split.DEV.value, {})
            ),
        }
    out["zero_shot"] = {task: v["zero_shot"] for task, v in out["tasks"].items()}
    return out


def format_table(report: dict) -> str:
    """A plain-text table: rows per language x split per task, positive rate in train, zero-shot marked."""
    lines = []
    for task, t in report["tasks"].items():
        splits = [s for s in (Split.TRAIN.value, Split.DEV.value, Split.TEST.value) if s in t["rows"]]
        langs = sorted({lang for s in splits for lang in t["rows"][s]})
        lines.append(f"{task}: zero-shot languages: {', '.join(t['zero_shot']) or 'none'}")
        header = f"  {'lang':<6}{'name':<12}" + "".join(f"{s:>9}" for s in splits) + f"{'train pos%':>12}"
        lines.append(header)
        for lang in langs:
            cells = "".join(f"{t['rows'][s].get(lang, 0):>9}" for s in splits)
            bal = t["label_balance"].get(Split.TRAIN.value, {}).get(lang)
            pos = f"{100 * bal['positive_rate']:.1f}" if bal else "-"
            mark = "  zero-shot" if lang in t["zero_shot"] else ""
            lines.append(f"  {lang:<6}{LANGUAGES.get(lang, '?'):<12}{cells}{pos:>12}{mark}")
        totals = "".join(f"{t['total_rows'][s]:>9}" for s in splits)
        lines.append(f"  {'all':<18}{totals}")
        lines.append("")
    return "\n".join(lines)


def plot(report: dict, path: Path) -> Path:
    """Grouped bar chart: rows per language per split, one panel per task; zero-shot languages hatched."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(report["tasks"])
    fig, axes = plt.subplots(len(tasks), 1, figsize=(11, 3.6 * len(tasks)), squeeze=False)
    for ax, task in zip(axes[:, 0], tasks, strict=True):
        t = report["tasks"][task]
        splits = [s for s in (Split.TRAIN.value, Split.DEV.value, Split.TEST.value) if s in t["rows"]]
        langs = sorted({lang for s in splits for lang in t["rows"][s]})
        width = 0.8 / max(1, len(splits))
        for i, split in enumerate(splits):
            xs = [j + i * width for j in range(len(langs))]
            bars = ax.bar(xs, [t["rows"][split].get(lang, 0) for lang in langs], width, label=split)
            for bar, lang in zip(bars, langs, strict=True):
                if lang in t["zero_shot"]:
                    bar.set_hatch("//")
        ax.set_xticks([j + width * (len(splits) - 1) / 2 for j in range(len(langs))])
        ax.set_xticklabels([f"{lang}*" if lang in t["zero_shot"] else lang for lang in langs])
        ax.set_yscale("log")
        ax.set_ylabel("rows (log)")
        ax.set_title(f"{task}: rows per language (* hatched = zero-shot: in dev/test, not in train)")
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_audit(data: str | Path, out_dir: str | Path, cfg: AuditConfig) -> dict:
    """Count, write ``audit.json``, ``audit.md`` and ``audit.png`` into ``out_dir``; return the report."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = audit(count_rows(data), cfg)
    (out_dir / AUDIT_JSON).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    (out_dir / "audit.md").write_text("# Language audit\n\n```\n" + format_table(report) + "```\n")
    plot(report, out_dir / "audit.png")
    return report


def audit_stage(cfg: AuditConfig, ingested: Path, out: Path, force: bool = False) -> StageRun:
    """The ``audit`` stage: rows per task x split x language of an ingested folder, and the zero-shot languages."""

    def body(m: Manifest) -> None:
        report = run_audit(ingested, out, cfg)
        m.input_rows = m.output_rows = sum(sum(t["total_rows"].values()) for t in report["tasks"].values())
        m.extra = {"zero_shot": report["zero_shot"]}

    return run_stage("audit", out, cfg.digest(), [ingested], body, force)


def load_audit(out_dir: str | Path) -> dict:
    return json.loads((Path(out_dir) / AUDIT_JSON).read_text())
