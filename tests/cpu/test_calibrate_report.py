"""Threshold calibration, the held-out split, the evaluation report and the submission files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from ecomrel.artifacts import Thresholds
from ecomrel.metrics import best_score_threshold, paired_bootstrap_f1_delta, ranking_metrics
from evaluation.calibrate import CalibrateConfig, calibrate, score_thresholds
from evaluation.report import (
    NO_BASELINE,
    REPORT_JSON,
    REPORT_MD,
    CosineBaseline,
    format_f1_table,
    with_cosine,
    write_report,
)
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


# --- thresholds on scores that are not probabilities, ranking metrics ----------------------------------------


def _sklearn_best(y, scores) -> tuple[float, float]:
    """Independently: the F1-maximising cut on scikit-learn's precision-recall curve; ties -> highest threshold."""
    precision, recall, thresholds = precision_recall_curve(y, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point (recall 0) has no threshold
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=recall > 0)
    return float(thresholds[np.isclose(f1, f1.max())].max()), float(f1.max())


def test_score_threshold_is_the_f1_maximiser_over_the_scores_own_values():
    # Hand-made: cut at 0.5 -> tp=3, fp=1, fn=0, F1 = 6/7; 0.8 -> 2/3, 0.9 -> 1/2, 0.3 (all) -> 3/4.
    assert best_score_threshold([1, 0, 1, 1, 0], [0.9, 0.8, 0.8, 0.5, 0.3]) == pytest.approx((0.5, 6 / 7))
    # Cosines in a narrow band the 0.05..0.95 probability grid cannot cut: the sweep uses the values themselves.
    rng = np.random.default_rng(5)
    for _ in range(20):
        y = rng.binomial(1, 0.6, 300)
        cos = np.round(0.955 + 0.02 * y + rng.normal(0, 0.01, 300), 3)  # rounded: many equal scores
        got, f1 = best_score_threshold(y, cos)
        want, want_f1 = _sklearn_best(y, cos)
        assert got == want and f1 == pytest.approx(want_f1, abs=1e-12)
        brute = max(f1_score(y, (cos >= t).astype(int)) for t in np.unique(cos))
        assert f1 == pytest.approx(brute, abs=1e-12) and f1 > f1_score(y, np.ones_like(y))
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        best_score_threshold([1, -1], [0.2, 0.3])


def test_score_thresholds_per_task_on_labelled_rows_only():
    rng = np.random.default_rng(2)
    parts = []
    for task in ("QC", "QI"):
        y = rng.binomial(1, 0.5, 80)
        parts.append(_scored(task, "en", rng.uniform(size=80), y).assign(cosine=0.2 * y + rng.normal(0.4, 0.1, 80)))
    unlabelled = _scored("QI", "en", [0.5], [-1]).assign(cosine=[-5.0])  # would be the lowest cut if counted
    df = pd.concat([*parts, unlabelled], ignore_index=True)
    got = score_thresholds(df, "cosine")
    assert got == {t: _sklearn_best(p["label"], p["cosine"])[0] for t, p in zip(("QC", "QI"), parts, strict=True)}
    assert score_thresholds(unlabelled, "cosine") == {}
    with pytest.raises(ValueError, match="cosine is missing"):
        score_thresholds(parts[0].assign(cosine=np.nan), "cosine")


def test_ranking_metrics_and_one_class():
    y, s = [0, 1, 1, 0, 1], [0.1, 0.8, 0.4, 0.35, 0.9]
    # By hand: 6 (pos, neg) pairs, 6 ordered right -> ROC-AUC 1; AP = 1 too. Swap one: 5/6.
    assert ranking_metrics(y, s) == {"roc_auc": 1.0, "pr_auc": 1.0}
    assert ranking_metrics(y, [0.1, 0.8, 0.3, 0.35, 0.9])["roc_auc"] == pytest.approx(5 / 6)
    assert ranking_metrics(y, [0.1, 0.8, 0.3, 0.35, 0.9])["pr_auc"] == pytest.approx((1 + 1 + 3 / 4) / 3)
    assert ranking_metrics([1, 1, 1], [0.2, 0.5, 0.9]) == {"roc_auc": None, "pr_auc": None}


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
        "baselines": {"embedding_cosine": None},
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

    # Threshold-free ranking figures of the model, independently; the gain's paired-bootstrap interval.
    de = lab[lab["language"] == "de"]
    for got, sub in ((qc["overall"], lab), (qc["seen"], seen), (by_lang["de"]["metrics"], de)):
        assert got["roc_auc"] == pytest.approx(roc_auc_score(sub["label"], sub["p_yes"]), abs=1e-12)
        assert got["pr_auc"] == pytest.approx(average_precision_score(sub["label"], sub["p_yes"]), abs=1e-12)
    y = lab["label"].to_numpy()
    pred = (lab["p_yes"].to_numpy() >= thr).astype(int)
    assert qc["overall"]["gain_ci95"] == list(paired_bootstrap_f1_delta(y, np.ones_like(y), pred))
    lo, hi = qc["overall"]["gain_ci95"]
    assert lo < qc["overall"]["gain"] < hi and hi - lo > 0.01
    # No `embed` section: no baseline, said plainly at the top and on the console; nothing to call out.
    assert report["embedding_baseline"] is None and report["callouts"] == []
    assert qc["baselines"] == {"embedding_cosine": None} and qc["seen"]["baselines"] == {"embedding_cosine": None}
    assert by_lang["en"]["baselines"] == {"embedding_cosine": None}
    assert md.index(NO_BASELINE) < md.index("## Summary") and "## Embedding-cosine baseline" not in md
    assert table.splitlines()[0] == NO_BASELINE


