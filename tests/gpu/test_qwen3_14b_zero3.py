"""Qwen3-14B-sized LoRA training step under DeepSpeed ZeRO-3 bf16: throughput per GPU and MFU (GPU only).

The model has the real Qwen3-14B-Base dimensions (from a ``Qwen3Config``, random weights, nothing downloaded),
built inside ``zero.Init`` so each GPU only ever holds its partition. Everything else is the production path:
``train.strategy.DeepSpeedStrategy`` (config built by ``build_deepspeed_config``, LoRA r=32 on all seven
projections, gradient checkpointing, the two-logit answer head with the gathered LM head) inside a Ray Train
worker per local GPU. The test times 20 optimizer steps at sequence length 256 and prints tokens/s per GPU and
MFU; it also checks that the ZeRO-3-gathered LoRA weights have the full expected size (the empty-adapter bug).

MFU counts model FLOPs of a LoRA step as the planner does (``ecomrel.plan``): the frozen base needs the forward
(2N per token) and the activation gradients (2N) but no weight gradients; LoRA weights cost the full 6 x their
count; attention scores cost 4 x layers x seq x (q heads x head dim) per token forward and twice that backward. N
leaves out the embedding (a lookup) and the LM head (two rows are used). Recomputation from gradient checkpointing
is not counted (the usual MFU definition). Peak: ``ECOMREL_PEAK_TFLOPS``, else 989 TFLOP/s (H100/H200 SXM dense
bf16). The run must reach half the planner's MFU bound for this setting (its compute-at-peak and collective
arithmetic on one node of this many GPUs): a run below that is slower than the plan by more than the usual kernel
and hook overheads explain.
"""

from __future__ import annotations

import os
import sys
import time

import pytest
import torch

import cluster  # noqa: F401  (token auth for Ray: must come before the first import of ray)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

QWEN3_14B = dict(
    vocab_size=151936,
    hidden_size=5120,
    intermediate_size=17408,
    num_hidden_layers=40,
    num_attention_heads=40,
    num_key_value_heads=8,
    head_dim=128,
    max_position_embeddings=40960,
    rope_theta=1_000_000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=False,
)
SEQ_LEN = 256
MICRO_BATCH = 8
WARMUP_STEPS = 3
TIMED_STEPS = 20
LORA_R = 32
#: r x (in + out) summed over q, k, v, o, gate, up, down, times 40 layers.
EXPECTED_LORA_PARAMS = (
    LORA_R * (2 * (5120 + 5120) + 2 * (5120 + 1024) + 3 * (5120 + 17408)) * QWEN3_14B["num_hidden_layers"]
)


def _peak_tflops() -> float:
    return float(os.environ.get("ECOMREL_PEAK_TFLOPS", 989))


def _plan(gpus: int):
    """The planner's arithmetic for this run: ZeRO-3 on one node of ``gpus`` GPUs, LoRA r=32 on all seven."""
    from ecomrel.plan import KNOWN_SHAPES, Hardware, TrainRun, plan_training

    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    run = TrainRun(MICRO_BATCH, SEQ_LEN, 1, LORA_R, targets, None, 0.05, True, 3)
    memory = torch.cuda.get_device_properties(0).total_memory / 1e9
    hardware = Hardware(nodes=1, gpus_per_node=gpus, gpu_mem_gb=memory, peak_tflops=_peak_tflops())
    return plan_training(KNOWN_SHAPES["Qwen/Qwen3-14B-Base"], run, hardware)


