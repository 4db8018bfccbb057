"""Run ecomrel commands on a Ray cluster as Ray jobs, and follow them: ``ecomrel submit`` and ``ecomrel jobs``.

A job's entrypoint is ``python -m cluster.preflight && python -m cluster.cli <command>`` (usually
``run --config FILE``), started by the cluster's job supervisor: the preflight fails at once, naming the interpreter
and what it lacks, when the job's ``python`` cannot run ecomrel. Its code comes from one of three places:

- the repository, uploaded as the job's ``working_dir`` (unpacked on every node that runs the job's tasks, first
  on ``PYTHONPATH``) with the ``WORKING_DIR_EXCLUDES`` left behind: the default, and what makes a job run exactly
  the checkout it was submitted from;
- the cluster itself (``--no-upload``): nodes started from infra/Dockerfile's image hold the project at /app;
- a container image the job's processes run in (``--image``, the ``image_uri`` runtime-env field; the nodes need
  podman). Ray allows only ``env_vars`` and ``config`` beside ``image_uri``.

Without an upload, paths (``--config``) are the cluster's or the image's and are passed unchanged.

Where the results go: a job's relative ``runs_dir`` is resolved against a folder that outlives the job, passed to it
as ``ECOMREL_STORAGE`` (``cluster.config`` resolves it in the job): ``--storage`` / ``ECOMREL_STORAGE`` here, else the
checkout's own folder when the cluster is this machine; ``ecomrel submit`` refuses an uploaded ``run`` whose
runs_dir is relative otherwise. The job prints its absolute ``run folder:`` first; ``ecomrel jobs logs`` repeats it
last, and ``ecomrel jobs fetch`` copies that folder back through a Ray Client connection (``ray://HEAD:10001``), for
callers that do not share the cluster's storage.

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
import socket
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, TextIO
from urllib.parse import urlsplit

import typer

if TYPE_CHECKING:
    from ray.job_submission import JobDetails, JobStatus, JobSubmissionClient

DEFAULT_ADDRESS = "http://127.0.0.1:8265"
RAY_CLIENT_PORT = 10001  # `ray start --head`'s Ray Client server, which `ecomrel jobs fetch` connects to

#: A folder that outlives a job, shared by the cluster's nodes: a job's relative runs_dir is resolved against it.
STORAGE_ENV = "ECOMREL_STORAGE"
#: The line a job's `run` prints first (cluster/cli.py), which `ecomrel jobs logs` and `jobs fetch` read back.
RUN_FOLDER_PREFIX = "run folder: "

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
    "auth Secret). A cluster started with `ray start --head` on a machine without a token runs without "
    "authentication: `ray stop`, `ray get-auth-token --generate`, then `ray start --head` again"
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
    """The shell command the job runs: the dependency check (cluster/preflight.py, standard library only), then the
    ecomrel CLI by module, so it needs no installed console script."""
    return "python -m cluster.preflight && " + shlex.join(["python", "-m", "cluster.cli", *cli_args])


def is_local(address: str | None) -> bool:
    """Whether the dashboard address names this machine (loopback or this host's name)."""
    address = address or DEFAULT_ADDRESS
    if address == "auto":
        return True
    host = urlsplit(address if "://" in address else f"http://{address}").hostname
    return host in ("127.0.0.1", "localhost", "::1", socket.gethostname(), socket.getfqdn())


def storage_root(storage: str | None, address: str | None) -> Path | None:
    """Where a job's relative runs_dir is resolved: ``storage`` (--storage / ECOMREL_STORAGE), else this checkout
    when the cluster runs on this machine; None when neither holds."""
    if storage:
        if not Path(storage).is_absolute():
            raise JobsError(f"--storage {storage}: give an absolute path, as the cluster's nodes see it")
        return Path(storage)
    root = repo_root()
    return root if is_local(address) and root.is_dir() else None


def _set_args(cli_args: list[str]) -> list[str]:
    """The ``--set key=value`` overrides of a ``run`` command."""
    out = []
    for i, arg in enumerate(cli_args):
        if arg == "--set" and i + 1 < len(cli_args):
            out.append(cli_args[i + 1])
        elif arg.startswith("--set="):
            out.append(arg.removeprefix("--set="))
    return out


@contextmanager
def _environ(extra: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``extra`` set, restored afterwards."""
    saved = dict(os.environ)
    os.environ.update(extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def planned_run_folder(
    cli_args: list[str], storage: Path | None, address: str | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The absolute run folder an uploaded ``run`` command (as ``job_args`` rewrote it) will write: the config's
    runs_dir, resolved against ``storage`` when relative, / name. Refuses a relative runs_dir without storage.

    The config is validated here, with the job's extra ``env`` visible to its ``${VAR}`` references."""
    from cluster.config import load_config
    from ecomrel.config import ConfigError

    _, value = _config_arg(cli_args)
    config = value.removeprefix("--config=")
    try:
        with _environ(env or {}):
            cfg = load_config(repo_root() / config, _set_args(cli_args))
    except ConfigError as exc:
        raise JobsError(str(exc)) from exc
    runs = Path(cfg.runs_dir)
    if not runs.is_absolute():
        if storage is None:
            raise JobsError(
                f"{config}: runs_dir {cfg.runs_dir!r} is relative and the cluster at {address or DEFAULT_ADDRESS} "
                "is not this machine, so the results would land in the job's working dir, which Ray deletes with "
                f"the session. Give a folder every node sees: `ecomrel submit --storage PATH` or `export "
                f"{STORAGE_ENV}=PATH` (/mnt/cluster_storage on the clusters of cluster/aws.yaml, cluster/gcp.yaml "
                "and cluster/k8s/), or an absolute runs_dir"
            )
        runs = storage / runs
    return runs / cfg.name


def reported_run_folder(log_text: str) -> str | None:
    """The absolute run folder a job printed (the last ``run folder:`` line of its logs), or None."""
    found = [line for line in log_text.splitlines() if line.startswith(RUN_FOLDER_PREFIX)]
    return found[-1].removeprefix(RUN_FOLDER_PREFIX).strip() if found else None


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
    storage: str | None = None,
) -> tuple[str, Path | None]:
    """Submit ``python -m cluster.cli <cli_args>`` as a Ray job; returns its submission id and, for an uploaded
    ``run``, the absolute run folder it will write (None when the config is the cluster's: the job prints it).

    ``upload``: ship the repository as the working dir (ignored with ``image``, whose code the job runs).
    ``storage``: the folder a relative runs_dir is resolved against (see ``storage_root``)."""
    upload = upload and not image
    args = job_args(cli_args, upload)
    root = storage_root(storage, address)
    folder = planned_run_folder(args, root, address, env) if upload and args[0] == "run" else None
    sid = submission_id or default_submission_id(args)
    jobs = client(address)
    with _job_errors(f"job {sid}: submission refused"):
        jobs.submit_job(
            entrypoint=entrypoint(args),
            runtime_env=runtime_env(image, {**({STORAGE_ENV: str(root)} if root else {}), **(env or {})}, upload),
            submission_id=sid,
            metadata={"submitted_by": "ecomrel", "command": " ".join(args)[:512]},
        )
    return sid, folder


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


def follow(submission_id: str, address: str | None = None, out: TextIO = sys.stdout) -> tuple[JobStatus, str]:
    """Stream the job's logs to ``out`` until it ends; return its final status and the logs."""
    jobs = client(address)
    chunks: list[str] = []

    async def tail() -> None:
        async for chunk in jobs.tail_job_logs(submission_id):
            chunks.append(chunk)
            out.write(chunk)
            out.flush()

    with _job_errors(f"job {submission_id}"):
        asyncio.run(tail())
    return wait(submission_id, address), "".join(chunks)


def client_address(address: str | None) -> str:
    """The Ray Client address of the cluster whose dashboard is ``address``: the same host, port 10001."""
    address = address or DEFAULT_ADDRESS
    host = "127.0.0.1" if address == "auto" else urlsplit(address if "://" in address else f"http://{address}").hostname
    return f"ray://{host}:{RAY_CLIENT_PORT}"


#: How often ``connect_ray_client`` asks again when the cluster fails to start the connection's server.
CLIENT_INIT_ATTEMPTS = 3
CLIENT_INIT_BACKOFF_S = 2.0


def connect_ray_client(url: str) -> None:
    """``ray.init(url)``, asking again when the cluster's end fails to start.

    Each Ray Client connection gets a server process of its own on the head, forked by the proxy on port 10001, and
    that process sometimes dies at once: a gRPC poller race in the proxy's fork (ray-project/ray#63202, open; about 7%
    of connections there). The proxy then reports an "Initialization failure from server" (``ConnectionAbortedError``;
    our CI saw its ``psutil.ZombieProcess``). Ray disconnects before raising, so a new ``ray.init`` starts clean. Any
    other error, such as nothing listening at ``url``, is raised at once."""
    import ray

    hint = f"forward the head's port {RAY_CLIENT_PORT} or give --ray-client"
    for attempt in range(1, CLIENT_INIT_ATTEMPTS + 1):
        try:
            ray.init(url)
            return
        except ConnectionAbortedError as exc:
            if attempt == CLIENT_INIT_ATTEMPTS:
                raise JobsError(f"Ray Client at {url}: {exc} (after {attempt} attempts; {hint})") from exc
            reason = str(exc).strip().splitlines()[-1]  # the server's traceback ends with its exception
            print(
                f"Ray Client at {url}: the cluster failed to start the connection ({reason}); retrying", file=sys.stderr
            )
            time.sleep(CLIENT_INIT_BACKOFF_S * attempt)
        except (ConnectionError, RuntimeError) as exc:
            raise JobsError(f"Ray Client at {url}: {exc} ({hint})") from exc


def fetch(
    submission_id: str,
    dest: Path,
    address: str | None = None,
    ray_client: str | None = None,
    everything: bool = False,
) -> Path:
    """Copy the run folder of an ended job into ``dest``/<run name>; returns that folder.

    The folder is read on the cluster, by an actor on the job's driver node (any node when that one is gone, as
    shared storage is seen from every node), which tars it into a temporary file there and hands it over in chunks
    through Ray Client (``ray_client``, default ``ray://<dashboard host>:10001``): the caller needs no access to the
    cluster's storage. Stage datasets and training checkpoints stay behind unless ``everything``."""
    import ray
    from ray import cloudpickle
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from cluster import run_archive

    info = details(submission_id, address)
    if not info.status.is_terminal():
        raise JobsError(f"job {submission_id} is {info.status.value}: fetch its run folder once it has ended")
    folder = reported_run_folder(logs(submission_id, address))
    if folder is None:
        raise JobsError(f"job {submission_id} reported no run folder (no `{RUN_FOLDER_PREFIX}` line in its logs)")
    target = dest / PurePosixPath(folder).name
    dest.mkdir(parents=True, exist_ok=True)
    url = ray_client or client_address(address)
    cloudpickle.register_pickle_by_value(run_archive)  # the cluster needs only the standard library to run it
    connect_ray_client(url)
    try:
        placement = NodeAffinitySchedulingStrategy(info.driver_node_id, soft=True) if info.driver_node_id else None
        archive = (
            ray.remote(run_archive.RunFolderArchive)
            .options(num_cpus=0, scheduling_strategy=placement or "DEFAULT")
            .remote(folder, everything)
        )
        try:
            chunks = ray.get(archive.chunks.remote())
        except ray.exceptions.RayError as exc:
            raise JobsError(f"job {submission_id}: cannot read {folder} on the cluster: {exc}") from exc
        with tempfile.TemporaryFile(dir=dest) as tmp:
            for i in range(chunks):
                tmp.write(ray.get(archive.chunk.remote(i)))
            tmp.seek(0)
            with tarfile.open(fileobj=tmp) as tar:
                tar.extractall(target, filter="data")
        ray.kill(archive)
    finally:
        ray.shutdown()
    return target


def stop(submission_id: str, address: str | None = None) -> bool:
    """Ask the cluster to stop the job; False when it had already ended."""
    jobs = client(address)
    with _job_errors(f"job {submission_id}"):
        return jobs.stop_job(submission_id)


# ---------------------------------------------------------------------------------------------------------------
# CLI: `ecomrel submit` (registered by cluster/cli.py) and `ecomrel jobs status|logs|fetch|stop`.
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

jobs_app = typer.Typer(
    no_args_is_help=True, help="Follow, inspect, stop ecomrel jobs on a Ray cluster, and fetch their run folders."
)


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except JobsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _exit_code(status: JobStatus) -> int:
    return 0 if status.value == "SUCCEEDED" else 1


def _echo_run_folder(log_text: str) -> None:
    folder = reported_run_folder(log_text)
    typer.echo(RUN_FOLDER_PREFIX + (folder or "none reported (the job has not reached `ecomrel run`)"))


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
    storage: Annotated[
        str | None,
        typer.Option(
            envvar=STORAGE_ENV,
            help="Absolute folder, as the cluster's nodes see it, that outlives the job: a relative runs_dir is "
            "resolved against it (/mnt/cluster_storage on the clusters of cluster/aws.yaml, gcp.yaml, k8s/). "
            "Default: this checkout when the cluster runs on this machine.",
        ),
    ] = None,
    wait_: Annotated[
        bool, typer.Option("--wait", help="Stream the logs until the job ends; exit 1 unless it succeeded.")
    ] = False,
) -> None:
    """Submit an ecomrel command to a Ray cluster as a Ray job: `ecomrel submit -- run --config FILE`."""
    sid, folder = _run(
        submit,
        cli_args,
        address=address,
        image=image,
        upload=not no_upload,
        submission_id=submission_id,
        env=_run(_parse_env, env),
        storage=storage,
    )
    typer.echo(f"submitted {sid}")
    typer.echo(RUN_FOLDER_PREFIX + (str(folder) if folder else "printed by the job (`ecomrel jobs logs ID`)"))
    if wait_:
        status, text = _run(follow, sid, address)
        typer.echo(f"job {sid}: {status.value}")
        _echo_run_folder(text)
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
    """Print a job's driver logs (everything the entrypoint wrote), then the absolute run folder it reported."""
    if follow_:
        status, text = _run(follow, submission_id, address)
        _echo_run_folder(text)
        raise typer.Exit(_exit_code(status))
    text = _run(logs, submission_id, address)
    typer.echo(text, nl=False)
    _echo_run_folder(text)


