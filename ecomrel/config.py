"""Typed configs: one pydantic class per stage, a description on every field, loaded from YAML.

``load_config(path, overrides=["train.lora.r=8", ...])`` applies ``--set a.b=c`` overrides (values parsed as
YAML) before validation, so a typo in a key is an error naming it rather than a silently ignored setting.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Section(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    def digest(self) -> str:
        """Stable hash of this section, used by stage manifests to decide whether a stage must re-run."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


class RayConfig(Section):
    address: str | None = Field(
        None,
        description="Ray cluster to join ('auto', 'ray://host:10001', ...). Unset: RAY_ADDRESS, else an "
        "embedded local Ray is started.",
    )
    num_cpus: int | None = Field(None, description="CPUs for an embedded local Ray (default: all).")
    include_dashboard: bool = Field(True, description="Start the dashboard with an embedded local Ray.")


class MakeDataConfig(Section):
    enabled: bool = Field(False, description="Generate synthetic CIKM-format data into the run before ingest.")
    rows: int = Field(2000, ge=50, description="Training rows per task; dev and test get a fifth each.")
    seed: int = Field(0, description="Generator seed: same seed, same files.")
    noise: float = Field(0.05, ge=0.0, le=0.5, description="Fraction of training labels flipped (planted noise).")


class IngestConfig(Section):
    inputs: list[str] = Field(
        default_factory=list,
        description="CIKM files or folders of them (train_QC.txt, dev_QI.txt, ...). Empty: the make-data output.",
    )
    max_text_chars: int = Field(512, ge=1, description="Queries or targets longer than this are quarantined.")
    answers_dir: str | None = Field(
        None,
        description="Folder of dev/test labels (answers/dev_QC.txt, ...). Default: an answers/ folder "
        "beside the inputs, if present.",
    )


class AuditConfig(Section):
    high_resource_min_rows: int = Field(
        100,
        ge=1,
        description="A train language with at least this many rows counts as high-resource "
        "(a translation source candidate).",
    )


class LoraConfig(Section):
    r: int = Field(16, ge=1, description="LoRA rank (paper: 32).")
    alpha: int = Field(32, ge=1, description="LoRA alpha (scaling = alpha / r).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA path.")
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="Module names that get adapters.",
    )


class DeepSpeedConfig(Section):
    zero_stage: Literal[2, 3] = Field(3, description="ZeRO stage: 2 shards optimizer+grads, 3 also params.")
    offload_optimizer: bool = Field(
        False, description="Offload optimizer state to CPU memory (DeepSpeed's CPU Adam, compiled on first use)."
    )
    offload_params: bool = Field(False, description="ZeRO-3 only: offload partitioned parameters to CPU memory.")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="Raw DeepSpeed config keys applied last (deep-merged)."
    )


class TrainConfig(Section):
    base_model: str = Field(..., description="from_pretrained name or path of the causal LM.")
    strategy: Literal["ddp", "deepspeed"] = Field("ddp", description="DDP (gloo on CPU, NCCL on GPU) or DeepSpeed.")
    deepspeed: DeepSpeedConfig = Field(default_factory=DeepSpeedConfig, description="DeepSpeed settings.")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA adapter settings.")
    num_workers: int = Field(2, ge=1, description="Ray Train workers.")
    use_gpu: bool = Field(False, description="One GPU per worker.")
    cpus_per_worker: float = Field(1, gt=0, description="CPUs reserved per training worker.")
    micro_batch_size: int = Field(8, ge=1, description="Rows per worker per forward pass.")
    grad_accum_steps: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    epochs: float = Field(1.0, gt=0, description="Passes over the training data (fractional allowed).")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps (overrides epochs).")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate (cosine decay after warm-up).")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Fraction of steps spent warming up linearly.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_seq_len: int = Field(
        256, ge=16, description="Longer prompts are cut in the middle of the row part (instruction and cue kept)."
    )
    bf16: bool = Field(False, description="bf16 weights and compute (GPU); CPU runs fp32.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping: max global L2 norm of the LoRA grads.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in backward to save memory.")
    checkpoint_every_steps: int = Field(50, ge=1, description="Report a checkpoint every N optimizer steps.")
    keep_checkpoints: int = Field(2, ge=1, description="Checkpoints Ray Train keeps in storage (latest first).")
    max_failures: int = Field(2, ge=0, description="Worker failures Ray Train recovers from (FailureConfig).")
    torch_threads: int | None = Field(None, ge=1, description="torch intra-op threads per worker (CPU).")
    seed: int = Field(0, description="Seed for data order and adapter init.")


