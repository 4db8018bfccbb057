"""The files a platform team applies, checked the way their tools will read them, without a cloud or a cluster.

- ``ray up`` YAMLs: Ray's own ``prepare_config`` + ``validate_config`` (its JSON schema and cross-field checks),
  as ``ray up`` runs them before touching the cloud; plus token auth, autoscaling bounds and the GPU node types.
- KubeRay manifests: the fields the CRDs require, token auth from a Secret that exists, GPU worker groups; the
  RayJob's entrypoint and config, the RayService's Serve config (Ray Serve's own schema) and app args.
- The Dockerfile's base image against pyproject's Ray pin and Python range; the runtime env against Ray's.
- Prometheus and Grafana: every metric an alert or panel queries is one the code emits (or Ray / KubeRay
  documents), and every metric the code emits is on the dashboard; promtool's unit tests (`make setup` installs it).
- ``cluster.jobs``: runtime env, argument checks, where a job's runs_dir resolves, the wrong-Python preflight, the run
  archive ``jobs fetch`` reads, and the token error, without a cluster (tests/cpu/test_multinode.py submits for real).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from cluster import jobs
from ecomrel import telemetry
from ecomrel.telemetry import Metric

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "cluster" / "k8s"
PROM = REPO / "infra" / "prometheus"
IMAGE_APP_DIR = "/app"  # infra/Dockerfile's WORKDIR, where the image holds the repository
STORAGE = "/mnt/cluster_storage"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _pin(dist: str) -> str:
    for dep in PYPROJECT["project"]["dependencies"]:
        if re.match(rf"^{re.escape(dist)}(\[[^\]]*\])?==", dep):
            return dep.split("==")[1]
    raise AssertionError(f"pyproject.toml pins no {dist}")


RAY_VERSION = _pin("ray")


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


# ---------------------------------------------------------------------------------------------------------------
# ray up
# ---------------------------------------------------------------------------------------------------------------

RAY_UP = {
    "cluster/aws.yaml": ("aws", "InstanceType", "p5.48xlarge"),
    "cluster/gcp.yaml": ("gcp", "machineType", "a3-highgpu-8g"),
}


@pytest.mark.parametrize("name", sorted(RAY_UP))
def test_ray_up_config_passes_rays_validation(name: str) -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = yaml.safe_load((REPO / name).read_text())
    config = prepare_config(copy.deepcopy(raw))
    validate_config(config)  # what `ray up` runs before it calls the cloud

    broken = copy.deepcopy(raw)
    broken["available_node_types"]["gpu_h100"]["min_worker"] = 1  # a typo must not pass silently
    with pytest.raises(Exception, match="min_worker"):
        validate_config(prepare_config(broken))


@pytest.mark.parametrize("name", sorted(RAY_UP))
def test_ray_up_config_has_token_auth_gpu_workers_and_shared_storage(name: str) -> None:
    provider, type_key, gpu_type = RAY_UP[name]
    config = yaml.safe_load((REPO / name).read_text())
    assert config["provider"]["type"] == provider
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"] == {"CPU": 0}, "no tasks on the head"
    assert types["gpu_h100"]["node_config"][type_key] == gpu_type
    workers = [t for name, t in types.items() if name != config["head_node_type"]]
    assert all(0 <= t["min_workers"] <= t["max_workers"] <= config["max_workers"] for t in workers)

    # Token auth: every container in token mode, the token synced to every node, the head refusing to start
    # without it, and both start commands in token mode too.
    assert "--env RAY_AUTH_MODE=token" in config["docker"]["run_options"]
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    assert config["file_mounts"]["~/.ecomrel/serve_token"] == "~/.ecomrel/serve_token"
    head_start = " ".join(config["head_start_ray_commands"])
    assert "test -s ~/.ray/auth_token" in head_start and "exit 1" in head_start
    assert "RAY_AUTH_MODE=token ray start --head" in head_start
    worker_start = " ".join(config["worker_start_ray_commands"])
    assert "RAY_AUTH_MODE=token ray start --address=$RAY_HEAD_IP:6379" in worker_start
    for start in (head_start, worker_start):  # scraped by infra/prometheus; the API token for Serve's gateway
        assert "--metrics-export-port=8080" in start
        assert 'export ECOMREL_SERVE_TOKEN="$(cat ~/.ecomrel/serve_token)"' in start

    # Shared storage for runs_dir, mounted on the host and into the container.
    assert f"--volume {STORAGE}:{STORAGE}" in config["docker"]["run_options"]
    assert any(STORAGE in cmd and "mount" in cmd for cmd in config["initialization_commands"])
    qwen = yaml.safe_load((REPO / "configs" / "qwen3-14b.yaml").read_text())
    assert STORAGE in qwen["runs_dir"]


# ---------------------------------------------------------------------------------------------------------------
# KubeRay
# ---------------------------------------------------------------------------------------------------------------


def _secrets() -> dict[str, set[str]]:
    return {d["metadata"]["name"]: set(d["stringData"]) for d in _docs(K8S / "secret-example.yaml")}


def _cluster_specs() -> dict[str, dict]:
    """file -> the RayCluster spec it holds (directly, or inside a RayJob / RayService)."""
    out = {}
    for path in sorted(K8S.glob("ray*.yaml")):
        (doc,) = _docs(path)
        assert doc["apiVersion"] == "ray.io/v1", path.name
        key = {"RayCluster": None, "RayJob": "rayClusterSpec", "RayService": "rayClusterConfig"}[doc["kind"]]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"]), path.name
        out[path.name] = doc["spec"] if key is None else doc["spec"][key]
    assert set(out) == {"raycluster.yaml", "rayjob.yaml", "rayservice.yaml"}
    return out


def _containers(spec: dict) -> list[tuple[str, dict, dict]]:
    groups = [("head", spec["headGroupSpec"])] + [(g["groupName"], g) for g in spec["workerGroupSpecs"]]
    return [(name, g, c) for name, g in groups for c in g["template"]["spec"]["containers"]]


@pytest.mark.parametrize("name", ["raycluster.yaml", "rayjob.yaml", "rayservice.yaml"])
def test_kuberay_cluster_spec(name: str) -> None:
    spec = _cluster_specs()[name]
    secrets = _secrets()
    images = {yaml.safe_load((REPO / f).read_text())["docker"]["image"].split(":")[-1] for f in RAY_UP}

    assert spec["rayVersion"] == RAY_VERSION
    assert spec["authOptions"]["mode"] == "token"
    assert "auth_token" in secrets[spec["authOptions"]["secretName"]], "the operator reads the auth_token key"
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"

    group_names = [g["groupName"] for g in spec["workerGroupSpecs"]]
    assert len(group_names) == len(set(group_names))
    for g in spec["workerGroupSpecs"]:
        assert 0 <= g["minReplicas"] <= g["replicas"] <= g["maxReplicas"], g["groupName"]
    for group, g, container in _containers(spec):
        assert all(isinstance(v, str) for v in g["rayStartParams"].values()), f"{group}: rayStartParams are strings"
        assert container["image"].split(":")[-1] in images, f"{group}: same image tag as the ray up clusters"
        assert {"name": "metrics", "containerPort": 8080} in container["ports"], f"{group}: scraped port"
        assert any(m["mountPath"] == STORAGE for m in container["volumeMounts"]), f"{group}: shared storage"
        claims = {
            v["persistentVolumeClaim"]["claimName"]
            for v in g["template"]["spec"]["volumes"]
            if "persistentVolumeClaim" in v
        }
        assert claims == {yaml.safe_load((K8S / "storage.yaml").read_text())["metadata"]["name"]}
        for env in container.get("env", []):
            if ref := env.get("valueFrom", {}).get("secretKeyRef"):
                assert ref["key"] in secrets[ref["name"]], f"{group}: {env['name']} names a missing secret key"

    gpu = next(g for g in spec["workerGroupSpecs"] if g["groupName"] == "gpu-h100")
    (container,) = gpu["template"]["spec"]["containers"]
    assert (
        container["resources"]["limits"]["nvidia.com/gpu"]
        == container["resources"]["requests"]["nvidia.com/gpu"]
        == "8"
    )
    assert any(t["key"] == "nvidia.com/gpu" for t in gpu["template"]["spec"]["tolerations"])
    assert any(v.get("emptyDir", {}).get("medium") == "Memory" for v in gpu["template"]["spec"]["volumes"])


def test_rayjob_runs_the_recipe_with_an_existing_config() -> None:
    from ray.runtime_env import RuntimeEnv
    from typer.main import get_command

    from cluster.cli import app
    from cluster.config import load_config

    (job,) = _docs(K8S / "rayjob.yaml")
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:3] == ["python", "-m", "cluster.cli"] and (REPO / "cluster" / "cli.py").is_file()
    assert argv[3] in get_command(app).commands, f"`{argv[3]}` is not an ecomrel command"
    config = argv[argv.index("--config") + 1]
    assert config.startswith(IMAGE_APP_DIR + "/")
    local = REPO / config.removeprefix(IMAGE_APP_DIR + "/")
    assert local == REPO / "configs" / "qwen3-14b.yaml"
    cfg = load_config(local)  # validates every section
    assert cfg.train is not None and cfg.train.use_gpu
    env = yaml.safe_load(job["spec"]["runtimeEnvYAML"])
    RuntimeEnv(**env)
    assert env["env_vars"]["ECOMREL_RUNS"].startswith(STORAGE)
    assert job["spec"]["shutdownAfterJobFinishes"] is True


def test_rayservice_serves_the_relevance_app() -> None:
    import importlib

    from ray.serve.schema import ServeDeploySchema

    (svc,) = _docs(K8S / "rayservice.yaml")
    serve_config = yaml.safe_load(svc["spec"]["serveConfigV2"])
    ServeDeploySchema.model_validate(serve_config)  # what the operator's PUT /api/serve/applications/ checks
    (app,) = serve_config["applications"]
    module, attr = app["import_path"].split(":")
    builder = getattr(importlib.import_module(module), attr)
    assert callable(builder)
    args = importlib.import_module(module).AppArgs.model_validate(app["args"])
    assert args.model_dir.startswith(STORAGE)
    assert args.serve.backend == "vllm" and args.serve.num_gpus == 1 and not args.serve.allow_unauthenticated
    port = serve_config["http_options"]["port"]
    for group, _, container in _containers(svc["spec"]["rayClusterConfig"]):
        assert {"name": "serve", "containerPort": port} in container["ports"], group
        names = {e["name"] for e in container["env"]}
        assert args.serve.auth_token_env in names, f"{group}: gateway replicas may run here and need the token"


def test_secret_example_holds_no_real_token() -> None:
    for name, keys in _secrets().items():
        (doc,) = [d for d in _docs(K8S / "secret-example.yaml") if d["metadata"]["name"] == name]
        assert all(v.startswith("replace-with") for v in doc["stringData"].values()), name
        assert keys


# ---------------------------------------------------------------------------------------------------------------
# Image and runtime env
# ---------------------------------------------------------------------------------------------------------------


def test_dockerfile_base_matches_the_ray_pin_and_python_range() -> None:
    lines = [ln.strip() for ln in (REPO / "infra" / "Dockerfile").read_text().splitlines()]
    (base,) = [ln.split()[1] for ln in lines if ln.startswith("FROM ")]
    # CUDA 13: torch 2.13's PyPI wheel, vLLM 0.29 and nixl-cu13 (tests/cpu/test_image_lock.py resolves them).
    m = re.fullmatch(r"rayproject/ray:(?P<ray>[\d.]+)-py(?P<py>3)(?P<minor>\d+)-cu13\d", base)
    assert m, f"{base}: expected rayproject/ray:<ray>-py3<minor>-cu13<x>"
    assert "R580" in (REPO / "infra" / "Dockerfile").read_text(), "the Dockerfile must state the driver floor"
    assert m["ray"] == RAY_VERSION
    assert f"{m['py']}.{m['minor']}" in SpecifierSet(PYPROJECT["project"]["requires-python"])
    text = "\n".join(lines)
    assert f"WORKDIR {IMAGE_APP_DIR}" in text and "RAY_AUTH_MODE=token" in text
    assert f"torch=={_pin('torch')}" in text and '".[gpu]"' in text
    assert "gpu" in PYPROJECT["project"]["optional-dependencies"]
    for ln in lines:
        if ln.startswith("COPY "):
            for src in [w for w in ln.split()[1:-1] if not w.startswith("--")]:
                assert (REPO / src).exists(), f"COPY {src}: not in the repository"
    for pkg in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert f"COPY --chown=ray:users {pkg.rstrip('*')} " in text, f"the image lacks package {pkg}"


def test_runtime_env_file_is_a_valid_ray_runtime_env_matching_ecomrel_submit() -> None:
    from ray.runtime_env import RuntimeEnv

    env = yaml.safe_load((REPO / "cluster" / "runtime_env.yaml").read_text())
    RuntimeEnv(**env)
    assert env["working_dir"] == "."
    assert env["excludes"] == jobs.WORKING_DIR_EXCLUDES  # `ray job submit` and `ecomrel submit` ship the same


# ---------------------------------------------------------------------------------------------------------------
# Prometheus and Grafana
# ---------------------------------------------------------------------------------------------------------------

#: KubeRay operator metrics (docs.ray.io "KubeRay metrics references"; KubeRay >= 1.4).
KUBERAY_METRICS = {"kuberay_job_deployment_status", "kuberay_job_info", "kuberay_job_execution_duration_seconds"}
PROMQL_WORDS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "topk",
    "bottomk",
    "quantile",
    "stddev",
    "rate",
    "irate",
    "increase",
    "delta",
    "histogram_quantile",
    "clamp_min",
    "clamp_max",
    "abs",
    "label_values",
    "vector",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
}


def _ray_builtin_metrics() -> set[str]:
    """Every metric Ray's own Grafana dashboards (shipped with the installed Ray) query."""
    import ray.dashboard.modules.metrics.dashboards as dashboards

    folder = Path(dashboards.__file__).parent
    return {m for f in folder.glob("*_panels.py") for m in re.findall(r"\bray_[a-z0-9_]+\b", f.read_text())}


