"""The ``train`` stage's config: fine-tuning a relevance model on Ray Train (DDP or DeepSpeed ZeRO).

``family`` picks the model: ``causal_lm`` (LoRA on a causal LM answering yes/no; the production Qwen3-14B path),
``bi_encoder`` or ``cross_encoder`` (a fine-tuned text encoder; the embedded default, see ``ecomrel.encoders``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ecomrel.config import Section, Toggle
from ecomrel.prompts import DEFAULT_TEMPLATE, PromptTemplate


class LoraConfig(Section):
    r: int = Field(16, ge=1, description="LoRA rank (paper: 32).")
    alpha: int = Field(32, ge=1, description="LoRA alpha (scaling = alpha / r).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA path.")
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="Module names that get adapters.",
    )
    top_layers: int | None = Field(
        None,
        ge=1,
        description="Adapters on the last N decoder layers only (peft `layers_to_transform`); None: every layer. "
        "Backward then stops at the lowest adapted layer: nothing below it needs a gradient.",
    )


class DeepSpeedConfig(Section):
    zero_stage: Literal["auto", 2, 3] = Field(
        "auto",
        description="ZeRO stage: 2 shards optimizer state and gradients (each GPU holds the whole bf16 model; only "
        "the LoRA gradients cross the network), 3 also the weights (gathered layer by layer every forward and "
        "backward). auto: 2 when the model, LoRA state and activations fit one GPU (ecomrel.plan), else 3; "
        "always 2 for the encoder families and on CPU.",
    )
    node_local_gathers: bool = Field(
        True,
        description="ZeRO-3 on several nodes: keep a node-local second partition of the weights (DeepSpeed hpZ, "
        "zero_hpz_partition_size = GPUs per node) so the backward gathers stay inside the node.",
    )
    offload_optimizer: bool = Field(
        False, description="Offload optimizer state to CPU memory (DeepSpeed's CPU Adam, compiled on first use)."
    )
    offload_params: bool = Field(False, description="ZeRO-3 only: offload partitioned parameters to CPU memory.")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="Raw DeepSpeed config keys applied last (deep-merged)."
    )


class EncoderConfig(Section):
    """Settings of the encoder families (``bi_encoder``, ``cross_encoder``)."""

    query_prefix: str = Field("query: ", description="Prepended to every query (e5's convention).")
    passage_prefix: str = Field("passage: ", description="Prepended to every target (e5's convention).")
    max_len: int = Field(
        64, ge=8, description="Tokens per text (bi-encoder: query and target each; cross-encoder: the pair)."
    )
    freeze_embeddings: bool = Field(
        True,
        description="Keep the word-embedding matrix frozen: it is most of a multilingual encoder's weights (96M of "
        "e5-small's 118M, for a 250k vocabulary), a few thousand rows touch a sliver of it, and its dense AdamW "
        "update would dominate a CPU step.",
    )
    head_learning_rate: float = Field(
        1e-2,
        gt=0,
        description="Learning rate of the head (bi-encoder: the per-task scale and bias; cross-encoder: the "
        "classifier), which starts untrained; the encoder body uses `learning_rate`.",
    )
    init_scale: float = Field(
        20.0, gt=0, description="Bi-encoder: initial s of logit(yes) = s * cos + b (cosines span ~0.7-0.95 in e5)."
    )
    init_bias: float = Field(-16.0, description="Bi-encoder: initial b (P(yes) = 0.5 at cos = -b / s = 0.8).")


class TrainConfig(Toggle):
    """Off: the recipe stops after the audit (no split, augmentation, training, scoring or report)."""

    family: Literal["causal_lm", "bi_encoder", "cross_encoder"] = Field(
        "causal_lm", description="Model family (see the module docstring)."
    )
    base_model: str | None = Field(
        None, description="from_pretrained name or path of the causal LM or encoder; required when enabled."
    )
    strategy: Literal["ddp", "deepspeed"] = Field("ddp", description="DDP (gloo on CPU, NCCL on GPU) or DeepSpeed.")
    deepspeed: DeepSpeedConfig = Field(default_factory=DeepSpeedConfig, description="DeepSpeed settings.")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA adapter settings (causal_lm).")
    encoder: EncoderConfig = Field(default_factory=EncoderConfig, description="Encoder families' settings.")
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
    autocast_bf16: bool = Field(
        False,
        description="Run the training forward under torch.autocast(bfloat16): fp32 weights, LoRA parameters, "
        "optimizer and loss, matrix products in bf16. Faster on CPUs with avx512_bf16 or AMX and on GPUs; the "
        "probe, scoring and serving stay fp32.",
    )
    prompt_template: PromptTemplate = Field(
        DEFAULT_TEMPLATE,
        description="causal_lm: the prompt template (ecomrel.prompts): `alpaca` (the Alpaca preamble) or `compact` "
        "(a one-line question, under a quarter of the prefix tokens). Recorded in the adapter directory and "
        "thresholds.json; scoring and serving use it.",
    )
    prefix_sharing: bool = Field(
        False,
        description="causal_lm: compute a micro-batch's shared prompt prefix once (batch 1, with gradients) and let "
        "every row attend to its keys and values; the same logits, loss and gradients as the full prompt per row. "
        "Micro-batches then hold one task each (train.data.Schedule groups them). Not with gradient_checkpointing.",
    )
    length_bucketing: bool = Field(
        False,
        description="Put rows of similar prompt length in the same micro-batch (less padding): each worker's rows "
        "of an epoch are sorted by length within windows of `bucket_window` micro-batches. Same rows per epoch, "
        "another order.",
    )
    bucket_window: int = Field(
        64, ge=1, description="length_bucketing: micro-batches whose rows are sorted by length together."
    )
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping: max global L2 norm of the LoRA grads.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in backward to save memory.")
    checkpoint_every_steps: int = Field(50, ge=1, description="Report a checkpoint every N optimizer steps.")
    keep_checkpoints: int = Field(2, ge=1, description="Checkpoints Ray Train keeps in storage (latest first).")
    max_failures: int = Field(2, ge=0, description="Worker failures Ray Train recovers from (FailureConfig).")
    torch_threads: int | None = Field(None, ge=1, description="torch intra-op threads per worker (CPU).")
    seed: int = Field(0, description="Seed for data order and adapter init.")

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.enabled and not self.base_model:
            raise ValueError("train.base_model is required when training is enabled")
        if self.prefix_sharing and self.family != "causal_lm":
            raise ValueError(f"train.prefix_sharing is for the causal_lm family, not {self.family!r}")
        if self.prefix_sharing and self.gradient_checkpointing:
            raise ValueError(
                "train.prefix_sharing needs the prefix's KV cache, which transformers drops under "
                "gradient_checkpointing: turn one off"
            )
        if self.family != "causal_lm" and self.strategy == "deepspeed" and self.deepspeed.zero_stage == 3:
            raise ValueError(
                f"train.family {self.family!r} trains the whole encoder: use DeepSpeed ZeRO-2 (an encoder fits one "
                "device; ZeRO-3 partitioning is for the causal LM)"
            )
        return self
