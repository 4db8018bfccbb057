"""Ingest on generated files: valid rows, every fault class and random bytes, in any order, encoding, compression and
line ending. No exception, every line accounted for, every fault quarantined with its own reason."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecomrel.records import read_records
from pipelines.ingest import IngestConfig, ingest_stage

MAX_LINE = 2048


def _row(i: int, **changes) -> str:
    row = {"id": i, "language": "en", "origin_query": f"query {i}", "category_path": "a,b", "label": i % 2}
    return json.dumps({**row, **changes}, ensure_ascii=False)


#: (text line, expected reason); text lines survive every encoding.
TEXT_FAULTS: list[tuple[str, str]] = [
    ("{not json", "malformed_json"),
    ("   ", "blank_line"),
    ("{\x00}", "nul_byte"),
    ('{"id": 900, "language": "en", "origin_query": "\\ud800", "category_path": "a", "label": 1}', "unencodable_text"),
    (_row(901, origin_query=["a", "list"]), "wrong_type:list"),
    (_row(902, category_path={"an": "object"}), "wrong_type:dict"),
    (_row(903, language="xx"), "unknown_language"),
    (_row(904, label="maybe"), "bad_label"),
    (_row(0, origin_query="the first id again"), "duplicate_id"),
    ('{"id": 905, "pad": "' + "x" * (MAX_LINE + 500) + '"}', "line_too_long"),
]
#: Faults that only bytes can carry: in UTF-8 files, invalid UTF-8; in UTF-16/32 ones, a lone surrogate.
UTF8_FAULT = (b"\xff\xfe\xfa caf\xe9", "undecodable")
WIDE_FAULT = ("x\udc80y", "unencodable_text")

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32", "utf-32-le", "gzip", "zstd"]


def _encode(lines: list[str | bytes], encoding: str, eol: str, trailing: bool) -> tuple[str, bytes]:
    """(file name, bytes) of ``lines`` in ``encoding`` (gzip/zstd: compressed UTF-8)."""
    if encoding in ("utf-8", "utf-8-sig", "gzip", "zstd"):
        body = eol.encode().join(x if isinstance(x, bytes) else x.encode("utf-8") for x in lines)
        body += eol.encode() if trailing else b""
        if encoding == "utf-8-sig":
            return "train_QC.txt", b"\xef\xbb\xbf" + body
        if encoding == "gzip":
            return "train_QC.txt.gz", gzip.compress(body)
        if encoding == "zstd":
            return "train_QC.txt.zst", _zstd(body)
        return "train_QC.txt", body
    text = eol.join(x.decode("latin-1") if isinstance(x, bytes) else x for x in lines) + (eol if trailing else "")
    return "train_QC.txt", text.encode(encoding, "surrogatepass")  # utf-16/utf-32 write a BOM; -be/-le do not


def _zstd(body: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(body)
    return sink.getvalue().to_pybytes()


@settings(max_examples=6, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    noise=st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b), max_size=6),
    valid=st.integers(1, 8),
    encoding=st.sampled_from(ENCODINGS),
    eol=st.sampled_from(["\n", "\r\n"]),
    trailing=st.booleans(),
    order=st.randoms(use_true_random=False),
)
def test_any_mix_of_bad_lines_is_accounted_for(
    ray_local, tmp_path_factory, noise, valid, encoding, eol, trailing, order
):
    wide = encoding.startswith("utf-16") or encoding.startswith("utf-32")
    items: list[tuple[str | bytes, str | None]] = [(_row(i), None) for i in range(1, valid)]
    items += TEXT_FAULTS + [WIDE_FAULT if wide else UTF8_FAULT] + [(b, "?") for b in noise]
    order.shuffle(items)
    items.insert(0, (_row(0), None))  # a file is recognised by its first line
    name, content = _encode([line for line, _ in items], encoding, eol, trailing)
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "in").mkdir()
    (folder / "in" / name).write_bytes(content)

    manifest, _ = ingest_stage(IngestConfig(inputs=[str(folder / "in")], max_line_bytes=MAX_LINE), folder / "out")

    assert manifest.input_rows == len(items) == manifest.output_rows + manifest.quarantined_rows
    assert manifest.extra["refused_files"] == {}
    kept = read_records(folder / "out")
    assert sorted(kept["id"].astype(int)) == list(range(valid))
    quarantine = pq.read_table(folder / "out" / "quarantine").to_pandas().set_index("line")["reason"]
    assert len(quarantine) == manifest.quarantined_rows
    for n, (_, reason) in enumerate(items, 1):
        if reason not in (None, "?"):
            assert quarantine[n] == reason, (n, items[n - 1])
