"""Ingest + validation: CIKM files (JSON Lines, CSV, Parquet) -> one validated Parquet dataset.

Every input row ends up either in ``<out>/data/`` (normalised to ``ecomrel.schema.RECORD_SCHEMA``) or in
``<out>/quarantine/quarantine.jsonl`` (verbatim, with file, line, reason and detail), and the manifest's counts add
up: ``input_rows == output_rows + quarantined_rows``. A missing file, an unsupported format or a file that is not
what its extension says is an ``IngestError`` naming the file.

The driver splits files into raw lines (CSV/Parquet rows are re-encoded as JSON lines, so one validator serves
every format); validation runs as Ray Data tasks over repartitioned blocks; the duplicate-id check needs the global
key set and runs in the driver on the validated rows.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections import Counter
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
from ecomrel.schema import QUERY_FIELD, RECORD_SCHEMA, TARGET_FIELD, UNLABELED, Source, Split, Task

#: Quarantine reasons, in the order the checks run.
REASONS = (
    "undecodable",
    "malformed_json",
    "blank_line",
    "missing_field",
    "unknown_task",
    "task_mismatch",
    "bad_id",
    "bad_label",
    "unknown_language",
    "empty_text",
    "text_too_long",
    "duplicate_id",
)

_NAME = re.compile(r"^(?P<split>train|dev|test)_(?P<task>QC|QI)$", re.IGNORECASE)
_JSONL = {".txt", ".jsonl", ".json"}
_TABULAR = {".csv", ".parquet"}


class IngestConfig(Section):
    inputs: list[str] = Field(
        default_factory=list,
        description="CIKM files or folders of them (train_QC.txt, dev_QI.txt, ...). Empty: the make-data output.",
    )
    max_text_chars: int = Field(512, ge=1, description="Queries or targets longer than this are quarantined.")
    answers_dir: str | None = Field(
        None,
        description="Folder of dev/test labels (answers/dev_QC.txt, ...). Default: an answers/ folder "
        "beside the inputs, if present.",
    )


class IngestError(ValueError):
    """An input that cannot be ingested at all (as opposed to bad rows, which are quarantined)."""


@dataclass(frozen=True)
class InputFile:
    path: Path
    split: str
    task: str
    answers: Path | None  # dev/test labels in an answers/ folder beside the file

    @property
    def format(self) -> str:
        return "jsonl" if self.path.suffix.lower() in _JSONL else self.path.suffix.lower().lstrip(".")


def discover(inputs: list[str | Path], answers_dir: str | Path | None = None) -> list[InputFile]:
    """Expand files and folders into CIKM input files; split and task come from names like ``dev_QI.txt``."""
    if not inputs:
        raise IngestError("no inputs given")
    found: list[InputFile] = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            raise IngestError(f"{path}: no such file or folder")
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and _NAME.match(p.stem))
            if not files:
                raise IngestError(f"{path}: no CIKM files in this folder (expected names like train_QC.txt)")
        else:
            files = [path]
        for f in files:
            m = _NAME.match(f.stem)
            if not m:
                raise IngestError(f"{f}: cannot tell split and task from the name (expected e.g. train_QC.txt)")
            if f.suffix.lower() not in _JSONL | _TABULAR:
                raise IngestError(f"{f}: unsupported format {f.suffix!r} (JSON Lines .txt/.jsonl, .csv or .parquet)")
            split, task = m["split"].lower(), m["task"].upper()
            ans_root = Path(answers_dir) if answers_dir else f.parent / "answers"
            candidates = [ans_root / f.name, *ans_root.glob(f"{f.stem}.*")] if split != Split.TRAIN else []
            answers = next((a for a in candidates if a.is_file()), None)
            found.append(InputFile(f, split, task, answers))
    keys = Counter((f.split, f.task) for f in found)
    if dup := [k for k, n in keys.items() if n > 1]:
        raise IngestError(f"more than one input file for split/task {dup}")
    return found


def _read_answers(path: Path) -> dict[str, int]:
    """id -> label from an answers file (JSON Lines ``{"id": .., "label": ..}``)."""
    labels: dict[str, int] = {}
    with path.open("rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                labels[str(row["id"])] = _label(row["label"])
            except (ValueError, KeyError, TypeError) as exc:
                raise IngestError(f"{path}:{n}: bad answers row ({exc.__class__.__name__}: {exc})") from exc
    return labels


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


def _tabular_lines(f: InputFile) -> list[bytes]:
    """CSV / Parquet rows as JSON lines, so every format meets one validator. Values stay strings for CSV."""
    try:
        if f.format == "csv":
            df = pd.read_csv(f.path, dtype=str, keep_default_na=False)
        else:
            df = pq.read_table(f.path).to_pandas()
    except Exception as exc:  # noqa: BLE001 - any reader failure means the file is not what it claims to be
        raise IngestError(f"{f.path}: cannot read as {f.format.upper()}: {exc}") from exc
    missing = {"id", "language", QUERY_FIELD, TARGET_FIELD[Task(f.task)]} - set(df.columns)
    if missing:
        raise IngestError(f"{f.path}: missing columns {sorted(missing)}")
    return [json.dumps(rec, ensure_ascii=False, default=str).encode() for rec in df.to_dict(orient="records")]


def _check_jsonl_format(f: InputFile) -> None:
    """A JSON Lines file whose first non-blank line is not JSON at all is the wrong kind of file."""
    with f.path.open("rb") as fh:
        head = fh.read(4096)
    if b"\x00" in head:
        raise IngestError(f"{f.path}: binary content, not JSON Lines")
    for line in head.splitlines():
        if line.strip():
            if not line.lstrip().startswith(b"{"):
                raise IngestError(f"{f.path}: not JSON Lines (first line does not start with '{{')")
            return


def validate_row(raw: bytes, split: str, task: str, answers: dict[str, int] | None, max_chars: int) -> dict:
    """One raw line -> a normalised record, or ``{"reason": ..., "detail": ...}``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {"reason": "undecodable", "detail": str(exc)}
    if not text.strip():
        return {"reason": "blank_line", "detail": "empty line"}
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        return {"reason": "malformed_json", "detail": str(exc)}
    if not isinstance(row, dict):
        return {"reason": "malformed_json", "detail": f"expected an object, got {type(row).__name__}"}

    row_task = row.get("task", task)
    if row_task not in {t.value for t in Task}:
        return {"reason": "unknown_task", "detail": f"task {row_task!r}"}
    if row_task != task:
        return {"reason": "task_mismatch", "detail": f"task {row_task!r} in a {task} file"}
    target_field = TARGET_FIELD[Task(task)]
    required = ["id", "language", QUERY_FIELD, target_field] + (["label"] if split == Split.TRAIN else [])
    if missing := [k for k in required if k not in row or row[k] is None]:
        return {"reason": "missing_field", "detail": f"missing {', '.join(missing)}"}

    rid = row["id"]
    if isinstance(rid, bool) or not isinstance(rid, int | str) or not str(rid).strip():
        return {"reason": "bad_id", "detail": f"id {rid!r}"}
    rid = str(rid).strip()

    if "label" in row and row["label"] is not None:
        try:
            label = _label(row["label"])
        except ValueError as exc:
            return {"reason": "bad_label", "detail": str(exc)}
    elif answers is not None and rid in answers:
        label = answers[rid]
    else:
        label = UNLABELED

    language = row["language"]
    if not isinstance(language, str) or language not in LANGUAGES:
        return {"reason": "unknown_language", "detail": f"language {language!r}"}

    for field in (QUERY_FIELD, target_field):
        value = row[field]
        if not isinstance(value, str) or not value.strip():
            return {"reason": "empty_text", "detail": f"{field} is empty"}
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


