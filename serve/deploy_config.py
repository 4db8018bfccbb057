"""Writes ``serve/config/relevance.yaml`` (or a copy of it) with Ray's ``serve build``.

``serve build`` imports an Application and writes the ``serve deploy`` config for it: the Serve-wide sections and
every deployment's options. It takes an Application, not an application builder with ``args``, and names the
application ``app1``; so this builds the Application that the file's own ``args`` describe (through
``serve.app:app_builder``, from a placeholder model directory: deployment options depend on ``args.serve`` only),
runs ``serve build`` on it, and keeps what the file owns: ``http_options`` (``serve build`` writes the build
machine's all-interfaces address) and the application's ``name``, ``runtime_env`` and ``args``. Everything else,
``deployments:`` included, is what ``serve build`` writes, under ``HEADER``. Rewrite files in place with::

    python -m serve.deploy_config [serve/config/relevance.yaml ...]

``tests/cpu/test_serve.py`` checks that the checked-in file is what this writes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import ray
import yaml
from ray.serve.schema import ServeDeploySchema
from ray.serve.scripts import ServeDeploySchemaDumper

from ecomrel.artifacts import THRESHOLDS_FILE, Thresholds

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PATH = REPO / "serve" / "config" / "relevance.yaml"
IMPORT_PATH = "serve.app:app_builder"
#: What the file owns besides its application's ``args``: carried over, not taken from ``serve build``.
KEPT = ("http_options",)
KEPT_IN_APP = ("name", "runtime_env")

HEADER = f"""\
# ecomrel relevance service: a `serve deploy` config written by Ray {ray.__version__}'s `serve build`. This file
# owns `args`, `http_options` and the application's `name` and `runtime_env`; after editing them (or the code),
# rewrite the rest:
#   python -m serve.deploy_config serve/config/relevance.yaml
# tests/cpu/test_serve.py fails while it is stale. Options under `deployments:` override those the code derives
# from `args.serve`, so a copy whose `args.serve` changed needs rewriting too (or drop its `deployments:`).
#
#   serve deploy serve/config/relevance.yaml        # to the cluster's dashboard (default http://127.0.0.1:8265)
#   serve status                                     # RUNNING once every replica has loaded the model
#   serve shutdown -y
#
# Ray 2.60 keeps token authentication on: the first local `ray.init()` / `ray start --head` writes
# ~/.ray/auth_token, and the Serve CLI (deploy, status, config, shutdown) talks to the dashboard's REST API,
# which then wants that token. Run the CLI with
#   export RAY_AUTH_MODE=token
# and the token in ~/.ray/auth_token, in a file named by RAY_AUTH_TOKEN_PATH, or in RAY_AUTH_TOKEN
# (`ray get-auth-token` prints it on the head node). On Kubernetes (RayService) the operator does this.
#
# Ray's token does NOT cover Serve's HTTP proxy (port 8000 below). The API has its own bearer token: set
# ECOMREL_SERVE_TOKEN (>= 16 characters) in the environment of the gateway replicas, e.g. from a Kubernetes
# secret, or mount it as a file and set `auth_token_file`. Without either the gateway refuses to start,
# unless `allow_unauthenticated: true` (logged loudly, and reported on /v1/models).
#
# `model_dir` (thresholds.json + the LoRA adapter it names) must exist on every node that runs a replica.

"""

_BUILD_MODULE = '''\
"""The Application `serve build` reads: written and removed by serve.deploy_config."""
import json

from serve.app import app_builder

app = app_builder(json.loads({args!r}))
'''


def serve_build(args: dict[str, Any]) -> dict[str, Any]:
    """What ``serve build`` writes for the application ``serve.app:app_builder`` builds from ``args``."""
    with tempfile.TemporaryDirectory(prefix="ecomrel-serve-build-") as tmp:
        model_dir = Path(tmp, "model")
        (model_dir / "adapter").mkdir(parents=True)
        (model_dir / "adapter" / "adapter_config.json").write_text("{}")
        placeholder = Thresholds(base_model="placeholder", adapter="adapter", tasks={}, calibrated_on="seed")
        placeholder.save(model_dir / THRESHOLDS_FILE)
        build_args = {**args, "model_dir": str(model_dir)}
        Path(tmp, "relevance_app.py").write_text(_BUILD_MODULE.format(args=json.dumps(build_args)))
        out = Path(tmp, "built.yaml")
        pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        proc = subprocess.run(
            [sys.executable, "-m", "ray.serve.scripts", "build", "relevance_app:app", "--app-dir", tmp]
            + ["--output-path", str(out)],
            env={**os.environ, "PYTHONPATH": pythonpath},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"serve build failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return yaml.safe_load(out.read_text())


def render(path: str | Path) -> str:
    """The deploy config at ``path`` as ``serve build`` writes it, keeping the fields the file owns."""
    current = yaml.safe_load(Path(path).read_text())
    (current_app,) = current["applications"]
    built = serve_build(current_app["args"])
    (built_app,) = built["applications"]
    app = {key: current_app.get(key, value) if key in KEPT_IN_APP else value for key, value in built_app.items()}
    app["import_path"] = IMPORT_PATH
    deployments = app.pop("deployments")
    app |= {"args": current_app["args"], "deployments": deployments}
    config = {key: current.get(key, value) if key in KEPT else value for key, value in built.items()}
    config["applications"] = [app]
    ServeDeploySchema.model_validate(config)
    body = yaml.dump(
        config, Dumper=ServeDeploySchemaDumper, default_flow_style=False, sort_keys=False, width=80, indent=2
    )  # serve build's own formatting
    return HEADER + body.rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serve.deploy_config", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[DEFAULT_PATH], help="deploy configs to rewrite")
    for path in parser.parse_args(argv).paths:
        path.write_text(render(path))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
