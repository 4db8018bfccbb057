"""Stage manifests: what a stage read, wrote and dropped, and whether it must run again.

Every stage writes ``<out>/manifest.json``. A stage whose manifest records the same config digest and the same
input fingerprints, beside the very files it lists, is skipped on re-run, so a killed recipe resumes where it
stopped.

Crash consistency: a manifest exists only beside the complete output it describes. ``run_stage`` removes the old
manifest (one atomic unlink) before anything else, then empties the folder (but for what the stage keeps to resume
from: training's checkpoints), runs the body and writes the manifest last, listing every file the body wrote with
its size and SHA-256. A stage killed at any point therefore leaves no manifest, or leftovers that the next run
clears; a folder whose files were removed or truncated later is not current either. A folder that has a manifest
is fingerprinted by the files it lists (see ``fingerprint``), so downstream stages follow the data.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from .faults import kill_point

MANIFEST = "manifest.json"
#: Marks a folder as a stage's own (written when the stage first clears it), so that re-runs may empty it.
STAGE_MARK = ".ecomrel-stage"
_VERSIONED = ("ecomrel", "ray", "torch", "transformers", "peft", "sentence-transformers", "faiss-cpu", "deepspeed")


class OutputFile(BaseModel):
    """One file a stage wrote: its size in bytes and the SHA-256 of its contents."""

    size: int
    sha256: str


class Manifest(BaseModel):
    stage: str
    input_rows: int = 0
    output_rows: int = 0
    quarantined_rows: int = 0
    quarantined_by_reason: dict[str, int] = Field(default_factory=dict)
    config_hash: str = ""
    input_fingerprints: dict[str, str] = Field(default_factory=dict)
    wall_time_s: float = 0.0
    versions: dict[str, str] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict, description="Stage-specific counts and facts.")
    completed_at: float = 0.0
    outputs: dict[str, OutputFile] | None = Field(
        None,
        description="Every file of the stage's folder (path relative to it) but the manifest, when the stage "
        "finished. None: a manifest older than this record, never current.",
    )

    def check_accounting(self) -> None:
        """Nothing lost: every input row is in the output or in quarantine."""
        if sum(self.quarantined_by_reason.values()) != self.quarantined_rows:
            raise AssertionError(f"{self.stage}: quarantined_by_reason does not add up to quarantined_rows")
        if self.input_rows != self.output_rows + self.quarantined_rows:
            raise AssertionError(
                f"{self.stage}: input_rows {self.input_rows} != output_rows {self.output_rows} + "
                f"quarantined_rows {self.quarantined_rows}"
            )


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in _VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def output_files(out_dir: str | Path) -> dict[str, OutputFile]:
    """Every file under ``out_dir`` but its manifest, by path relative to it, with size and content hash."""
    out_dir = Path(out_dir)
    files = sorted(p for p in out_dir.rglob("*") if p.is_file())
    skip = {out_dir / MANIFEST, (out_dir / MANIFEST).with_suffix(".tmp"), out_dir / STAGE_MARK}
    return {
        f.relative_to(out_dir).as_posix(): OutputFile(size=f.stat().st_size, sha256=_sha256(f))
        for f in files
        if f not in skip
    }


def damaged_outputs(out_dir: str | Path, m: Manifest) -> list[str]:
    """The files ``m`` lists that are missing from ``out_dir`` or have another size now (all of them when the
    manifest predates output records)."""
    if m.outputs is None:
        return ["(the manifest records no output files)"]
    bad = []
    for rel, f in m.outputs.items():
        path = Path(out_dir) / rel
        if not path.is_file() or path.stat().st_size != f.size:
            bad.append(rel)
    return bad


def fingerprint(path: str | Path) -> str:
    """Content hash of a file, or of a folder. A stage's folder (one with a manifest) is fingerprinted by its
    manifest's identity and the content hashes of the files it lists, so it follows the data without re-reading
    it; a stage folder whose files no longer match its manifest is an error. Anything else: by its bytes."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    h = hashlib.sha256()
    if path.is_dir() and (path / MANIFEST).is_file():
        m = read_manifest(path)
        if bad := damaged_outputs(path, m):
            raise FileNotFoundError(
                f"{path}: stage {m.stage!r}'s files do not match its manifest ({', '.join(bad[:5])}): run it again"
            )
        outputs = {rel: f.sha256 for rel, f in (m.outputs or {}).items()}
        h.update(json.dumps([m.stage, m.config_hash, m.input_fingerprints, outputs], sort_keys=True).encode())
        return h.hexdigest()[:16]
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def read_manifest(out_dir: str | Path) -> Manifest:
    return Manifest.model_validate_json((Path(out_dir) / MANIFEST).read_text())


