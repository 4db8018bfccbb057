"""The arithmetic of a LoRA run on GPUs, before it runs: memory per GPU, FLOPs, collective traffic, step time and
the MFU bound of training; KV-cache room and prefill-bound pairs/s of vLLM scoring.

Every number is a closed form of the model's shape (``ModelShape``: read from the model's ``config.json``, or from
:data:`KNOWN_SHAPES` for hub names that are not on this machine) and a few run settings; the tests check them
against hand arithmetic. Conventions:

- Weights and activations are bf16 (2 bytes). A LoRA parameter costs 16 bytes: bf16 weight (2) and gradient (2),
  fp32 master copy (4) and Adam moments (8). ZeRO-2 and ZeRO-3 partition the gradient and optimizer state over
  the data-parallel world; ZeRO-3 also partitions the weights (and the LoRA weights), and with hpZ
  (``zero_hpz_partition_size`` = GPUs per node) keeps a second, node-local partition of the weights so that the
  backward gather stays inside the node. (DeepSpeed 0.19 removed MiCS; hpZ is the node-local option it keeps.)
- Activations per token per decoder layer (bf16, attention by SDPA/FlashAttention, which stores no s x s scores;
  :func:`activation_bytes_per_token_layer`): the two RMSNorms' inputs and outputs (4 h values), q, k, v and the
  attention output (2 Hd + 2 KVd), the q/k-norm inputs (Hd + KVd), SwiGLU's gate, up, SiLU(gate) and the
  down-projection input (4 I), and for LoRA with dropout each adapter's dropped input and mask (3 bytes per input
  element). With gradient checkpointing a layer keeps only its input (h values) and one layer is recomputed at a
  time.
- Model FLOPs per token of a LoRA step (the MFU numerator, as in tests/gpu): the frozen base costs its forward
  (2 N) and the activation gradients (2 N), LoRA weights the full 6 x their count, attention scores
  4 x layers x seq x H d forward and twice that backward (causal masking not discounted). N counts the matrix
  weights of the decoder layers (the embedding is a lookup; the answer head uses two rows of the LM head).
  Hardware FLOPs add one more forward under gradient checkpointing; the MFU bound is model FLOPs over peak x
  the step time, where the step takes the longest of compute at peak and each collective at its bandwidth
  (perfect overlap): no run beats it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from .config import Section

GB = 1e9
BF16 = 2
#: Bytes per LoRA parameter: bf16 weight, bf16 gradient, fp32 master, Adam m and v.
LORA_WEIGHT_BYTES, LORA_GRAD_BYTES, LORA_OPTIMIZER_BYTES = 2, 2, 12


@dataclass(frozen=True)
class ModelShape:
    """The dimensions of a decoder-only transformer (Qwen3 / Llama / Gemma family, SwiGLU MLP, GQA)."""

    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    tie_embeddings: bool = False
    qk_norm: bool = True

    @property
    def q_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def module_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each linear projection of one decoder layer, by peft target-module name."""
        h, i = self.hidden, self.intermediate
        return {
            "q_proj": (h, self.q_dim),
            "k_proj": (h, self.kv_dim),
            "v_proj": (h, self.kv_dim),
            "o_proj": (self.q_dim, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def matmul_params(self) -> int:
        """Weights of the decoder layers' projections (what a token's forward multiplies, 2 FLOPs each)."""
        return self.layers * sum(a * b for a, b in self.module_shapes().values())

    @property
    def params(self) -> int:
        """Every parameter: projections, norms, embedding, LM head (unless tied)."""
        norms = self.layers * (2 * self.hidden + (2 * self.head_dim if self.qk_norm else 0)) + self.hidden
        embeddings = self.vocab * self.hidden * (1 if self.tie_embeddings else 2)
        return self.matmul_params + norms + embeddings

    def lora_params(self, r: int, target_modules: list[str], layers: int | None = None) -> int:
        """r x (in + out) per adapted projection, over ``layers`` decoder layers (default: all)."""
        shapes = self.module_shapes()
        unknown = sorted(set(target_modules) - set(shapes))
        if unknown:
            raise ValueError(f"LoRA target module(s) {unknown} are not projections of this model ({sorted(shapes)})")
        per_layer = sum(r * (shapes[m][0] + shapes[m][1]) for m in target_modules)
        return per_layer * (self.layers if layers is None else layers)

    def kv_bytes_per_token(self) -> int:
        """vLLM's KV cache per token: keys and values of every layer, bf16."""
        return 2 * self.layers * self.kv_dim * BF16

    @classmethod
    def from_hf_config(cls, config: dict) -> ModelShape:
        text = config.get("text_config", config)
        heads = text["num_attention_heads"]
        return cls(
            vocab=text["vocab_size"],
            hidden=text["hidden_size"],
            layers=text["num_hidden_layers"],
            heads=heads,
            kv_heads=text.get("num_key_value_heads", heads),
            head_dim=text.get("head_dim") or text["hidden_size"] // heads,
            intermediate=text["intermediate_size"],
            tie_embeddings=bool(config.get("tie_word_embeddings", text.get("tie_word_embeddings", False))),
            qk_norm=text.get("model_type", config.get("model_type", "")).startswith(("qwen3", "gemma3")),
        )


#: Shapes of production models by hub name, from their public ``config.json`` (so planning needs no download).
KNOWN_SHAPES: dict[str, ModelShape] = {
    name: ModelShape(vocab=151936, hidden=5120, layers=40, heads=40, kv_heads=8, head_dim=128, intermediate=17408)
    for name in ("Qwen/Qwen3-14B-Base", "Qwen/Qwen3-14B")
}


def model_shape(name_or_path: str) -> ModelShape:
    """The shape of a model: a local directory's ``config.json``, else :data:`KNOWN_SHAPES`, else the hub config."""
    local = Path(name_or_path) / "config.json"
    if local.is_file():
        return ModelShape.from_hf_config(json.loads(local.read_text()))
    if name_or_path in KNOWN_SHAPES:
        return KNOWN_SHAPES[name_or_path]
    from transformers import AutoConfig

    return ModelShape.from_hf_config(AutoConfig.from_pretrained(name_or_path).to_dict())


class Hardware(Section):
    """The GPUs a recipe runs on; with it, ``ecomrel run`` checks the plan before starting (``ecomrel plan``)."""

    nodes: int = Field(1, ge=1, description="Nodes of the training cluster.")
    gpus_per_node: int = Field(8, ge=1, description="GPUs per node.")
    gpu_mem_gb: float = Field(80, gt=0, description="Memory per GPU, GB (1e9 bytes).")
    peak_tflops: float = Field(989, gt=0, description="Dense bf16 peak per GPU, TFLOP/s (H100/H200 SXM: 989).")
    inter_node_gbps: float = Field(400, gt=0, description="Network bandwidth per node, Gbit/s (EFA, InfiniBand).")
    intra_node_gbps: float = Field(
        3600, gt=0, description="Per-GPU bandwidth inside a node, Gbit/s (NVLink 4: ~450 GB/s one way)."
    )
    reserve_gb: float = Field(
        4, ge=0, description="Per GPU, kept for the CUDA context, NCCL buffers and allocator fragmentation."
    )

    @property
    def world(self) -> int:
        return self.nodes * self.gpus_per_node


@dataclass(frozen=True)
class TrainRun:
    """What the training arithmetic needs from ``train`` (kept free of the train package: ecomrel is the core)."""

    micro_batch: int
    seq_len: int
    grad_accum: int
    lora_r: int
    lora_targets: list[str]
    lora_layers: int | None
    lora_dropout: float
    gradient_checkpointing: bool
    zero_stage: int  # 0: DDP (everything replicated), 2 or 3


def activation_bytes_per_token_layer(shape: ModelShape, run: TrainRun) -> int:
    """Bytes one token's activations hold in one decoder layer until backward (see the module docstring)."""
    h, q, kv, i = shape.hidden, shape.q_dim, shape.kv_dim, shape.intermediate
    norms = 4 * h * BF16  # two RMSNorms: input and output each
    attention = (q + 2 * kv) * BF16 + q * BF16  # q, k, v for SDPA; its output (o_proj input)
    qk_norm = (q + kv) * BF16 if shape.qk_norm else 0
    mlp = 4 * i * BF16  # gate, up, SiLU(gate), down input
    lora = 0
    if run.lora_dropout > 0:  # peft keeps each adapter's dropped-out input (bf16) and its mask (1 byte)
        shapes = shape.module_shapes()
        lora = sum(3 * shapes[m][0] for m in run.lora_targets)
    return norms + attention + qk_norm + mlp + lora


@dataclass(frozen=True)
class TrainPlan:
    weights_gb: float
    lora_state_gb: float
    activations_gb: float
    activations_no_ckpt_gb: float
    activations_ckpt_gb: float
    reserve_gb: float
    total_gb: float
    lora_params: int
    model_flops: float
    hardware_flops: float
    intra_node_bytes: float
    inter_node_bytes: float
    compute_s: float
    intra_s: float
    inter_s: float
    step_s: float
    mfu_bound: float

    def overflow(self, gpu_mem_gb: float) -> str | None:
        """None when the plan fits ``gpu_mem_gb``; else a sentence naming the largest term."""
        if self.total_gb <= gpu_mem_gb:
            return None
        terms = {
            "weights": self.weights_gb,
            "LoRA params + optimizer state": self.lora_state_gb,
            "activations": self.activations_gb,
        }
        worst = max(terms, key=terms.get)
        return (
            f"training needs {self.total_gb:.1f} GB per GPU but a GPU has {gpu_mem_gb:g} GB: {worst} take "
            f"{terms[worst]:.1f} GB (weights {self.weights_gb:.1f}, LoRA state {self.lora_state_gb:.1f}, "
            f"activations {self.activations_gb:.1f}, reserve {self.reserve_gb:.1f})"
        )


def plan_training(shape: ModelShape, run: TrainRun, hw: Hardware) -> TrainPlan:
    world, node = hw.world, hw.gpus_per_node
    n, lora = shape.params, shape.lora_params(run.lora_r, run.lora_targets, run.lora_layers)
    zero3 = run.zero_stage == 3
    hpz = zero3 and hw.nodes > 1
    # Weights: replicated, or ZeRO-3's partition plus hpZ's node-local partition plus the gathered working set
    # (the layer being computed and the one prefetched).
    layer_bytes = shape.matmul_params // shape.layers * BF16
    if zero3:
        weights = n * BF16 / world + (n * BF16 / node if hpz else 0) + 2 * layer_bytes
    else:
        weights = n * BF16
    sharded = world if run.zero_stage >= 2 else 1
    lora_weight = lora * LORA_WEIGHT_BYTES / (world if zero3 else 1)
    lora_state = lora_weight + lora * (LORA_GRAD_BYTES + LORA_OPTIMIZER_BYTES) / sharded
    tokens = run.micro_batch * run.seq_len
    per_layer = activation_bytes_per_token_layer(shape, run)
    no_ckpt = tokens * per_layer * shape.layers
    ckpt = tokens * (shape.hidden * BF16 * shape.layers + per_layer)
    activations = ckpt if run.gradient_checkpointing else no_ckpt
    total = weights + lora_state + activations + hw.reserve_gb * GB

    # FLOPs per GPU per optimizer step.
    step_tokens = tokens * run.grad_accum
    attention = 4 * shape.layers * run.seq_len * shape.q_dim
    model_flops = step_tokens * (4 * shape.matmul_params + 6 * lora + 3 * attention)
    recompute = step_tokens * (2 * shape.matmul_params + attention) if run.gradient_checkpointing else 0
    hardware_flops = model_flops + recompute

    # Collective bytes each GPU sends per step. Ring collectives over g ranks move (g - 1) / g of the buffer per
    # rank; across nodes, the hierarchical collective moves (nodes - 1) / nodes of it per node, spread over its GPUs.
    grads = lora * BF16  # LoRA gradients: reduce-scattered (ZeRO) or all-reduced (DDP), bf16
    grad_factor = 1 if run.zero_stage >= 2 else 2  # all-reduce = reduce-scatter + all-gather
    lora_gather = lora * BF16 if run.zero_stage >= 2 else 0  # updated LoRA weights all-gathered after the step
    intra = (grads * grad_factor + lora_gather) * (node - 1) / node
    inter = (grads * grad_factor + lora_gather) * (hw.nodes - 1) / hw.nodes / node
    if zero3:
        gathers_per_micro = 2 + (1 if run.gradient_checkpointing else 0)  # forward, backward (+ recompute)
        param_bytes = n * BF16
        intra += run.grad_accum * gathers_per_micro * param_bytes * (node - 1) / node
        cross = 1 if hpz else gathers_per_micro  # hpZ: only the forward gather crosses nodes
        inter += run.grad_accum * cross * param_bytes * (hw.nodes - 1) / hw.nodes / node
    peak = hw.peak_tflops * 1e12
    compute_s = hardware_flops / peak
    intra_s = intra / (hw.intra_node_gbps / 8 * GB)
    inter_s = inter * node / (hw.inter_node_gbps / 8 * GB)  # the node's GPUs share its network
    step_s = max(compute_s, intra_s, inter_s)
    return TrainPlan(
        weights_gb=weights / GB,
        lora_state_gb=lora_state / GB,
        activations_gb=activations / GB,
        activations_no_ckpt_gb=no_ckpt / GB,
        activations_ckpt_gb=ckpt / GB,
        reserve_gb=hw.reserve_gb,
        total_gb=total / GB,
        lora_params=lora,
        model_flops=model_flops,
        hardware_flops=hardware_flops,
        intra_node_bytes=intra,
        inter_node_bytes=inter,
        compute_s=compute_s,
        intra_s=intra_s,
        inter_s=inter_s,
        step_s=step_s,
        mfu_bound=model_flops / (step_s * peak),
    )


def auto_zero_stage(shape: ModelShape, run: TrainRun, hw: Hardware) -> int:
    """ZeRO-2 when a whole bf16 copy of the model fits one GPU beside the LoRA state and activations (only the
    LoRA gradients then cross the network), else ZeRO-3."""
    fits = plan_training(shape, _with_stage(run, 2), hw).overflow(hw.gpu_mem_gb) is None
    return 2 if fits else 3


def _with_stage(run: TrainRun, stage: int) -> TrainRun:
    return TrainRun(**{**run.__dict__, "zero_stage": stage})


@dataclass(frozen=True)
class ScorePlan:
    weights_gb: float
    kv_room_gb: float
    kv_tokens: int
    concurrent_prompts: int
    flops_per_pair: float
    pairs_per_s_per_gpu: float
    pairs_per_s: float

    def overflow(self) -> str | None:
        if self.kv_room_gb > 0 and self.concurrent_prompts >= 1:
            return None
        return (
            f"scoring: the weights ({self.weights_gb:.1f} GB per GPU) leave no KV-cache room for one prompt "
            "(raise score.vllm_engine_kwargs.tensor_parallel_size)"
        )


def plan_scoring(
    shape: ModelShape,
    hw: Hardware,
    *,
    max_seq_len: int,
    replicas: int,
    gpu_memory_utilization: float = 0.9,
    prompt_tokens: int,
    prefix_tokens: int,
    tensor_parallel: int = 1,
) -> ScorePlan:
    """vLLM replicas of ``tensor_parallel`` GPUs each: per GPU, KV room = utilization x memory - its share of the
    weights - reserve (keys and values split over the GPUs like the weights); prefill-bound pairs/s at peak,
    counting only each prompt's tokens after the cached shared prefix."""
    weights = shape.params * BF16 / tensor_parallel
    room = gpu_memory_utilization * hw.gpu_mem_gb * GB - weights - hw.reserve_gb * GB
    kv_tokens = max(0, int(room // (shape.kv_bytes_per_token() / tensor_parallel)))
    new_tokens = max(1, prompt_tokens - prefix_tokens)
    context = prefix_tokens + new_tokens / 2  # the keys a new token attends to, on average (causal)
    flops = new_tokens * (2 * shape.matmul_params + 4 * shape.layers * shape.q_dim * context)
    per_gpu = hw.peak_tflops * 1e12 / flops  # a replica's GPUs share each pair's FLOPs
    return ScorePlan(
        weights_gb=weights / GB,
        kv_room_gb=room / GB,
        kv_tokens=kv_tokens,
        concurrent_prompts=kv_tokens // max_seq_len,
        flops_per_pair=flops,
        pairs_per_s_per_gpu=per_gpu,
        pairs_per_s=per_gpu * tensor_parallel * replicas,
    )
