"""The recipe config: the run's name, tasks and Ray connection, and every stage's section (each defined beside its
stage), with the checks that span sections.

``load_config(path, overrides=["train.trainer.r=8", ...])`` reads a recipe YAML; ``config_from_overrides(tree, ...)``
validates a tree already in memory. A stage that may be left out is off when its section is omitted.

Inside a Ray job a relative ``runs_dir`` is resolved against ``$ECOMREL_STORAGE`` (``ecomrel submit --storage``,
or the cluster definitions' shared volume): relative to the job's working dir it would land in the unpacked
working-dir package, which Ray deletes with the session.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from cluster.ray_runtime import inside_ray_job
from ecomrel.config import ConfigError, RayConfig, Section, load_tree, parse
from ecomrel.plan import Hardware
from evaluation.calibrate import CalibrateConfig
from pipelines.audit import AuditConfig
from pipelines.embed import EmbedConfig
from pipelines.ingest import IngestConfig
from pipelines.negatives import NegativesConfig
from pipelines.score import ScoreConfig
from pipelines.selfval import SelfValConfig
from pipelines.split import SplitConfig
from pipelines.synthetic import MakeDataConfig
from pipelines.translate import TranslateConfig
from serve.settings import ServeConfig
from train.config import TrainConfig


def _off(cls):
    return lambda: cls(enabled=False)


class RecipeConfig(Section):
    name: str = Field(..., description="Run name: outputs go to runs_dir/name/<stage>/.")
    runs_dir: str = Field("runs", description="Root folder of run outputs.")
    tasks: list[Literal["QC", "QI"]] = Field(default_factory=lambda: ["QC", "QI"], description="Tasks to run.")
    ray: RayConfig = Field(default_factory=RayConfig, description="Ray connection.")
    hardware: Hardware | None = Field(
        None,
        description="The GPUs the recipe runs on. When given, `ecomrel run` refuses a recipe the planner says will "
        "not fit them, before any stage starts (`ecomrel plan` prints the plan).",
    )
    embed: EmbedConfig | None = Field(
        None, description="Embedding model: negative mining, the translation gate and the cosine baseline."
    )
    make_data: MakeDataConfig = Field(default_factory=_off(MakeDataConfig), description="Synthetic data stage.")
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="Ingest + validation stage.")
    audit: AuditConfig = Field(default_factory=AuditConfig, description="Language audit stage.")
    split: SplitConfig = Field(default_factory=SplitConfig, description="Train / calibration / test split stage.")
    translate: TranslateConfig = Field(default_factory=_off(TranslateConfig), description="Translation stage.")
    negatives: NegativesConfig = Field(default_factory=_off(NegativesConfig), description="Negative mining stage.")
    selfval: SelfValConfig = Field(
        default_factory=_off(SelfValConfig),
        description="Self-validation filtering of the training rows before the final fine-tune.",
    )
    train: TrainConfig = Field(
        default_factory=_off(TrainConfig), description="Fine-tuning stage (off: the recipe stops after the audit)."
    )
    score: ScoreConfig = Field(default_factory=ScoreConfig, description="Batch scoring stages.")
    calibrate: CalibrateConfig = Field(default_factory=CalibrateConfig, description="Threshold calibration stage.")
    serve: ServeConfig = Field(default_factory=ServeConfig, description="Online serving (Ray Serve app).")

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name

    @model_validator(mode="after")
    def _across_sections(self) -> RecipeConfig:
        if self.train.enabled and self.score.max_seq_len != self.train.max_seq_len:
            raise ValueError(
                f"score.max_seq_len={self.score.max_seq_len} differs from train.max_seq_len="
                f"{self.train.max_seq_len}: the model must be scored on prompts cut as in training"
            )
        if self.embed is None and self.translate.enabled:
            raise ValueError("translate needs an `embed` section: its quality gate compares embeddings")
        if self.embed is None and self.negatives.enabled and not self.negatives.random_negatives:
            raise ValueError("negatives needs an `embed` section (or random_negatives: true)")
        if self.train.enabled and self.train.family != "causal_lm":
            for section, backend in (("score", self.score.backend), ("serve", self.serve.backend)):
                if backend == "vllm":
                    raise ValueError(
                        f"{section}.backend 'vllm' serves causal LMs; train.family is {self.train.family!r}"
                    )
        unknown = sorted(set(self.selfval.initial_train) - set(TrainConfig.model_fields))
        if unknown:
            raise ValueError(f"selfval.initial_train: unknown train field(s) {unknown}")
        return self

    def initial_train_config(self) -> TrainConfig:
        """``train`` with ``selfval.initial_train`` applied: self-validation's initial model(s)."""
        return TrainConfig.model_validate({**self.train.model_dump(), **self.selfval.initial_train})


#: A folder that outlives a Ray job (shared by the cluster's nodes): a job's relative runs_dir is resolved against it.
STORAGE_ENV = "ECOMREL_STORAGE"


def _storage_runs_dir(cfg: RecipeConfig, origin: str) -> RecipeConfig:
    """Inside a Ray job, resolve a relative runs_dir against ``$ECOMREL_STORAGE``; refuse when it is unset or not a
    folder here. Outside a job, and for an absolute runs_dir, the config is returned unchanged."""
    if Path(cfg.runs_dir).is_absolute() or not inside_ray_job():
        return cfg
    storage = os.environ.get(STORAGE_ENV)
    if not storage:
        raise ConfigError(
            f"{origin}: runs_dir {cfg.runs_dir!r} is relative, and this Ray job's working dir is deleted with the Ray "
            f"session: set {STORAGE_ENV} to a folder every node sees (`ecomrel submit --storage PATH`, or the "
            "runtime env's env_vars with `ray job submit`), or give an absolute runs_dir"
        )
    if not (Path(storage).is_absolute() and Path(storage).is_dir()):
        raise ConfigError(
            f"{STORAGE_ENV}={storage}: not an existing absolute folder on this node ({socket.gethostname()}); give "
            "`ecomrel submit --storage` a folder every node of the cluster sees (/mnt/cluster_storage on the "
            "clusters of cluster/aws.yaml, cluster/gcp.yaml and cluster/k8s/)"
        )
    return cfg.model_copy(update={"runs_dir": str(Path(storage) / cfg.runs_dir)})


def config_from_overrides(tree: dict, overrides: list[str], origin: str = "--set") -> RecipeConfig:
    """Validate a recipe tree after applying ``--set`` overrides and expanding environment variables; inside a Ray
    job, a relative runs_dir is resolved against ``$ECOMREL_STORAGE``."""
    return _storage_runs_dir(parse(RecipeConfig, tree, overrides, origin), origin)


def load_config(path: str | Path, overrides: list[str] | None = None) -> RecipeConfig:
    return config_from_overrides(load_tree(path), overrides or [], str(path))