def _declared() -> dict[str, list[str]]:
    """Every metric ecomrel declares (pipelines and training, then the service) -> its exported series."""
    from serve.metrics import METRICS as SERVE_METRICS

    return {name: telemetry.exported_series(name) for name in [*telemetry.METRICS, *SERVE_METRICS]}


def _ours() -> set[str]:
    return {s for series in _declared().values() for s in series}


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects: identifiers left once strings, label matchers, groupings and
    range selectors are removed and functions and keywords are set aside."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^{}]*\}", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    return {t for t in re.findall(r"(?<![\w$.])[A-Za-z_:][A-Za-z0-9_:]*", expr) if t not in PROMQL_WORDS}


def test_metric_name_extraction() -> None:
    expr = 'sum by (le, route) (rate(ray_a_bucket{route=~"/v1/(x|y)", b="c d"}[$__rate_interval])) / on (x) ray_b > 0.5'
    assert metric_names(expr) == {"ray_a_bucket", "ray_b"}


def test_telemetry_export_names() -> None:
    assert telemetry.prometheus_series("ecomrel_x_total", "counter") == ["ray_ecomrel_x_total"]
    assert telemetry.prometheus_series("ecomrel_x", "counter") == ["ray_ecomrel_x_total"]
    assert telemetry.prometheus_series("ecomrel_x", "gauge") == ["ray_ecomrel_x"]
    assert telemetry.prometheus_series("ecomrel_h", "histogram") == [
        f"ray_ecomrel_h_{s}" for s in ("bucket", "sum", "count")
    ]
    assert all(name.startswith("ecomrel_") for name in telemetry.METRICS)


