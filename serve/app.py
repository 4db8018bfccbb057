"""The calibrated relevance classifier as a Ray Serve application.

Two deployments, as in ``ray.serve.llm`` (an ingress in front of the model server):

- ``RelevanceGateway`` (FastAPI ingress, no CPU reserved): bearer-token auth, request limits and validation,
  thresholds, metrics. It calls the scorer through a ``DeploymentHandle``; when the scorer's queue is full
  (``max_queued_requests``) the handle raises ``BackPressureError`` at once and the gateway answers 503 with
  ``Retry-After``, so an overloaded service sheds load instead of timing out or growing memory.
- ``RelevanceScorer`` (autoscaling, the model): ``@serve.batch`` gathers pairs across requests into one model
  call, which runs on a worker thread so the replica keeps answering while the model computes.

Build it from a run's model directory (``thresholds.json`` naming the base model and the LoRA adapter):
``build_app(model_dir, cfg)`` in Python, ``import_path: serve.app:app_builder`` with ``args: {model_dir: ...}``
in a ``serve deploy`` config (see ``serve/config/relevance.yaml``), or ``run_local`` for ``ecomrel serve``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from ray import serve
from ray.serve import Application
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle

from ecomrel.artifacts import THRESHOLDS_FILE, Thresholds

from .api import (
    TASKS,
    Health,
    Limits,
    ModelCard,
    ModelList,
    PairResult,
    RelevanceResponse,
    ScoreData,
    ScoreResponse,
    Usage,
    normalize_language,
    request_models,
)
from .auth import UNAUTHENTICATED_WARNING, resolve_token
from .backends import BackendFactory, BackendSpec, Row, Scored, make_backend
from .errors import ApiError, invalid
from .metrics import metrics
from .routes import make_fastapi
from .settings import ServeConfig

log = logging.getLogger(__name__)

SCORER = "RelevanceScorer"
GATEWAY = "RelevanceGateway"
HEALTH_TIMEOUT_S = 5.0


def model_version(model_dir: Path, thresholds: Thresholds) -> str:
    """``thresholds.json``'s version, else a digest of the file (a new calibration or adapter changes it)."""
    if thresholds.version:
        return thresholds.version
    return "sha256:" + hashlib.sha256((model_dir / THRESHOLDS_FILE).read_bytes()).hexdigest()[:12]


class Scorer:
    """Holds the model; scores pairs in batches formed across concurrent requests."""

    def __init__(
        self,
        spec: BackendSpec,
        max_batch_size: int,
        batch_wait_timeout_s: float,
        backend_factory: BackendFactory | None = None,
    ) -> None:
        self.backend = (backend_factory or make_backend)(spec)
        # One thread: batches run one at a time (torch already uses every core it is given), off the event loop.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecomrel-score")
        self._score_batch.set_max_batch_size(max_batch_size)
        self._score_batch.set_batch_wait_timeout_s(batch_wait_timeout_s)
        metrics().model_loaded(self.backend.name)
        log.info("scorer ready: %s backend, %s", self.backend.name, spec.base_model)

    async def ready(self) -> str:
        """Answered only by a constructed replica, i.e. once the model is loaded."""
        return self.backend.name

    async def score(self, rows: list[Row]) -> list[Scored]:
        return list(await asyncio.gather(*(self._score_batch(row) for row in rows)))

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def _score_batch(self, rows: list[Row]) -> list[Scored]:
        start = time.perf_counter()
        scored = await asyncio.get_running_loop().run_in_executor(self._pool, self.backend.score, rows)
        metrics().batch(len(rows), time.perf_counter() - start)
        return scored


