"""The cluster image's Python stack, resolved against PyPI for the image's platform (linux x86_64, Python 3.11,
glibc 2.35 of the Ubuntu 22.04 base): the project's pins plus the `gpu` extra still resolve, to torch's and vLLM's
CUDA 13 builds, and the only CUDA 12 packages they bring are the ones infra/Dockerfile removes.

Skipped without access to PyPI. Slow: a cold pip cache downloads ~1 GB of wheels (4-5 minutes here).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
INDEX = "https://pypi.org/simple"
#: Installed from their sdist (pure Python; DeepSpeed builds its ops just in time), which pip cannot resolve for
#: another platform: `--platform` needs `--only-binary=:all:`.
SDIST_ONLY = {"deepspeed"}
#: manylinux tags a glibc 2.35 system accepts.
PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(17, 36)] + ["manylinux2014_x86_64", "linux_x86_64"]

pytestmark = pytest.mark.slow


def _pip(*args: str, timeout: float) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", "--isolated", *args, "--index-url", INDEX]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _pypi_reachable() -> bool:
    try:
        return _pip("index", "versions", "ray", timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def test_gpu_extra_resolves_for_linux_x86_64_with_one_cuda_major(tmp_path):
    if not _pypi_reachable():
        pytest.skip(f"no access to {INDEX}")
    project = PYPROJECT["project"]
    requirements = [r for r in project["dependencies"] if re.split(r"[\[=<>!~ ;]", r)[0] not in SDIST_ONLY]
    requirements += project["optional-dependencies"]["gpu"]
    report = tmp_path / "report.json"
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    proc = _pip("install", "--dry-run", "--ignore-installed", "--only-binary=:all:", "--python-version", "3.11",
                *platforms, "--report", str(report), *requirements, timeout=1500)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    versions = {
        i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]
    }

    def pin(dist: str) -> str:
        (req,) = [r for r in project["dependencies"] if re.match(rf"{dist}(\[[^\]]*\])?==", r)]
        return req.split("==")[1]

    assert versions["torch"] == pin("torch") and versions["ray"] == pin("ray")
    assert versions["vllm"] == "0.29.0" and versions["nixl-cu13"]
    assert versions["nvidia-cuda-runtime"].startswith("13."), "torch's CUDA runtime is not CUDA 13"
    dockerfile = (REPO / "infra" / "Dockerfile").read_text()
    removed = re.search(r"pip uninstall -y ([^\\\n]+)", dockerfile)[1].split()
    assert sorted(n for n in versions if "cu12" in n) == sorted(removed), "the image would keep a CUDA 12 package"
    reinstalled = re.search(r"--force-reinstall (nvidia-cutlass-dsl-libs-cu13)==([\w.]+)", dockerfile)
    assert versions[reinstalled[1]] == reinstalled[2], "the Dockerfile reinstalls another cutlass build"