@pytest.mark.parametrize(
    "name, spec",
    [
        ("recipe_runs_total", Metric("counter", (), "no ecomrel_ prefix")),
        ("ecomrel_Runs_total", Metric("counter", (), "not snake case")),
        ("ecomrel_runs", Metric("counter", (), "a counter without _total")),
        ("ecomrel_loss_total", Metric("gauge", (), "a gauge with _total")),
        ("ecomrel_latency_seconds", Metric("histogram", (), "a histogram without boundaries")),
        ("ecomrel_loss", Metric("gauge", (), "a gauge with boundaries", (1.0,))),
        ("ecomrel_recipe_runs_total", Metric("counter", ("run",), "declared before, differently")),
    ],
)
def test_metric_declarations_follow_the_naming_rule(name, spec) -> None:
    with pytest.raises(ValueError, match=name):
        telemetry.declare({"ecomrel_fine_total": Metric("counter", (), "valid"), name: spec})
    assert "ecomrel_fine_total" not in telemetry.REGISTRY  # a refused declaration registers nothing
    existing = telemetry.METRICS["ecomrel_recipe_runs_total"]
    assert telemetry.declare({"ecomrel_recipe_runs_total": existing})["ecomrel_recipe_runs_total"] == existing


def _alert_rules() -> list[dict]:
    return [r for g in yaml.safe_load((PROM / "alerts.yml").read_text())["groups"] for r in g["rules"]]