def _bench(config: dict) -> None:
    """Ray Train worker: build the model through the production strategy and time optimizer steps."""
    import ray.train
    from transformers import AutoModelForCausalLM, Qwen3Config

    from train.config import TrainConfig
    from train.strategy import DeepSpeedStrategy

    cfg = TrainConfig.model_validate(config["train"])
    qwen = Qwen3Config(**QWEN3_14B)
    strategy = DeepSpeedStrategy(
        cfg,  # cfg.base_model: a folder holding only a small tokenizer (the weights come from load_base)
        total_steps=WARMUP_STEPS + TIMED_STEPS,
        load_base=lambda: AutoModelForCausalLM.from_config(qwen, dtype=torch.bfloat16),
    )
    rank = ray.train.get_context().get_world_rank()
    gen = torch.Generator(device=strategy.device).manual_seed(rank)
    ids = torch.randint(0, qwen.vocab_size, (MICRO_BATCH, SEQ_LEN), device=strategy.device, generator=gen)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    labels = torch.randint(0, 2, (MICRO_BATCH,), device=strategy.device, generator=gen)

    for _ in range(WARMUP_STEPS):
        strategy.micro_step(batch, labels, boundary=True)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(TIMED_STEPS):
        loss = strategy.micro_step(batch, labels, boundary=True)
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start

    lora = strategy.trained_state_dict()  # a ZeRO-3 gather on every rank
    lora_params = sum(t.numel() for t in lora.values())
    every = strategy.trainable.module.parameters()
    base_params = sum(getattr(p, "ds_numel", p.numel()) for p in every) - lora_params
    tokens_per_s = TIMED_STEPS * MICRO_BATCH * SEQ_LEN / elapsed
    ray.train.report(
        {
            "tokens_per_s_per_gpu": tokens_per_s,
            "step_time_s": elapsed / TIMED_STEPS,
            "loss": float(loss),
            "lora_params": lora_params,
            "lora_nonzero": int(sum(int(t.count_nonzero()) for t in lora.values())),
            "base_params": base_params,
            "max_memory_gb": torch.cuda.max_memory_allocated() / 1e9,
        }
    )


def test_qwen3_14b_lora_zero3_throughput(tmp_path):
    import ray
    import ray.cloudpickle
    import ray.train
    from ray.train.torch import TorchTrainer

    from train.config import DeepSpeedConfig, LoraConfig, TrainConfig

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the worker cannot import this test module
    gpus = torch.cuda.device_count()
    from ecomrel.tiny import train_tokenizer

    tokenizer_dir = tmp_path / "tokenizer"
    train_tokenizer(["red dress", "home & garden,garden supplies"], vocab_size=512).save_pretrained(tokenizer_dir)
    cfg = TrainConfig(
        base_model=str(tokenizer_dir),
        strategy="deepspeed",
        deepspeed=DeepSpeedConfig(zero_stage=3),
        lora=LoraConfig(r=LORA_R, alpha=2 * LORA_R, dropout=0.05),
        num_workers=gpus,
        use_gpu=True,
        micro_batch_size=MICRO_BATCH,
        max_seq_len=SEQ_LEN,
        bf16=True,
        gradient_checkpointing=True,
        learning_rate=1e-4,
    )
    ray.init(include_dashboard=False)
    try:
        result = TorchTrainer(
            _bench,
            train_loop_config={"train": cfg.model_dump(mode="json")},
            scaling_config=ray.train.ScalingConfig(num_workers=gpus, use_gpu=True),
            run_config=ray.train.RunConfig(name="qwen3-14b-zero3", storage_path=str(tmp_path)),
        ).fit()
    finally:
        ray.shutdown()
    m = result.metrics
    plan = _plan(gpus)
    m["mfu"] = plan.model_flops / (MICRO_BATCH * SEQ_LEN) * m["tokens_per_s_per_gpu"] / (_peak_tflops() * 1e12)
    print(
        f"\nQwen3-14B LoRA r={LORA_R} ZeRO-3 bf16, {gpus} x {torch.cuda.get_device_name(0)}, seq {SEQ_LEN}, "
        f"micro-batch {MICRO_BATCH}: {m['tokens_per_s_per_gpu']:.0f} tokens/s/GPU, MFU {m['mfu']:.1%}, "
        f"{m['step_time_s']:.2f} s/step, peak memory {m['max_memory_gb']:.1f} GB, loss {m['loss']:.4f}; planner: "
        f"MFU bound {plan.mfu_bound:.1%}, {plan.total_gb:.1f} GB per GPU"
    )
    assert m["lora_params"] == EXPECTED_LORA_PARAMS, "gathered LoRA weights are incomplete"
    assert m["lora_nonzero"] > EXPECTED_LORA_PARAMS // 4, "gathered LoRA weights are (mostly) empty"
    assert 14.0e9 < m["base_params"] < 15.5e9
    assert m["mfu"] <= plan.mfu_bound, "faster than the planner's bound: its FLOP count or the timing is wrong"
    assert m["mfu"] >= 0.5 * plan.mfu_bound, (
        f"MFU {m['mfu']:.1%} is under half the planner's bound {plan.mfu_bound:.1%} for {gpus} GPUs"
    )
