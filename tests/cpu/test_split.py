"""The split stage: dev labels when a task has them, else a held-out share of whole queries, decided per row by a
stable hash; unlabelled dev rows counted and dropped; every output a record dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecomrel.records import read_records, write_records
from ecomrel.schema import RECORD_SCHEMA
from pipelines.split import SplitConfig, held_out, split_stage


def _rows(task: str, split: str, queries: int, per_query: int, labelled: bool, first: int) -> list[dict]:
    langs = ["en", "es"] if task == "QC" else ["en", "th"]
    return [
        {
            "id": str(first + q * per_query + r),
            "task": task,
            "split": split,
            "language": langs[q % 2],
            "query": f"{split} {task} query {q}",
            "target": f"target {r}",
            "label": (q + r) % 2 if labelled else -1,
            "source": "original",
            "parent_id": None,
        }
        for q in range(queries)
        for r in range(per_query)
    ]


def test_split_uses_dev_labels_or_holds_out_whole_queries(ray_local, tmp_path):
    rows = (
        _rows("QC", "train", 100, 2, True, 0)
        + _rows("QC", "dev", 15, 2, True, 1000)
        + _rows("QC", "dev", 5, 2, False, 2000)
        + _rows("QC", "test", 10, 2, False, 3000)
        + _rows("QI", "train", 1600, 2, True, 10_000)
        + _rows("QI", "dev", 25, 2, False, 20_000)
        + _rows("QI", "test", 5, 2, False, 30_000)
    )
    df = pd.DataFrame(rows)
    df["label"] = df["label"].astype(np.int8)
    half = len(df) // 2  # two files, as ingest writes a folder of them
    first = write_records(df.iloc[:half], tmp_path / "ingest" / "data", name="a.parquet")
    pq.write_table(
        pa.Table.from_pandas(df.iloc[half:], schema=RECORD_SCHEMA, preserve_index=False), first.with_name("b.parquet")
    )
    assert len(read_records(tmp_path / "ingest")) == len(df)

    m, ran = split_stage(
        SplitConfig(validation_fraction=0.2, seed=3), ["QC", "QI"], tmp_path / "ingest", tmp_path / "s"
    )
    assert ran and m.extra["calibrated_on"] == {"QC": "dev_labels", "QI": "heldout_train"}
    parts = {name: read_records(tmp_path / "s" / name) for name in ("train", "calib", "test")}
    for name in parts:
        (f,) = [p for p in (tmp_path / "s" / name / "data").iterdir()][:1]
        assert pq.read_schema(f).remove_metadata().equals(RECORD_SCHEMA), name

    ids = {name: set(p["id"]) for name, p in parts.items()}
    by = df.set_index("id")
    qc_dev_labelled = set(df.loc[(df.task == "QC") & (df.split == "dev") & (df.label >= 0), "id"])
    assert {i for i in ids["calib"] if by.loc[i, "task"] == "QC"} == qc_dev_labelled
    assert set(df.loc[(df.task == "QC") & (df.split == "train"), "id"]) <= ids["train"]  # QC keeps all its train rows
    assert ids["test"] == set(df.loc[df.split == "test", "id"])
    assert m.extra["unlabelled_dev_rows"] == 10 + 50
    assert m.input_rows == len(df) and m.output_rows == len(df) - 60 == sum(len(p) for p in parts.values())
    assert {n: m.extra[f"{n}_rows"] for n in parts} == {n: len(p) for n, p in parts.items()}

    qi_calib = parts["calib"][parts["calib"]["task"] == "QI"]
    qi_train = parts["train"][parts["train"]["task"] == "QI"]
    assert set(qi_calib["split"]) == {"train"} and len(qi_calib) + len(qi_train) == 3200
    assert not set(qi_calib["query"]) & set(qi_train["query"])  # grouped by query
    share = (
        qi_calib["language"].value_counts() / df[(df.task == "QI") & (df.split == "train")]["language"].value_counts()
    )
    assert share.between(0.15, 0.25).all(), share  # 800 queries per language: binomial sd 0.014


def test_held_out_is_a_stable_hash_of_task_and_query():
    tasks = np.array(["QC"] * 4000 + ["QI"] * 4000, dtype=object)
    queries = np.array([f"q{i % 4000}" for i in range(8000)], dtype=object)
    a = held_out(tasks, queries, 0.3, seed=0)
    assert a.dtype == bool and 0.27 < a.mean() < 0.33
    assert np.array_equal(a, held_out(tasks, queries, 0.3, seed=0))  # same seed, same split
    assert not np.array_equal(a, held_out(tasks, queries, 0.3, seed=1))
    assert not np.array_equal(a[:4000], a[4000:])  # the task is part of the key
    assert np.array_equal(a[:10], held_out(tasks[:10], queries[:10], 0.3, seed=0))  # per row, whatever the batch
    # pinned values: a change of hash would silently move queries between train and calibration
    assert np.flatnonzero(a[:40]).tolist() == EXPECTED_HELD_OUT


EXPECTED_HELD_OUT = [0, 2, 4, 21, 23, 29, 35, 38, 39]
