"""The core contracts: category paths, languages, prompts, the two-logit math, metrics, configs, manifests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cluster.config import RecipeConfig, load_config
from ecomrel import languages
from ecomrel.config import ConfigError
from ecomrel.manifest import Manifest, fingerprint, is_current, run_stage
from ecomrel.metrics import (
    all_positive_f1,
    best_threshold,
    paired_bootstrap_auc_delta,
    paired_bootstrap_f1_delta,
    prf1,
    threshold_sweep,
)
from ecomrel.prompts import build_prompt, response_cue, shared_prefix
from ecomrel.schema import split_category_path, top_level
from ecomrel.scoring import AnswerTokens, p_yes, two_logits

REPO = Path(__file__).resolve().parents[2]


def test_category_path_splits_on_comma_not_followed_by_space():
    path = "automobiles, parts & accessories,car electronics,dash cams"
    assert split_category_path(path) == ["automobiles, parts & accessories", "car electronics", "dash cams"]
    assert split_category_path("home & garden,garden supplies,fountains & bird baths") == [
        "home & garden",
        "garden supplies",
        "fountains & bird baths",
    ]
    assert top_level(path) == "automobiles, parts & accessories"


def test_language_codes_use_vn_and_map_to_iso():
    assert "vn" in languages.LANGUAGES and "vi" not in languages.LANGUAGES
    assert languages.to_iso("vn") == "vi" and languages.from_iso("vi") == "vn"
    assert languages.to_iso("ja") == "ja"
    with pytest.raises(KeyError):
        languages.to_iso("xx")


def test_prompts_share_a_task_prefix_and_end_at_the_answer():
    a = build_prompt("QC", "red dress", "women,dresses")
    b = build_prompt("QC", "vestido", "women,clothing, shoes & jewelry,dresses")
    assert a.startswith(shared_prefix("QC")) and b.startswith(shared_prefix("QC"))
    assert a.endswith("### Response:\n")
    assert "Category path: women > dresses" in a
    assert "clothing, shoes & jewelry" in b  # a level with ', ' stays one level
    assert shared_prefix("QC") != shared_prefix("QI")
    assert "Item title: Nike Air Max" in build_prompt("QI", "nike", "Nike Air Max")


def test_compact_template_shares_a_shorter_task_prefix():
    a = build_prompt("QC", "red dress", "women,dresses", "compact")
    b = build_prompt("QC", "vestido", "women,dresses", "compact")
    assert a.startswith(shared_prefix("QC", "compact")) and b.startswith(shared_prefix("QC", "compact"))
    assert a.endswith(response_cue("compact")) and "Category path: women > dresses" in a
    assert shared_prefix("QC", "compact") != shared_prefix("QI", "compact")
    assert len(shared_prefix("QC", "compact")) < len(shared_prefix("QC")) / 4  # 75 vs 358 characters
    assert build_prompt("QI", "nike", "Nike Air Max", "alpaca") == build_prompt("QI", "nike", "Nike Air Max")
    with pytest.raises(ValueError, match="unknown prompt template"):
        shared_prefix("QC", "chatml")


def test_p_yes_is_two_way_softmax():
    assert p_yes(0.0, 0.0) == pytest.approx(0.5)
    l_no, l_yes = 1.3, -0.4
    expected = np.exp(l_yes) / (np.exp(l_yes) + np.exp(l_no))
    assert p_yes(l_no, l_yes) == pytest.approx(expected)
    t = p_yes(torch.tensor([1.3]), torch.tensor([-0.4]))
    assert float(t[0]) == pytest.approx(expected, rel=1e-6)


def test_two_logits_equal_the_full_head_on_the_answer_rows():
    torch.manual_seed(0)
    hidden = torch.randn(5, 16)
    weight = torch.randn(100, 16)
    toks = AnswerTokens(no=7, yes=42)
    full = hidden @ weight.T
    assert torch.allclose(two_logits(hidden, weight, toks), full[:, [7, 42]], atol=1e-6)
    capped = two_logits(hidden, weight, toks, softcap=3.0)
    assert torch.allclose(capped, torch.tanh(full[:, [7, 42]] / 3.0) * 3.0, atol=1e-6)


def test_prf1_and_all_positive_baseline():
    y = [1, 1, 1, 0, 0]
    m = prf1(y, [1, 0, 1, 1, 0])
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 1)
    assert m["f1"] == pytest.approx(2 / 3)
    # all-positive: precision 3/5, recall 1 -> F1 = 0.75
    assert all_positive_f1(y) == pytest.approx(0.75)


def test_best_threshold_maximises_f1_on_a_hand_made_example():
    y = np.array([1, 1, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.35, 0.3, 0.1])
    t, f1 = best_threshold(y, p, grid=[0.2, 0.32, 0.5, 0.75])
    # >=0.32 -> predictions 1,1,1,1,0,0: tp=3 fp=1 -> F1 = 6/7; no other threshold does better
    assert t == 0.32 and f1 == pytest.approx(6 / 7)
    sweep = threshold_sweep(y, p, grid=[0.2, 0.32, 0.5, 0.75])
    assert sweep["f1"].idxmax() == 1


def test_paired_bootstrap_interval_brackets_the_delta_and_shrinks_with_rows():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    base = np.where(rng.random(400) < 0.7, y, 1 - y)  # ~70% right
    same = paired_bootstrap_f1_delta(y, base, base)
    assert same == (0.0, 0.0)  # identical predictions: zero on every resample
    better = np.where(rng.random(400) < 0.5, y, base)  # strictly closer to the labels
    lo, hi = paired_bootstrap_f1_delta(y, base, better)
    delta = prf1(y, better)["f1"] - prf1(y, base)["f1"]
    assert lo < delta < hi and lo > 0  # a large improvement on 400 rows is outside the noise
    lo_small, hi_small = paired_bootstrap_f1_delta(y[:40], base[:40], better[:40])
    assert hi_small - lo_small > 2 * (hi - lo)  # 10x fewer rows: a much wider interval
    with pytest.raises(ValueError, match="equal"):
        paired_bootstrap_f1_delta(y, base[:10], better)
    with pytest.raises(ValueError, match="0 or 1"):
        paired_bootstrap_f1_delta(y, base, better * 2)
    # the cell-count draw is the row resample in distribution: same interval as resampling rows, to sampling error
    idx = np.random.default_rng(7).integers(0, len(y), size=(4000, len(y)))
    rows = [prf1(y[i], better[i])["f1"] - prf1(y[i], base[i])["f1"] for i in idx]
    assert (lo, hi) == pytest.approx(tuple(np.quantile(rows, [0.025, 0.975])), abs=0.01)


def test_paired_bootstrap_auc_interval_brackets_the_delta_and_matches_row_resampling():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    base = y + rng.normal(0, 1.2, 400)  # AUC ~0.72
    same = paired_bootstrap_auc_delta(y, base, base)
    assert same == (0.0, 0.0)
    better = y + rng.normal(0, 0.6, 400)  # AUC ~0.9
    lo, hi = paired_bootstrap_auc_delta(y, base, better)
    delta = roc_auc_score(y, better) - roc_auc_score(y, base)
    assert 0 < lo < delta < hi
    # Ties count one half, as in sklearn: rounded scores give the same point estimate on a unit resample.
    from ecomrel.metrics import _weighted_auc

    coarse = np.round(base, 0)
    unit_pos, unit_neg = (y == 1)[None, :].astype(float), (y == 0)[None, :].astype(float)
    assert _weighted_auc(unit_pos, unit_neg, coarse)[0] == pytest.approx(roc_auc_score(y, coarse))
    # The multiplicity draw is the row resample: same interval as resampling rows with sklearn, to sampling error.
    idx = np.random.default_rng(7).integers(0, len(y), size=(2000, len(y)))
    rows = [roc_auc_score(y[i], better[i]) - roc_auc_score(y[i], base[i]) for i in idx]
    assert (lo, hi) == pytest.approx(tuple(np.quantile(rows, [0.025, 0.975])), abs=0.01)
    with pytest.raises(ValueError, match="both present"):
        paired_bootstrap_auc_delta(np.ones(10), base[:10], better[:10])
    with pytest.raises(ValueError, match="NaN"):  # a NaN would rank as its own score, silently
        paired_bootstrap_auc_delta(y, base, np.where(y == 1, np.nan, better))


def test_every_shipped_config_loads():
    configs = sorted((REPO / "configs").glob("*.yaml"))
    assert configs, "no configs shipped"
    for path in configs:
        cfg = load_config(path)
        assert isinstance(cfg, RecipeConfig) and cfg.name


def test_config_overrides_and_errors_name_the_field(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nruns_dir: ${RUNS_ROOT:-/tmp/r}\nmake_data: {rows: 100}\n")
    cfg = load_config(path, ["make_data.rows=300", "make_data.seed=7"])
    assert cfg.make_data.rows == 300 and cfg.make_data.seed == 7 and cfg.runs_dir == "/tmp/r"
    monkeypatch.setenv("RUNS_ROOT", "/data/runs")
    assert load_config(path).runs_dir == "/data/runs"
    with pytest.raises(ConfigError, match="make_data.rowz"):
        load_config(path, ["make_data.rowz=3"])
    with pytest.raises(ConfigError, match="make_data.rows"):
        load_config(path, ["make_data.rows=-1"])
    with pytest.raises(ConfigError, match="negatives.*range_min < range_max <= top_k"):
        load_config(path, ["negatives.top_k=10"])  # the hard-negative window [1, 20) no longer fits
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_stage_manifest_skips_current_stage_and_reruns_on_change(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("a\n")
    out = tmp_path / "stage"
    calls = []

    def body(m: Manifest) -> None:
        calls.append(1)
        m.input_rows = m.output_rows = 1

    m, ran = run_stage("s", out, "cfg1", [src], body)
    assert ran and json.loads((out / "manifest.json").read_text())["output_rows"] == 1
    assert not run_stage("s", out, "cfg1", [src], body)[1]
    assert run_stage("s", out, "cfg2", [src], body)[1]  # config changed
    src.write_text("b\n")
    assert not is_current(out, "cfg2", [src])  # input changed
    assert len(calls) == 2
    assert fingerprint(out) != fingerprint(src)


def test_a_stage_empties_only_its_own_folder(tmp_path):
    """A stage clears its folder before writing; a folder it did not make (the user's input files) is refused
    untouched, while its own folder, even killed before its manifest was written, is emptied."""
    user = tmp_path / "user"
    user.mkdir()
    (user / "train_QC.txt").write_text("{}\n")

    def body(m: Manifest) -> None:
        (Path(m.stage) / "out.txt").write_text("x")

    with pytest.raises(FileExistsError, match=r"not an ecomrel stage folder \(it holds train_QC.txt"):
        run_stage(str(user), user, "cfg", [], body)
    assert sorted(p.name for p in user.iterdir()) == ["train_QC.txt"]

    own = tmp_path / "own"
    run_stage(str(own), own, "cfg", [], body)
    (own / "manifest.json").unlink()  # as if killed after writing, before its manifest
    (own / "partial.parquet").write_text("half")
    run_stage(str(own), own, "cfg", [], body)
    assert sorted(p.name for p in own.iterdir()) == [".ecomrel-stage", "manifest.json", "out.txt"]


def test_manifest_accounting_must_add_up():
    good = Manifest(stage="x", input_rows=5, output_rows=3, quarantined_rows=2, quarantined_by_reason={"a": 2})
    good.check_accounting()
    with pytest.raises(AssertionError):
        Manifest(
            stage="x", input_rows=5, output_rows=3, quarantined_rows=1, quarantined_by_reason={"a": 1}
        ).check_accounting()
