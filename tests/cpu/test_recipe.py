"""The recipe end to end on a tiny model: every stage, resumable, and the ablation runner sharing stages."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from cluster.ablate import ARMS, run_ablation
from cluster.recipe import plan, run_recipe
from ecomrel.manifest import read_manifest
from ecomrel.records import read_records
from evaluation.submission import read_submission


def _tree(tmp_path, tiny_model) -> dict:
    return {
        "name": "t",
        "runs_dir": str(tmp_path / "runs"),
        "make_data": {"enabled": True, "rows": 60, "seed": 1},
        "train": {
            "base_model": str(tiny_model),
            "num_workers": 1,
            "micro_batch_size": 8,
            "max_steps": 3,
            "max_seq_len": 160,
            "checkpoint_every_steps": 2,
            "learning_rate": 1e-3,
        },
        "score": {"batch_size": 32, "max_seq_len": 160},
        "negatives": {"enabled": True, "random_negatives": True, "negatives_per_positive": 0.5},
        "selfval": {"enabled": True, "method": "in_sample", "confidence": 0.6, "initial_train": {"max_steps": 2}},
    }


def test_recipe_runs_every_stage_and_resumes(demo_run):
    """The tiny demo recipe (conftest's ``demo_run``, every section of configs/demo.yaml: the bi-encoder family
    and out-of-fold self-validation) ran every stage once; its outputs add up; flags went through the gate into
    ``removed.parquet``; the model reloads with its scores; a second run finds every stage current."""
    import pandas as pd

    from ecomrel.artifacts import Thresholds
    from ecomrel.scorer import load_scorer

    cfg = demo_run.config()
    run = cfg.run_dir
    steps = plan(cfg, run)
    log = json.loads((run / "recipe.json").read_text())["stages"]
    assert list(log) == [s.name for s in steps] and all(s["ran"] for s in log.values())
    out = {s.name: s.out for s in steps}

    ingest = read_manifest(out["ingest"])
    assert ingest.input_rows == ingest.output_rows + ingest.quarantined_rows
    trainset, negatives = read_manifest(out["trainset"]), read_manifest(out["negatives"])
    by_source = trainset.extra["rows_by_source"]
    mined = {k: sum(t["counts"].get(k, 0) for t in negatives.extra["tasks"].values()) for k in by_source}
    assert by_source["original"] > 0 and {k: by_source[k] for k in mined if k.endswith("_negative")} == {
        k: n for k, n in mined.items() if k.endswith("_negative")
    }
    assert by_source.get("hard_negative", 0) + by_source.get("easy_negative", 0) == negatives.output_rows > 0
    selfval = read_manifest(out["selfval"])
    assert selfval.input_rows == selfval.output_rows + selfval.quarantined_rows == trainset.output_rows
    removed = pd.read_parquet(out["selfval"] / "quarantine" / "removed.parquet")
    assert selfval.extra["report"]["method"] == "oof" and len(list((out["selfval"] / "models").iterdir())) == 2
    assert len(removed) == selfval.quarantined_rows > 0  # the gate let the fold models' flags through
    assert selfval.extra["report"]["planted_noise"]["all"]["planted"] > 0  # scored against the planted noise
    train = read_manifest(out["train"])
    assert train.extra["steps"] == 4 and train.input_rows == selfval.output_rows

    thresholds = json.loads((out["model"] / "thresholds.json").read_text())
    assert set(thresholds["tasks"]) == {"QC", "QI"} and thresholds["calibrated_on"] == "dev_labels"
    model = Thresholds.load(out["model"])
    assert model.family == "bi_encoder"
    scored = read_records(out["score_test"]).head(10)
    scorer = load_scorer("bi_encoder", model.base_model, model.adapter)
    np.testing.assert_allclose(
        scorer.score(list(scored["task"]), list(scored["query"]), list(scored["target"])), scored["p_yes"], atol=1e-6
    )
    test_rows = read_records(out["split"] / "test")
    for task in ("QC", "QI"):
        sub = read_submission(out["report"] / "submission" / f"submit_{task}.txt")
        assert len(sub) == int((test_rows["task"] == task).sum())
        assert {r["prediction"] for r in sub} <= {0, 1}
    reports = json.loads((out["report"] / "reports.json").read_text())
    assert set(reports) == {"calib", "test"}
    md = (out["report"] / "test" / "report.md").read_text()
    assert "Mined negatives by kind" in md and "Self-validation" in md and "Skill gate" in md
    for task in ("QC", "QI"):
        overall = reports["test"]["tasks"][task]["overall"]
        assert 0 <= overall["roc_auc"] <= 1 and overall["gain_ci95"][0] <= overall["gain"] <= overall["gain_ci95"][1]
    assert set(selfval.extra["report"]["skill"]) == {"QC", "QI"}  # the gate's verdict per task is on record

    again = run_recipe(cfg)
    assert not any(s["ran"] for s in again.stages.values()), again.stages


def test_ablation_shares_stages_and_second_run_is_a_no_op(ray_local, tmp_path, tiny_model):
    tree = _tree(tmp_path, tiny_model)
    tree["selfval"]["enabled"] = False
    config = tmp_path / "ablate.yaml"
    config.write_text(yaml.safe_dump(tree))
    arms = [a for a in ARMS if a.name in ("baseline", "+random_negatives")]
    files = run_ablation(config, arms)
    table = files["md"].read_text()
    assert "| baseline |" in table and "| +random_negatives |" in table and "| *all-positive rule* |" in table
    run = tmp_path / "runs" / "t"
    assert (run / "arms" / "baseline" / "model" / "thresholds.json").is_file()
    # The config switches on random negatives only, so that arm is the recipe's own run: it lives in (and reuses) the
    # run folder that `ecomrel run` of the config writes, not an arm folder.
    folders = {"baseline": run / "arms" / "baseline", "+random_negatives": run}
    assert not (run / "arms" / "+random_negatives").exists()
    base_set = read_manifest(folders["baseline"] / "trainset")
    neg_set = read_manifest(folders["+random_negatives"] / "trainset")
    assert "random_negative" not in base_set.extra["rows_by_source"]
    assert neg_set.output_rows > base_set.output_rows
    with files["csv"].open() as fh:
        base_row, arm_row = list(csv.DictReader(fh))
    assert int(arm_row["train_rows"]) == neg_set.output_rows > int(base_row["train_rows"]) == base_set.output_rows
    assert "random_negative=" in arm_row["rows_by_source"] and base_row["selfval_flagged"] == ""  # self-val off
    for task in ("QC", "QI"):
        for metric in ("f1", "roc_auc"):
            key = f"{task}_overall_{metric}"
            assert base_row[f"{key}_delta"] == "0.0" and base_row[f"{key}_ci95"] == "0.0 0.0"
            lo, hi = map(float, arm_row[f"{key}_ci95"].split())
            delta = float(arm_row[f"{key}_delta"])
            assert lo <= delta <= hi, (key, lo, delta, hi)
        assert 0.5 < float(arm_row[f"{task}_overall_all_positive_f1"]) < 1.0
    assert "## ROC-AUC" in table

    run_ablation(config, arms)  # again: every stage of every arm is current
    for arm in arms:
        stages = json.loads((folders[arm.name] / "recipe.json").read_text())["stages"]
        assert not any(s["ran"] for s in stages.values()), (arm.name, stages)


@pytest.mark.parametrize("spec", ["negatives.hard_fraction=0.1,0.3,0.5"])
def test_sweep_arms_one_per_value(spec):
    from cluster.ablate import sweep_arms

    arms = sweep_arms(spec)
    assert [a.name for a in arms] == [
        "negatives.hard_fraction=0.1",
        "negatives.hard_fraction=0.3",
        "negatives.hard_fraction=0.5",
    ]
    assert all(a.translate and a.negatives and a.selfval for a in arms)
