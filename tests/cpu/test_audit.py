"""Language audit: counts per task x split x language, label balance, zero-shot languages."""

from __future__ import annotations

import json

import pandas as pd

from ecomrel.records import write_records
from pipelines.audit import AuditConfig, format_table, run_audit


def _rows(task, split, lang, n, pos, start):
    return [
        {
            "id": str(start + i),
            "task": task,
            "split": split,
            "language": lang,
            "query": "q",
            "target": "t",
            "label": (1 if i < pos else 0) if pos is not None else -1,
            "source": "original",
            "parent_id": None,
        }
        for i in range(n)
    ]


def test_audit_counts_balance_and_zero_shot(ray_local, tmp_path):
    rows = (
        _rows("QC", "train", "en", 10, 7, 0)
        + _rows("QC", "train", "es", 4, 1, 100)
        + _rows("QC", "dev", "en", 3, 2, 200)
        + _rows("QC", "dev", "ar", 2, None, 300)
        + _rows("QC", "test", "pl", 5, None, 400)
        + _rows("QI", "train", "th", 6, 3, 500)
        + _rows("QI", "test", "vn", 1, None, 600)
    )
    write_records(pd.DataFrame(rows), tmp_path / "ingest" / "data")
    report = run_audit(tmp_path / "ingest", tmp_path / "audit", AuditConfig(high_resource_min_rows=5))

    qc = report["tasks"]["QC"]
    assert qc["rows"] == {"train": {"en": 10, "es": 4}, "dev": {"en": 3, "ar": 2}, "test": {"pl": 5}}
    assert qc["zero_shot"] == ["ar", "pl"]
    assert qc["high_resource"] == ["en"]
    assert qc["label_balance"]["train"]["en"] == {"labelled": 10, "positive": 7, "positive_rate": 0.7}
    assert qc["label_balance"]["train"]["es"]["positive_rate"] == 0.25
    assert qc["unlabelled_eval_languages"] == ["ar", "pl"]
    assert report["zero_shot"] == {"QC": ["ar", "pl"], "QI": ["vn"]}

    on_disk = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert on_disk == report
    assert (tmp_path / "audit" / "audit.png").stat().st_size > 10_000
    table = format_table(report)
    assert "QC: zero-shot languages: ar, pl" in table
    marked = {line.split()[0] for line in table.splitlines() if line.endswith("zero-shot")}
    assert marked == {"ar", "pl", "vn"}
