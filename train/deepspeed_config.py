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


def build_deepspeed_config(cfg: TrainConfig) -> dict[str, Any]:
    """The DeepSpeed config dict for ``cfg`` (a pure function: same config, same dict).

    The optimizer is declared here rather than passed in, so DeepSpeed picks the implementation that fits the
    placement: ``torch.optim.AdamW`` for on-device optimizer state (LoRA parameters are few, so a fused kernel
    buys nothing and would need a CUDA build), DeepSpeed's CPU Adam when the optimizer state is offloaded.
    """
    ds = cfg.deepspeed
    zero: dict[str, Any] = {
        "stage": ds.zero_stage,
        "overlap_comm": cfg.use_gpu,
        "contiguous_gradients": True,
    }
    if ds.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": cfg.use_gpu}
    if ds.offload_params:
        if ds.zero_stage != 3:
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
