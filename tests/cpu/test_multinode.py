"""A real two-node Ray cluster on this machine, driven the way a platform team drives a production one.

The cluster is two ``ray start --block`` processes: a head (1 CPU) and a second node (1 CPU and a ``node_b``
resource), in a temp dir and with an auth token of their own (``RAY_AUTH_TOKEN_PATH``), every port chosen free,
token authentication on. The tests submit the recipe with Ray's own CLI (``ray job submit``) and follow it with
``ecomrel jobs``, show from the stage manifests that ingest's Ray Data tasks ran on both nodes, re-submit it
with ``ecomrel submit`` and a runs_dir relative to ``--storage`` (everything resumes as current, the printed run
folder holds the report after the job and after the cluster stops, ``ecomrel jobs fetch`` copies it), and check
that a node exports the telemetry series the Grafana dashboard and alert rules are written against.

Teardown never uses ``ray stop``, which stops every Ray process of the user on the machine, other sessions'
included: it sends SIGTERM to the two ``ray start --block`` processes this module started (each then stops its
node's processes) and SIGKILLs whatever is still running with this module's temp dir on its command line.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import yaml

from ecomrel import telemetry
from ecomrel.manifest import read_manifest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Training rows per task: 2 x (1000 + 200 + 200) = 2800 lines, which ingest cuts into 14 validation tasks. SPREAD is
# best effort: the head's raylet sees its own free CPU at once and the other node's a sync later, so it keeps most
# tasks. Measured: 300 rows (10 tasks) gave the second node 120-300 of 840 lines in 7 jobs, and none in one suite run;
# 1000 rows gave it 400-1400 of 2800 in 16 jobs, in the same 15-20 s per job.
MAKE_DATA_ROWS = 1000
INGEST_LINES = 2 * (MAKE_DATA_ROWS + 2 * (MAKE_DATA_ROWS // 5))
START_TIMEOUT_S = 180
JOB_TIMEOUT_S = 420


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_ports() -> list[str]:
    """Every port a node listens on, chosen free: defaults (52365, 10001, ...) may belong to another Ray here."""
    ports = ["--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port"]
    ports += ["--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port"]
    return [arg for flag in ports for arg in (flag, str(_free_port()))]


@dataclass
class Cluster:
    root: Path
    dashboard: str
    gcs: str
    head_metrics: str
    token: str
    env: dict[str, str]  # for CLI subprocesses: token auth, this venv first on PATH, no stray RAY_ADDRESS
    ray_client: str  # the head's Ray Client server (ecomrel jobs fetch)
    outlive: list[Path] = field(default_factory=list)  # files that must still exist once the cluster has stopped

    def get(self, path: str) -> dict:
        req = urllib.request.Request(self.dashboard + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def alive_nodes(self) -> dict[str, dict]:
        """node id -> node record of the alive nodes, from the dashboard's state API."""
        nodes = self.get("/api/v0/nodes?limit=100")["data"]["result"]["result"]
        return {n["node_id"]: n for n in nodes if n["state"] == "ALIVE"}

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            list(args), cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def ecomrel(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "cluster.cli", *args, timeout=timeout, check=check)


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # A session of its own: the node's processes can be told apart from the test runner's.
    with log.open("w") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(what: str, ready, procs: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                raise AssertionError(f"{what}: `ray start` exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if ready():
                return
        except (urllib.error.URLError, ConnectionError, KeyError, TimeoutError):
            pass
        time.sleep(1)
    raise AssertionError(f"{what}: not ready after {START_TIMEOUT_S}s:\n{logs[-1].read_text()[-3000:]}")


def _stop(procs: list[subprocess.Popen], root: Path) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its node's processes on SIGTERM
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    for p in psutil.process_iter(["cmdline"]):  # anything of ours that outlived its raylet
        try:
            if any(str(root) in arg for arg in p.info["cmdline"] or []):
                p.kill()
        except psutil.Error:
            pass


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="ecr-mn-", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    token = secrets.token_hex(32)
    (root / "token").write_text(token)
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "RAY_AUTH_TOKEN")}
    env.update(
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN_PATH=str(root / "token"),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        RAY_USAGE_STATS_ENABLED="0",
        RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="0",  # nothing to drain at teardown; Ray waits up to 30 s otherwise
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    gcs_port, dashboard_port, client_port = _free_port(), _free_port(), _free_port()
    head_ports = _node_ports()
    common = ["--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "1"]
    common += ["--object-store-memory", str(100 * 2**20), "--min-worker-port", "0", "--max-worker-port", "0"]
    head_cmd = [str(BIN / "ray"), "start", "--head", "--port", str(gcs_port), "--dashboard-port", str(dashboard_port)]
    head_cmd += ["--ray-client-server-port", str(client_port), "--include-dashboard", "true", *common, *head_ports]
    head_cmd += ["--temp-dir", str(root / "ray")]
    worker_cmd = [str(BIN / "ray"), "start", "--address", f"127.0.0.1:{gcs_port}", "--resources", '{"node_b": 1}']
    # A temp dir of its own, as on a separate machine: each node's runtime-env agent re-extracts the job's working
    # dir into <temp dir>/session_*/runtime_resources (overwrite=True), so a shared one would be deleted and
    # rewritten under the other node's running processes.
    worker_cmd += [*common, *_node_ports(), "--temp-dir", str(root / "ray-b")]

    c = Cluster(
        root=root,
        dashboard=f"http://127.0.0.1:{dashboard_port}",
        gcs=f"127.0.0.1:{gcs_port}",
        head_metrics=f"http://127.0.0.1:{head_ports[head_ports.index('--metrics-export-port') + 1]}/metrics",
        token=token,
        env=env,
        ray_client=f"ray://127.0.0.1:{client_port}",
    )
    procs: list[subprocess.Popen] = []
    try:
        procs.append(_start(head_cmd, env, root / "head.log"))
        _wait("head", lambda: "ray_version" in c.get("/api/version"), procs, [root / "head.log"])
        procs.append(_start(worker_cmd, env, root / "worker.log"))
        _wait("second node", lambda: len(c.alive_nodes()) == 2, procs, [root / "head.log", root / "worker.log"])
        yield c
    finally:
        _stop(procs, root)
        gone = [p for p in c.outlive if not p.is_file()]
        shutil.rmtree(root, ignore_errors=True)
    assert not gone, f"gone once the cluster stopped: {gone}"


@pytest.fixture(scope="module")
def recipe(cluster: Cluster) -> dict:
    """The recipe (make-data, ingest, audit) submitted with `ray job submit`, followed with `ecomrel jobs logs`."""
    config = cluster.root / "multinode.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "multinode",
                "runs_dir": str(cluster.root / "runs"),
                "make_data": {"enabled": True, "rows": MAKE_DATA_ROWS},
            }
        )
    )
    sid = f"mn-recipe-{secrets.token_hex(3)}"
    cluster.run(
        str(BIN / "ray"), "job", "submit", "--address", cluster.dashboard, "--submission-id", sid, "--no-wait",
        "--runtime-env-json", json.dumps({"working_dir": "."}),
        "--", "python", "-m", "cluster.cli", "run", "--config", str(config),
    )  # fmt: skip
    follow = cluster.ecomrel("jobs", "logs", "--follow", sid, "--address", cluster.dashboard, timeout=JOB_TIMEOUT_S)
    return {"sid": sid, "config": config, "logs": follow.stdout, "run_dir": cluster.root / "runs" / "multinode"}