@jobs_app.command("fetch")
def fetch_command(
    submission_id: Annotated[str, typer.Argument(help="Submission id of an ended job.")],
    dest: Annotated[Path, typer.Argument(help="Local folder that receives the run folder (as DEST/<run name>).")],
    address: Dashboard = None,
    ray_client: Annotated[
        str | None,
        typer.Option(
            "--ray-client",
            help=f"Ray Client address of the cluster (default ray://<dashboard host>:{RAY_CLIENT_PORT}; "
            f"`kubectl port-forward svc/<cluster>-head-svc {RAY_CLIENT_PORT}` or `ray attach CLUSTER.yaml "
            f"-p {RAY_CLIENT_PORT}` forwards it).",
        ),
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Also the stage datasets and training checkpoints (large).")
    ] = False,
) -> None:
    """Copy an ended job's run folder (reports, thresholds, adapter, manifests) from the cluster to DEST."""
    target = _run(fetch, submission_id, dest, address, ray_client, everything)
    typer.echo(f"fetched {submission_id} -> {target}")


@jobs_app.command("stop")
def stop_command(
    submission_id: Annotated[str, typer.Argument(help="Submission id.")], address: Dashboard = None
) -> None:
    """Stop a running job (its driver gets SIGTERM, then SIGKILL)."""
    stopped = _run(stop, submission_id, address)
    typer.echo(f"{submission_id}: {'stop requested' if stopped else 'already finished'}")
