"""The ablation runner: the paper's arms (and knob sweeps) on one shared run, as a table of F1 deltas.

Every arm is the recipe with some of the data strategies switched on. Arms share every stage they have in common
through the manifests (data, ingest, audit, split, each distinct translation / negatives output), and use the same
seeds, so arms differ only by their training data.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecomrel.artifacts import Thresholds
from ecomrel.config import apply_overrides, load_tree
from ecomrel.manifest import MANIFEST, read_manifest
from ecomrel.metrics import all_positive_f1, paired_bootstrap_auc_delta, paired_bootstrap_f1_delta
from ecomrel.records import read_records

from .config import RecipeConfig, config_from_overrides

PARTS = ("overall", "seen", "zero_shot")
#: The figures each arm is compared on: F1 of the positive class (thresholds tuned on the calibration rows) and the
#: threshold-free ROC-AUC.
METRICS = ("f1", "roc_auc")


@dataclass(frozen=True)
class Arm:
    name: str
    translate: bool = False
    negatives: bool = False
    selfval: bool = False
    random_negatives: bool = False
    overrides: tuple[str, ...] = ()


#: The paper's arms, plus semantic vs random negatives of the same count.
ARMS: tuple[Arm, ...] = (
    Arm("baseline"),
    Arm("+translation", translate=True),
    Arm("+negatives", negatives=True),
    Arm("+selfval", selfval=True),
    Arm("+translation+negatives", translate=True, negatives=True),
    Arm("+translation+selfval", translate=True, selfval=True),
    Arm("all", translate=True, negatives=True, selfval=True),
    Arm("+random_negatives", negatives=True, random_negatives=True),
)


def sweep_arms(spec: str) -> list[Arm]:
    """``key=v1,v2,...`` -> one arm per value on top of every strategy ("all")."""
    if "=" not in spec:
        raise ValueError(f"--sweep {spec!r}: expected key=v1,v2,...")
    key, values = spec.split("=", 1)
    return [
        Arm(f"{key}={v}", translate=True, negatives=True, selfval=True, overrides=(f"{key}={v}",))
        for v in values.split(",")
        if v.strip()
    ]


def arm_config(base: dict, arm: Arm) -> RecipeConfig:
    """The recipe config of one arm: the base tree with the strategies switched as the arm says."""
    tree = json.loads(json.dumps(base))  # deep copy
    switches = {
        "translate.enabled": arm.translate,
        "negatives.enabled": arm.negatives,
        "negatives.random_negatives": arm.random_negatives,
        "selfval.enabled": arm.selfval,
    }
    apply_overrides(tree, [f"{key}={str(on).lower()}" for key, on in switches.items()])
    return config_from_overrides(tree, list(arm.overrides), f"arm {arm.name}")


def _metric(report: dict, task: str, part: str, metric: str) -> float | None:
    entry = report["tasks"].get(task, {}).get(part)
    return round(entry[metric], 4) if entry and entry.get(metric) is not None else None


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _predictions(work: Path, which: str) -> pd.DataFrame:
    """An arm's labelled evaluation rows with its thresholds applied: (task, id) -> language, label, p_yes,
    prediction."""
    from evaluation.calibrate import labelled
    from evaluation.report import predict

    scored = labelled(read_records(work / f"score_{which}"))
    rows = predict(scored, Thresholds.load(work / "model"))
    return rows.set_index(["task", "id"])[["language", "label", "p_yes", "prediction"]]


def _training_rows(work: Path) -> dict:
    """What an arm trained on: rows by source, and the rows self-validation flagged (None when it was off)."""
    sources = read_manifest(work / "trainset").extra["rows_by_source"]
    selfval = work / "selfval"
    flagged = read_manifest(selfval).extra["counts"]["flagged_rows"] if (selfval / MANIFEST).is_file() else None
    train = read_manifest(work / "train")
    return {
        "train_rows": train.input_rows,
        "rows_by_source": " ".join(f"{k}={v}" for k, v in sorted(sources.items())),
        "selfval_flagged": flagged,
    }


def collect(results: dict[str, Path], tasks: Sequence[str], n_boot: int = 2000) -> list[dict]:
    """One row per arm: F1 and ROC-AUC per task on seen and zero-shot languages (test set when labelled, else
    calibration), their deltas against the first arm, each delta's 95% paired-bootstrap interval over the same
    rows, and the all-positive F1 of those rows."""
    reports, preds = {}, {}
    for name, work in results.items():
        every = json.loads((work / "report" / "reports.json").read_text())
        which = "test" if "test" in every else "calib"
        reports[name] = (which, every[which])
        preds[name] = _predictions(work, which)
    base = next(iter(results))
    base_report = reports[base][1]
    zero_shot = {t: set(base_report["tasks"].get(t, {}).get("zero_shot_languages", [])) for t in tasks}
    rows = []
    for name, (which, report) in reports.items():
        arm = preds[name][["p_yes", "prediction"]].rename(
            columns={"p_yes": "arm_p_yes", "prediction": "arm_prediction"}
        )
        pair = preds[base].join(arm, how="inner").reset_index()
        row: dict = {"arm": name, "evaluated_on": which, **_training_rows(results[name])}
        for task in tasks:
            t_pair = pair[pair["task"] == task]
            zs = t_pair["language"].isin(zero_shot[task])
            for part, sub in (("overall", t_pair), ("seen", t_pair[~zs]), ("zero_shot", t_pair[zs])):
                key = f"{task}_{part}"
                for metric in METRICS:
                    value, base_value = (_metric(r, task, part, metric) for r in (report, base_report))
                    comparable = value is not None and base_value is not None and len(sub) > 0
                    row[f"{key}_{metric}"] = value
                    row[f"{key}_{metric}_delta"] = round(value - base_value, 4) if comparable else None
                    row[f"{key}_{metric}_ci95"] = (
                        [round(x, 4) for x in _interval(metric, sub, n_boot)] if comparable else None
                    )
                row[f"{key}_all_positive_f1"] = round(all_positive_f1(sub["label"]), 4) if len(sub) else None
        rows.append(row)
    return rows


def _interval(metric: str, rows: pd.DataFrame, n_boot: int) -> tuple[float, float]:
    """The paired-bootstrap interval of (arm - first arm) on ``rows`` for ``metric``."""
    if metric == "f1":
        return paired_bootstrap_f1_delta(rows["label"], rows["prediction"], rows["arm_prediction"], n_boot)
    return paired_bootstrap_auc_delta(rows["label"], rows["p_yes"], rows["arm_p_yes"], n_boot)


def write_table(rows: list[dict], out: Path, tasks: Sequence[str]) -> dict[str, Path]:
    """ablation.md, ablation.csv and ablation.png (F1 per arm, per task, seen vs zero-shot)."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"md": out / "ablation.md", "csv": out / "ablation.csv", "png": out / "ablation.png"}
    _write_csv(rows, files["csv"])
    files["md"].write_text(_markdown(rows, tasks))
    _plot(rows, tasks, files["png"])
    return files