def test_report_task_without_labels(tmp_path):
    df = _scored("QI", "en", [0.2, 0.9], [-1, -1])
    t = Thresholds(base_model="b", adapter="a", tasks={"QI": 0.2}, calibrated_on="seed")
    report = write_report(df, t, {"QI": []}, tmp_path)
    assert report["tasks"]["QI"]["overall"] is None and report["plots"] == {}
    md = (tmp_path / REPORT_MD).read_text()
    assert "No labelled rows for QI (2 unlabelled): not evaluated." in md
    assert "Thresholds are seed values, not calibrated" in md


# --- the embedding-cosine baseline in the report -------------------------------------------------------------


def _with_cos(task, language, n, model_skill, cos_skill, rng, prefix, one_class=False) -> pd.DataFrame:
    """Rows whose P(yes) separates the classes by ``model_skill`` and whose cosine (on its own scale, not 0..1)
    by ``cos_skill``."""
    y = np.ones(n, dtype=int) if one_class else rng.binomial(1, 0.6, n)
    p = np.clip(model_skill * y + rng.uniform(0, 1 - model_skill, n), 0, 1)
    df = _scored(task, language, p, y)
    return df.assign(id=prefix + df["id"], cosine=cos_skill * y + rng.normal(0.3, 0.1, n))


