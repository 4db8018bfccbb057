"""Run ecomrel commands on a Ray cluster as Ray jobs, and follow them: ``ecomrel submit`` and ``ecomrel jobs``.

A job's entrypoint is ``python -m cluster.cli <command>`` (usually ``run --config FILE``), started by the cluster's
job supervisor. Its code comes from one of three places:

- the repository, uploaded as the job's ``working_dir`` (unpacked on every node that runs the job's tasks, first
  on ``PYTHONPATH``) with the ``WORKING_DIR_EXCLUDES`` left behind: the default, and what makes a job run exactly
  the checkout it was submitted from;
- the cluster itself (``--no-upload``): nodes started from infra/Dockerfile's image hold the project at /app;
- a container image the job's processes run in (``--image``, the ``image_uri`` runtime-env field; the nodes need
  podman). Ray allows only ``env_vars`` and ``config`` beside ``image_uri``.

Without an upload, paths (``--config``) are the cluster's or the image's and are passed unchanged.

Both talk to the dashboard's job API with Ray's token authentication: the token comes from ``RAY_AUTH_TOKEN``,
the file named by ``RAY_AUTH_TOKEN_PATH``, or ``~/.ray/auth_token`` (Ray's own precedence, read by Ray's own
loader) and is sent as an ``Authorization: Bearer`` header. A missing token is an error, never a silent
unauthenticated request.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

if TYPE_CHECKING:
    from ray.job_submission import JobDetails, JobStatus, JobSubmissionClient

DEFAULT_ADDRESS = "http://127.0.0.1:8265"

#: Left out of the uploaded working dir (gitignore syntax, relative to it): run outputs, environments, caches.
WORKING_DIR_EXCLUDES = [
    "runs/",
    ".venv/",
    "venv/",
    ".git/",
    "__pycache__/",
    "*.pyc",
    ".pytest_cache/",
    ".ruff_cache/",
    ".cache/",
    "*.egg-info/",
    "build/",
    "dist/",
]

#: Forwarded from the submitting shell to the job (driver and every worker) when set there.
FORWARDED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")

_NO_TOKEN = (
    "no Ray auth token found: set RAY_AUTH_TOKEN, point RAY_AUTH_TOKEN_PATH at a file holding it, or put it in "
    "~/.ray/auth_token (`ray get-auth-token` prints it on the head node; on Kubernetes it is in the cluster's "
    "auth Secret)"
)


class JobsError(RuntimeError):
    """A submission or job query that cannot go ahead; the message says what to fix."""


@contextmanager
def _job_errors(what: str) -> Iterator[None]:
    """Ray's job client reports unknown ids, refused submissions, unreachable dashboards and rejected tokens as
    RuntimeError / ConnectionError / AuthenticationError; turn them into JobsError naming the job."""
    from ray.exceptions import AuthenticationError

    try:
        yield
    except JobsError:
        raise
    except (RuntimeError, ConnectionError, AuthenticationError) as exc:
        raise JobsError(f"{what}: {exc}") from exc


def repo_root() -> Path:
    """The repository this module belongs to: what an uploading job gets as its working dir."""
    return Path(__file__).resolve().parents[1]


def auth_headers() -> dict[str, str]:
    """The ``Authorization`` header carrying the cluster token.

    Sent explicitly because Ray's client adds it only when ``RAY_AUTH_MODE=token`` was in the environment before
    Ray was imported; setting the variable later does not reach Ray's cached configuration.
    """
    from ray._raylet import AuthenticationTokenLoader
    from ray.exceptions import AuthenticationError

    loader = AuthenticationTokenLoader.instance()
    try:
        token = loader.get_raw_token(ignore_auth_mode=True) if loader.has_token(ignore_auth_mode=True) else ""
    except AuthenticationError as exc:  # RAY_AUTH_TOKEN_PATH names a missing or empty file
        raise JobsError(f"{_NO_TOKEN}: {str(exc).split('. Note:')[0]}") from exc
    if not token:
        raise JobsError(_NO_TOKEN)
    return {"Authorization": f"Bearer {token}"}


def client(address: str | None = None) -> JobSubmissionClient:
    """A job client for the dashboard at ``address`` (Ray lets RAY_API_SERVER_ADDRESS / RAY_ADDRESS override it)."""
    from ray.job_submission import JobSubmissionClient

    headers = auth_headers()
    with _job_errors(f"Ray dashboard at {address or DEFAULT_ADDRESS}"):
        return JobSubmissionClient(address or DEFAULT_ADDRESS, headers=headers)


def entrypoint(cli_args: Sequence[str]) -> str:
    """The shell command the job runs: the ecomrel CLI by module, so it needs no installed console script."""
    return shlex.join(["python", "-m", "cluster.cli", *cli_args])


def runtime_env(
    image: str | None = None,
    env: Mapping[str, str] | None = None,
    upload: bool = True,
    working_dir: Path | None = None,
) -> dict[str, Any]:
    """The job's runtime env: ``image``, else the repository as working dir when ``upload``; plus the forwarded
    and the given env vars."""
    env_vars = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ} | dict(env or {})
    out: dict[str, Any] = {}
    if image:
        out["image_uri"] = image
    elif upload:
        out.update(working_dir=str(working_dir or repo_root()), excludes=list(WORKING_DIR_EXCLUDES))
    if env_vars:
        out["env_vars"] = env_vars
    return out


def _config_arg(cli_args: list[str]) -> tuple[int, str] | None:
    """(index, value) of ``--config FILE`` / ``-c FILE`` / ``--config=FILE`` in a ``run`` command."""
    for i, arg in enumerate(cli_args):
        if arg in ("--config", "-c") and i + 1 < len(cli_args):
            return i + 1, cli_args[i + 1]
        if arg.startswith("--config="):
            return i, arg
    return None


def job_args(cli_args: Sequence[str], upload: bool = True, working_dir: Path | None = None) -> list[str]:
    """Check the command a job will run and rewrite a ``run`` config path to where the job will find it.

    With an upload the config travels in the working dir, so it must exist here, inside it; the job gets the path
    relative to the working dir. Without one the path is the cluster's or the image's and is passed unchanged.
    """
    args = list(cli_args)
    if not args:
        raise JobsError("nothing to run: give an ecomrel command after `--`, e.g. `-- run --config FILE`")
    if args[0] != "run" or not upload:
        return args
    found = _config_arg(args)
    if found is None:
        raise JobsError("`run` needs --config FILE")
    index, value = found
    raw = value.removeprefix("--config=")
    root = (working_dir or repo_root()).resolve()
    path = Path(raw).resolve()
    if not path.is_file():
        raise JobsError(f"{raw}: config file not found")
    if not path.is_relative_to(root):
        raise JobsError(
            f"{raw}: outside the working dir {root} that the job receives; move it under {root}/configs, "
            "or give a path on the cluster with --no-upload"
        )
    rel = path.relative_to(root).as_posix()
    args[index] = f"--config={rel}" if value.startswith("--config=") else rel
    return args


def default_submission_id(cli_args: Sequence[str]) -> str:
    """``ecomrel-<config or command>-<UTC time>-<4 hex>``: readable in ``ray job list`` and unique."""
    found = _config_arg(list(cli_args))
    name = Path(found[1].removeprefix("--config=")).stem if found else (cli_args[0] if cli_args else "job")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)
    return f"ecomrel-{safe}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"


def submit(
    cli_args: Sequence[str],
    *,
    address: str | None = None,
    image: str | None = None,
    upload: bool = True,
    submission_id: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Submit ``python -m cluster.cli <cli_args>`` as a Ray job; returns its submission id.

    ``upload``: ship the repository as the working dir (ignored with ``image``, whose code the job runs)."""
    upload = upload and not image
    args = job_args(cli_args, upload)
    sid = submission_id or default_submission_id(args)
    jobs = client(address)
    with _job_errors(f"job {sid}: submission refused"):
        return jobs.submit_job(
            entrypoint=entrypoint(args),
            runtime_env=runtime_env(image, env, upload),
            submission_id=sid,
            metadata={"submitted_by": "ecomrel", "command": " ".join(args)[:512]},
        )


