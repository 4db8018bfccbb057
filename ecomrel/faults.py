"""Fault injection: kill this process inside a stage's body, to see what a crash there leaves behind.

``ECOMREL_FAULT_KILL_IN=STAGE[:PATTERN]`` makes :func:`ecomrel.manifest.run_stage` send SIGKILL to its own process
(no exception handler, ``finally`` or ``atexit`` runs, as when a node is lost or the OOM killer strikes) while the
body of stage ``STAGE`` runs: as soon as the body has written a file under the stage's output folder whose path
relative to that folder matches ``PATTERN`` (``fnmatch``, where ``*`` also crosses ``/``; default: any file), and
at the latest when the body returns, before the manifest is written. ``STAGE`` is the manifest's stage name
(``train``, ``score_test``, ...). Re-running without the variable shows whether the recipe recovers::

    ECOMREL_FAULT_KILL_IN='train:*checkpoint_*' ecomrel run -c configs/demo-quick.yaml   # killed mid-training
    ecomrel run -c configs/demo-quick.yaml   # resumes: train redone from its last checkpoint, then the rest

``tests/cpu/test_kill.py`` kills every stage of a recipe this way.
"""

from __future__ import annotations

import fnmatch
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV = "ECOMREL_FAULT_KILL_IN"
POLL_S = 0.02


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime) of every file under ``folder`` (files may vanish while we look)."""
    out = {}
    for p in folder.rglob("*") if folder.is_dir() else ():
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if p.is_file():
            out[p.relative_to(folder).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


def _kill(stage: str, why: str) -> None:
    print(f"{ENV}: SIGKILL in stage {stage} ({why})", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def kill_point(stage: str, out_dir: Path) -> Iterator[None]:
    """Around a stage body: kill the process as ``ECOMREL_FAULT_KILL_IN`` asks, if it names ``stage``."""
    name, _, pattern = os.environ.get(ENV, "").partition(":")
    if name != stage:
        yield
        return
    pattern = pattern or "*"
    before = _files(out_dir)  # what the body found there (state kept across runs) does not count as written

    def written() -> str | None:
        return next(
            (rel for rel, st in _files(out_dir).items() if before.get(rel) != st and fnmatch.fnmatch(rel, pattern)),
            None,
        )

    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(POLL_S):
            if (rel := written()) is not None:
                _kill(stage, f"its body wrote {rel}")

    threading.Thread(target=watch, name="ecomrel-fault-kill", daemon=True).start()
    try:
        yield
    finally:
        stop.set()
    _kill(stage, "its body returned")
