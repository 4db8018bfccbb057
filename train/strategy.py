"""Two ways to run the same training step: DDP (gloo on CPU, NCCL on GPU) and DeepSpeed ZeRO-2/3.

Both take a model family's ``Trainable`` (``train.families``: a LoRA causal LM behind ``AnswerHead``, or an encoder)
and expose the few operations the loop needs: a micro-batch forward/backward, an optimizer step at the accumulation
boundary, the current learning rate, the trained weights (gathered, for saving the model directory) and save/load
of the weights, optimizer and scheduler state for checkpoints.
Both run inside a Ray Train worker, where Ray has already created the torch process group.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import torch

from ecomrel.plan import Hardware
from train.config import TrainConfig

from .deepspeed_config import build_deepspeed_config, resolve_zero_stage
from .families import BaseLoader, Trainable, build_trainable
from .model import answer_loss, build_scheduler

log = logging.getLogger(__name__)


def torch_extensions_dir() -> Path:
    """Where DeepSpeed's JIT-compiled ops (the CPU shared-memory collective, CPU Adam) are cached across runs:
    ``$TORCH_EXTENSIONS_DIR``, else ``$ECOMREL_CACHE/torch_extensions``, else ``~/.cache/ecomrel/torch_extensions``."""
    if "TORCH_EXTENSIONS_DIR" in os.environ:
        return Path(os.environ["TORCH_EXTENSIONS_DIR"])
    cache = Path(os.environ.get("ECOMREL_CACHE", Path.home() / ".cache" / "ecomrel"))
    return cache / "torch_extensions"


def train_autocast(cfg: TrainConfig, device: torch.device):
    """The training forward's autocast context: bf16 under ``cfg.autocast_bf16`` (the loss is taken in fp32 and
    backward runs outside, as torch.autocast prescribes), else none. Evaluation forwards (the probe) stay fp32."""
    if not cfg.autocast_bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


class Strategy(Protocol):
    trainable: Trainable
    device: torch.device
    #: True when every rank writes part of a checkpoint (DeepSpeed's partitioned optimizer state).
    every_rank_saves: bool

    def micro_step(self, batch: dict[str, torch.Tensor], labels: torch.Tensor, boundary: bool) -> torch.Tensor: ...
    def optimizer_step(self) -> None: ...
    def lr(self) -> float: ...
    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...
    def trained_state_dict(self) -> dict[str, torch.Tensor]: ...
    def save(self, directory: Path) -> None: ...
    def load(self, directory: Path) -> None: ...


class DDPStrategy:
    """Trained params replicated on every worker; ``ray.train.torch.prepare_model`` moves the model to the worker's
    device and wraps it in DistributedDataParallel (gloo on CPU). Gradient accumulation skips the all-reduce on
    all but the last micro-batch (``no_sync``)."""

    every_rank_saves = False
    _FILE = "ddp_state.pt"

    def __init__(
        self,
        cfg: TrainConfig,
        total_steps: int,
        load_base: BaseLoader | None = None,
        prepare: Callable[[torch.nn.Module], torch.nn.Module] | None = None,
    ) -> None:
        """``prepare`` wraps the module (default: Ray Train's ``prepare_model``, which needs a Ray Train worker);
        the throughput benchmark passes the identity to run the same steps in one plain process."""
        if prepare is None:
            import ray.train.torch

            prepare = ray.train.torch.prepare_model
        self.cfg = cfg
        self.trainable = build_trainable(cfg, load_base)
        self.module = prepare(self.trainable.module.train())
        self.params = [p for _, p in self.trainable.named_params]
        self.optimizer = torch.optim.AdamW(
            self.trainable.param_groups, lr=cfg.learning_rate, weight_decay=cfg.weight_decay
        )
        self.scheduler = build_scheduler(self.optimizer, total_steps, cfg.warmup_ratio)
        self.device = next(self.module.parameters()).device

    def micro_step(self, batch, labels, boundary: bool) -> torch.Tensor:
        sync = self.module.no_sync() if (not boundary and hasattr(self.module, "no_sync")) else contextlib.nullcontext()
        with sync:
            with train_autocast(self.cfg, self.device):
                logits = self.module(**batch)
            loss = answer_loss(logits, labels)
            (loss / self.cfg.grad_accum_steps).backward()
        return loss.detach()

    def optimizer_step(self) -> None:
        torch.nn.utils.clip_grad_norm_(self.params, self.cfg.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    @torch.no_grad()
    def logits(self, batch) -> torch.Tensor:
        self.module.eval()
        try:
            return self.module(**batch)
        finally:
            self.module.train()

    def trained_state_dict(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().cpu().clone() for n, p in self.trainable.named_params}

    def save(self, directory: Path) -> None:
        state = {"weights": self.trained_state_dict(), "optimizer": self.optimizer.state_dict()}
        torch.save({**state, "scheduler": self.scheduler.state_dict()}, directory / self._FILE)

    def load(self, directory: Path) -> None:
        state = torch.load(directory / self._FILE, map_location=self.device, weights_only=True)
        named = self.trainable.named_params
        missing = [n for n, _ in named if n not in state["weights"]]
        if missing or len(named) != len(state["weights"]):
            raise RuntimeError(f"{directory / self._FILE}: weights do not match the model (missing {missing[:3]})")
        with torch.no_grad():
            for name, param in named:
                param.copy_(state["weights"][name])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])


def ensure_deepspeed_env() -> None:
    """What DeepSpeed needs before its first import in a Ray worker.

    - ``TORCH_EXTENSIONS_DIR``: its ops (on CPU, a shared-memory collective) are compiled with g++/ninja on first
      use (~30 s); a persistent cache makes that happen once per machine, not once per worker start.
    - The launcher variables: without RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT DeepSpeed falls back to
      MPI discovery. Ray's torch backend sets them; this fills any gap from Ray's own context.
    """
    import ray.train

    os.environ["TORCH_EXTENSIONS_DIR"] = str(torch_extensions_dir())
    ctx = ray.train.get_context()
    os.environ.setdefault("RANK", str(ctx.get_world_rank()))
    os.environ.setdefault("WORLD_SIZE", str(ctx.get_world_size()))
    os.environ.setdefault("LOCAL_RANK", str(ctx.get_local_rank()))
    os.environ.setdefault("LOCAL_WORLD_SIZE", str(ctx.get_local_world_size()))


class DeepSpeedStrategy:
    """DeepSpeed ZeRO-2 or ZeRO-3 on Ray's process group (``dist_init_required=False``).

    Under ZeRO-3 the base model is loaded inside ``zero.Init`` (through transformers' ``HfDeepSpeedConfig``), so
    each worker materializes only its partition of a 14B model, and the LoRA weights are gathered from their
    partitions before they are saved: saving the partitioned tensors directly is what produces the classic
    empty ``adapter_model.safetensors``.
    """

    every_rank_saves = True
    _TAG = "state"

    def __init__(self, cfg: TrainConfig, total_steps: int, load_base: BaseLoader | None = None) -> None:
        ensure_deepspeed_env()
        import deepspeed
        import torch.distributed as dist

        self.cfg = cfg
        hardware = _worker_hardware(cfg)
        nodes, per_node = (hardware.nodes, hardware.gpus_per_node) if hardware else (1, 1)
        stage = resolve_zero_stage(cfg, hardware)
        self.ds_config = build_deepspeed_config(cfg, stage, nodes=nodes, gpus_per_node=per_node)
        self.zero3 = self.ds_config["zero_optimization"]["stage"] == 3  # overrides may have changed it
        log.info("DeepSpeed ZeRO-%d (train.deepspeed.zero_stage=%s)", self.ds_config["zero_optimization"]["stage"],
                 cfg.deepspeed.zero_stage)  # fmt: skip
        deepspeed.init_distributed(dist_backend=dist.get_backend() if dist.is_initialized() else None)
        hf_ds = None
        if self.zero3:
            from transformers.integrations import HfDeepSpeedConfig

            # transformers holds only a weak reference: the object must live until the model is built.
            hf_ds = HfDeepSpeedConfig(self.ds_config)
        # Identical init everywhere (ZeRO partitions each rank's own copy); under ZeRO-3 the base model is built
        # inside zero.Init (see HfDeepSpeedConfig).
        self.trainable = build_trainable(cfg, load_base)
        self.engine, _, _, self.scheduler = deepspeed.initialize(
            model=self.trainable.module.train(),  # dropout on
            model_parameters=self.trainable.param_groups,
            config=self.ds_config,
            lr_scheduler=lambda opt: build_scheduler(opt, total_steps, cfg.warmup_ratio),
            dist_init_required=False,
        )
        del hf_ds
        self.device = self.engine.device

    def micro_step(self, batch, labels, boundary: bool) -> torch.Tensor:
        # DeepSpeed scales the loss for accumulation and steps the optimizer itself at the boundary.
        if boundary != self.engine.is_gradient_accumulation_boundary():
            raise RuntimeError("DeepSpeed's accumulation boundary disagrees with the training loop's")
        with train_autocast(self.cfg, self.device):
            logits = self.engine(**batch)
        loss = answer_loss(logits, labels)
        self.engine.backward(loss)
        self.engine.step()
        return loss.detach()

    def optimizer_step(self) -> None:
        """Nothing to do: ``engine.step()`` in the last micro-batch already stepped."""

    def lr(self) -> float:
        return self.engine.get_lr()[0]

    @torch.no_grad()
    def logits(self, batch) -> torch.Tensor:
        self.engine.eval()
        try:
            return self.engine(**batch)
        finally:
            self.engine.train()

    def trained_state_dict(self) -> dict[str, torch.Tensor]:
        """Full trained tensors on every rank (a collective under ZeRO-3: every rank must call it)."""
        named = self.trainable.named_params
        gather = contextlib.nullcontext()
        if self.zero3:
            import deepspeed

            gather = deepspeed.zero.GatheredParameters([p for _, p in named], modifier_rank=None)
        with gather:
            return {n: p.detach().cpu().clone() for n, p in named}

    def save(self, directory: Path) -> None:
        # Frozen base weights are excluded: a checkpoint holds only LoRA weights and their optimizer state.
        self.engine.save_checkpoint(str(directory / "deepspeed"), tag=self._TAG, exclude_frozen_parameters=True)

    def load(self, directory: Path) -> None:
        path, _ = self.engine.load_checkpoint(
            str(directory / "deepspeed"), tag=self._TAG, load_module_strict=False, load_optimizer_states=True
        )
        if path is None:
            raise RuntimeError(f"{directory}: DeepSpeed found no checkpoint to resume from")


def _worker_hardware(cfg: TrainConfig) -> Hardware | None:
    """This worker's GPUs as the planner sees them (None on CPU): Ray Train's local world size is the GPUs per
    node, the device's memory the GPU memory. Every worker of a homogeneous cluster resolves the same."""
    if not (cfg.use_gpu and torch.cuda.is_available()):
        return None
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    memory = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    return Hardware(nodes=max(1, world // local), gpus_per_node=local, gpu_mem_gb=memory / 1e9)


def build_strategy(cfg: TrainConfig, total_steps: int) -> Strategy:
    if cfg.strategy == "deepspeed":
        return DeepSpeedStrategy(cfg, total_steps)
    return DDPStrategy(cfg, total_steps)
