"""Check that this Python can run ecomrel before a submitted job starts the recipe: ``python -m cluster.preflight``.

A Ray job's entrypoint runs the ``python`` found on the PATH of the shell that started the node (``ray start``), not
the interpreter of the ``ray`` script: a head started as ``.venv/bin/ray start --head`` without activating the
environment runs jobs under the system Python, where the recipe fails deep inside with ``No module named 'typer'``.
``ecomrel submit`` therefore runs this module first; it exits 2 at once, naming the interpreter, what it lacks and
the fix.

Standard library only: it must run under exactly the Python that lacks the project's dependencies. The dependencies
are ``[project].dependencies`` of the pyproject.toml beside this package (the uploaded working dir, or /app in the
image), checked as installed distributions, which needs no mapping from distribution to module names.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

FIX = (
    "Start the cluster from the project's environment: `ray stop`, then `source .venv/bin/activate && ray start "
    "--head` (a job runs the `python` on the PATH of the shell that ran `ray start`, not the one beside the `ray` "
    "script); or submit with `ecomrel submit --image IMAGE` to run the job in infra/Dockerfile's image."
)


def requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """Distribution names of ``[project].dependencies`` (extras and version specifiers dropped)."""
    import tomllib

    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    return [re.match(r"[A-Za-z0-9._-]+", dep).group(0) for dep in deps]


def missing(names: list[str]) -> list[str]:
    """The names of ``names`` that are not installed for this interpreter."""
    out = []
    for name in names:
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            out.append(name)
    return out


def problems() -> list[str]:
    """What keeps this interpreter from running ecomrel; empty when nothing does."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this runs under whatever Python the job got
        return [f"Python {sys.version.split()[0]} (ecomrel needs >= 3.11)"]
    if not PYPROJECT.is_file():
        return [f"no {PYPROJECT} beside the cluster package to read the dependencies from"]
    absent = missing(requirements())
    return [f"missing package(s): {', '.join(absent)} (of {PYPROJECT.name}'s dependencies)"] if absent else []


def main() -> int:
    found = problems()
    if not found:
        return 0
    print(
        f"error: this job's Python cannot run ecomrel.\n  interpreter: {sys.executable}\n"
        + "".join(f"  {p}\n" for p in found)
        + f"  fix: {FIX}",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