def details(submission_id: str, address: str | None = None) -> JobDetails:
    """Status, message, entrypoint, start/end times and driver node of one job."""
    jobs = client(address)
    with _job_errors(f"job {submission_id}"):
        return jobs.get_job_info(submission_id)


def logs(submission_id: str, address: str | None = None) -> str:
    """Everything the job's entrypoint has written so far."""
    jobs = client(address)
    with _job_errors(f"job {submission_id}"):
        return jobs.get_job_logs(submission_id)


def wait(
    submission_id: str, address: str | None = None, timeout_s: float = 24 * 3600, poll_s: float = 2.0
) -> JobStatus:
    """Block until the job is SUCCEEDED, FAILED or STOPPED; return that status."""
    jobs = client(address)
    deadline = time.monotonic() + timeout_s
    with _job_errors(f"job {submission_id}"):
        while not (status := jobs.get_job_status(submission_id)).is_terminal():
            if time.monotonic() > deadline:
                raise JobsError(f"job {submission_id}: still {status.value} after {timeout_s:.0f}s")
            time.sleep(poll_s)
    return status


def follow(submission_id: str, address: str | None = None, out: TextIO = sys.stdout) -> JobStatus:
    """Stream the job's logs to ``out`` until it ends; return its final status."""
    jobs = client(address)

    async def tail() -> None:
        async for chunk in jobs.tail_job_logs(submission_id):
            out.write(chunk)
            out.flush()

    with _job_errors(f"job {submission_id}"):
        asyncio.run(tail())
    return wait(submission_id, address)