def test_alert_rules_query_known_metrics() -> None:
    known = _ours() | _ray_builtin_metrics() | KUBERAY_METRICS
    rules = _alert_rules()
    names = {r["alert"] for r in rules}
    assert {"EcomrelRecipeFailed", "RayJobFailed", "EcomrelServeHigh5xxRate", "EcomrelServeOverloaded"} <= names
    assert {"EcomrelServeHighP99Latency", "RayNodeGpuMemoryHigh"} <= names
    for rule in rules:
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        assert used <= known, f"{rule['alert']}: unknown metrics {sorted(used - known)}"
        assert rule["labels"]["severity"] in ("warning", "critical") and rule["annotations"]["summary"]


def test_prometheus_configs_scrape_ray_and_load_the_rules() -> None:
    from ray._private.ray_constants import PROMETHEUS_SERVICE_DISCOVERY_FILE

    vm = yaml.safe_load((PROM / "prometheus.yml").read_text())
    assert vm["rule_files"] == ["alerts.yml"]
    (job,) = vm["scrape_configs"]
    assert job["file_sd_configs"][0]["files"] == [f"/tmp/ray/{PROMETHEUS_SERVICE_DISCOVERY_FILE}"]

    k8s = yaml.safe_load((PROM / "prometheus-kubernetes.yml").read_text())
    assert k8s["rule_files"] == ["alerts.yml"]
    jobs_by_name = {j["job_name"]: j for j in k8s["scrape_configs"]}
    keep = {
        tuple(r["source_labels"]): r["regex"]
        for r in jobs_by_name["ray"]["relabel_configs"]
        if r.get("action") == "keep"
    }
    assert keep == {
        ("__meta_kubernetes_pod_label_ray_io_node_type",): "head|worker",
        ("__meta_kubernetes_pod_container_port_name",): "metrics",
    }
    assert "kuberay-operator" in jobs_by_name


