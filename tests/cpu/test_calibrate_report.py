"""Threshold calibration, the held-out split, the evaluation report and the submission files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score

from ecomrel.artifacts import Thresholds
from evaluation.calibrate import CalibrateConfig, calibrate
from evaluation.report import REPORT_JSON, REPORT_MD, format_f1_table, write_report
from evaluation.submission import read_submission, write_submissions
from pipelines.split import heldout_split

# Hand-made: p >= t for t in (0.30, 0.45] predicts the first five rows -> tp=4, fp=1, fn=0, F1 = 8/9, the best
# of every cut; the grid ties 0.31..0.45 and the rule picks the one nearest 0.5.
HAND_P = [0.95, 0.85, 0.62, 0.58, 0.45, 0.30, 0.20, 0.10]
HAND_Y = [1, 1, 1, 0, 1, 0, 0, 0]


def _scored(task: str, language: str, p, y) -> pd.DataFrame:
    n = len(p)
    return pd.DataFrame(
        {"id": [f"{task}{language}{i}" for i in range(n)], "task": task, "language": language, "p_yes": p, "label": y}
    )


def _calibrate(df: pd.DataFrame, cfg: CalibrateConfig | None = None, **kw) -> Thresholds:
    return calibrate(df, cfg or CalibrateConfig(), "base", "adapter", "dev_labels", 256, **kw)


# --- calibration ---------------------------------------------------------------------------------------------


def test_calibration_picks_the_f1_maximising_threshold():
    from ecomrel.metrics import threshold_sweep

    df = _scored("QC", "en", HAND_P, HAND_Y)
    t = _calibrate(df)
    assert t.tasks == {"QC": 0.45}
    assert t.calibrated_on == "dev_labels" and t.per_language == {}
    sweep = threshold_sweep(HAND_Y, HAND_P).set_index("threshold")
    assert sweep.loc[0.45, "f1"] == pytest.approx(8 / 9, abs=1e-12)
    assert sweep["f1"].max() == pytest.approx(8 / 9, abs=1e-12)


def test_task_without_labels_falls_back_to_seed_and_says_so():
    qc = _scored("QC", "en", HAND_P, HAND_Y)
    qi = _scored("QI", "en", [0.3, 0.7], [-1, -1])  # dev rows without answers
    t = _calibrate(pd.concat([qc, qi]))
    assert t.tasks == {"QC": 0.45, "QI": 0.2}
    assert t.calibrated_on == "seed"
    with pytest.raises(ValueError, match="task XX: no labelled rows and no seed threshold"):
        _calibrate(qc, tasks=["QC", "XX"])


def test_per_language_thresholds_only_with_enough_rows_of_both_classes():
    en = _scored("QC", "en", HAND_P, HAND_Y)
    # es: F1 = 1 for every t in (0.70, 0.75]; the tie rule picks the one nearest 0.5, 0.71.
    es = _scored("QC", "es", [0.9, 0.8, 0.75, 0.7, 0.6, 0.2], [1, 1, 1, 0, 0, 0])
    ja = _scored("QC", "ja", [0.9, 0.8, 0.7, 0.6, 0.5], [1, 1, 1, 1, 1])  # one class: no sweep
    ko = _scored("QC", "ko", [0.9, 0.1, 0.8], [1, 0, 0])  # too few rows
    df = pd.concat([en, es, ja, ko])
    cfg = CalibrateConfig(per_language=True, min_rows_per_language=4)
    t = _calibrate(df, cfg)
    assert t.per_language == {"QC": {"en": 0.45, "es": 0.71}}
    assert t.threshold("QC", "es") == 0.71 and t.threshold("QC", "ko") == t.tasks["QC"]
    assert not _calibrate(df, CalibrateConfig(per_language=False)).per_language


def test_bad_labels_name_the_row():
    df = _scored("QC", "en", [0.5, 0.6], [1, 7])
    with pytest.raises(ValueError, match=r"row id='QCen1': label 7"):
        _calibrate(df)


# --- held-out split ------------------------------------------------------------------------------------------


def _train_frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for task in ("QC", "QI"):
        for language, queries in (("en", 300), ("es", 120), ("ja", 40), ("th", 1)):
            for q in range(queries):
                for k in range(int(rng.integers(1, 6))):
                    rows.append({"task": task, "language": language, "query": f"{language}-q{q}", "k": k})
    return pd.DataFrame(rows)


def test_heldout_split_groups_queries_and_keeps_language_shares():
    df = _train_frame()
    train, held = heldout_split(df, 0.1, seed=3)
    assert len(train) + len(held) == len(df)
    assert set(map(tuple, train[["task", "query"]].values)).isdisjoint(map(tuple, held[["task", "query"]].values))
    for (task, language), g in df.groupby(["task", "language"]):
        share = ((held["task"] == task) & (held["language"] == language)).sum() / len(g)
        if language == "th":  # a single query: holding it out would leave no training data
            assert share == 0
        else:
            assert share == pytest.approx(0.1, abs=0.03), (task, language, share)
    again, _ = heldout_split(df, 0.1, seed=3)
    assert again.equals(train)
    other, _ = heldout_split(df, 0.1, seed=4)
    assert not other.equals(train)


def test_heldout_split_rejects_bad_input():
    with pytest.raises(ValueError, match="fraction"):
        heldout_split(_train_frame(), 0.0)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['language'\]"):
        heldout_split(pd.DataFrame({"task": ["QC"], "query": ["a"]}), 0.1)


# --- report --------------------------------------------------------------------------------------------------


def _dev_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    parts = []
    for task, langs in (("QC", {"en": 80, "es": 60, "de": 50, "ar": 30}), ("QI", {"en": 70, "th": 40})):
        for language, n in langs.items():
            y = rng.binomial(1, 0.65, n)
            p = np.clip(0.35 * y + rng.uniform(0, 0.65, n), 0, 1)
            if language == "ar":
                y = np.full(n, -1)  # zero-shot language without labels
            parts.append(_scored(task, language, p, y))
    return pd.concat(parts, ignore_index=True)


def _independent(rows: pd.DataFrame, threshold) -> dict:
    pred = (rows["p_yes"].to_numpy() >= threshold).astype(int)
    y = rows["label"].to_numpy()
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "f1": f1_score(y, pred),
        "precision": precision_score(y, pred, zero_division=0),
        "recall": recall_score(y, pred),
        "all_positive_f1": f1_score(y, np.ones_like(y)),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def _assert_metrics(got: dict, want: dict):
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=1e-12), k
    assert got["gain"] == pytest.approx(want["f1"] - want["all_positive_f1"], abs=1e-12)


def test_report_numbers_equal_independent_metrics(tmp_path):
    df = _dev_frame()
    thresholds = Thresholds(
        base_model="base",
        adapter="adapter",
        tasks={"QC": 0.5, "QI": 0.42},
        per_language={"QC": {"es": 0.6}},
        calibrated_on="dev_labels",
    )
    zero_shot = {"QC": ["de", "ar", "pl"], "QI": ["vn"]}
    report = write_report(df, thresholds, zero_shot, tmp_path, extra_sections=[("Augmentation", "Later *text*.")])

    assert json.loads((tmp_path / REPORT_JSON).read_text()) == json.loads(json.dumps(report))
    for task, files in report["plots"].items():
        for name in files.values():
            assert (tmp_path / name).stat().st_size > 1000, (task, name)
    assert set(report["plots"]) == {"QC", "QI"}

    qc = report["tasks"]["QC"]
    rows = df[df["task"] == "QC"]
    lab = rows[rows["label"] >= 0]
    thr = np.where(lab["language"] == "es", 0.6, 0.5)
    _assert_metrics(qc["overall"], _independent(lab, thr))
    by_lang = {g["language"]: g for g in qc["languages"]}
    for language, t in (("en", 0.5), ("es", 0.6), ("de", 0.5)):
        _assert_metrics(by_lang[language]["metrics"], _independent(lab[lab["language"] == language], t))
        assert by_lang[language]["threshold"] == t
    seen = lab[lab["language"].isin(["en", "es"])]
    _assert_metrics(qc["seen"], _independent(seen, np.where(seen["language"] == "es", 0.6, 0.5)))
    _assert_metrics(qc["zero_shot"], _independent(lab[lab["language"] == "de"], 0.5))
    assert qc["zero_shot"]["languages"] == ["de"]
    # Zero-shot languages without labels are listed, with no numbers.
    assert by_lang["ar"] == {
        "language": "ar",
        "kind": "zero_shot",
        "rows": 30,
        "labelled_rows": 0,
        "threshold": 0.5,
        "metrics": None,
    }
    assert by_lang["pl"]["rows"] == 0 and by_lang["pl"]["metrics"] is None
    assert qc["unlabelled_zero_shot_languages"] == ["ar", "pl"]
    assert qc["labelled_rows"] == len(lab) and qc["rows"] == len(rows)

    qi = report["tasks"]["QI"]
    qi_rows = df[df["task"] == "QI"]
    _assert_metrics(qi["overall"], _independent(qi_rows, 0.42))
    assert qi["zero_shot"] is None and qi["unlabelled_zero_shot_languages"] == ["vn"]

    md = (tmp_path / REPORT_MD).read_text()
    assert "| ar | zero-shot | 30 | 0 | 0.5000 | no labels |" in md
    assert "Zero-shot languages with no labelled rows, not evaluated: ar, pl." in md
    assert f"{qc['overall']['f1']:.4f}" in md and f"{qc['overall']['all_positive_f1']:.4f}" in md
    assert md.rstrip().endswith("## Augmentation\n\nLater *text*.")

    table = format_f1_table(report)
    assert f"{qc['overall']['f1']:>7.4f} {qc['overall']['all_positive_f1']:>7.4f}" in table
    assert any(line.split()[:2] == ["QC", "ar"] and line.endswith("no labels") for line in table.splitlines())


def test_report_task_without_labels(tmp_path):
    df = _scored("QI", "en", [0.2, 0.9], [-1, -1])
    t = Thresholds(base_model="b", adapter="a", tasks={"QI": 0.2}, calibrated_on="seed")
    report = write_report(df, t, {"QI": []}, tmp_path)
    assert report["tasks"]["QI"]["overall"] is None and report["plots"] == {}
    md = (tmp_path / REPORT_MD).read_text()
    assert "No labelled rows for QI (2 unlabelled): not evaluated." in md
    assert "Thresholds are seed values, not calibrated" in md


# --- submissions ---------------------------------------------------------------------------------------------


def test_submissions_one_line_per_test_row(tmp_path):
    test = pd.DataFrame(
        {
            "id": ["10", "2", "7", "1", "3"],
            "task": ["QC", "QC", "QC", "QI", "QI"],
            "language": ["en", "es", "de", "en", "vn"],
            "query": ["shoes", "zapatos", "schuhe", "earbuds", "tai nghe"],
            "target": ["clothing,shoes", "clothing,shoes", "home,kitchen", "Wireless earbuds", "Tai nghe"],
            "p_yes": [0.45, 0.45, 0.1, 0.25, 0.15],
            "label": -1,
        }
    )
    t = Thresholds(
        base_model="b",
        adapter="a",
        tasks={"QC": 0.4, "QI": 0.2},
        per_language={"QC": {"es": 0.5}},
        calibrated_on="seed",
    )
    unscored = pd.DataFrame([{"id": "5", "task": "QI", "language": "en", "query": "cable", "target": ""}])
    paths = write_submissions(test, t, tmp_path, unscored=unscored)
    assert {k: p.name for k, p in paths.items()} == {"QC": "submit_QC.txt", "QI": "submit_QI.txt"}
    qc = read_submission(paths["QC"])
    assert qc == [
        {"id": 2, "language": "es", "origin_query": "zapatos", "category_path": "clothing,shoes", "prediction": 0},
        {"id": 7, "language": "de", "origin_query": "schuhe", "category_path": "home,kitchen", "prediction": 0},
        {"id": 10, "language": "en", "origin_query": "shoes", "category_path": "clothing,shoes", "prediction": 1},
    ]
    qi = read_submission(paths["QI"])
    assert [(r["id"], r["item_title"], r["prediction"]) for r in qi] == [
        (1, "Wireless earbuds", 1),
        (3, "Tai nghe", 0),
        (5, "", 1),
    ]
    assert len(paths["QI"].read_text(encoding="utf-8").splitlines()) == 3


def test_submission_keeps_non_numeric_ids_and_rejects_duplicates(tmp_path):
    test = pd.DataFrame(
        {"id": ["b7", "a1"], "task": "QC", "language": "en", "query": "q", "target": "a,b", "p_yes": [0.9, 0.1]}
    )
    t = Thresholds(base_model="b", adapter="a", tasks={"QC": 0.4}, calibrated_on="seed")
    recs = read_submission(write_submissions(test, t, tmp_path)["QC"])
    assert [(r["id"], r["prediction"]) for r in recs] == [("a1", 0), ("b7", 1)]
    with pytest.raises(ValueError, match="task QC: id 'a1' appears more than once"):
        write_submissions(pd.concat([test, test.iloc[[1]]]), t, tmp_path)
    bad = tmp_path / "bad.txt"
    bad.write_text('{"id": 1, "prediction": 0}\n{"id": 2, "prediction": 0.5}\n')
    with pytest.raises(ValueError, match=r"bad.txt:2: prediction 0.5 is not 0 or 1"):
        read_submission(bad)
