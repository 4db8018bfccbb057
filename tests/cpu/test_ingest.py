"""Ingest on a corpus of bad inputs: counts add up, reasons are right, nothing is lost."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ecomrel.records import read_records
from pipelines.ingest import IngestConfig, IngestError, discover, ingest_stage, validate_row

GOOD = {
    "id": 1,
    "task": "QC",
    "language": "en",
    "origin_query": "red dress",
    "category_path": "women,dresses",
    "label": 1,
}


def _line(**changes) -> str:
    row = {**GOOD, **changes}
    return json.dumps({k: v for k, v in row.items() if v is not ...}, ensure_ascii=False)


# (line, expected reason or None for a kept row)
CORPUS: list[tuple[bytes, str | None]] = [
    (_line().encode(), None),
    (_line(id=2, language="vn", origin_query="váy đỏ").encode(), None),  # `vn`: Vietnamese as the data spells it
    (b"{not json", "malformed_json"),
    (b"[1, 2, 3]", "malformed_json"),
    (b"\xff\xfe\xfa", "undecodable"),
    (b"   ", "blank_line"),
    (_line(id=3, origin_query=...).encode(), "missing_field"),
    (_line(id=4, label=...).encode(), "missing_field"),
    (_line(id=5, task="QX").encode(), "unknown_task"),
    (_line(id=6, task="QI").encode(), "task_mismatch"),
    (_line(id=7, label=2).encode(), "bad_label"),
    (_line(id=8, label="yes").encode(), "bad_label"),
    (_line(id=9, label=True).encode(), "bad_label"),
    (_line(id=10, language="xx").encode(), "unknown_language"),
    (_line(id=11, origin_query="   ").encode(), "empty_text"),
    (_line(id=12, category_path="").encode(), "empty_text"),
    (_line(id=13, origin_query="x" * 600).encode(), "text_too_long"),
    (_line(id=1, origin_query="same id again").encode(), "duplicate_id"),
    (_line(id=None).encode(), "missing_field"),
    (_line(id=14, label="0").encode(), None),  # string labels from other exporters are accepted
    (_line(id="abc-15", language="ja", origin_query="赤いドレス").encode(), None),
]


def _write(path: Path, lines: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_validate_row_reasons():
    for raw, reason in CORPUS:
        if reason == "duplicate_id":
            continue  # needs the global view: checked in the stage test
        out = validate_row(raw, "train", "QC", None, 512)
        assert out.get("reason") == reason, (raw, out)


def test_ingest_bad_corpus_accounts_for_every_row(ray_local, tmp_path):
    src = _write(tmp_path / "in" / "train_QC.txt", [raw for raw, _ in CORPUS])
    manifest, ran = ingest_stage(IngestConfig(inputs=[str(src)]), tmp_path / "out")
    assert ran
    expected = pd.Series([r for _, r in CORPUS if r]).value_counts().to_dict()
    assert manifest.quarantined_by_reason == expected
    kept = sum(1 for _, r in CORPUS if r is None)
    assert (manifest.input_rows, manifest.output_rows, manifest.quarantined_rows) == (
        len(CORPUS),
        kept,
        len(CORPUS) - kept,
    )
    assert manifest.input_rows == manifest.output_rows + manifest.quarantined_rows

    data = read_records(tmp_path / "out")
    assert sorted(data["id"]) == sorted(["1", "2", "14", "abc-15"])
    assert set(data["source"]) == {"original"} and set(data["split"]) == {"train"}
    assert data.set_index("id").loc["14", "label"] == 0

    quarantine = [
        json.loads(x) for x in (tmp_path / "out" / "quarantine" / "quarantine.jsonl").read_text().splitlines()
    ]
    assert len(quarantine) == manifest.quarantined_rows
    by_line = {q["line"]: q for q in quarantine}
    for n, (raw, reason) in enumerate(CORPUS, 1):
        if reason:
            assert by_line[n]["reason"] == reason
            assert by_line[n]["file"] == str(src)
            if reason == "undecodable":
                import base64

                assert base64.b64decode(by_line[n]["raw_base64"]) == raw  # verbatim, losslessly
            else:
                assert by_line[n]["raw"] == raw.decode()
    (dup,) = [q for q in quarantine if q["reason"] == "duplicate_id"]
    assert "already on line 1" in dup["detail"]


def test_ingest_folder_with_answers_csv_and_parquet(ray_local, tmp_path):
    d = tmp_path / "cikm"
    _write(d / "train_QC.txt", [_line().encode(), _line(id=2, label=0).encode()])
    dev = [
        json.dumps({"id": 100 + i, "language": "ar", "origin_query": "فستان", "category_path": "women,dresses"})
        for i in range(3)
    ]
    _write(d / "dev_QC.txt", [x.encode() for x in dev])
    _write(d / "answers" / "dev_QC.txt", [json.dumps({"id": 100 + i, "label": i % 2}).encode() for i in range(3)])
    pd.DataFrame(
        {
            "id": ["7", "8"],
            "language": ["de", "en"],
            "origin_query": ["Kleid", ""],
            "item_title": ["Red Dress", "Cup"],
            "label": ["1", "0"],
        }
    ).to_csv(d / "train_QI.csv", index=False)
    pd.DataFrame(
        {"id": [1, 2], "language": ["th", "en"], "origin_query": ["ชุด", "mug"], "item_title": ["Dress", "Mug"]}
    ).to_parquet(d / "test_QI.parquet")
    manifest, _ = ingest_stage(IngestConfig(inputs=[str(d)]), tmp_path / "out")
    data = read_records(tmp_path / "out")
    assert manifest.input_rows == 2 + 3 + 2 + 2
    assert manifest.quarantined_by_reason == {"empty_text": 1}
    dev_rows = data[data["split"] == "dev"].sort_values("id")
    assert dev_rows["label"].tolist() == [0, 1, 0]  # labels joined from answers/
    assert (data.loc[data["split"] == "test", "label"] == -1).all()  # no answers: unlabelled
    assert set(data.loc[data["task"] == "QI", "split"]) == {"train", "test"}


def test_missing_or_wrong_format_files_are_clear_errors(tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        discover([tmp_path / "nope" / "train_QC.txt"])
    bad_name = _write(tmp_path / "data.txt", [_line().encode()])
    with pytest.raises(IngestError, match="cannot tell split and task"):
        discover([bad_name])
    docx = tmp_path / "train_QC.docx"
    docx.write_bytes(b"PK\x03\x04")
    with pytest.raises(IngestError, match="unsupported format"):
        discover([docx])
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(IngestError, match="no CIKM files"):
        discover([empty_dir])


def test_wrong_content_is_an_error_naming_the_file(ray_local, tmp_path):
    csv_as_txt = _write(tmp_path / "a" / "train_QC.txt", [b"id,language,origin_query", b"1,en,x"])
    with pytest.raises(IngestError, match=r"train_QC.txt: not JSON Lines"):
        ingest_stage(IngestConfig(inputs=[str(csv_as_txt)]), tmp_path / "o1")
    binary = tmp_path / "b" / "train_QC.txt"
    binary.parent.mkdir()
    binary.write_bytes(b"\x00\x01\x02" * 50)
    with pytest.raises(IngestError, match="binary content"):
        ingest_stage(IngestConfig(inputs=[str(binary)]), tmp_path / "o2")
    bad_csv = tmp_path / "c" / "train_QI.csv"
    bad_csv.parent.mkdir()
    bad_csv.write_text("foo,bar\n1,2\n")
    with pytest.raises(IngestError, match=r"train_QI.csv: missing columns"):
        ingest_stage(IngestConfig(inputs=[str(bad_csv)]), tmp_path / "o3")
