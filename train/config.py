"""The ``train`` stage's config: LoRA fine-tuning on Ray Train (DDP or DeepSpeed ZeRO)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ecomrel.config import Section, Toggle


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


class TrainConfig(Toggle):
    """Off: the recipe stops after the audit (no split, augmentation, training, scoring or report)."""

    base_model: str | None = Field(
        None, description="from_pretrained name or path of the causal LM; required when enabled."
    )
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

    @model_validator(mode="after")
    def _base_model(self) -> TrainConfig:
        if self.enabled and not self.base_model:
            raise ValueError("train.base_model is required when training is enabled")
        return self
