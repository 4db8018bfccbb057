"""The trainset stage streams: split training rows plus augmentation rows whose parent is a training row, written
by Ray Data, with every dropped row counted by reason."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq

from ecomrel.manifest import read_manifest
from ecomrel.records import read_records, write_records
from pipelines.trainset import trainset_stage


def _rows(ids: list[str], task: str, label: int, source: str, parents: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ids,
            "task": task,
            "split": "train",
            "language": "es",
            "query": [f"q {i}" for i in ids],
            "target": [f"t {i}" for i in ids],
            "label": label,
            "source": source,
            "parent_id": parents,
        }
    )


def test_trainset_keeps_augmented_rows_of_training_parents_and_counts_the_rest(ray_local, tmp_path):
    train = pd.concat(
        [
            _rows([str(i) for i in range(30)], "QC", 1, "original", [None] * 30),
            _rows([str(i) for i in range(20)], "QI", 0, "original", [None] * 20),  # same ids, other task
        ]
    )
    write_records(train, tmp_path / "split" / "train" / "data")
    # Negatives of QC rows 0..9, and of QC rows 100..104 (held out: not training rows) and QI row 25 (QI has 0..19).
    neg = pd.concat(
        [
            _rows([f"{i}-hn0" for i in range(10)], "QC", 0, "hard_negative", [str(i) for i in range(10)]),
            _rows([f"{i}-hn0" for i in range(100, 105)], "QC", 0, "hard_negative", [str(i) for i in range(100, 105)]),
            _rows(["25-en0"], "QI", 0, "easy_negative", ["25"]),
        ]
    )
    write_records(neg, tmp_path / "negatives" / "data")
    tr = _rows(["3-tr-de"], "QI", 0, "translated", ["3"]).assign(language="de")
    write_records(tr, tmp_path / "translate" / "data")

    m, ran = trainset_stage(
        tmp_path / "split" / "train", [tmp_path / "negatives", tmp_path / "translate"], tmp_path / "ts"
    )
    assert ran
    out = read_records(tmp_path / "ts")
    assert len(out) == m.output_rows == 50 + 10 + 1
    assert m.input_rows == 50 + 16 + 1 and m.quarantined_by_reason == {"parent_not_in_train_split": 6}
    assert not set(out["id"]) & {"100-hn0", "104-hn0", "25-en0"}
    assert m.extra["rows_by_source"] == {"hard_negative": 10, "original": 50, "translated": 1}
    assert m.extra["rows_by_task_label"] == {"QC/0": 10, "QC/1": 30, "QI/0": 21}
    assert m.extra["positive_rate"] == {"QC": 0.75, "QI": 0.0}
    assert read_manifest(tmp_path / "ts").output_rows == 61
    for f in (tmp_path / "ts" / "data").glob("*.parquet"):  # every file written has the record schema
        assert pq.read_schema(f).names == list(train.columns)