def test_recipe_job_succeeds_with_ingest_on_both_nodes(cluster: Cluster, recipe: dict) -> None:
    status = cluster.ecomrel("jobs", "status", recipe["sid"], "--address", cluster.dashboard)
    assert f"{recipe['sid']}: SUCCEEDED" in status.stdout
    assert "python -m cluster.cli run --config" in status.stdout
    assert "recipe multinode: done" in recipe["logs"]

    run_dir = recipe["run_dir"]
    ingest = read_manifest(run_dir / "ingest")
    assert ingest.input_rows == INGEST_LINES
    assert ingest.output_rows + ingest.quarantined_rows == INGEST_LINES
    assert ingest.output_rows > 0.99 * INGEST_LINES
    # Ray Data ran ingest's validation on both nodes: the manifest's node ids are exactly the cluster's.
    nodes = ingest.extra["nodes"]
    assert set(nodes) == set(cluster.alive_nodes()), nodes
    assert all(n > 0 for n in nodes.values()) and sum(nodes.values()) == INGEST_LINES
    # The audit reads ingest's Parquet files as Ray Data tasks on the cluster, not in the driver (the state API's
    # task records of this job). At this size Ray 2.60's datasource v2 makes that one read task (a few small
    # files), so unlike ingest's validation it cannot span both nodes.
    job_id = cluster.get(f"/api/jobs/{recipe['sid']}")["job_id"]
    tasks = cluster.get("/api/v0/tasks?limit=10000")["data"]["result"]["result"]
    reads = {t["node_id"] for t in tasks if t["job_id"] == job_id and re.match(r"Read\w*Parquet", t["name"])}
    assert reads and reads <= set(cluster.alive_nodes()), sorted((t["name"], t["node_id"]) for t in tasks)
    assert sorted((run_dir / "ingest" / "data").glob("*.parquet")), "ingest wrote no Parquet files"

    audit = read_manifest(run_dir / "audit")
    assert audit.output_rows == ingest.output_rows
    stages = json.loads((run_dir / "recipe.json").read_text())["stages"]
    assert {name: s["ran"] for name, s in stages.items()} == {"make_data": True, "ingest": True, "audit": True}