class ScoreConfig(Section):
    backend: Literal["transformers", "vllm"] = Field(
        "transformers",
        description="transformers: TwoLogitScorer actors (CPU or GPU). vllm: ray.data.llm with vLLM's "
        "sequence-classification conversion of the causal LM (GPU only).",
    )
    batch_size: int = Field(16, ge=1, description="Rows per forward pass (rows are bucketed by length).")
    rows_per_call: int = Field(
        512,
        ge=1,
        description="Rows Ray Data hands a scoring actor per call (vLLM: per engine batch); the transformers "
        "scorer sorts them by task and length into batch_size forward passes (at 512 rows and batch 16, "
        "padding adds ~5% to the row tokens of realistic data; at 256, ~9%).",
    )
    sort_by_length: bool = Field(
        False,
        description="Also sort the whole dataset by (task, text length) before scoring (a Ray Data shuffle), "
        "which removes the remaining padding. Output row order then differs from the input (rows keep ids).",
    )
    prefix_cache: bool = Field(
        True, description="Compute the shared prompt prefix's KV cache once per task and reuse it (transformers)."
    )
    concurrency: int = Field(1, ge=1, description="Scoring actors.")
    num_cpus: float = Field(1, gt=0, description="CPUs per scoring actor.")
    num_gpus: float = Field(0, ge=0, description="GPUs per scoring actor.")
    max_seq_len: int = Field(256, ge=16, description="Prompt truncation length (same as training).")
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="Scoring dtype.")
    vllm_engine_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra vLLM engine arguments for the vllm backend, applied over ecomrel's defaults "
        "(hf_overrides is merged key by key).",
    )


class CalibrateConfig(Section):
    per_language: bool = Field(
        False, description="Also tune a threshold per (task, language) with enough labelled dev rows."
    )
    min_rows_per_language: int = Field(50, ge=1, description="Fewer labelled rows: the task threshold applies.")
    seed_thresholds: dict[str, float] = Field(
        default_factory=lambda: {"QC": 0.4, "QI": 0.2},
        description="Thresholds used when no labelled dev rows exist (the paper's values).",
    )
    validation_fraction: float = Field(
        0.1,
        gt=0,
        lt=0.5,
        description="Without dev labels: share of train queries held out (grouped by query, "
        "stratified by language) for calibration.",
    )
    split_seed: int = Field(0, description="Seed of the held-out split: same seed, same queries held out.")


class EmbedConfig(Section):
    model: str = Field(..., description="sentence-transformers name or path (demo: bundled multilingual-e5-small).")
    query_prompt: str | None = Field(
        None, description="Prompt name or literal prefix for queries (e5: 'query: '; Qwen3-Embedding: its instruct)."
    )
    passage_prompt: str | None = Field(None, description="Prompt name or literal prefix for targets.")
    batch_size: int = Field(64, ge=1, description="Sentences per encode call.")
    concurrency: int = Field(1, ge=1, description="Embedding actors.")
    num_cpus: float = Field(1, gt=0, description="CPUs per embedding actor.")
    num_gpus: float = Field(0, ge=0, description="GPUs per embedding actor.")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Weights dtype (bfloat16/float16 for large embedders on GPU)."
    )
    truncate_dim: int | None = Field(
        None, ge=1, description="Matryoshka truncation of the vectors (Qwen3-Embedding supports it); re-normalised."
    )


