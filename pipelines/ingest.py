"""Ingest + validation: CIKM files (JSON Lines, CSV, Parquet; plain, .gz or .zst) -> a validated Parquet dataset.

Every input row of a readable file ends up either in ``<out>/data/`` (normalised to ``ecomrel.schema.RECORD_SCHEMA``)
or in ``<out>/quarantine/`` (Parquet: the raw bytes with file, line, reason and detail), and the manifest's counts add
up: ``input_rows == output_rows + quarantined_rows``. A missing file or an unsupported name is an ``IngestError``.
A file that cannot be read at all (not what its extension says, a UTF-16 file that does not decode, CSV missing a
column) is refused whole with a message naming it and recorded in the manifest (``extra.refused_files``); ingest
fails only when every file is refused.

Everything streams through Ray Data, so the driver's memory does not grow with the data:

1. a datasource (``CikmFiles``, a ``FileBasedDatasource``) reads each file as a stream and cuts it into raw lines
   (CSV/Parquet rows are re-encoded as JSON lines, so one validator serves every format). It honours byte-order
   marks (UTF-8/16/32, and BOM-less UTF-16/32 by the NUL pattern of JSON's first bytes) and quarantines a line
   longer than ``max_line_bytes`` without holding it whole;
2. ``map_batches`` validates the lines and hashes each valid row's (task, split, id) into one of N buckets;
3. ``write_parquet(partition_cols=["bucket"])`` stages them, so every copy of an id lands in one bucket;
4. one Ray task per bucket keeps the first occurrence of each id (the duplicate-id check: a hash-partitioned pass,
   no shuffle), writes its share of ``data/`` and ``quarantine/`` (one Parquet file each) and returns its counts,
   which are all the driver sums for the manifest.
"""

from __future__ import annotations

import codecs
import csv
import functools
import json
import logging
import math
import re
import shutil
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from ecomrel.config import Section
from ecomrel.languages import LANGUAGES
from ecomrel.manifest import Manifest, StageRun, run_stage
from ecomrel.records import write_records
from ecomrel.schema import (
    QUERY_FIELD,
    RECORD_COLUMNS,
    RECORD_SCHEMA,
    TARGET_FIELD,
    UNLABELED,
    Source,
    Split,
    Task,
)

from .counts import parquet_files

log = logging.getLogger(__name__)

#: Quarantine reasons, in the order the checks run (``wrong_type:<type>`` names the type it found, e.g.
#: ``wrong_type:list``).
REASONS = (
    "line_too_long",
    "malformed_csv",
    "nul_byte",
    "undecodable",
    "unencodable_text",
    "blank_line",
    "malformed_json",
    "missing_field",
    "unknown_task",
    "task_mismatch",
    "bad_id",
    "bad_label",
    "wrong_type",
    "unknown_language",
    "empty_text",
    "text_too_long",
    "duplicate_id",
)

