"""The GPU planner (ecomrel/plan.py, `ecomrel plan`): its counts equal real models' parameter counts, its Qwen3-14B
figures equal the hand arithmetic, and `ecomrel run` refuses a recipe that does not fit before any stage starts."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cluster.cli import app
from ecomrel.plan import KNOWN_SHAPES, Hardware, ModelShape, TrainRun, model_shape, plan_scoring, plan_training

QWEN3_14B = KNOWN_SHAPES["Qwen/Qwen3-14B-Base"]
ALL_SEVEN = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
CLUSTER = Hardware(nodes=2, gpus_per_node=8, gpu_mem_gb=80, inter_node_gbps=400)
CONFIG = "configs/qwen3-14b.yaml"


def _run(stage: int, ckpt: bool = True, micro: int = 16) -> TrainRun:
    return TrainRun(micro, 256, 1, 32, ALL_SEVEN, None, 0.05, ckpt, stage)


def test_qwen3_14b_counts_by_hand():
    # Per layer: q, o 5120x5120; k, v 5120x1024; gate, up, down 5120x17408; norms 2 x 5120 + q/k norms 2 x 128.
    layer = 2 * 5120 * 5120 + 2 * 5120 * 1024 + 3 * 5120 * 17408
    assert QWEN3_14B.matmul_params == 40 * layer == 13_212_057_600
    assert QWEN3_14B.params == 40 * layer + 40 * (2 * 5120 + 2 * 128) + 5120 + 2 * 151936 * 5120 == 14_768_307_200
    # LoRA r=32 on all seven projections: r x (in + out) each, 40 layers = the 128.5M of the paper's recipe.
    per_layer = 32 * (2 * (5120 + 5120) + 2 * (5120 + 1024) + 3 * (5120 + 17408))
    assert QWEN3_14B.lora_params(32, ALL_SEVEN) == 40 * per_layer == 128_450_560
    assert QWEN3_14B.lora_params(32, ["q_proj", "v_proj"]) == 40 * 32 * (10240 + 6144)  # 21.0M: not the recipe's
    assert QWEN3_14B.kv_bytes_per_token() == 2 * 40 * 8 * 128 * 2 == 163_840


def test_qwen3_14b_zero2_plan_by_hand():
    p = plan_training(QWEN3_14B, _run(2), CLUSTER)
    assert p.weights_gb == pytest.approx(14_768_307_200 * 2 / 1e9)  # 29.54: a whole bf16 copy
    # 16 B per LoRA param: the bf16 weight replicated, gradient (2) + fp32 master and Adam (12) sharded over 16.
    assert p.lora_state_gb == pytest.approx(128_450_560 * (2 + 14 / 16) / 1e9)
    # Activations per token per layer: norms 4h + q,k,v,attn-out (2*5120 + 2*1024) + q/k-norm in (5120 + 1024)
    # + SwiGLU 4 x 17408, in bf16, + LoRA dropout 3 B x (5 x 5120 + 5120 + 17408) inputs.
    per_layer = 2 * (4 * 5120 + 2 * 5120 + 2 * 1024 + 5120 + 1024 + 4 * 17408) + 3 * (6 * 5120 + 17408)
    assert per_layer == 361_472
    tokens = 16 * 256
    assert p.activations_no_ckpt_gb == pytest.approx(tokens * per_layer * 40 / 1e9)  # 59.2
    assert p.activations_ckpt_gb == pytest.approx(tokens * (2 * 5120 * 40 + per_layer) / 1e9)  # 3.16
    assert p.total_gb == pytest.approx(p.weights_gb + p.lora_state_gb + p.activations_ckpt_gb + 4)
    # FLOPs: 4 N_matmul + 6 N_lora + 3 x attention (4 x 40 x 256 x 5120) per token; recompute adds a forward.
    attention = 4 * 40 * 256 * 5120
    model = tokens * (4 * 13_212_057_600 + 6 * 128_450_560 + 3 * attention)
    assert p.model_flops == pytest.approx(model)
    assert p.hardware_flops == pytest.approx(model + tokens * (2 * 13_212_057_600 + attention))
    # Only the LoRA gradients (reduce-scatter) and weights (all-gather), bf16, move: 7/8 inside the node, and
    # across the 2 nodes half of it per node, shared by its 8 GPUs.
    lora_bytes = 2 * 128_450_560
    assert p.intra_node_bytes == pytest.approx(2 * lora_bytes * 7 / 8)
    assert p.inter_node_bytes == pytest.approx(2 * lora_bytes / 2 / 8)
    assert p.step_s == pytest.approx(p.hardware_flops / 989e12)  # compute-bound
    assert p.mfu_bound == pytest.approx(model / p.hardware_flops)  # ~0.67: the recompute's share
    assert p.overflow(80) is None


def test_zero3_across_nodes_gathers_weights_and_hpz_keeps_backward_inside():
    p = plan_training(QWEN3_14B, _run(3), CLUSTER)
    w = 14_768_307_200 * 2
    layer = 13_212_057_600 // 40 * 2
    assert p.weights_gb == pytest.approx((w / 16 + w / 8 + 2 * layer) / 1e9)  # partition + hpZ copy + working set
    # Forward, backward and recompute gathers inside the node; only the forward gather crosses nodes (hpZ).
    lora = 2 * 2 * 128_450_560  # LoRA gradients reduce-scattered + weights all-gathered, bf16
    assert p.intra_node_bytes == pytest.approx((3 * w + lora) * 7 / 8)
    assert p.inter_node_bytes == pytest.approx((w + lora) / 2 / 8)
    zero2 = plan_training(QWEN3_14B, _run(2), CLUSTER)
    assert p.inter_s > 50 * zero2.inter_s and p.inter_s > 0.85 * p.compute_s  # 0.30 s of traffic, 0.34 s compute
    slow = CLUSTER.model_copy(update={"inter_node_gbps": 100})
    slow3, slow2 = plan_training(QWEN3_14B, _run(3), slow), plan_training(QWEN3_14B, _run(2), slow)
    assert slow3.step_s == slow3.inter_s and slow3.mfu_bound < 0.3 < slow2.mfu_bound  # network-bound vs not


def test_auto_zero_stage_follows_the_gpu_memory():
    from train.config import DeepSpeedConfig, TrainConfig
    from train.deepspeed_config import resolve_zero_stage

    cfg = TrainConfig(base_model="Qwen/Qwen3-14B-Base", strategy="deepspeed", micro_batch_size=16,
                      gradient_checkpointing=True, lora={"r": 32}, use_gpu=True)  # fmt: skip
    assert cfg.deepspeed.zero_stage == "auto"
    assert resolve_zero_stage(cfg, CLUSTER) == 2  # 37 GB of 80
    assert resolve_zero_stage(cfg, CLUSTER.model_copy(update={"gpu_mem_gb": 24})) == 3  # 29.5 GB of weights alone
    assert resolve_zero_stage(cfg, None) == 2  # CPU
    pinned = cfg.model_copy(update={"deepspeed": DeepSpeedConfig(zero_stage=3)})
    assert resolve_zero_stage(pinned, CLUSTER) == 3


def test_vllm_scoring_room_by_hand():
    s = plan_scoring(QWEN3_14B, CLUSTER, max_seq_len=512, replicas=8, gpu_memory_utilization=0.9,
                     prompt_tokens=128, prefix_tokens=64)  # fmt: skip
    room = 0.9 * 80e9 - 14_768_307_200 * 2 - 4e9
    assert s.kv_room_gb == pytest.approx(room / 1e9) and s.kv_tokens == int(room // 163_840)
    assert s.concurrent_prompts == s.kv_tokens // 512
    # 64 new tokens per pair (the prefix is cached), each attending to 64 + 32 keys on average.
    flops = 64 * (2 * 13_212_057_600 + 4 * 40 * 5120 * 96)
    assert s.flops_per_pair == pytest.approx(flops)
    assert s.pairs_per_s == pytest.approx(8 * 989e12 / flops)
    # 24 GB GPUs: one cannot hold the weights; two (tensor parallel) hold half each, and the KV cache splits too.
    small = CLUSTER.model_copy(update={"gpu_mem_gb": 24})
    kwargs = {"max_seq_len": 512, "replicas": 4, "prompt_tokens": 128, "prefix_tokens": 64}
    assert "tensor_parallel_size" in plan_scoring(QWEN3_14B, small, **kwargs).overflow()
    tp2 = plan_scoring(QWEN3_14B, small, tensor_parallel=2, **kwargs)
    assert tp2.overflow() is None and tp2.weights_gb == pytest.approx(14_768_307_200 / 1e9)
    assert tp2.kv_tokens == int((0.9 * 24e9 - 14_768_307_200 - 4e9) // (163_840 / 2))


def test_counts_equal_a_real_model_and_its_peft_adapter(tiny_model):
    from peft import LoraConfig, get_peft_model

    from ecomrel.models import load_causal_lm

    shape = model_shape(str(tiny_model))
    model = load_causal_lm(str(tiny_model))
    assert shape.params == sum(p.numel() for p in model.parameters())
    targets = ["q_proj", "k_proj", "down_proj"]
    peft = get_peft_model(model, LoraConfig(r=4, target_modules=targets, layers_to_transform=[1]))
    trainable = sum(p.numel() for p in peft.parameters() if p.requires_grad)
    assert shape.lora_params(4, targets, layers=1) == trainable


def test_qwen3_14b_shape_from_its_config_equals_the_table(tmp_path):
    """The table holds the public config.json values; a local directory with that config gives the same shape."""
    config = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 151936,
              "hidden_size": 5120, "num_hidden_layers": 40, "num_attention_heads": 40, "num_key_value_heads": 8,
              "head_dim": 128, "intermediate_size": 17408, "tie_word_embeddings": False}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert model_shape(str(tmp_path)) == QWEN3_14B == ModelShape.from_hf_config(config)


def test_ecomrel_plan_prints_the_table_for_the_production_config():
    args = ["plan", "-c", CONFIG, "--nodes", "2", "--gpus-per-node", "8", "--gpu-mem-gb", "80",
            "--inter-node-gbps", "400"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # the table's alignment aside
    for text in ("DeepSpeed ZeRO-2", "128.5M params", "weights 29.54", "[with: 3.16, without: 59.22]",
                 "MFU bound 67.1%", "KV-cache room", "fits"):  # fmt: skip
        assert text in out


def test_ecomrel_plan_rejects_an_oversized_config_naming_the_term():
    args = ["plan", "-c", CONFIG, "--gpu-mem-gb", "40", "--set", "train.gradient_checkpointing=false"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "DOES NOT FIT" in result.output and "activations take 59.2 GB" in result.output


def test_ecomrel_run_refuses_before_any_stage(tmp_path):
    args = ["run", "-c", CONFIG, "--set", f"runs_dir={tmp_path}", "--set", "hardware.gpu_mem_gb=24",
            "--set", "train.deepspeed.zero_stage=2"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "does not fit" in result.output and "weights take 29.5 GB" in result.output
    assert not any(tmp_path.iterdir())  # no stage started: no run folder