def _baseline_sets() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(calibration rows, evaluated rows): on QC the model barely ranks and the cosine does well; on QI the reverse."""
    rng = np.random.default_rng(7)
    sets = []
    for prefix in ("c", "e"):
        sets.append(
            pd.concat(
                [
                    _with_cos("QC", "en", 150, 0.05, 0.25, rng, prefix),
                    _with_cos("QC", "de", 70, 0.05, 0.25, rng, prefix),
                    _with_cos("QC", "ja", 15, 0.05, 0.25, rng, prefix, one_class=True),
                    _with_cos("QI", "en", 120, 0.5, 0.02, rng, prefix),
                    _with_cos("QI", "th", 60, 0.5, 0.02, rng, prefix),
                ],
                ignore_index=True,
            )
        )
    return sets[0], sets[1]


def _independent_cosine(rows: pd.DataFrame, threshold: float) -> dict:
    y, cos = rows["label"].to_numpy(), rows["cosine"].to_numpy()
    pred = (cos >= threshold).astype(int)
    out = {
        "threshold": threshold,
        "f1": f1_score(y, pred),
        "precision": precision_score(y, pred, zero_division=0),
        "recall": recall_score(y, pred),
    }
    if len(set(y)) == 2:
        out |= {"roc_auc": roc_auc_score(y, cos), "pr_auc": average_precision_score(y, cos)}
    return out


def test_report_puts_the_model_beside_the_embedding_cosine_baseline(tmp_path):
    calib, evaluated = _baseline_sets()
    thresholds = Thresholds(base_model="b", adapter="a", tasks={"QC": 0.5, "QI": 0.45}, calibrated_on="dev_labels")
    baseline = CosineBaseline.tune("tiny-e5", calib)
    # The baseline's threshold: F1-maximising on the calibration cosines, per task (not on the evaluated rows).
    want_t = {t: _sklearn_best(g["label"], g["cosine"])[0] for t, g in calib.groupby("task")}
    assert baseline.thresholds == want_t
    qc_calib = calib.loc[calib["task"] == "QC", "cosine"]
    assert qc_calib.min() < want_t["QC"] < qc_calib.max()  # a real cut, not "everything relevant"
    report = write_report(evaluated, thresholds, {"QC": ["de"], "QI": ["th"]}, tmp_path, baseline=baseline)
    assert report["embedding_baseline"] == {"model": "tiny-e5", "thresholds": want_t}

    for task in ("QC", "QI"):
        e, rows = report["tasks"][task], evaluated[evaluated["task"] == task]
        zs = rows["language"].isin(["de"] if task == "QC" else ["th"])
        cases = [(e["overall"], e["baselines"], rows), (e["seen"], e["seen"]["baselines"], rows[~zs])]
        cases += [(e["zero_shot"], e["zero_shot"]["baselines"], rows[zs])]
        cases += [(g["metrics"], g["baselines"], rows[rows["language"] == g["language"]]) for g in e["languages"]]
        for model, base, sub in cases:
            _assert_metrics(model, _independent(sub, thresholds.tasks[task]))
            want = _independent_cosine(sub, want_t[task])
            got = base["embedding_cosine"]
            for k, v in want.items():
                assert got[k] == pytest.approx(v, abs=1e-12), (task, k)
            if sub["label"].nunique() == 2:
                assert model["roc_auc"] == pytest.approx(roc_auc_score(sub["label"], sub["p_yes"]), abs=1e-12)
            else:  # ja: one class, no ranking to measure
                assert model["roc_auc"] is model["pr_auc"] is got["roc_auc"] is got["pr_auc"] is None

    qc, qi = report["tasks"]["QC"], report["tasks"]["QI"]
    assert qc["overall"]["roc_auc"] < qc["baselines"]["embedding_cosine"]["roc_auc"]
    assert qi["overall"]["roc_auc"] > qi["baselines"]["embedding_cosine"]["roc_auc"]
    sentence = (
        f"QC: the model ranks below the untrained embedding-cosine baseline (ROC-AUC "
        f"{qc['overall']['roc_auc']:.4f} vs {qc['baselines']['embedding_cosine']['roc_auc']:.4f})."
    )
    assert report["callouts"] == [sentence]  # QI ranks above its baseline: no sentence
    md = (tmp_path / REPORT_MD).read_text()
    assert md.startswith(f"# Evaluation report\n\n**{sentence}**\n") and "QI: the model ranks below" not in md
    assert NO_BASELINE not in md and "## Embedding-cosine baseline" in md and "`tiny-e5`" in md
    b = qc["baselines"]["embedding_cosine"]
    assert f"| QC | {b['threshold']:.4f} | {b['f1']:.4f} | {b['precision']:.4f} |" in md
    o = qc["overall"]
    lo, hi = o["gain_ci95"]
    assert f"| {o['roc_auc']:.4f} | {o['pr_auc']:.4f} | {b['f1']:.4f} | {b['roc_auc']:.4f} |" in md
    assert f"[{lo:+.4f}, {hi:+.4f}]" in md
    table = format_f1_table(report)
    assert table.splitlines()[0] == sentence
    assert f"{o['roc_auc']:>7.4f} {b['f1']:>7.4f} {b['roc_auc']:>7.4f}" in table
    ja = next(line for line in table.splitlines() if line.split()[:2] == ["QC", "ja"])
    ja_f1 = next(g for g in qc["languages"] if g["language"] == "ja")["baselines"]["embedding_cosine"]["f1"]
    assert ja.split()[-3:] == ["—", f"{ja_f1:.4f}", "—"]


def test_no_call_out_when_the_model_ranks_as_well_as_the_baseline(tmp_path):
    calib, evaluated = _baseline_sets()
    evaluated = evaluated.assign(cosine=evaluated["p_yes"] * 2 - 1)  # the same ranking on another scale
    thresholds = Thresholds(base_model="b", adapter="a", tasks={"QC": 0.5, "QI": 0.45}, calibrated_on="dev_labels")
    report = write_report(evaluated, thresholds, {}, tmp_path, baseline=CosineBaseline.tune("e5", calib))
    for e in report["tasks"].values():
        assert e["overall"]["roc_auc"] == pytest.approx(e["baselines"]["embedding_cosine"]["roc_auc"], abs=1e-12)
    assert report["callouts"] == [] and "ranks below" not in (tmp_path / REPORT_MD).read_text()


def test_with_cosine_joins_by_task_and_id():
    scored = pd.DataFrame({"task": ["QC", "QI", "QC"], "id": ["1", "1", "2"], "p_yes": [0.1, 0.2, 0.3]})
    cos = pd.DataFrame({"task": ["QC", "QC", "QI", "QI"], "id": ["2", "1", "1", "9"], "cosine": [0.5, 0.6, 0.7, 0.0]})
    assert with_cosine(scored, cos)["cosine"].tolist() == [0.6, 0.7, 0.5]
    with pytest.raises(ValueError, match="scored row task QC id '2' has no baseline cosine"):
        with_cosine(scored, cos.iloc[1:])
    with pytest.raises(ValueError, match="baseline rows: task QC id '1' appears more than once"):
        with_cosine(scored, pd.concat([cos, cos.iloc[[1]]]))


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
