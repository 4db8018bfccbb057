"""The embedding-cosine baseline stage, and the report stage that puts the model beside it.

The embedder is test_negatives' bag-of-words sentence-transformers model: texts sharing words are similar, so the
fixture's relevant pairs (the target names the query's words) get high cosines and the others low ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from test_negatives import build_bag_of_words_st

from ecomrel.artifacts import Thresholds
from ecomrel.manifest import Manifest, read_manifest, write_manifest
from ecomrel.records import read_records, write_records
from ecomrel.schema import RECORD_COLUMNS
from evaluation.report import REPORTS_JSON, report_stage
from pipelines.baseline import baseline_stage
from pipelines.embed import EmbedConfig, Embedder

QUERIES = {
    "QC": ["running shoes", "garden hose", "phone case", "kitchen knife", "wireless earbuds", "yoga mat"],
    "QI": ["trail running shoes", "long garden hose", "leather phone case", "chef kitchen knife", "earbuds"],
}
OTHERS = ["books,novels", "toys,puzzles", "beauty,hair,shampoo", "automotive,tools", "pet,dog,food"]


def _rows() -> pd.DataFrame:
    """Per query one relevant target (its words) and two irrelevant ones, spread over calib and test."""
    rows = []
    for task, queries in QUERIES.items():
        for q, query in enumerate(queries):
            words = query.split()
            relevant = ",".join(["shop", *words]) if task == "QC" else f"Best {query} for sale"
            pairs = [(relevant, 1), (OTHERS[q % 5], 0), (OTHERS[(q + 2) % 5], 0)]
            for k, (target, label) in enumerate(pairs):
                split = "test" if (q + k) % 3 == 0 else "calib"
                rows.append(
                    {
                        "id": f"{q}-{k}",
                        "task": task,
                        "split": split,
                        "language": "en" if q % 2 else "es",
                        "query": query,
                        "target": target,
                        "label": label,
                        "source": "original",
                        "parent_id": None,
                    }
                )
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)


@pytest.fixture(scope="module")
def st_model(tmp_path_factory) -> Path:
    rows = _rows()
    return build_bag_of_words_st(tmp_path_factory.mktemp("tiny_st"), [*rows["query"], *rows["target"]])


@pytest.fixture(scope="module")
def split_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("split")
    rows = _rows()
    for name in ("calib", "test"):
        write_records(rows[rows["split"] == name], root / name / "data")
    return root


@pytest.fixture(scope="module")
def ray_data(ray_local):
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    return ray_local


def _counting_embedder(log: Path) -> type[Embedder]:
    class CountingEmbedder(Embedder):
        def encode(self, texts, kind):
            with log.open("a") as fh:
                fh.writelines(f"{kind}\t{t}\n" for t in texts)
            return super().encode(texts, kind)

    return CountingEmbedder


@pytest.fixture(scope="module")
def baseline_dir(st_model, split_dir, ray_data, tmp_path_factory) -> tuple[Path, EmbedConfig, Path]:
    out = tmp_path_factory.mktemp("run") / "baseline"
    log = out.parent / "calls.tsv"
    cfg = EmbedConfig(model=str(st_model), batch_size=4, concurrency=2)
    manifest, ran = baseline_stage(cfg, split_dir, out, embedder_cls=_counting_embedder(log))
    assert ran
    return out, cfg, log


def test_baseline_stage_writes_the_cosine_of_every_calib_and_test_row(baseline_dir, split_dir):
    out, cfg, log = baseline_dir
    embedder = Embedder(cfg)  # in-process, the same model and prompts the actors ran
    total = 0
    for name in ("calib", "test"):
        got = read_records(out / name)
        want = read_records(split_dir / name)
        assert list(got.columns) == [*RECORD_COLUMNS, "cosine"] and got["cosine"].dtype == np.float64
        pd.testing.assert_frame_equal(got[RECORD_COLUMNS], want)
        q = embedder.encode(want["query"].tolist(), "query").astype(np.float64)
        p = embedder.encode(want["target"].tolist(), "passage").astype(np.float64)
        direct = (q * p).sum(axis=1) / (np.linalg.norm(q, axis=1) * np.linalg.norm(p, axis=1))
        np.testing.assert_allclose(got["cosine"], direct, atol=1e-6)
        # The fixture's ground truth: every relevant pair is closer than every irrelevant pair of the same task.
        for _, g in got.groupby("task"):
            assert g.loc[g["label"] == 1, "cosine"].min() > g.loc[g["label"] == 0, "cosine"].max()
        total += len(got)
    m = read_manifest(out)
    assert m.stage == "baseline" and m.input_rows == m.output_rows == total == len(_rows())
    assert m.extra == {
        "calib_rows": m.extra["calib_rows"],
        "test_rows": total - m.extra["calib_rows"],
        "model": cfg.model,
    }
    # One pass for both sets: each unique (kind, text) embedded exactly once, though queries recur across sets.
    calls = [tuple(line.split("\t")) for line in log.read_text().splitlines()]
    rows = _rows()
    assert sorted(calls) == sorted({("query", t) for t in rows["query"]} | {("passage", t) for t in rows["target"]})
    assert baseline_stage(cfg, split_dir, out)[1] is False  # current: skipped


def _scored(split_dir: Path, name: str, p_of) -> Path:
    """A fake ``score_*`` folder: the split's rows with P(yes) from ``p_of(row)``."""
    rows = read_records(split_dir / name)
    rows["p_yes"] = [p_of(r) for r in rows.itertuples()]
    folder = split_dir.parent / f"score_{name}"
    write_records(rows, folder / "data", extra_columns=True)
    return folder


