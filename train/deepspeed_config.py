"""The DeepSpeed config, built in code from the typed ``TrainConfig``.

Every value DeepSpeed needs is derived from one field of the typed config, so a YAML recipe never carries a
second, drifting copy of batch sizes or learning rates. ``cfg.deepspeed.overrides`` is deep-merged last: it is the
escape hatch for the many DeepSpeed knobs we do not model (bucket sizes, prefetch, communication dtypes).

``train_batch_size`` is left out on purpose: DeepSpeed derives it from micro-batch x accumulation x world size,
so the same config works on any number of workers.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ecomrel.plan import Hardware, TrainRun, auto_zero_stage, model_shape
from train.config import TrainConfig


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``base`` with ``overrides`` merged in recursively (mappings merge, anything else replaces)."""
    out = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def train_run(cfg: TrainConfig, zero_stage: int) -> TrainRun:
    """The settings of ``cfg`` that the planner's arithmetic reads (``ecomrel.plan``)."""
    return TrainRun(
        micro_batch=cfg.micro_batch_size,
        seq_len=cfg.max_seq_len,
        grad_accum=cfg.grad_accum_steps,
        lora_r=cfg.lora.r,
        lora_targets=list(cfg.lora.target_modules),
        lora_layers=cfg.lora.top_layers,
        lora_dropout=cfg.lora.dropout,
        gradient_checkpointing=cfg.gradient_checkpointing,
        zero_stage=zero_stage,
    )


def resolve_zero_stage(cfg: TrainConfig, hardware: Hardware | None) -> int:
    """``train.deepspeed.zero_stage``, with ``auto`` decided by the planner for the causal LM on ``hardware`` (GPUs):
    ZeRO-2 when a whole bf16 model fits a GPU beside the LoRA state and activations, else ZeRO-3."""
    stage = cfg.deepspeed.zero_stage
    if stage != "auto":
        return stage
    if cfg.deepspeed.offload_params:  # only ZeRO-3 partitions (and so offloads) parameters
        return 3
    if cfg.family != "causal_lm" or hardware is None:
        return 2
    return auto_zero_stage(model_shape(cfg.base_model), train_run(cfg, 2), hardware)


def build_deepspeed_config(
    cfg: TrainConfig, zero_stage: int | None = None, *, nodes: int = 1, gpus_per_node: int = 1
) -> dict[str, Any]:
    """The DeepSpeed config dict for ``cfg`` (a pure function: same arguments, same dict).

    ``zero_stage``: the resolved stage (:func:`resolve_zero_stage`; default: resolved without hardware, i.e. the
    configured stage, or 2 for ``auto``). On several nodes ZeRO-3 keeps its weight gathers inside a node with hpZ
    (``train.deepspeed.node_local_gathers``).

    The optimizer is declared here rather than passed in, so DeepSpeed picks the implementation that fits the
    placement: ``torch.optim.AdamW`` for on-device optimizer state (LoRA parameters are few, so a fused kernel
    buys nothing and would need a CUDA build), DeepSpeed's CPU Adam when the optimizer state is offloaded.
    """
    ds = cfg.deepspeed
    stage = resolve_zero_stage(cfg, None) if zero_stage is None else zero_stage
    zero: dict[str, Any] = {
        "stage": stage,
        "overlap_comm": cfg.use_gpu,
        "contiguous_gradients": True,
    }
    if ds.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": cfg.use_gpu}
    if stage == 3 and nodes > 1 and ds.node_local_gathers:
        zero["zero_hpz_partition_size"] = gpus_per_node
    if ds.offload_params:
        if stage != 3:
            raise ValueError("train.deepspeed.offload_params needs zero_stage 3 (only ZeRO-3 partitions parameters)")
        zero["offload_param"] = {"device": "cpu", "pin_memory": cfg.use_gpu}
    config: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": cfg.micro_batch_size,
        "gradient_accumulation_steps": cfg.grad_accum_steps,
        "gradient_clipping": cfg.max_grad_norm,
        "zero_optimization": zero,
        "bf16": {"enabled": cfg.bf16},
        "fp16": {"enabled": False},
        "optimizer": {
            "type": "AdamW",
            "params": {
                "lr": cfg.learning_rate,
                "betas": [0.9, 0.999],
                "eps": 1e-8,
                "weight_decay": cfg.weight_decay,
                "torch_adam": not ds.offload_optimizer,
            },
        },
        # Our loop logs loss, learning rate and throughput itself; DeepSpeed's own step prints would duplicate it.
        "steps_per_print": 1_000_000_000,
        "wall_clock_breakdown": False,
    }
    return deep_merge(config, ds.overrides)