def stop(submission_id: str, address: str | None = None) -> bool:
    """Ask the cluster to stop the job; False when it had already ended."""
    jobs = client(address)
    with _job_errors(f"job {submission_id}"):
        return jobs.stop_job(submission_id)


# ---------------------------------------------------------------------------------------------------------------
# CLI: `ecomrel submit` (registered by cluster/cli.py) and `ecomrel jobs status|logs|stop`.
# ---------------------------------------------------------------------------------------------------------------

Dashboard = Annotated[
    str | None,
    typer.Option(
        "--address",
        envvar=["RAY_API_SERVER_ADDRESS", "RAY_ADDRESS"],
        help=f"Ray dashboard URL of the cluster (default {DEFAULT_ADDRESS}; `ray dashboard cluster.yaml` "
        "or `kubectl port-forward svc/<cluster>-head-svc 8265` forwards it there).",
    ),
]

jobs_app = typer.Typer(no_args_is_help=True, help="Follow, inspect and stop ecomrel jobs on a Ray cluster.")


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except JobsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _exit_code(status: JobStatus) -> int:
    return 0 if status.value == "SUCCEEDED" else 1


def _parse_env(items: list[str] | None) -> dict[str, str]:
    env = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise JobsError(f"--env {item!r}: expected KEY=VALUE")
        env[key] = value
    return env


def submit_command(
    cli_args: Annotated[list[str], typer.Argument(help="The ecomrel command the job runs, after `--`.")],
    address: Dashboard = None,
    image: Annotated[
        str | None,
        typer.Option(
            help="Run the job's processes in this container image (runtime env image_uri; nodes need podman) "
            "instead of uploading the repository."
        ),
    ] = None,
    no_upload: Annotated[
        bool,
        typer.Option(
            "--no-upload",
            help="Use the project installed on the cluster (nodes running infra/Dockerfile's image) instead of "
            "uploading the repository; --config is then a path on the cluster.",
        ),
    ] = False,
    submission_id: Annotated[
        str | None, typer.Option("--submission-id", help="Job id (default: ecomrel-<config>-<time>-<hex>).")
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="KEY=VALUE for the job's environment (repeatable).")
    ] = None,
    wait_: Annotated[
        bool, typer.Option("--wait", help="Stream the logs until the job ends; exit 1 unless it succeeded.")
    ] = False,
) -> None:
    """Submit an ecomrel command to a Ray cluster as a Ray job: `ecomrel submit -- run --config FILE`."""
    sid = _run(
        submit,
        cli_args,
        address=address,
        image=image,
        upload=not no_upload,
        submission_id=submission_id,
        env=_run(_parse_env, env),
    )
    typer.echo(f"submitted {sid}")
    if wait_:
        status = _run(follow, sid, address)
        typer.echo(f"job {sid}: {status.value}")
        raise typer.Exit(_exit_code(status))
    typer.echo(f"follow it with: ecomrel jobs logs --follow {sid}")


@jobs_app.command("status")
def status_command(
    submission_id: Annotated[str, typer.Argument(help="Submission id.")], address: Dashboard = None
) -> None:
    """Status, message and timing of a job; exit 1 when it failed or was stopped."""
    info = _run(details, submission_id, address)
    typer.echo(f"{submission_id}: {info.status.value}" + (f" ({info.message})" if info.message else ""))
    typer.echo(f"entrypoint: {info.entrypoint}")
    if info.start_time:
        end = info.end_time or time.time() * 1000
        typer.echo(f"running time: {(end - info.start_time) / 1000:.1f}s")
    raise typer.Exit(0 if not info.status.is_terminal() else _exit_code(info.status))


@jobs_app.command("logs")
def logs_command(
    submission_id: Annotated[str, typer.Argument(help="Submission id.")],
    address: Dashboard = None,
    follow_: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming until the job ends.")] = False,
) -> None:
    """Print a job's driver logs (everything the entrypoint wrote)."""
    if follow_:
        raise typer.Exit(_exit_code(_run(follow, submission_id, address)))
    typer.echo(_run(logs, submission_id, address), nl=False)


@jobs_app.command("stop")
def stop_command(
    submission_id: Annotated[str, typer.Argument(help="Submission id.")], address: Dashboard = None
) -> None:
    """Stop a running job (its driver gets SIGTERM, then SIGKILL)."""
    stopped = _run(stop, submission_id, address)
    typer.echo(f"{submission_id}: {'stop requested' if stopped else 'already finished'}")