def test_report_stage_with_the_baseline(baseline_dir, split_dir, tmp_path):
    out, cfg, _ = baseline_dir
    rng = np.random.default_rng(0)
    # QC: a model that ranks no better than chance; QI: one that ranks perfectly.
    p_of = lambda r: float(rng.uniform()) if r.task == "QC" else 0.2 + 0.6 * r.label  # noqa: E731
    calib, test = _scored(split_dir, "calib", p_of), _scored(split_dir, "test", p_of)
    model = tmp_path / "model"
    model.mkdir()
    Thresholds(base_model="b", adapter="a", tasks={"QC": 0.5, "QI": 0.5}, calibrated_on="dev_labels").save(
        model / "thresholds.json"
    )
    audit, ingested = tmp_path / "audit", tmp_path / "ingest"
    write_manifest(audit, Manifest(stage="audit", extra={"zero_shot": {"QC": ["en"], "QI": []}}))
    write_manifest(ingested, Manifest(stage="ingest"))
    report_dir = tmp_path / "report"
    manifest, ran = report_stage([], calib, test, model, audit, ingested, out, report_dir)
    assert ran and manifest.extra["embedding_baseline"]["model"] == cfg.model
    reports = json.loads((report_dir / REPORTS_JSON).read_text())
    assert set(reports) == {"calib", "test"}
    base_calib = read_records(out / "calib")
    for name, rep in reports.items():
        rows = read_records(out / name).merge(read_records(calib if name == "calib" else test)[["task", "id", "p_yes"]])
        for task, e in rep["tasks"].items():
            t_rows = rows[rows["task"] == task]
            b = e["baselines"]["embedding_cosine"]
            # Tuned on the calibration rows, for the test report too: the lowest relevant calibration cosine.
            t_calib = base_calib[base_calib["task"] == task]
            assert b["threshold"] == t_calib.loc[t_calib["label"] == 1, "cosine"].min()
            assert b["f1"] == 1.0 and b["roc_auc"] == 1.0  # bag of words separates the fixture perfectly
            assert e["overall"]["roc_auc"] == pytest.approx(roc_auc_score(t_rows["label"], t_rows["p_yes"]))
            assert e["seen"]["baselines"]["embedding_cosine"]["roc_auc"] == 1.0
        assert rep["callouts"] == [
            "QC: the model ranks below the untrained embedding-cosine baseline "
            f"(ROC-AUC {rep['tasks']['QC']['overall']['roc_auc']:.4f} vs 1.0000)."
        ]  # QI ranks perfectly: not below
        md = (report_dir / name / "report.md").read_text()
        assert md.splitlines()[2] == f"**{rep['callouts'][0]}**"
    # Without the baseline folder the report says so, and the stage runs again (its inputs changed).
    manifest, ran = report_stage([], calib, test, model, audit, ingested, None, report_dir)
    assert ran and manifest.extra["embedding_baseline"] is None
    md = (report_dir / "calib" / "report.md").read_text()
    assert "No embedding baseline was computed" in md and "ranks below" not in md