class TranslateConfig(Section):
    enabled: bool = Field(False, description="Run translation augmentation.")
    backend: Literal["causal_lm", "seq2seq", "vllm"] = Field(
        "causal_lm", description="causal LM prompted to translate, a seq2seq model, or vLLM via ray.data.llm."
    )
    model: str = Field(..., description="Translator name or path (cluster: ByteDance-Seed/Seed-X-PPO-7B).")
    source_languages: list[str] = Field(
        default_factory=lambda: ["es"], description="Train languages translated from (the paper: Spanish)."
    )
    rows_per_pair: int = Field(200, ge=1, description="Source rows sampled per (task, source, target language).")
    max_new_tokens: int = Field(48, ge=1, description="Generation budget per translation.")
    batch_size: int = Field(16, ge=1, description="Rows per translator call and per generate() batch.")
    concurrency: int = Field(1, ge=1, description="Translator actors (vllm: engine replicas).")
    num_cpus: float = Field(1, gt=0, description="CPUs per translator actor.")
    num_gpus: float = Field(
        0, ge=0, description="GPUs per translator actor (vllm: tensor x pipeline parallel size per replica instead)."
    )
    min_similarity: float = Field(
        0.84,
        ge=-1,
        le=1,
        description="Quality gate: minimum cross-lingual embedding cosine source/translation. Embedder-specific: "
        "multilingual-e5-small squeezes cosines together (reference translations 0.82-0.97, unrelated queries "
        "0.75-0.84); 0.84 keeps 97.5% of reference translations and 2.9% of unrelated pairs there.",
    )
    length_ratio: tuple[float, float] = Field(
        (0.3, 3.0), description="Quality gate: allowed translation/source character-length ratio (low, high)."
    )
    min_language_confidence: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Quality gate: the output's most likely language (lingua, over ecomrel's 13) must be the "
        "target, with at least this confidence. Short queries score low even when right (correct Italian "
        "queries: 75% reach 0.5, 95% reach 0.3), so 0.3.",
    )
    seed: int = Field(0, description="Sampling seed.")
    vllm_engine_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra vLLM engine arguments, applied over ecomrel's defaults."
    )

    @model_validator(mode="after")
    def _ratio_bounds(self) -> TranslateConfig:
        lo, hi = self.length_ratio
        if not 0 <= lo <= hi:
            raise ValueError(f"length_ratio must be (low, high) with 0 <= low <= high, got {self.length_ratio}")
        return self


class NegativesConfig(Section):
    enabled: bool = Field(False, description="Run semantic negative mining.")
    top_k: int = Field(20, ge=1, description="Nearest targets retrieved per query (the paper: 20).")
    range_min: int = Field(
        1, ge=0, description="Hard negatives come from retrieval ranks [range_min, range_max) (0 = nearest)."
    )
    range_max: int = Field(20, ge=1, description="End (exclusive) of the hard-negative rank window; <= top_k.")
    absolute_margin: float | None = Field(
        0.02,
        description="False-negative guard (sentence-transformers' name): drop candidates with similarity > "
        "s_pos - absolute_margin, s_pos = the query's least similar known positive.",
    )
    relative_margin: float | None = Field(
        None,
        description="Guard as a fraction: drop candidates with similarity > s_pos - |s_pos| * relative_margin "
        "(NV-Retriever's TopK-PercPos uses 0.05).",
    )
    sampling_strategy: Literal["top", "random"] = Field(
        "top", description="Hard negatives: the nearest surviving candidates, or a random draw among them."
    )
    negatives_per_positive: float = Field(1.0, gt=0, description="Mined negatives per positive training row.")
    hard_fraction: float = Field(0.7, ge=0, le=1, description="Share of mined negatives that are hard (rest easy).")
    index: Literal["flat", "ivf", "hnsw"] = Field("flat", description="faiss index: exact inner product or ANN.")
    ivf_nlist: int = Field(1024, ge=1, description="IVF lists.")
    ivf_nprobe: int = Field(32, ge=1, description="IVF lists probed per query.")
    hnsw_m: int = Field(32, ge=4, description="HNSW graph degree.")
    hnsw_ef_search: int = Field(128, ge=1, description="HNSW search breadth.")
    hnsw_ef_construction: int = Field(40, ge=1, description="HNSW build breadth (faiss default 40).")
    recall_queries: int = Field(
        1000, ge=1, description="Approximate index: queries sampled to measure recall@top_k against exact search."
    )
    random_negatives: bool = Field(
        False,
        description="Ablation: draw negatives uniformly at random instead; with an `embed` section the recipe first "
        "mines (or reuses) the semantic run and draws exactly as many per anchor as it produced.",
    )
    seed: int = Field(0, description="Sampling seed.")

    @model_validator(mode="after")
    def _rank_window(self) -> NegativesConfig:
        if not self.range_min < self.range_max <= self.top_k:
            raise ValueError(
                f"need range_min < range_max <= top_k, got range_min={self.range_min}, "
                f"range_max={self.range_max}, top_k={self.top_k}"
            )
        return self