def _write_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: " ".join(map(str, v)) if isinstance(v, list) else v for k, v in r.items()} for r in rows)


def _cell(row: dict, key: str, metric: str, first: bool) -> str:
    v, d, ci = (row[f"{key}_{metric}{k}"] for k in ("", "_delta", "_ci95"))
    if v is None:
        return "-"
    if first or ci is None:
        return f"{v:.4f}"
    return f"{v:.4f} ({d:+.4f} [{ci[0]:+.3f}, {ci[1]:+.3f}])"


def _markdown(rows: list[dict], tasks: Sequence[str]) -> str:
    keys = [f"{t}_{p}" for t in tasks for p in PARTS]
    header = [
        "| arm | " + " | ".join(k.replace("_", " ").replace("zero shot", "zero-shot") for k in keys) + " |",
        "|" + "---|" * (1 + len(keys)),
    ]

    def table(metric: str) -> list[str]:
        return [
            *header,
            *(f"| {row['arm']} | " + " | ".join(_cell(row, k, metric, row is rows[0]) for k in keys) + " |"
              for row in rows),
        ]  # fmt: skip

    f1 = [
        *table("f1"),
        "| *all-positive rule* | " + " | ".join(_num(rows[0][f"{k}_all_positive_f1"]) for k in keys) + " |",
    ]
    data = [
        "| arm | training rows | by source | flagged by self-validation |",
        "|---|---|---|---|",
        *(
            f"| {r['arm']} | {r['train_rows']} | {r['rows_by_source']} | "
            f"{'-' if r['selfval_flagged'] is None else r['selfval_flagged']} |"
            for r in rows
        ),
    ]
    return (
        "# Ablation\n\nF1 of the positive class per arm (delta against the first arm), evaluated on "
        f"the {rows[0]['evaluated_on']} set, with the 95% paired-bootstrap interval of the delta in brackets: an "
        "interval that contains 0 is a difference the evaluation set cannot tell from noise. Same seeds everywhere; "
        "arms differ only by their training data. The all-positive rule (every row relevant) is the floor.\n\n"
        + "\n".join(f1)
        + "\n\n## ROC-AUC\n\nThe same arms ranked threshold-free (no calibration involved), with the same paired "
        "intervals.\n\n" + "\n".join(table("roc_auc")) + "\n\n## What each arm trained on\n\n" + "\n".join(data) + "\n"
    )


def _plot(rows: list[dict], tasks: Sequence[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.5), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        xs = range(len(rows))
        for i, part in enumerate(("seen", "zero_shot")):
            vals = [r[f"{task}_{part}_f1"] or 0.0 for r in rows]
            ax.bar([x + 0.4 * i for x in xs], vals, 0.4, label=part.replace("_", "-"))
        ax.set_xticks([x + 0.2 for x in xs])
        ax.set_xticklabels([r["arm"] for r in rows], rotation=35, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(f"{task}: F1 by arm")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_ablation(config: Path, arms: Sequence[Arm], force: bool = False) -> dict[str, Path]:
    """Run every arm of ``arms`` on the recipe ``config`` and write the table. An arm whose config is the recipe's
    own (for configs/demo.yaml: "all") is the recipe's run itself: it runs in, and reuses, the run folder that
    ``ecomrel run`` of the same config writes."""
    from cluster.recipe import arm_dir, run_recipe

    base = load_tree(config)
    recipe = config_from_overrides(base, [], str(config))
    results: dict[str, Path] = {}
    cfg = None
    for arm in arms:
        cfg = arm_config(base, arm)
        folder = None if cfg == recipe else arm.name
        run_recipe(cfg, force=force, arm=folder)
        results[arm.name] = arm_dir(cfg, folder)
    rows = collect(results, cfg.tasks)
    files = write_table(rows, cfg.run_dir / "ablation", cfg.tasks)
    print((cfg.run_dir / "ablation" / "ablation.md").read_text())
    return files
