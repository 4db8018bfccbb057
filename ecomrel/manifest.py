"""Stage manifests: what a stage read, wrote and dropped, and whether it must run again.

Every stage writes ``<out>/manifest.json``. A stage whose manifest records the same config digest and the same
input fingerprints is skipped on re-run, so a killed recipe resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

MANIFEST = "manifest.json"
_VERSIONED = ("ecomrel", "ray", "torch", "transformers", "peft", "sentence-transformers", "faiss-cpu", "deepspeed")


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


def fingerprint(path: str | Path) -> str:
    """Content hash of a file, or of a folder. A folder with a manifest is fingerprinted by its manifest's
    identity (stage outputs are deterministic given their inputs and config), anything else by its bytes."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    h = hashlib.sha256()
    if path.is_dir() and (path / MANIFEST).is_file():
        m = read_manifest(path)
        h.update(json.dumps([m.stage, m.config_hash, m.input_fingerprints, m.output_rows], sort_keys=True).encode())
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
    path = Path(out_dir) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(manifest.model_dump_json(indent=2))
    tmp.replace(path)  # atomic: a killed stage never leaves a manifest that claims completion
    return path


def is_current(out_dir: str | Path, config_hash: str, inputs: Iterable[str | Path]) -> bool:
    """True when ``out_dir`` holds a completed manifest for exactly this config and these inputs."""
    if not (Path(out_dir) / MANIFEST).is_file():
        return False
    m = read_manifest(out_dir)
    return m.config_hash == config_hash and m.input_fingerprints == {str(p): fingerprint(p) for p in inputs}


@contextmanager
def stage_manifest(stage: str, out_dir: str | Path, config_hash: str, inputs: Iterable[str | Path]):
    """Yield a Manifest to fill in; on success stamp time, versions and fingerprints and write it."""
    inputs = list(inputs)
    m = Manifest(stage=stage, config_hash=config_hash, input_fingerprints={str(p): fingerprint(p) for p in inputs})
    start = time.perf_counter()
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
) -> StageRun:
    """Run ``body`` unless ``out_dir`` is current. Returns (manifest, ran)."""
    inputs = list(inputs)
    if not force and is_current(out_dir, config_hash, inputs):
        return read_manifest(out_dir), False
    with stage_manifest(stage, out_dir, config_hash, inputs) as m:
        body(m)
    return m, True