# ---------------------------------------------------------------------------------------------------------------
# Serving (owned by serve/): the calibrated classifier as a Ray Serve app, read by ``serve.app.build_app``.
# ---------------------------------------------------------------------------------------------------------------


class ServeConfig(Section):
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
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="Scoring dtype.")
    num_cpus: float = Field(1, ge=0, description="CPUs per scorer replica.")
    num_gpus: float = Field(0, ge=0, description="GPUs per scorer replica (> 0 scores on CUDA).")
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
    vllm_engine_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra vLLM engine arguments for the vllm backend."
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


# ---------------------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------------------
# Self-validation (owned by pipelines/selfval.py): flag training rows whose label an initial model confidently
# contradicts, then remove or relabel them before the final fine-tune.
# ---------------------------------------------------------------------------------------------------------------


class SelfValConfig(Section):
    enabled: bool = Field(False, description="Run self-validation filtering between data preparation and training.")
    method: Literal["in_sample", "oof", "cleanlab"] = Field(
        "oof",
        description="in_sample: the paper's rule on scores of one initial model trained on every row (cheapest, "
        "but a model that fitted a noisy label rarely contradicts it). oof: the same rule on out-of-fold scores "
        "(folds models, each trained on the other folds' queries). cleanlab: confident learning on the "
        "out-of-fold scores (per-class thresholds instead of confidence). Default oof: on synthetic data with 10% "
        "flipped labels, oof at c=0.8 found them with precision 0.75 / recall 0.64, cleanlab 0.56 / 0.78 (it counts "
        "the model's own errors as noise), in_sample recall 0.01.",
    )
    confidence: float = Field(
        0.8,
        gt=0.5,
        le=1.0,
        description="c of the confidence rule: flag a negative scored P(yes) >= c and a positive scored <= 1 - c "
        "(in_sample, oof; cleanlab ignores it).",
    )
    folds: int = Field(
        3, ge=2, description="Out-of-fold models (oof, cleanlab); folds are grouped by query, balanced per language."
    )
    action: Literal["remove", "relabel"] = Field(
        "remove",
        description="remove: flagged rows leave the training set (kept in a quarantine file). relabel: they stay "
        "with the flipped label, source 'relabeled' and the original id as parent_id.",
    )
    min_auc: float = Field(
        0.65,
        ge=0.0,
        le=1.0,
        description="Skill gate: a task's flags are applied only when the scores they come from rank its labels "
        "with at least this ROC-AUC. A model no better than chance cannot tell label noise from hard rows; "
        "measured on the demo, 12-step initial models scored AUC 0.44-0.57 and their 'confident' flags were 41% "
        "of the negatives at precision 0.11 against the planted noise. 0 turns the gate off.",
    )
    cleanlab_filter_by: Literal[
        "prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"
    ] = Field("prune_by_noise_rate", description="cleanlab.filter.find_label_issues filter_by (cleanlab method).")
    initial_train: dict[str, Any] = Field(
        default_factory=dict,
        description="Top-level TrainConfig fields that override `train` for the initial model(s), e.g. "
        "{max_steps: 200, epochs: 1.0}; the final model trains with `train` unchanged.",
    )
    seed: int = Field(0, description="Seed of the fold assignment: same seed, same folds.")

    @model_validator(mode="after")
    def _known_train_fields(self) -> SelfValConfig:
        unknown = sorted(set(self.initial_train) - set(TrainConfig.model_fields))
        if unknown:
            raise ValueError(f"initial_train: unknown TrainConfig field(s) {unknown}")
        return self

    def initial_train_config(self, train: TrainConfig) -> TrainConfig:
        """``train`` with ``initial_train`` applied, validated like any TrainConfig."""
        return TrainConfig.model_validate({**train.model_dump(), **self.initial_train})