@pytest.mark.skipif(
    shutil.which("promtool") is None and shutil.which("apt-get") is None,
    reason="promtool is not installed and this machine has no apt-get to install Debian's prometheus package",
)
def test_promtool_accepts_config_and_alert_unit_tests_pass() -> None:
    assert shutil.which("promtool"), "promtool is missing: `make setup` installs Debian's prometheus package"
    # prometheus-kubernetes.yml is left out: distribution builds of promtool may lack Kubernetes discovery.
    for args in (
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ):
        proc = subprocess.run(["promtool", *args], cwd=PROM, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"promtool {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"


def test_grafana_dashboard_panels_query_what_the_code_emits() -> None:
    dash = json.loads((REPO / "infra" / "grafana" / "dashboards" / "ecomrel.json").read_text())
    known = _ours() | _ray_builtin_metrics()
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and dash["uid"]
    assert {v["name"] for v in dash["templating"]["list"]} == {"datasource", "run"}
    used: set[str] = set()
    for p in panels:
        assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
        assert set(p["gridPos"]) == {"h", "w", "x", "y"} and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24, p["title"]
        for t in p["targets"]:
            names = metric_names(t["expr"])
            assert names and names <= known, f"{p['title']}: unknown metrics {sorted(names - known)}"
            used |= names
    # And the other way round: everything ecomrel emits has a panel.
    missing = [name for name, series in _declared().items() if not used & set(series)]
    assert not missing, f"no panel shows {missing}"


# ---------------------------------------------------------------------------------------------------------------
# cluster.jobs without a cluster
# ---------------------------------------------------------------------------------------------------------------


def test_runtime_env_uploads_the_repo_or_names_an_image(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    env = jobs.runtime_env(env={"CIKM_DATA": "/data"})
    assert env["working_dir"] == str(REPO) and "runs/" in env["excludes"] and ".venv/" in env["excludes"]
    assert env["env_vars"]["HF_HUB_OFFLINE"] == "1" and env["env_vars"]["CIKM_DATA"] == "/data"
    assert "TRANSFORMERS_OFFLINE" not in env["env_vars"]
    image = jobs.runtime_env(image="ghcr.io/x/ecomrel:1", env={"A": "b"})
    assert set(image) == {"image_uri", "env_vars"}  # Ray allows nothing else beside image_uri
    assert "working_dir" not in jobs.runtime_env(upload=False)


def test_job_args_point_the_config_into_the_working_dir(tmp_path) -> None:
    assert jobs.job_args(["run", "--config", str(REPO / "configs" / "demo.yaml")]) == [
        "run",
        "--config",
        "configs/demo.yaml",
    ]
    assert (
        jobs.job_args(["run", f"--config={REPO}/configs/demo.yaml", "--set", "a.b=1"])[1]
        == "--config=configs/demo.yaml"
    )
    assert jobs.job_args(["run", "-c", "/app/configs/x.yaml"], upload=False) == ["run", "-c", "/app/configs/x.yaml"]
    outside = tmp_path / "c.yaml"
    outside.write_text("name: x\n")
    with pytest.raises(jobs.JobsError, match="outside the working dir"):
        jobs.job_args(["run", "--config", str(outside)])
    with pytest.raises(jobs.JobsError, match="config file not found"):
        jobs.job_args(["run", "--config", "configs/nope.yaml"])
    with pytest.raises(jobs.JobsError, match="nothing to run"):
        jobs.job_args([])
    with pytest.raises(jobs.JobsError, match="needs --config"):
        jobs.job_args(["run"])
    assert (
        jobs.entrypoint(["run", "--set", "name=a b"])
        == "python -m cluster.preflight && python -m cluster.cli run --set 'name=a b'"
    )
    assert re.fullmatch(
        r"ecomrel-demo-\d{8}-\d{6}-[0-9a-f]{4}", jobs.default_submission_id(["run", "-c", "configs/demo.yaml"])
    )


def test_jobs_cli_refuses_to_run_without_a_token(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RAY_AUTH_TOKEN_PATH": str(tmp_path / "missing")}
    proc = subprocess.run(
        [sys.executable, "-m", "cluster.cli", "jobs", "status", "x", "--address", "http://127.0.0.1:9"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "no Ray auth token found" in proc.stderr and str(tmp_path / "missing") in proc.stderr


def test_cluster_definitions_give_jobs_their_storage() -> None:
    """Every shipped cluster tells a job where a relative runs_dir goes: the shared volume."""
    for name in RAY_UP:
        options = yaml.safe_load((REPO / name).read_text())["docker"]["run_options"]
        assert f"--env {jobs.STORAGE_ENV}={STORAGE}" in options
    for group, _, container in _containers(_cluster_specs()["raycluster.yaml"]):  # jobs of `ecomrel submit`
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env.get(jobs.STORAGE_ENV) == STORAGE, group
    (job,) = _docs(K8S / "rayjob.yaml")  # its one job
    assert yaml.safe_load(job["spec"]["runtimeEnvYAML"])["env_vars"][jobs.STORAGE_ENV] == STORAGE


def test_submit_resolves_a_relative_runs_dir_against_storage_or_refuses() -> None:
    quick = jobs.job_args(["run", "--config", str(REPO / "configs" / "demo-quick.yaml")])
    shared = Path(STORAGE)
    assert jobs.storage_root(STORAGE, "http://head.example:8265") == shared
    assert jobs.storage_root(None, "http://127.0.0.1:8265") == REPO  # a single-machine cluster: this checkout
    assert jobs.storage_root(None, None) == REPO and jobs.storage_root(None, "localhost:8265") == REPO
    assert jobs.storage_root(None, "http://head.example:8265") is None
    with pytest.raises(jobs.JobsError, match="absolute path"):
        jobs.storage_root("cluster_storage", None)

    assert jobs.planned_run_folder(quick, shared) == shared / "runs" / "demo-quick"
    assert jobs.planned_run_folder([*quick, "--set", "name=other"], shared) == shared / "runs" / "other"
    with pytest.raises(jobs.JobsError, match=r"runs_dir 'runs' is relative .* --storage PATH"):
        jobs.planned_run_folder(quick, None, "http://head.example:8265")
    # An absolute runs_dir needs no storage; the job's --env values are what the config's ${VAR} see.
    assert jobs.planned_run_folder([*quick, "--set=runs_dir=/data/runs"], None) == Path("/data/runs/demo-quick")
    from_env = [*quick, "--set", "runs_dir=${RUNS_FOR_TEST}"]
    with pytest.raises(jobs.JobsError, match="RUNS_FOR_TEST is not set"):
        jobs.planned_run_folder(from_env, shared)
    assert jobs.planned_run_folder(from_env, None, env={"RUNS_FOR_TEST": "/x"}) == Path("/x/demo-quick")
    assert "RUNS_FOR_TEST" not in os.environ


def test_a_job_resolves_its_relative_runs_dir_against_ecomrel_storage(monkeypatch, tmp_path) -> None:
    from cluster.config import load_config
    from ecomrel.config import ConfigError

    quick = REPO / "configs" / "demo-quick.yaml"
    monkeypatch.delenv(jobs.STORAGE_ENV, raising=False)
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
    assert load_config(quick).runs_dir == "runs"  # outside a job: relative to the working directory, as ever

    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}")  # what the job supervisor sets for the entrypoint
    with pytest.raises(ConfigError, match=r"runs_dir 'runs' is relative, and this Ray job's working dir is deleted"):
        load_config(quick)
    monkeypatch.setenv(jobs.STORAGE_ENV, str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="not an existing absolute folder on this node"):
        load_config(quick)
    monkeypatch.setenv(jobs.STORAGE_ENV, str(tmp_path))
    assert load_config(quick).run_dir == tmp_path / "runs" / "demo-quick"
    assert load_config(quick, ["runs_dir=/elsewhere"]).run_dir == Path("/elsewhere/demo-quick")


def test_reported_run_folder_is_the_jobs_last_run_folder_line() -> None:
    text = "run folder: /a/runs/x\n(raylet) noise\nrecipe x: done\nrun folder: /b/runs/x\n"
    assert jobs.reported_run_folder(text) == "/b/runs/x"
    assert jobs.reported_run_folder("error: this job's Python cannot run ecomrel.\n") is None
    assert jobs.client_address("http://10.0.0.5:8265") == "ray://10.0.0.5:10001"


def test_ray_client_connection_retries_only_a_failed_server_start(monkeypatch, capsys) -> None:
    """The head's proxy sometimes fails to start a connection's server (ray-project/ray#63202; CI saw the new
    process die, reported as a psutil.ZombieProcess): `jobs fetch` asks again, a bounded number of times; other
    errors fail at once."""
    import ray

    calls: list[str] = []
    failures: list[BaseException] = []

    def fake_init(url: str) -> None:
        calls.append(url)
        if failures:
            raise failures.pop(0)

    monkeypatch.setattr(ray, "init", fake_init)
    monkeypatch.setattr(jobs, "CLIENT_INIT_BACKOFF_S", 0.0)
    aborted = ConnectionAbortedError("Initialization failure from server:\nTraceback ...\npsutil.ZombieProcess: pid=1")
    url = "ray://10.0.0.5:10001"

    failures[:] = [aborted]
    jobs.connect_ray_client(url)
    assert calls == [url, url]
    assert (
        "the cluster failed to start the connection (psutil.ZombieProcess: pid=1); retrying" in capsys.readouterr().err
    )

    calls.clear()
    failures[:] = [aborted] * jobs.CLIENT_INIT_ATTEMPTS
    with pytest.raises(jobs.JobsError, match=r"after 3 attempts; forward the head's port 10001"):
        jobs.connect_ray_client(url)
    assert len(calls) == jobs.CLIENT_INIT_ATTEMPTS == 3

    calls.clear()
    failures[:] = [ConnectionError("ray client connection timeout")]
    with pytest.raises(jobs.JobsError, match=r"Ray Client at ray://10.0.0.5:10001: ray client connection timeout \("):
        jobs.connect_ray_client(url)
    assert calls == [url]


def test_the_wrong_python_fails_at_once_naming_interpreter_module_and_fix(tmp_path) -> None:
    """The job's entrypoint under a `python` without the project's packages (this interpreter with -S: no
    site-packages) stops in its stdlib-only preflight, before the CLI, within seconds."""
    bare = tmp_path / "bin" / "python"
    bare.parent.mkdir()
    bare.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    bare.chmod(0o755)
    env = {"PATH": f"{bare.parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    command = jobs.entrypoint(["run", "--config", "configs/demo-quick.yaml"])
    start = time.monotonic()
    proc = subprocess.run(["sh", "-c", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - start
    assert proc.returncode == 2, proc.stderr
    assert elapsed < 10, elapsed
    assert f"interpreter: {sys.executable}" in proc.stderr
    missing = proc.stderr.split("missing package(s): ")[1].split(" (")[0].split(", ")
    assert {"typer", "pydantic", "ray", "torch"} <= set(missing)
    assert "source .venv/bin/activate && ray start --head" in proc.stderr and "--image" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""  # the CLI never started

    ok = subprocess.run([sys.executable, "-m", "cluster.preflight"], cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stderr == ""


def test_run_archive_leaves_datasets_and_checkpoints_behind(tmp_path, monkeypatch) -> None:
    import io
    import tarfile

    from cluster import run_archive

    run = tmp_path / "demo"
    files = {
        "recipe.json": b"{}",
        "report/reports.json": b"[1]",
        "report/test/report.md": b"# r",
        "model/thresholds.json": b"{}",
        "model/adapter/model.safetensors": bytes(range(256)) * 40,
        "ingest/manifest.json": b"{}",
        "ingest/data/records.parquet": b"x",
        "ingest/quarantine/quarantine.jsonl": b"x",
        "train/ray/checkpoint_0/c.pt": b"x",
        "train/adapter/model.safetensors": b"x",
        "train/metrics.jsonl": b"{}",
        "selfval/models/fold0/m.bin": b"x",
        "arms/neg/train/ray/c.pt": b"x",
        "arms/neg/report/reports.json": b"[2]",
    }
    for rel, data in files.items():
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_bytes(data)
    monkeypatch.setattr(run_archive, "CHUNK_BYTES", 1000)  # several chunks

    def unpack(everything: bool) -> dict[str, bytes]:
        archive = run_archive.RunFolderArchive(str(run), everything)
        blob = b"".join(archive.chunk(i) for i in range(archive.chunks()))
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}

    kept = {
        "recipe.json",
        "report/reports.json",
        "report/test/report.md",
        "model/thresholds.json",
        "model/adapter/model.safetensors",
        "ingest/manifest.json",
        "train/metrics.jsonl",
        "arms/neg/report/reports.json",
    }
    assert unpack(False) == {rel: files[rel] for rel in kept}
    assert unpack(True) == files
    with pytest.raises(FileNotFoundError, match="no such folder"):
        run_archive.RunFolderArchive(str(tmp_path / "nope"))