_TASKS = frozenset(t.value for t in Task)
_NAME = re.compile(r"^(?P<split>train|dev|test)_(?P<task>QC|QI)$", re.IGNORECASE)
_JSONL = {".txt", ".jsonl", ".json"}
_TABULAR = {".csv", ".parquet"}
_COMPRESSION = {".gz": "gzip", ".zst": "zstd"}
_BOMS = (  # longest first: the UTF-32-LE mark begins with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEAD = 1 << 16  # bytes read to recognise a file
_CHUNK = 1 << 20  # bytes read at a time
_PREVIEW = 1024  # bytes of an over-long line kept in the quarantine


class IngestConfig(Section):
    inputs: list[str] = Field(
        default_factory=list,
        description="CIKM files or folders of them (train_QC.txt, dev_QI.txt.gz, ...). Empty: the make-data output.",
    )
    max_text_chars: int = Field(512, ge=1, description="Queries or targets longer than this are quarantined.")
    max_line_bytes: int = Field(
        4 << 20,
        ge=1024,
        description="A line longer than this (bytes) is quarantined as line_too_long without being held whole.",
    )
    block_rows: int = Field(
        20_000, ge=100, description="Lines per Ray Data block read from a file (fewer for small inputs)."
    )
    answers_dir: str | None = Field(
        None,
        description="Folder of dev/test labels (answers/dev_QC.txt, ...). Default: an answers/ folder "
        "beside the inputs, if present.",
    )


class IngestError(ValueError):
    """An input that cannot be ingested at all (as opposed to bad rows, which are quarantined)."""


def _plain_name(path: Path) -> Path:
    """``train_QC.txt.gz`` -> ``train_QC.txt``: the name without its compression suffix."""
    return path.with_suffix("") if path.suffix.lower() in _COMPRESSION else path


@dataclass(frozen=True)
class InputFile:
    path: Path
    split: str
    task: str
    answers: Path | None  # dev/test labels in an answers/ folder beside the file

    @property
    def format(self) -> str:
        suffix = _plain_name(self.path).suffix.lower()
        return "jsonl" if suffix in _JSONL else suffix.lstrip(".")


def discover(inputs: list[str | Path], answers_dir: str | Path | None = None) -> list[InputFile]:
    """Expand files and folders into CIKM input files; split and task come from names like ``dev_QI.txt.gz``."""
    if not inputs:
        raise IngestError("no inputs given")
    found: list[InputFile] = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            raise IngestError(f"{path}: no such file or folder")
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and _NAME.match(_plain_name(p).stem))
            if not files:
                raise IngestError(f"{path}: no CIKM files in this folder (expected names like train_QC.txt)")
        else:
            files = [path]
        for f in files:
            plain = _plain_name(f)
            m = _NAME.match(plain.stem)
            if not m:
                raise IngestError(f"{f}: cannot tell split and task from the name (expected e.g. train_QC.txt)")
            if plain.suffix.lower() not in _JSONL | _TABULAR:
                raise IngestError(
                    f"{f}: unsupported format {plain.suffix!r} (JSON Lines .txt/.jsonl, .csv or .parquet, "
                    "optionally .gz or .zst)"
                )
            if plain.suffix.lower() == ".parquet" and plain != f:
                raise IngestError(f"{f}: a compressed Parquet file (Parquet compresses inside the file)")
            split, task = m["split"].lower(), m["task"].upper()
            ans_root = Path(answers_dir) if answers_dir else f.parent / "answers"
            candidates = [ans_root / f.name, *ans_root.glob(f"{plain.stem}.*")] if split != Split.TRAIN else []
            answers = next((a for a in candidates if a.is_file()), None)
            found.append(InputFile(f, split, task, answers))
    keys = Counter((f.split, f.task) for f in found)
    if dup := [k for k, n in keys.items() if n > 1]:
        raise IngestError(f"more than one input file for split/task {dup}")
    return found


# -- answers --------------------------------------------------------------------------------------------------------


def _iter_answers(path: Path) -> Iterator[tuple[str, int]]:
    """(id, label) from an answers file (JSON Lines ``{"id": .., "label": ..}``, optionally compressed)."""
    with pa.input_stream(str(path)) as stream:
        for n, line in enumerate(_split_lines(iter(lambda: stream.read(_CHUNK), b""), 1 << 30), 1):
            raw = line[0]
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
                yield str(row["id"]), _label(row["label"])
            except (ValueError, KeyError, TypeError) as exc:
                raise IngestError(f"{path}:{n}: bad answers row ({exc.__class__.__name__}: {exc})") from exc


@functools.lru_cache(maxsize=8)
def _answers(path: str, mtime_ns: int) -> dict[str, int]:
    """id -> label, loaded once per worker process (the driver only checks the file, streaming)."""
    return dict(_iter_answers(Path(path)))


def _label(value) -> int:
    """0/1 from an int, a bool-free float 0.0/1.0, or the strings "0"/"1"; anything else raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"label {value!r} is a boolean, expected 0 or 1")
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        if value in (0, 1):
            return int(value)
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip())
    raise ValueError(f"label {value!r} is not 0 or 1")


# -- recognising a file (driver side, a few KiB each) ---------------------------------------------------------------


@dataclass(frozen=True)
class _FilePlan:
    """How the read tasks read one file."""

    file: str  # as the user named it: the quarantine's and manifest's ``file``
    split: str
    task: str
    format: str  # jsonl | csv | parquet
    encoding: str = "utf-8"  # jsonl: the text encoding, from the byte-order mark or the NUL pattern
    bom: int = 0  # bytes of byte-order mark to skip
    columns: tuple[str, ...] = ()  # csv: the header
    answers: str | None = None
    answers_mtime_ns: int = 0


def _detect_encoding(head: bytes) -> tuple[str, int]:
    """(encoding, BOM length): the byte-order mark, else RFC 4627's NUL pattern of a JSON text's first 4 bytes."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    zeros = tuple(b == 0 for b in head[:4])
    patterns = {
        (True, True, True, False): "utf-32-be",
        (False, True, True, True): "utf-32-le",
        (True, False, True, False): "utf-16-be",
        (False, True, False, True): "utf-16-le",
    }
    return patterns.get(zeros, "utf-8"), 0