class Gateway:
    """HTTP front: auth, validation, thresholds, metrics. The FastAPI app is built in the replica, after the
    token is resolved there (``__serve_build_asgi_app__``)."""

    def __init__(self, scorer: DeploymentHandle, thresholds: Thresholds, version: str, cfg: ServeConfig) -> None:
        self.scorer = scorer
        self.thresholds = thresholds
        self.version = version
        self.cfg = cfg
        self.token = resolve_token(cfg.auth_token_env, cfg.auth_token_file, cfg.allow_unauthenticated)
        self.limits = Limits(cfg.max_pairs_per_request, cfg.max_text_chars)
        self.models = request_models(self.limits)
        self.created = int(time.time())
        self.task_of_model = {cfg.model_name: None} | {f"{cfg.model_name}-{t.lower()}": t for t in TASKS}

    def __serve_build_asgi_app__(self) -> FastAPI:
        return make_fastapi(self)

    async def _score(self, rows: list[Row]) -> list[Scored]:
        response = self.scorer.score.remote(rows)
        try:
            return await asyncio.wait_for(response, timeout=self.cfg.request_timeout_s)
        except BackPressureError as exc:
            raise ApiError(
                503, "overloaded", f"overloaded, retry later: {exc}", {"Retry-After": str(self.cfg.retry_after_s)}
            ) from exc
        except TimeoutError as exc:
            response.cancel()
            raise ApiError(504, "timeout", f"not scored within {self.cfg.request_timeout_s}s") from exc

    def _check_task(self, task: str, loc: tuple[str | int, ...]) -> None:
        if task not in self.thresholds.tasks:
            raise invalid(loc, f"task {task!r} is not served by this model; it serves {sorted(self.thresholds.tasks)}")

    async def judge(self, pairs: list[BaseModel]) -> RelevanceResponse:
        for i, pair in enumerate(pairs):
            self._check_task(pair.task, ("pairs", i, "task"))
        scored = await self._score([Row(p.task, p.query, p.target) for p in pairs])
        results = []
        for i, (pair, s) in enumerate(zip(pairs, scored, strict=True)):
            language = normalize_language(pair.language) if pair.language else None
            threshold = self.thresholds.threshold(pair.task, language)
            relevant = s.p_yes >= threshold
            metrics().decision(pair.task, relevant)
            results.append(
                PairResult(
                    index=i,
                    task=pair.task,
                    language=language,
                    p_yes=s.p_yes,
                    relevant=relevant,
                    threshold=threshold,
                )
            )
        return RelevanceResponse(model=self.cfg.model_name, version=self.version, results=results)

    async def score_texts(self, body: BaseModel) -> ScoreResponse:
        """vLLM's ``/v1/score``: P(yes) per (text_1, text_2) pair."""
        if body.model is not None and body.model not in self.task_of_model:
            raise ApiError(404, "unknown_model", f"model {body.model!r} is not served; see /v1/models")
        task = body.task or self.task_of_model.get(body.model)
        if task is None:
            raise invalid(("task",), f"required: QC or QI (or a task-specific model id, e.g. {self.cfg.model_name}-qc)")
        self._check_task(task, ("task",))
        scored = await self._score([Row(task, q, t) for q, t in body.pairs()])
        tokens = sum(s.prompt_tokens for s in scored)
        return ScoreResponse(
            id=f"score-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=body.model or self.cfg.model_name,
            data=[ScoreData(index=i, score=s.p_yes) for i, s in enumerate(scored)],
            usage=Usage(prompt_tokens=tokens, total_tokens=tokens),
        )

    async def health(self) -> Health:
        """``ok`` when a scorer replica has its model loaded (a replica answers only once constructed)."""
        try:
            backend = await asyncio.wait_for(self.scorer.ready.remote(), timeout=HEALTH_TIMEOUT_S)
        except BackPressureError:
            backend = None  # replicas exist and are saturated: the model is loaded
        except TimeoutError:
            return Health(status="unavailable", model_loaded=False, version=self.version)
        return Health(status="ok", model_loaded=True, version=self.version, backend=backend)

    def model_list(self) -> ModelList:
        warning = None
        if self.token is None:
            log.warning(UNAUTHENTICATED_WARNING)
            warning = UNAUTHENTICATED_WARNING
        cards = [
            ModelCard(
                id=model_id,
                created=self.created,
                root=self.thresholds.base_model,
                version=self.version,
                task=task,
                max_model_len=self.thresholds.max_seq_len,
                thresholds={t: v for t, v in self.thresholds.tasks.items() if task in (None, t)},
            )
            for model_id, task in self.task_of_model.items()
            if task is None or task in self.thresholds.tasks
        ]
        return ModelList(data=cards, warning=warning)


RelevanceScorer = serve.deployment(name=SCORER)(Scorer)
RelevanceGateway = serve.deployment(name=GATEWAY)(serve.ingress()(Gateway))


