"""The ``serve`` section of a recipe: the calibrated classifier as a Ray Serve app, read by ``serve.app.build_app``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ecomrel.config import Resources, VllmBackend


class ServeConfig(Resources, VllmBackend):
    backend: Literal["transformers", "vllm"] = Field(
        "transformers", description="Scorer: TwoLogitScorer (CPU or GPU) or vLLM's converted yes/no classifier (GPU)."
    )
    model_name: str = Field(
        "ecomrel-relevance",
        description="Model id the API reports; on /v1/score '<name>-qc' / '<name>-qi' also select the task.",
    )
    app_name: str = Field("relevance", description="Serve application name.")
    host: str = Field("127.0.0.1", description="HTTP bind address when run locally (0.0.0.0 exposes the service).")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port when run locally.")
    route_prefix: str = Field("/", pattern=r"^/", description="URL prefix of the application.")
    max_batch_size: int = Field(
        16, ge=1, description="Pairs per model call, gathered across requests by @serve.batch; 1 turns batching off."
    )
    batch_wait_timeout_s: float = Field(0.01, ge=0, description="Longest wait for a batch to fill before it runs.")
    min_replicas: int = Field(1, ge=0, description="Autoscaling floor of scorer replicas (0 scales to zero).")
    max_replicas: int = Field(1, ge=1, description="Autoscaling ceiling of scorer replicas.")
    target_ongoing_requests: float = Field(
        16, gt=0, description="Autoscaling target: requests in flight per scorer replica (about one batch)."
    )
    max_ongoing_requests: int = Field(
        32,
        ge=1,
        description="Requests one scorer replica works on at once; at least max_batch_size, or batches of "
        "single-pair requests never fill.",
    )
    max_queued_requests: int = Field(
        64,
        ge=1,
        description="Requests waiting for a scorer replica, per gateway replica; beyond that the service "
        "answers 503 at once instead of queueing without bound.",
    )
    retry_after_s: int = Field(1, ge=0, description="Retry-After seconds sent with 503 answers.")
    request_timeout_s: float = Field(30, gt=0, description="A request not scored within this answers 504.")
    gateway_replicas: int = Field(1, ge=1, description="Replicas of the HTTP gateway (auth, validation, thresholds).")
    max_pairs_per_request: int = Field(64, ge=1, description="Most (query, target) pairs in one request.")
    max_text_chars: int = Field(512, ge=1, description="Longest query or target, in characters.")
    auth_token_env: str = Field(
        "ECOMREL_SERVE_TOKEN", description="Environment variable of the gateway replicas holding the bearer token."
    )
    auth_token_file: str | None = Field(
        None, description="File holding the bearer token (e.g. a mounted secret); takes precedence over the variable."
    )
    allow_unauthenticated: bool = Field(
        False,
        description="Serve without a token when none is configured. Deliberately loud: logged at start-up and "
        "reported on /v1/models.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ServeConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas={self.min_replicas} exceeds max_replicas={self.max_replicas}")
        if self.target_ongoing_requests > self.max_ongoing_requests:
            raise ValueError(
                f"target_ongoing_requests={self.target_ongoing_requests} exceeds "
                f"max_ongoing_requests={self.max_ongoing_requests}: replicas could never reach the target"
            )
        if self.backend == "vllm" and self.num_gpus <= 0:
            raise ValueError("backend 'vllm' needs num_gpus > 0")
        return self