def test_ecomrel_submit_resumes_the_finished_recipe(cluster: Cluster, recipe: dict, tmp_path: Path) -> None:
    """`ecomrel submit` (JobSubmissionClient, token header) runs the same recipe again, its runs_dir now relative to
    `--storage`: every stage is current, the run folder it prints last holds the run's report (and still does once
    the cluster has stopped: see the fixture), and `ecomrel jobs fetch` copies it back through Ray Client."""
    env = dict(cluster.env)
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM"):
        env.pop(key, None)  # the driver inherits the head's; see the report on cluster/ray_runtime.connect
    sid = f"mn-resume-{secrets.token_hex(3)}"
    args = [sys.executable, "-m", "cluster.cli", "submit", "--address", cluster.dashboard, "--submission-id", sid]
    args += ["--storage", str(cluster.root), "--no-upload", "--wait"]
    args += ["--", "run", "--config", str(recipe["config"]), "--set", "runs_dir=runs"]
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=JOB_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"submitted {sid}" in proc.stdout and f"job {sid}: SUCCEEDED" in proc.stdout
    printed = proc.stdout.strip().splitlines()[-1]
    assert printed == f"run folder: {recipe['run_dir']}"  # <storage>/runs/<name>, absolute
    run_dir = Path(printed.removeprefix("run folder: "))
    stages = json.loads((run_dir / "recipe.json").read_text())["stages"]
    assert {name: s["ran"] for name, s in stages.items()} == {"make_data": False, "ingest": False, "audit": False}
    report = run_dir / "audit" / "audit.json"  # the report of a recipe without `train`
    assert json.loads(report.read_text())["zero_shot"]["QC"] == ["ar", "de", "it", "pl"]
    cluster.outlive.append(report)

    fetched = cluster.ecomrel(
        "jobs", "fetch", sid, str(tmp_path), "--address", cluster.dashboard, "--ray-client", cluster.ray_client,
        timeout=300,
    )  # fmt: skip
    copy = tmp_path / run_dir.name
    assert f"fetched {sid} -> {copy}" in fetched.stdout
    assert (copy / "audit" / "audit.json").read_bytes() == report.read_bytes()
    assert (copy / "recipe.json").read_bytes() == (run_dir / "recipe.json").read_bytes()
    assert (copy / "ingest" / "manifest.json").is_file() and not (copy / "ingest" / "data").exists()


def test_a_node_exports_the_telemetry_series(cluster: Cluster) -> None:
    """Every series ecomrel.telemetry.exported_series predicts appears on the head's metrics endpoint."""
    probe = (
        "import ray, time\n"
        "from ecomrel import telemetry\n"
        "from ecomrel.manifest import Manifest\n"
        "ray.init()\n"
        "telemetry.record_recipe_run('mn', 'failed')\n"
        "telemetry.record_stage('mn', Manifest(stage='ingest', input_rows=10, output_rows=9, quarantined_rows=1,"
        " wall_time_s=2.0), True)\n"
        "telemetry.record_translations('mn', 'es', 'fr', 3, {'similarity': 1})\n"
        "telemetry.record_negatives('mn', 'QC', {'hard': 5, 'easy': 2})\n"
        "telemetry.record_train_step('mn', 0.5, 1000)\n"
        "print('recorded', flush=True)\n"
        "time.sleep(300)\n"
    )
    sid = f"mn-telemetry-{secrets.token_hex(3)}"
    cluster.run(
        str(BIN / "ray"), "job", "submit", "--address", cluster.dashboard, "--submission-id", sid, "--no-wait",
        "--runtime-env-json", json.dumps({"working_dir": "."}), "--", "python", "-c", probe,
    )  # fmt: skip
    expected = {s for name in telemetry.METRICS for s in telemetry.exported_series(name)}
    deadline, seen = time.monotonic() + 120, set()
    while time.monotonic() < deadline and not expected <= seen:
        with urllib.request.urlopen(cluster.head_metrics, timeout=10) as resp:
            text = resp.read().decode()
        seen = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("ray_ecomrel_")}
        time.sleep(2)
    stopped = cluster.ecomrel("jobs", "stop", sid, "--address", cluster.dashboard)
    assert "stop requested" in stopped.stdout
    assert expected <= seen, f"missing {sorted(expected - seen)}; exported {sorted(seen)}"
    assert not {s for s in seen if s.startswith("ray_ecomrel_") and not s.startswith("ray_ecomrel_serve_")} - expected