def scorer_options(cfg: ServeConfig) -> dict[str, Any]:
    """Deployment options of the scorer, as ``serve build`` would write them into a deploy config."""
    return {
        "max_ongoing_requests": cfg.max_ongoing_requests,
        "max_queued_requests": cfg.max_queued_requests,
        "autoscaling_config": {
            "min_replicas": cfg.min_replicas,
            "max_replicas": cfg.max_replicas,
            "target_ongoing_requests": cfg.target_ongoing_requests,
        },
        "ray_actor_options": {"num_cpus": cfg.num_cpus, "num_gpus": cfg.num_gpus},
    }


def gateway_options(cfg: ServeConfig) -> dict[str, Any]:
    """Deployment options of the gateway. Its limits are far above what the scorers hold, so a burst is refused
    (and counted) at the scorer's queue, where refusing costs microseconds; should Serve's proxy ever refuse
    for the gateway, its 503 carries the same Retry-After."""
    capacity = max(256, 4 * (cfg.max_replicas * cfg.max_ongoing_requests + cfg.max_queued_requests))
    return {
        "num_replicas": cfg.gateway_replicas,
        "max_ongoing_requests": capacity,
        "max_queued_requests": capacity,
        "backpressure_config": {"retry_after_s": float(cfg.retry_after_s)},
        "ray_actor_options": {"num_cpus": 0},
    }


def build_app(
    model_dir: str | Path, cfg: ServeConfig | None = None, backend_factory: BackendFactory | None = None
) -> Application:
    """The Serve application for a model directory (``thresholds.json`` + the adapter it names).

    ``backend_factory`` replaces the backend ``cfg.backend`` names (tests inject fakes through it)."""
    cfg = cfg or ServeConfig()
    model_dir = Path(model_dir).resolve()
    thresholds = Thresholds.load(model_dir)
    if not (Path(thresholds.adapter) / "adapter_config.json").is_file():
        raise FileNotFoundError(
            f"{model_dir / THRESHOLDS_FILE}: adapter {thresholds.adapter} has no adapter_config.json"
        )
    spec = BackendSpec(
        kind=cfg.backend,
        family=thresholds.family,
        base_model=thresholds.base_model,
        adapter=thresholds.adapter,
        max_seq_len=thresholds.max_seq_len,
        prompt_template=thresholds.prompt_template,
        dtype=cfg.dtype,
        device="cuda" if cfg.num_gpus > 0 else "cpu",
        batch_size=cfg.max_batch_size,
        engine_kwargs=cfg.vllm_engine_kwargs,
    )
    scorer = RelevanceScorer.options(**scorer_options(cfg)).bind(
        spec, cfg.max_batch_size, cfg.batch_wait_timeout_s, backend_factory
    )
    version = model_version(model_dir, thresholds)
    return RelevanceGateway.options(**gateway_options(cfg)).bind(scorer, thresholds, version, cfg)


class AppArgs(BaseModel):
    """``args`` of the application in a ``serve deploy`` config."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_dir: str = Field(..., description="Folder with thresholds.json (and the adapter it names), on every node.")
    serve: ServeConfig = Field(default_factory=ServeConfig, description="Service settings (ecomrel ServeConfig).")


def app_builder(args: dict[str, Any]) -> Application:
    """Application builder for ``import_path: serve.app:app_builder``."""
    parsed = AppArgs.model_validate(args)
    return build_app(parsed.model_dir, parsed.serve)


def run_local(model_dir: str | Path, cfg: ServeConfig | None = None, blocking: bool = True) -> str:
    """Serve on this machine's Ray (started if none is connected) and return the base URL.

    ``blocking`` waits until Ctrl-C, then deletes the application."""
    cfg = cfg or ServeConfig()
    app = build_app(model_dir, cfg)
    serve.start(http_options={"host": cfg.host, "port": cfg.port})
    serve.run(app, name=cfg.app_name, route_prefix=cfg.route_prefix)
    url = f"http://{cfg.host}:{cfg.port}{cfg.route_prefix.rstrip('/')}"
    log.info("serving %s at %s (OpenAPI: %s/docs)", model_dir, url, url)
    if blocking:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            log.info("stopping %s", cfg.app_name)
            serve.delete(cfg.app_name)
    return url