def _check_decodes(path: Path, encoding: str, bom: int) -> None:
    """A UTF-16/32 file decodes whole or is refused whole (never half-read): one streaming pass, constant memory."""
    decoder = codecs.getincrementaldecoder(encoding)("surrogatepass")  # lone surrogates: quarantined per row
    offset = 0
    with pa.input_stream(str(path)) as stream:
        stream.read(bom)
        try:
            while chunk := stream.read(_CHUNK):
                decoder.decode(chunk)
                offset += len(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise IngestError(
                f"{path}: {encoding.upper()} text that does not decode near byte {bom + offset + exc.start} "
                f"({exc.reason}); file refused, no row read from it"
            ) from exc


def _plan(f: InputFile) -> _FilePlan:
    """Recognise ``f`` from its first bytes; ``IngestError`` when it cannot be read at all."""
    base = {"file": str(f.path), "split": f.split, "task": f.task, "format": f.format}
    if f.answers is not None:
        for _ in _iter_answers(f.answers):  # a bad answers row is an error naming it; nothing is kept here
            pass
        base |= {"answers": str(f.answers.resolve()), "answers_mtime_ns": f.answers.stat().st_mtime_ns}
    if f.format == "parquet":
        try:
            columns = pq.read_schema(f.path).names
        except Exception as exc:  # noqa: BLE001 - any reader failure means the file is not what it claims to be
            raise IngestError(f"{f.path}: cannot read as PARQUET: {exc}") from exc
        _check_columns(f, columns)
        return _FilePlan(**base)
    try:
        with pa.input_stream(str(f.path)) as stream:
            head = stream.read(_HEAD)
    except OSError as exc:  # e.g. a .gz that is not gzip
        raise IngestError(f"{f.path}: cannot read: {exc}") from exc
    encoding, bom = _detect_encoding(head)
    if f.format == "csv":
        if encoding != "utf-8":
            raise IngestError(f"{f.path}: CSV in {encoding.upper()}; save it as UTF-8")
        header = head[bom:].split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", errors="replace")
        columns = next(csv.reader([header]), [])
        _check_columns(f, columns)
        return _FilePlan(**base, bom=bom, columns=tuple(columns))
    if encoding != "utf-8":
        _check_decodes(f.path, encoding, bom)
    text = head[bom:].decode(encoding, errors="replace")
    for line in text.splitlines():
        if line.strip():
            if not line.lstrip().startswith("{"):
                if "\x00" in text:
                    raise IngestError(f"{f.path}: binary content, not JSON Lines")
                raise IngestError(f"{f.path}: not JSON Lines (first line does not start with '{{')")
            break
    return _FilePlan(**base, encoding=encoding, bom=bom)


def _check_columns(f: InputFile, columns: list[str]) -> None:
    missing = {"id", "language", QUERY_FIELD, TARGET_FIELD[Task(f.task)]} - set(columns)
    if missing:
        raise IngestError(f"{f.path}: missing columns {sorted(missing)}")


# -- reading (Ray Data read tasks) ----------------------------------------------------------------------------------

#: A raw line, with a reason already when the reader itself must quarantine it.
_Line = tuple[bytes, str | None, str | None]


def _split_lines(chunks: Iterator[bytes], max_line: int) -> Iterator[_Line]:
    """Byte chunks -> lines (``\\n`` or ``\\r\\n``), never holding more than ``max_line`` + one chunk: a longer line
    is skipped to its end and reported as ``line_too_long`` with its first bytes."""
    pending = b""
    dropping = 0  # > 0: length so far of an over-long line being skipped
    preview = b""
    for chunk in chunks:
        if dropping:
            nl = chunk.find(b"\n")
            if nl < 0:
                dropping += len(chunk)
                continue
            yield _too_long(preview, dropping + nl, max_line)
            dropping, chunk = 0, chunk[nl + 1 :]
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        for part in parts:
            if len(part) > max_line:
                yield _too_long(part[:_PREVIEW], len(part), max_line)
            else:
                yield part.removesuffix(b"\r"), None, None
        if len(pending) > max_line:
            preview, dropping, pending = pending[:_PREVIEW], len(pending), b""
    if dropping:
        yield _too_long(preview, dropping, max_line)
    elif pending:
        yield pending.removesuffix(b"\r"), None, None


def _too_long(preview: bytes, length: int, max_line: int) -> _Line:
    detail = f"line of {length} bytes > max_line_bytes {max_line}; raw keeps its first {len(preview)} bytes"
    return preview, "line_too_long", detail


def _jsonl_lines(f: pa.NativeFile, plan: _FilePlan, max_line: int) -> Iterator[_Line]:
    def chunks() -> Iterator[bytes]:
        f.read(plan.bom)
        decoder = None
        if plan.encoding != "utf-8":  # checked by the driver to decode whole; lines are re-encoded as UTF-8
            decoder = codecs.getincrementaldecoder(plan.encoding)("surrogatepass")
        while chunk := f.read(_CHUNK):
            yield decoder.decode(chunk).encode("utf-8", "surrogatepass") if decoder else chunk
        if decoder:
            yield decoder.decode(b"", final=True).encode("utf-8", "surrogatepass")

    return _split_lines(chunks(), max_line)


def _csv_lines(f: pa.NativeFile, plan: _FilePlan, max_line: int) -> Iterator[_Line]:
    """CSV records as JSON lines (every value a string, as CSV has no types); rows with the wrong number of fields
    are ``malformed_csv``; a value that is not UTF-8 makes its row ``undecodable``."""
    import pyarrow.csv as pcsv

    bad: list = []

    def invalid(row) -> str:
        bad.append(row)
        return "skip"

    reader = pcsv.open_csv(
        f,
        read_options=pcsv.ReadOptions(block_size=1 << 22),
        parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid),
        convert_options=pcsv.ConvertOptions(
            column_types={c: pa.binary() for c in plan.columns},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    for batch in reader:
        for row in bad:
            detail = f"{row.actual_columns} fields, header has {row.expected_columns}"
            yield (row.text or "").encode("utf-8", "surrogatepass"), "malformed_csv", detail
        bad.clear()
        names = batch.schema.names
        for values in zip(*(batch.column(c).to_pylist() for c in names), strict=True):
            try:
                rec = {c: v.decode("utf-8") for c, v in zip(names, values, strict=True)}
            except UnicodeDecodeError as exc:
                yield b",".join(values), "undecodable", f"a value is not UTF-8: {exc}"
                continue
            yield json.dumps(rec, ensure_ascii=False).encode("utf-8"), None, None
    for row in bad:
        detail = f"{row.actual_columns} fields, header has {row.expected_columns}"
        yield (row.text or "").encode("utf-8", "surrogatepass"), "malformed_csv", detail


def _parquet_lines(f: pa.NativeFile, plan: _FilePlan, max_line: int) -> Iterator[_Line]:
    for batch in pq.ParquetFile(f).iter_batches(batch_size=8192):
        for rec in batch.to_pylist():
            yield json.dumps(rec, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"), None, None


_READERS = {"jsonl": _jsonl_lines, "csv": _csv_lines, "parquet": _parquet_lines}

_STAGED = pa.schema(
    [
        pa.field("file", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("raw", pa.binary()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
    ]
)


def _datasource(plans: dict[str, _FilePlan], max_line: int, block_rows: int):
    from ray.data.datasource import FileBasedDatasource

    class CikmFiles(FileBasedDatasource):
        """CIKM files -> blocks of (file, line, raw, reason, detail); ``line`` is 1-based (CSV: the header is
        line 1 and a record's line is its position)."""

        def _open_input_source(self, filesystem, path, **open_args):
            if plans[path].format == "parquet":  # random access; Parquet compresses inside the file
                return filesystem.open_input_file(path)
            return super()._open_input_source(filesystem, path, **open_args)

        def _read_stream(self, f, path):
            plan = plans[path]
            first = 2 if plan.format == "csv" else 1
            rows: list[_Line] = []
            for n, row in enumerate(_READERS[plan.format](f, plan, max_line), first):
                rows.append(row)
                if len(rows) == block_rows:
                    yield _block(plan, n - len(rows) + 1, rows)
                    rows = []
            if rows:
                yield _block(plan, n - len(rows) + 1, rows)

    return CikmFiles(list(plans))


def _block(plan: _FilePlan, first: int, rows: list[_Line]) -> pa.Table:
    raw, reason, detail = zip(*rows, strict=True)
    return pa.table(
        [
            pa.array([plan.file] * len(rows), pa.string()),
            pa.array(range(first, first + len(rows)), pa.int64()),
            pa.array(raw, pa.binary()),
            pa.array(reason, pa.string()),
            pa.array(detail, pa.string()),
        ],
        schema=_STAGED,
    )


# -- validation (Ray Data map tasks) --------------------------------------------------------------------------------


def _unencodable(value: str) -> str | None:
    """Why ``value`` cannot be written as UTF-8 (a lone surrogate), or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"{exc.reason} (U+{ord(value[exc.start]):04X} at char {exc.start})"
    return None


def validate_row(raw: bytes, split: str, task: str, answers: dict[str, int] | None, max_chars: int) -> dict:
    """One raw line -> a normalised record, or ``{"reason": ..., "detail": ...}``."""
    if (nul := raw.find(b"\x00")) >= 0:
        return {"reason": "nul_byte", "detail": f"NUL byte at byte {nul}"}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        try:  # UTF-8-encoded surrogates (CESU, or a UTF-16 file's lone surrogate): text, but not encodable
            raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return {"reason": "undecodable", "detail": str(exc)}
        return {"reason": "unencodable_text", "detail": f"encoded surrogate: {exc}"}
    if not text.strip():
        return {"reason": "blank_line", "detail": "empty line"}
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        return {"reason": "malformed_json", "detail": str(exc)}
    if not isinstance(row, dict):
        return {"reason": "malformed_json", "detail": f"expected an object, got {type(row).__name__}"}

    row_task = row.get("task", task)
    if not isinstance(row_task, str) or row_task not in _TASKS:
        return {"reason": "unknown_task", "detail": f"task {row_task!r}"}
    if row_task != task:
        return {"reason": "task_mismatch", "detail": f"task {row_task!r} in a {task} file"}
    target_field = TARGET_FIELD[task]  # type: ignore[index]  (a StrEnum key hashes as its string)
    required = ["id", "language", QUERY_FIELD, target_field] + (["label"] if split == Split.TRAIN else [])
    if missing := [k for k in required if k not in row or row[k] is None]:
        return {"reason": "missing_field", "detail": f"missing {', '.join(missing)}"}

    rid = row["id"]
    if isinstance(rid, bool) or not isinstance(rid, int | str) or not str(rid).strip():
        return {"reason": "bad_id", "detail": f"id {rid!r} ({type(rid).__name__})"}
    rid = str(rid).strip()
    if why := _unencodable(rid):
        return {"reason": "unencodable_text", "detail": f"id: {why}"}

    if "label" in row and row["label"] is not None:
        try:
            label = _label(row["label"])
        except ValueError as exc:
            return {"reason": "bad_label", "detail": str(exc)}
    elif answers is not None and rid in answers:
        label = answers[rid]
    else:
        label = UNLABELED

    for field in ("language", QUERY_FIELD, target_field):
        if not isinstance(row[field], str):
            kind = type(row[field]).__name__
            return {"reason": f"wrong_type:{kind}", "detail": f"{field} is a {kind} ({row[field]!r:.60}), not text"}
    language = row["language"]
    if language not in LANGUAGES:
        return {"reason": "unknown_language", "detail": f"language {language!r:.60}"}

    for field in (QUERY_FIELD, target_field):
        value = row[field]
        if not value.strip():
            return {"reason": "empty_text", "detail": f"{field} is empty"}
        if why := _unencodable(value):
            return {"reason": "unencodable_text", "detail": f"{field}: {why}"}
        if len(value) > max_chars:
            return {"reason": "text_too_long", "detail": f"{field} has {len(value)} chars > {max_chars}"}

    return {
        "id": rid,
        "task": task,
        "split": split,
        "language": language,
        "query": row[QUERY_FIELD].strip(),
        "target": row[target_field].strip(),
        "label": label,
        "source": Source.ORIGINAL.value,
        "parent_id": None,
    }


_VALIDATED = pa.schema(
    [f.with_nullable(True) for f in RECORD_SCHEMA]
    + [
        pa.field("file", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("raw", pa.binary()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("node_id", pa.string()),
        pa.field("bucket", pa.int32()),
    ]
)
_QUARANTINE = pa.schema(
    [
        pa.field("file", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("split", pa.string()),
        pa.field("task", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("raw", pa.binary()),
    ]
)


def _validate_batch(batch: pa.Table, plans: dict[str, _FilePlan], max_chars: int, buckets: int) -> pa.Table:
    """Ray Data batch function: raw lines -> records plus ``reason``/``detail`` (null when the row is valid), the
    Ray node that validated them (the manifest's ``nodes``) and the bucket of the duplicate-id pass: the hash of
    (task, split, id) for a valid row, so that every copy of an id meets in one bucket."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    by_file = {p.file: p for p in plans.values()}
    cols = {c: batch.column(c).to_pylist() for c in _STAGED.names}
    out: dict[str, list] = {name: [] for name in _VALIDATED.names}
    for file, line, raw, reason, detail in zip(*cols.values(), strict=True):
        plan = by_file[file]
        if reason is None:
            answers = _answers(plan.answers, plan.answers_mtime_ns) if plan.answers else None
            rec = validate_row(raw, plan.split, plan.task, answers, max_chars)
        else:
            rec = {"reason": reason, "detail": detail}
        valid = "reason" not in rec
        for c in RECORD_COLUMNS:
            out[c].append(rec.get(c))
        out["task"][-1], out["split"][-1] = plan.task, plan.split
        out["file"].append(file)
        out["line"].append(line)
        out["raw"].append(raw)
        out["reason"].append(rec.get("reason"))
        out["detail"].append(rec.get("detail"))
        out["node_id"].append(node)
        key = f"{plan.task}\x1f{plan.split}\x1f{rec['id']}" if valid else f"{file}\x1f{line}"
        out["bucket"].append(zlib.crc32(key.encode("utf-8")) % buckets)
    return pa.table(out, schema=_VALIDATED)


def _resolve_bucket(staging: str, bucket: int, data: str, quarantine: str) -> dict:
    """One bucket of staged rows: the first occurrence of each valid (task, split, id) to ``data``, the invalid
    rows and the later copies of an id to ``quarantine`` (one Parquet file each); returns the bucket's counts."""
    folder = Path(staging) / f"bucket={bucket}"
    counts: dict = {"by_file": {}, "by_node": {}, "by_reason": {}, "output": 0, "labelled": 0}
    if not folder.is_dir():
        return counts
    df = pq.read_table(folder, columns=[c for c in _VALIDATED.names if c != "bucket"]).to_pandas()
    valid = df[df["reason"].isna()].sort_values("line", kind="stable")
    dup = valid.duplicated(["task", "split", "id"], keep="first")
    first_line = valid[~dup].set_index(["task", "split", "id"])["line"]
    dups = valid[dup].copy()
    dups["reason"] = "duplicate_id"
    keys = dups[["task", "split", "id"]].itertuples(index=False)
    dups["detail"] = [f"id {i!r} already on line {first_line[(t, s, i)]}" for t, s, i in keys]
    good = valid[~dup]
    bad = pd.concat([df[df["reason"].notna()], dups]).sort_values(["file", "line"], kind="stable")
    name = f"part-{bucket:05d}.parquet"
    if len(good):
        pq.write_table(
            pa.Table.from_pandas(good[RECORD_COLUMNS], schema=RECORD_SCHEMA, preserve_index=False), Path(data) / name
        )
    if len(bad):
        pq.write_table(
            pa.Table.from_pandas(bad[_QUARANTINE.names], schema=_QUARANTINE, preserve_index=False),
            Path(quarantine) / name,
        )
    counts["by_file"] = {str(k): int(v) for k, v in df["file"].value_counts().items()}
    counts["by_node"] = {str(k): int(v) for k, v in df["node_id"].value_counts().items()}
    counts["by_reason"] = {str(k): int(v) for k, v in bad["reason"].value_counts().items()}
    counts["output"], counts["labelled"] = len(good), int((good["label"] != UNLABELED).sum())
    return counts


# -- the stage ------------------------------------------------------------------------------------------------------


def ingest(files: list[InputFile], out_dir: Path, cfg: IngestConfig, manifest: Manifest) -> None:
    """Validate ``files`` into ``out_dir``; fill ``manifest`` with the counts."""
    import ray
    import ray.data

    out_dir = Path(out_dir)
    plans: dict[str, _FilePlan] = {}
    refused: dict[str, str] = {}
    for f in files:
        try:
            plans[str(f.path.resolve())] = _plan(f)
        except IngestError as exc:
            if f.answers is not None and str(f.answers) in str(exc):
                raise  # a bad answers file is an error of the run, not a file to skip
            refused[str(f.path)] = str(exc)
            log.warning("ingest: %s", exc)
    if not plans:
        raise IngestError("; ".join(refused.values()))

    staging, data, quarantine = out_dir / "_staging", out_dir / "data", out_dir / "quarantine"
    for folder in (staging, data, quarantine):
        shutil.rmtree(folder, ignore_errors=True)
    total_bytes = sum(Path(p).stat().st_size for p in plans)
    # Buckets of about 16 MiB of input (x ~4 for .gz/.zst): one task holds one bucket in the duplicate-id pass.
    compressed = any(Path(p).suffix.lower() in _COMPRESSION for p in plans)
    buckets = max(2, min(256, math.ceil(total_bytes * (4 if compressed else 1) / (16 << 20))))

    # 1. read + validate, staged by bucket. The read asks for less CPU than validation, so Ray does not fuse them
    # into one task per file, and validation tasks are spread (Ray Data's SPREAD, its default for tasks with small
    # arguments): they run on every node of the cluster even for one big file. Each validate+write task takes up to
    # 100k rows (fewer files in the staging folder), but small inputs get at least one task per CPU (lines are
    # rarely over 1 KB).
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    rows_per_task = max(100, min(100_000, total_bytes // 1000 // cpus))
    block_rows = min(cfg.block_rows, rows_per_task)
    ds = ray.data.read_datasource(_datasource(plans, cfg.max_line_bytes, block_rows), num_cpus=0.5)
    validated = ds.map_batches(
        _validate_batch,
        fn_kwargs={"plans": plans, "max_chars": cfg.max_text_chars, "buckets": buckets},
        batch_format="pyarrow",
        batch_size=block_rows,  # not None: Ray Data would bundle small blocks into one task
    )
    validated.write_parquet(str(staging), partition_cols=["bucket"], min_rows_per_file=rows_per_task)

    # 2. the duplicate-id check: one task per bucket writes its share of data/ and quarantine/ and returns its
    # counts, the only thing the driver sums.
    data.mkdir(parents=True)
    quarantine.mkdir(parents=True)
    resolve = ray.remote(num_cpus=1)(_resolve_bucket)
    parts = ray.get([resolve.remote(str(staging), b, str(data), str(quarantine)) for b in range(buckets)])
    shutil.rmtree(staging)
    if not parquet_files(data):  # no valid row: still a dataset, with the record columns
        write_records(pd.DataFrame(columns=RECORD_COLUMNS), data)

    def total(key: str) -> dict[str, int]:
        out: Counter = Counter()
        for part in parts:
            out.update(part[key])
        return dict(sorted(out.items()))

    reasons = total("by_reason")
    manifest.input_rows = sum(total("by_file").values())
    manifest.output_rows = sum(p["output"] for p in parts)
    manifest.quarantined_rows = sum(reasons.values())
    manifest.quarantined_by_reason = reasons
    manifest.extra = {
        "files": {str(f.path): {"split": f.split, "task": f.task, "answers": str(f.answers or "")} for f in files},
        "rows_by_file": total("by_file"),
        "labelled_rows": sum(p["labelled"] for p in parts),
        "nodes": total("by_node"),  # Ray node id -> rows it validated
        "refused_files": refused,
        "duplicate_buckets": buckets,
    }
    manifest.check_accounting()


def ingest_stage(cfg: IngestConfig, out: Path, force: bool = False) -> StageRun:
    """The ``ingest`` stage: the files ``cfg.inputs`` names (and their answers) validated into ``out``."""
    files = discover(cfg.inputs, cfg.answers_dir)
    inputs = [f.path for f in files] + [f.answers for f in files if f.answers is not None]
    return run_stage("ingest", out, cfg.digest(), inputs, lambda m: ingest(files, out, cfg, m), force)