def write_manifest(out_dir: str | Path, manifest: Manifest) -> Path:
    """Write ``manifest`` into ``out_dir``, listing the files there now (``outputs``): call it last."""
    path = Path(out_dir) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest.outputs = output_files(out_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(manifest.model_dump_json(indent=2))
    tmp.replace(path)  # atomic: a killed stage never leaves a manifest that claims completion
    return path


def is_current(out_dir: str | Path, config_hash: str, inputs: Iterable[str | Path]) -> bool:
    """True when ``out_dir`` holds a completed manifest for exactly this config and these inputs, beside the files
    it lists (same paths and sizes)."""
    if not (Path(out_dir) / MANIFEST).is_file():
        return False
    m = read_manifest(out_dir)
    return (
        m.config_hash == config_hash
        and not damaged_outputs(out_dir, m)
        and m.input_fingerprints == {str(p): fingerprint(p) for p in inputs}
    )


def clear_stage_folder(out_dir: str | Path, keep: Iterable[str] = ()) -> None:
    """Make ``out_dir`` an empty folder for a stage to write, but for the entries named in ``keep`` (state the
    stage resumes from). The manifest goes first, in one atomic unlink: from then on the folder never claims to be
    complete, wherever a crash stops the rest.

    Only a stage's own folder is emptied: one that is new or empty, or has a manifest or the stage mark. Any other
    folder (say ``ecomrel ingest --out`` pointed at the folder of the input files) is refused, untouched."""
    out_dir = Path(out_dir)
    if out_dir.is_dir() and not any((out_dir / name).exists() for name in (MANIFEST, STAGE_MARK)):
        foreign = sorted(entry.name for entry in out_dir.iterdir())
        if foreign:
            raise FileExistsError(
                f"{out_dir}: not an ecomrel stage folder (it holds {', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''} and no {MANIFEST}); a stage empties its folder before "
                "writing, so give it a new or empty folder"
            )
    (out_dir / MANIFEST).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / STAGE_MARK).touch()
    keep = set(keep) | {STAGE_MARK}
    for entry in out_dir.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@contextmanager
def stage_manifest(
    stage: str, out_dir: str | Path, config_hash: str, inputs: Iterable[str | Path], keep: Iterable[str] = ()
):
    """Clear ``out_dir`` (``clear_stage_folder``) and yield a Manifest to fill in while the stage writes there; on
    success stamp time, versions, fingerprints and the files written, and write the manifest last."""
    inputs = list(inputs)
    m = Manifest(stage=stage, config_hash=config_hash, input_fingerprints={str(p): fingerprint(p) for p in inputs})
    clear_stage_folder(out_dir, keep)
    start = time.perf_counter()
    with kill_point(stage, Path(out_dir)):
        yield m
    m.wall_time_s = round(time.perf_counter() - start, 3)
    m.versions = versions()
    m.completed_at = time.time()
    write_manifest(out_dir, m)


#: What running a stage returns: its manifest, and whether it ran (False: skipped, its manifest was current).
StageRun = tuple[Manifest, bool]


def run_stage(
    stage: str,
    out_dir: str | Path,
    config_hash: str,
    inputs: Iterable[str | Path],
    body: Callable[[Manifest], None],
    force: bool = False,
    keep: Iterable[str] = (),
) -> StageRun:
    """Run ``body`` unless ``out_dir`` is current. Returns (manifest, ran).

    ``body`` writes into ``out_dir``, which it finds empty but for the entries named in ``keep`` (a stage's own
    resume state, e.g. training's checkpoints). ``ECOMREL_FAULT_KILL_IN`` can kill the process inside the body
    (``ecomrel.faults``)."""
    inputs = list(inputs)
    if not force and is_current(out_dir, config_hash, inputs):
        return read_manifest(out_dir), False
    with stage_manifest(stage, out_dir, config_hash, inputs, keep) as m:
        body(m)
    return m, True