def _read_lines(f: InputFile) -> list[bytes]:
    if f.format in ("csv", "parquet"):
        return _tabular_lines(f)
    _check_jsonl_format(f)
    data = f.path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":  # the file's final newline ends the last row; it is not a row of its own
        lines.pop()
    return [line.rstrip(b"\r") for line in lines]


_STAGED = pa.schema(
    [
        pa.field("file", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("raw", pa.binary()),
        pa.field("split", pa.string()),
        pa.field("task", pa.string()),
    ]
)


_VALIDATED = pa.schema(
    [f.with_nullable(True) for f in RECORD_SCHEMA]
    + [
        pa.field("file", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("raw", pa.binary()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("node_id", pa.string()),
    ]
)


def _validate_batch(batch: pa.Table, answers: dict[str, dict[str, int]], max_chars: int) -> pa.Table:
    """Ray Data batch function: raw lines -> records plus ``reason``/``detail`` (null when the row is valid) and
    the Ray node that validated them (the manifest's ``nodes``)."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    rows = []
    for staged in batch.to_pylist():
        out = validate_row(staged["raw"], staged["split"], staged["task"], answers.get(staged["file"]), max_chars)
        rows.append({**out, "file": staged["file"], "line": staged["line"], "raw": staged["raw"], "node_id": node})
    return pa.Table.from_pylist(rows, schema=_VALIDATED)


def ingest(files: list[InputFile], out_dir: Path, cfg: IngestConfig, manifest: Manifest) -> None:
    """Validate ``files`` into ``out_dir``; fill ``manifest`` with the counts."""
    import ray
    import ray.data

    out_dir = Path(out_dir)
    staged: list[dict] = []
    answers: dict[str, dict[str, int]] = {}
    for f in files:
        if f.answers is not None:
            answers[str(f.path)] = _read_answers(f.answers)
        for n, raw in enumerate(_read_lines(f), 1):
            staged.append({"file": str(f.path), "line": n, "raw": raw, "split": f.split, "task": f.task})
    if not staged:
        raise IngestError(f"no rows in {[str(f.path) for f in files]}")

    # At least one block per CPU of the cluster, so validation spreads over every node even for small inputs.
    cpus = int(ray.cluster_resources().get("CPU", 1))
    blocks = max(1, min(64, max(cpus, len(staged) // 5000), len(staged)))
    ds = ray.data.from_arrow(pa.Table.from_pylist(staged, schema=_STAGED)).repartition(blocks)
    validated = ds.map_batches(
        _validate_batch, fn_kwargs={"answers": answers, "max_chars": cfg.max_text_chars}, batch_format="pyarrow"
    ).to_pandas()

    # Duplicate ids: the first occurrence (in input order) of a (task, split, id) is kept.
    validated = validated.sort_values(["file", "line"], kind="stable").reset_index(drop=True)
    ok = validated["reason"].isna()
    dup = ok & validated.duplicated(subset=["task", "split", "id"], keep="first")
    first_line = validated[ok & ~dup].set_index(["task", "split", "id"])["line"]
    validated.loc[dup, "reason"] = "duplicate_id"
    validated.loc[dup, "detail"] = [
        f"id {i!r} already on line {first_line[(t, s, i)]}"
        for t, s, i in validated.loc[dup, ["task", "split", "id"]].itertuples(index=False)
    ]

    good = validated[validated["reason"].isna()]
    bad = validated[validated["reason"].notna()]
    write_records(good, out_dir / "data")
    _write_quarantine(bad, out_dir / "quarantine")

    manifest.input_rows = len(staged)
    manifest.output_rows = len(good)
    manifest.quarantined_rows = len(bad)
    manifest.quarantined_by_reason = {r: int(n) for r, n in bad["reason"].value_counts().sort_index().items()}
    manifest.extra = {
        "files": {str(f.path): {"split": f.split, "task": f.task, "answers": str(f.answers or "")} for f in files},
        "rows_by_file": {k: int(v) for k, v in validated.groupby("file").size().items()},
        "labelled_rows": int((good["label"] != UNLABELED).sum()),
        "nodes": {str(n): int(v) for n, v in validated.groupby("node_id").size().items()},  # Ray node id -> rows
    }
    manifest.check_accounting()


def ingest_stage(cfg: IngestConfig, out: Path, force: bool = False) -> StageRun:
    """The ``ingest`` stage: the files ``cfg.inputs`` names (and their answers) validated into ``out``."""
    files = discover(cfg.inputs, cfg.answers_dir)
    inputs = [f.path for f in files] + [f.answers for f in files if f.answers is not None]
    return run_stage("ingest", out, cfg.digest(), inputs, lambda m: ingest(files, out, cfg, m), force)


def _write_quarantine(bad: pd.DataFrame, qdir: Path) -> None:
    qdir.mkdir(parents=True, exist_ok=True)
    with (qdir / "quarantine.jsonl").open("w", encoding="utf-8") as fh:
        for row in bad.itertuples(index=False):
            rec = {"file": row.file, "line": int(row.line), "reason": row.reason, "detail": row.detail}
            try:
                rec["raw"] = row.raw.decode("utf-8")
            except UnicodeDecodeError:  # keep undecodable bytes verbatim, losslessly
                rec["raw"] = row.raw.decode("utf-8", errors="replace")
                rec["raw_base64"] = base64.b64encode(row.raw).decode("ascii")
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
