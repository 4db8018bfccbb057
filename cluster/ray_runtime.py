"""Connect to a Ray cluster, or start an embedded local one, with token authentication kept on.

Ray 2.60 turns token auth on for local clusters: the first local ``ray.init()`` writes ``~/.ray/auth_token``.
Clients of an existing cluster (``ray.init(address=...)``, the job and Serve CLIs, the dashboard API) must then
present that token; ``RAY_AUTH_MODE=token``, set by ``cluster/__init__.py`` before Ray is imported, tells them to.
"""

from __future__ import annotations

import logging
import os

import ray

from ecomrel.config import RayConfig

log = logging.getLogger(__name__)


def inside_ray_job() -> bool:
    """True in the driver of a Ray job (the job supervisor sets its config in the entrypoint's environment)."""
    return "RAY_JOB_CONFIG_JSON_ENV_VAR" in os.environ


def connect(cfg: RayConfig | None = None) -> ray.runtime_context.RuntimeContext:
    """Join ``cfg.address`` / ``RAY_ADDRESS`` if given, else start an embedded local Ray. Idempotent."""
    cfg = cfg or RayConfig()
    if ray.is_initialized():
        return ray.get_runtime_context()
    address = cfg.address or os.environ.get("RAY_ADDRESS")
    # Workers inherit the driver's environment variables through the runtime env, and our stages need the
    # offline switches wherever they run.
    env_vars = {
        k: os.environ[k] for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ECOMREL_CACHE") if k in os.environ
    }
    # Inside a Ray job the job's own runtime env already reaches every worker, and Ray refuses to merge keys the
    # job set; only a driver we start ourselves passes them on.
    runtime_env = {"env_vars": env_vars} if env_vars and not inside_ray_job() else None
    if address:
        log.info("joining Ray cluster at %s", address)
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=True)
    else:
        log.info("starting an embedded local Ray")
        # address="local": a new Ray even when `ray start` left a cluster running on this machine (a bare
        # ray.init() would join that one instead, and refuse num_cpus).
        ray.init(
            address="local",
            num_cpus=cfg.num_cpus,
            include_dashboard=cfg.include_dashboard,
            runtime_env=runtime_env,
        )
    return ray.get_runtime_context()
