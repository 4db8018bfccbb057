"""Ingest on a corpus of bad inputs: counts add up, reasons are right, nothing is lost."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
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

    quarantine = pq.read_table(tmp_path / "out" / "quarantine").to_pylist()
    assert len(quarantine) == manifest.quarantined_rows
    by_line = {q["line"]: q for q in quarantine}
    for n, (raw, reason) in enumerate(CORPUS, 1):
        if reason:
            assert by_line[n]["reason"] == reason
            assert by_line[n]["file"] == str(src)
            assert by_line[n]["raw"] == raw  # verbatim, losslessly
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


# -- bad bytes: encodings, compression, line endings, huge lines, wrong types ------------------------------------


def test_validate_row_names_the_fault():
    cases = {
        _line(origin_query=["red", "dress"]).encode(): "wrong_type:list",
        _line(category_path={"a": 1}).encode(): "wrong_type:dict",
        _line(origin_query=7).encode(): "wrong_type:int",
        _line(language=["en"]).encode(): "wrong_type:list",
        b'{"id": 1, "language": "en", "origin_query": "\\ud800", "category_path": "a", "label": 1}': "unencodable_text",
        b'{"id": "\\udfff", "language": "en", "origin_query": "q", "category_path": "a", "label": 1}': (
            "unencodable_text"
        ),
        b"x" + "\ud800".encode("utf-8", "surrogatepass"): "unencodable_text",  # CESU bytes of a surrogate
        _line().encode()[:-1] + b"\x00}": "nul_byte",
        b"\xc3\x28": "undecodable",
    }
    for raw, reason in cases.items():
        assert validate_row(raw, "train", "QC", None, 512)["reason"] == reason, raw
    assert (
        "origin_query is a list" in validate_row(_line(origin_query=["a"]).encode(), "train", "QC", None, 9)["detail"]
    )


def test_split_lines_never_holds_a_huge_line():
    from pipelines.ingest import _split_lines

    big = b"{" + b"x" * 5000
    chunks = [b'{"a":1}\r\n{"b"', b":2}\n" + big[:3000], big[3000:] + b"\n", b"tail\r"]
    lines = list(_split_lines(iter(chunks), 2048))
    assert [r for r, _, _ in lines[:2]] == [b'{"a":1}', b'{"b":2}']
    raw, reason, detail = lines[2]
    assert reason == "line_too_long" and raw == big[:1024] and "5001 bytes > max_line_bytes 2048" in detail
    assert lines[3] == (b"tail", None, None)  # the last line needs no newline; CR is stripped
    # an over-long last line without a newline, cut across chunks
    assert list(_split_lines(iter([b"x" * 3000, b"y" * 3000]), 2048)) == [
        (b"x" * 1024, "line_too_long", "line of 6000 bytes > max_line_bytes 2048; raw keeps its first 1024 bytes")
    ]


def _rows(task: str, first: int, n: int, label: bool = True) -> list[dict]:
    target = "category_path" if task == "QC" else "item_title"
    rows = [{"id": first + i, "language": "en", "origin_query": f"q{i}", target: "a,b"} for i in range(n)]
    return [{**r, "label": i % 2} if label else r for i, r in enumerate(rows)]


def test_encodings_compression_and_huge_lines_are_read_or_refused_per_file(ray_local, tmp_path):
    import gzip

    import pyarrow as pa

    d = tmp_path / "in"
    d.mkdir()
    qc = [json.dumps(r).encode() for r in _rows("QC", 1, 3)]
    # UTF-8 BOM, CRLF, a NUL byte, an escaped lone surrogate, a list for a string, and one 50 KB line
    lines = [
        qc[0],
        b"{\x00}",
        b'{"id": 9, "language": "en", "origin_query": "\\ud800", "category_path": "a", "label": 1}',
    ]
    lines += [_line(id=10, origin_query=["x"]).encode(), b'{"id": 11, "pad": "' + b"z" * 50_000 + b'"}', qc[1], qc[2]]
    (d / "train_QC.txt").write_bytes(codecs.BOM_UTF8 + b"\r\n".join(lines) + b"\r\n")
    qi = "\n".join(json.dumps(r, ensure_ascii=False) for r in _rows("QI", 100, 4)) + "\n"
    (d / "train_QI.txt.gz").write_bytes(gzip.compress(qi.encode()))
    with pa.CompressedOutputStream(str(d / "dev_QC.txt.zst"), "zstd") as out:
        out.write("\n".join(json.dumps(r) for r in _rows("QC", 200, 2, label=False)).encode())
    (d / "dev_QI.txt").write_text(qi, encoding="utf-16")  # BOM + UTF-16-LE
    qi_bad = "\n".join(json.dumps(r) for r in _rows("QI", 300, 3, label=False))
    (d / "test_QC.txt").write_bytes(qi_bad.replace("item_title", "category_path").encode("utf-32-le"))  # no BOM
    (d / "test_QI.txt").write_bytes(qi_bad.encode("utf-16-le") + b"\x00\xdc\x41")  # lone low surrogate + odd byte

    cfg = IngestConfig(inputs=[str(d)], max_line_bytes=4096)
    manifest, _ = ingest_stage(cfg, tmp_path / "out")
    assert manifest.extra["refused_files"].keys() == {str(d / "test_QI.txt")}
    assert "UTF-16-LE text that does not decode" in manifest.extra["refused_files"][str(d / "test_QI.txt")]
    assert manifest.quarantined_by_reason == {
        "line_too_long": 1,
        "nul_byte": 1,
        "unencodable_text": 1,
        "wrong_type:list": 1,
    }
    rows_by_file = manifest.extra["rows_by_file"]
    assert rows_by_file == {
        str(d / "train_QC.txt"): 7,
        str(d / "train_QI.txt.gz"): 4,
        str(d / "dev_QC.txt.zst"): 2,
        str(d / "dev_QI.txt"): 4,
        str(d / "test_QC.txt"): 3,
    }
    assert manifest.input_rows == 20 == manifest.output_rows + manifest.quarantined_rows
    data = read_records(tmp_path / "out")
    assert len(data) == 16 and data.groupby(["task", "split"]).size().to_dict() == {
        ("QC", "dev"): 2,
        ("QC", "test"): 3,
        ("QC", "train"): 3,
        ("QI", "dev"): 4,
        ("QI", "train"): 4,
    }
    quarantine = pq.read_table(tmp_path / "out" / "quarantine").to_pandas().set_index("line")
    assert quarantine.loc[5, "reason"] == "line_too_long" and len(quarantine.loc[5, "raw"]) == 1024

    # every file refused: an error that names each
    with pytest.raises(IngestError, match="test_QI.txt: UTF-16-LE"):
        ingest_stage(IngestConfig(inputs=[str(d / "test_QI.txt")]), tmp_path / "out2")
