"""``ecomrel plan``: the recipe's GPU plan (``ecomrel.plan``'s arithmetic on the recipe's train and score sections),
and the check ``ecomrel run`` makes before any stage starts.

The hardware comes from the recipe's ``hardware`` section (``ecomrel.plan.Hardware``), with command-line flags
over it. A recipe without a ``hardware`` section is not checked by ``ecomrel run``: nothing says which GPUs it
will get (the CPU demos).
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.config import RecipeConfig
from ecomrel.plan import GB, Hardware, ScorePlan, TrainPlan, model_shape, plan_scoring, plan_training
from train.deepspeed_config import resolve_zero_stage, train_run

#: Prompt tokens of a scored pair, and of them the shared prefix vLLM's prefix cache serves: the Alpaca prompt's
#: preamble is about half of a typical CIKM prompt (ARCHITECTURE.md).
PROMPT_TOKENS_SHARE_OF_MAX = 0.5
PREFIX_SHARE = 0.5


class PlanError(ValueError):
    """The recipe does not fit the hardware; the message names the term that overflows."""


@dataclass(frozen=True)
class RecipePlan:
    hardware: Hardware
    zero_stage: int
    train: TrainPlan | None
    train_with_ckpt: bool
    score: ScorePlan | None

    def problems(self) -> list[str]:
        out = []
        if self.train is not None and (msg := self.train.overflow(self.hardware.gpu_mem_gb)):
            out.append(msg)
        if self.score is not None and (msg := self.score.overflow()):
            out.append(msg)
        return out


def plan_recipe(cfg: RecipeConfig, hardware: Hardware) -> RecipePlan:
    """The plan of ``cfg``'s GPU stages (causal-LM training on GPUs; vLLM scoring) on ``hardware``."""
    t = cfg.train
    train = None
    stage = 0
    if t.enabled and t.use_gpu and t.family == "causal_lm":
        stage = resolve_zero_stage(t, hardware) if t.strategy == "deepspeed" else 0
        train = plan_training(model_shape(t.base_model), train_run(t, stage), hardware)
    score = None
    if t.enabled and cfg.score.backend == "vllm":
        s = cfg.score
        prompt = max(1, int(s.max_seq_len * PROMPT_TOKENS_SHARE_OF_MAX))
        score = plan_scoring(
            model_shape(t.base_model),
            hardware,
            max_seq_len=s.vllm_engine_kwargs.get("max_model_len", s.max_seq_len),
            replicas=s.concurrency,
            gpu_memory_utilization=s.vllm_engine_kwargs.get("gpu_memory_utilization", 0.9),
            prompt_tokens=prompt,
            prefix_tokens=int(prompt * PREFIX_SHARE),
            tensor_parallel=s.vllm_engine_kwargs.get("tensor_parallel_size", 1),
        )
    return RecipePlan(hardware, stage, train, t.gradient_checkpointing, score)


def check_fits(cfg: RecipeConfig) -> None:
    """Raise :class:`PlanError` when the recipe's ``hardware`` section says a GPU stage will not fit."""
    if cfg.hardware is None:
        return
    problems = plan_recipe(cfg, cfg.hardware).problems()
    if problems:
        raise PlanError(
            f"{cfg.name}: the plan for {cfg.hardware.nodes} x {cfg.hardware.gpus_per_node} GPUs of "
            f"{cfg.hardware.gpu_mem_gb:g} GB does not fit: " + "; ".join(problems) + " (see `ecomrel plan`)"
        )


def format_plan(cfg: RecipeConfig, plan: RecipePlan) -> str:
    hw = plan.hardware
    lines = [
        f"{cfg.name}: {hw.nodes} node(s) x {hw.gpus_per_node} GPUs, {hw.gpu_mem_gb:g} GB each, "
        f"{hw.peak_tflops:g} TFLOP/s bf16 peak, {hw.inter_node_gbps:g} Gbit/s per node across, "
        f"{hw.intra_node_gbps:g} Gbit/s per GPU inside"
    ]
    if plan.train is not None:
        t, c = plan.train, cfg.train
        strategy = f"DeepSpeed ZeRO-{plan.zero_stage}" if c.strategy == "deepspeed" else "DDP"
        if plan.zero_stage == 3 and hw.nodes > 1 and c.deepspeed.node_local_gathers:
            strategy += f" + hpZ ({hw.gpus_per_node})"
        ckpt = "on" if plan.train_with_ckpt else "off"
        lines += [
            "",
            f"train  {c.base_model}, {strategy}, LoRA r={c.lora.r} on {','.join(c.lora.target_modules)} "
            f"({t.lora_params / 1e6:.1f}M params), micro-batch {c.micro_batch_size} x {c.max_seq_len} tokens, "
            f"grad accum {c.grad_accum_steps}",
            "  per GPU                                GB",
            f"    weights                      {t.weights_gb:10.2f}",
            f"    LoRA params + optimizer      {t.lora_state_gb:10.2f}",
            f"    activations (checkpointing {ckpt:>3}) {t.activations_gb:7.2f}"
            f"   [with: {t.activations_ckpt_gb:.2f}, without: {t.activations_no_ckpt_gb:.2f}]",
            f"    reserve                      {t.reserve_gb:10.2f}",
            f"    total                        {t.total_gb:10.2f}  of {hw.gpu_mem_gb:g}",
            "  per optimizer step, per GPU",
            f"    model FLOPs                  {t.model_flops:10.3e}   (hardware, with recompute: "
            f"{t.hardware_flops:.3e})",
            f"    collective bytes inside node {t.intra_node_bytes / GB:10.3f} GB  -> {t.intra_s * 1e3:8.1f} ms",
            f"    collective bytes across nodes{t.inter_node_bytes / GB:10.3f} GB  -> {t.inter_s * 1e3:8.1f} ms "
            f"(the node's {hw.gpus_per_node} GPUs share its network)",
            f"    compute at peak              {t.compute_s * 1e3:10.1f} ms",
            f"    estimated step time          {t.step_s * 1e3:10.1f} ms   (longest of the above: perfect overlap)",
            f"    MFU bound                    {t.mfu_bound:10.1%}",
        ]
    if plan.score is not None:
        s = plan.score
        lines += [
            "",
            f"score  vLLM, {cfg.score.concurrency} replica(s) x "
            f"{cfg.score.vllm_engine_kwargs.get('tensor_parallel_size', 1)} GPU, max_model_len "
            f"{cfg.score.vllm_engine_kwargs.get('max_model_len', cfg.score.max_seq_len)}",
            f"    weights per GPU              {s.weights_gb:10.2f} GB",
            f"    KV-cache room                {s.kv_room_gb:10.2f} GB = {s.kv_tokens:,} tokens "
            f"({s.concurrent_prompts:,} full-length prompts at once)",
            f"    prefill FLOPs per pair       {s.flops_per_pair:10.3e}   (prefix-cached share not recomputed)",
            f"    prefill-bound pairs/s        {s.pairs_per_s_per_gpu:10,.0f} per GPU, {s.pairs_per_s:,.0f} in all",
        ]
    if plan.train is None and plan.score is None:
        lines.append("no GPU stage to plan (train on CPU or off, score on transformers)")
    problems = plan.problems()
    lines += ["", "DOES NOT FIT: " + "; ".join(problems) if problems else "fits"]
    return "\n".join(lines)