# ---------------------------------------------------------------------------------------------------------------


class RecipeConfig(Section):
    name: str = Field(..., description="Run name: outputs go to runs_dir/name/<stage>/.")
    runs_dir: str = Field("runs", description="Root folder of run outputs.")
    tasks: list[Literal["QC", "QI"]] = Field(default_factory=lambda: ["QC", "QI"], description="Tasks to run.")
    ray: RayConfig = Field(default_factory=RayConfig, description="Ray connection.")
    make_data: MakeDataConfig = Field(default_factory=MakeDataConfig, description="Synthetic data stage.")
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="Ingest + validation stage.")
    audit: AuditConfig = Field(default_factory=AuditConfig, description="Language audit stage.")
    train: TrainConfig | None = Field(None, description="LoRA fine-tuning stage (absent: the recipe stops early).")
    score: ScoreConfig = Field(default_factory=ScoreConfig, description="Batch scoring stage.")
    calibrate: CalibrateConfig = Field(default_factory=CalibrateConfig, description="Threshold calibration.")
    embed: EmbedConfig | None = Field(None, description="Embedding model for negatives and the translation gate.")
    translate: TranslateConfig | None = Field(None, description="Translation augmentation stage.")
    negatives: NegativesConfig = Field(default_factory=NegativesConfig, description="Negative mining stage.")
    selfval: SelfValConfig = Field(
        default_factory=SelfValConfig,
        description="Self-validation filtering of the training rows before the final fine-tune.",
    )
    serve: ServeConfig = Field(default_factory=ServeConfig, description="Online serving (Ray Serve app).")

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name


class ConfigError(ValueError):
    """A config file or override that does not validate; the message names the file and the field."""


def _set_path(tree: dict, dotted: str, value: Any, origin: str) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        nxt = node.setdefault(key, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{origin}: cannot set {dotted!r}: {key!r} is not a section")
        node = nxt
    node[keys[-1]] = value


def apply_overrides(tree: dict, overrides: list[str]) -> dict:
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key.path=value")
        key, raw = item.split("=", 1)
        _set_path(tree, key.strip(), yaml.safe_load(raw), f"--set {item!r}")
    return tree


_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def expand_env(value: Any, origin: str) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` and a leading ``~`` in every string of a parsed YAML tree, so one
    config serves machines whose cache or data folders differ."""
    if isinstance(value, dict):
        return {k: expand_env(v, origin) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, origin) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m["name"] in os.environ:
            return os.environ[m["name"]]
        if m["default"] is not None:
            return m["default"]
        raise ConfigError(f"{origin}: environment variable {m['name']} is not set (used as {m.group(0)})")

    value = _VAR.sub(sub, value)
    return os.path.expanduser(value) if value.startswith("~") else value


def config_from_overrides(tree: dict, overrides: list[str], origin: str = "--set") -> RecipeConfig:
    """Validate a config tree after applying ``--set`` overrides and expanding environment variables."""
    tree = expand_env(apply_overrides(tree, overrides), origin)
    try:
        return RecipeConfig.model_validate(tree)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{origin}: {problems}") from exc


def load_config(path: str | Path, overrides: list[str] | None = None) -> RecipeConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return config_from_overrides(tree, overrides or [], str(path))
