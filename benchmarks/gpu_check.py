"""The GPU check: the project's own model, LoRA and scorer code on one GPU, without Ray, vLLM or DeepSpeed.

A Qwen3-14B-shaped causal LM (``ecomrel.plan.KNOWN_SHAPES``: the public config's dimensions) is built from its config
with random bf16 weights directly on the GPU; nothing is downloaded (the tokenizer is a small BPE trained on the
prompt scaffolding by ``ecomrel.tiny``; token ids stay far below the model's vocabulary). Then, printing numbers:

1. training: ``train.model.add_lora`` (r=32 on all seven projections, gradient checkpointing) behind
   ``train.model.AnswerHead`` with ``answer_loss`` and AdamW, micro-batch x sequence length as the production
   recipe's GPU test; tokens/s and MFU (model FLOPs of ``ecomrel.plan``, over ``--peak-tflops``), beside the
   planner's MFU bound and per-GPU memory estimate against the measured peak;
2. scoring: ``ecomrel.scorer.TwoLogitScorer`` on the LoRA-merged model, pairs/s with and without the prompt-prefix
   KV cache, against a plain full-vocabulary forward (all positions' logits, as ``model(...)`` computes them), and
   the largest P(yes) difference between the three paths (bf16 on a GPU: a few 1e-3; fp32 on CPU: ~1e-7).

    python benchmarks/gpu_check.py                        # one GPU, Qwen3-14B-shaped (~3 min on an H200)
    python benchmarks/gpu_check.py --device cpu --tiny    # the same steps on a tiny model (seconds)

The last line is the numbers as JSON. Exit status 1 when the three paths' P(yes) disagree.

The project's configs need pydantic and PyYAML, which a GPU machine's preinstalled stack may lack; install them
for that machine's Python into a folder carried with the checkout (~14 MB) and put it on ``PYTHONPATH``:

    pip install --target .gpu_check_deps --only-binary=:all: --python-version 3.12 \
        --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 "pydantic>=2.7,<3" pyyaml
    PYTHONPATH=.gpu_check_deps python benchmarks/gpu_check.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a bare checkout, nothing installed

try:
    import pydantic  # noqa: F401
    import yaml  # noqa: F401
except ImportError as exc:  # see the module docstring
    sys.exit(f"{exc}: install pydantic and PyYAML into a carried folder and put it on PYTHONPATH (see --help)")

import torch  # noqa: E402

from ecomrel.lm import pad_right  # noqa: E402
from ecomrel.plan import KNOWN_SHAPES, Hardware, ModelShape, TrainRun, plan_training  # noqa: E402
from ecomrel.prompts import shared_prefix  # noqa: E402
from ecomrel.scorer import TwoLogitScorer  # noqa: E402
from ecomrel.scoring import p_yes  # noqa: E402
from ecomrel.tiny import train_tokenizer  # noqa: E402
from train.config import LoraConfig  # noqa: E402
from train.model import AnswerHead, add_lora, answer_loss, trainable_parameters  # noqa: E402

QUERIES = ["red running shoes", "wireless earbuds", "phone case", "garden hose", "kitchen knife set",
           "zapatillas de running", "funda para movil", "chaussures de course", "coque de telephone"]  # fmt: skip
CATEGORIES = ["electronics,phones & accessories,cases", "electronics,audio,earbuds", "home & garden,garden,hoses",
              "home & garden,kitchen,knives", "sports & outdoors,running,shoes"]  # fmt: skip
TITLES = ["Silicone phone case for iPhone 15, shockproof", "Bluetooth 5.3 wireless earbuds with charging case",
          "Expandable garden hose 30m with spray nozzle", "Men's running shoes, breathable mesh"]  # fmt: skip


def build_model(shape: ModelShape, tokenizer, dtype: torch.dtype, device: str):
    """A random causal LM of ``shape``, allocated on ``device`` (a 14B model is never materialized on the host)."""
    from transformers import AutoModelForCausalLM, Qwen3Config

    config = Qwen3Config(
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        head_dim=shape.head_dim,
        tie_word_embeddings=shape.tie_embeddings,
        max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(config, dtype=dtype)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def check_training(model, shape, tokenizer, args, device: str) -> dict:
    lora = LoraConfig(r=args.lora_r, alpha=2 * args.lora_r, dropout=0.05)  # all seven projections
    peft_model = add_lora(model, lora, gradient_checkpointing=True)
    from ecomrel.lm import PromptEncoder

    head = AnswerHead(peft_model, PromptEncoder(tokenizer, args.seq_len).tokens).train()
    params = [p for _, p in trainable_parameters(peft_model)]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    gen = torch.Generator(device=device).manual_seed(0)
    ids = torch.randint(0, len(tokenizer), (args.micro_batch, args.seq_len), device=device, generator=gen)
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 2, (args.micro_batch,), device=device, generator=gen)

    def step() -> float:
        loss = answer_loss(head(ids, mask), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    for _ in range(args.warmup_steps):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync(device)
    step_s = (time.perf_counter() - start) / args.steps

    memory_gb = torch.cuda.get_device_properties(device).total_memory / 1e9 if device.startswith("cuda") else 1e3
    hw = Hardware(nodes=1, gpus_per_node=1, gpu_mem_gb=memory_gb, peak_tflops=args.peak_tflops, reserve_gb=0)
    run = TrainRun(args.micro_batch, args.seq_len, 1, args.lora_r, list(lora.target_modules), None, lora.dropout,
                   True, 0)  # fmt: skip
    plan = plan_training(shape, run, hw)
    lora_params = sum(p.numel() for p in params)
    if lora_params != plan.lora_params:
        raise RuntimeError(f"peft made {lora_params} LoRA parameters; the planner counts {plan.lora_params}")
    out = {
        "train_step_s": step_s,
        "train_tokens_per_s": args.micro_batch * args.seq_len / step_s,
        "mfu": plan.model_flops / (step_s * args.peak_tflops * 1e12),
        "planner_mfu_bound": plan.mfu_bound,
        "planner_memory_gb": plan.total_gb,
        "lora_params": lora_params,
        "loss": loss,
    }
    if device.startswith("cuda"):
        out["peak_memory_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
    peft_model.merge_and_unload()  # LoRA folded into the weights: what the scorer then reads
    model.gradient_checkpointing_disable()
    return out


def check_scoring(model, tokenizer, args, device: str) -> dict:
    tasks = ["QC" if i % 2 else "QI" for i in range(args.pairs)]
    queries = [QUERIES[i % len(QUERIES)] + f" {i}" for i in range(args.pairs)]
    targets = [CATEGORIES[i % len(CATEGORIES)] if i % 2 else TITLES[i % len(TITLES)] for i in range(args.pairs)]
    out: dict = {}
    results = {}
    for cached in (True, False):
        scorer = TwoLogitScorer.from_model(
            model, tokenizer, max_seq_len=args.seq_len, batch_size=args.score_batch, prefix_cache=cached
        )
        scorer.score(tasks[: 2 * args.score_batch], queries[: 2 * args.score_batch], targets[: 2 * args.score_batch])
        sync(device)
        start = time.perf_counter()
        results[cached] = scorer.score(tasks, queries, targets)
        sync(device)
        out["pairs_per_s_prefix_cache" if cached else "pairs_per_s_no_cache"] = args.pairs / (
            time.perf_counter() - start
        )
    encoder = scorer.encoder
    seqs = encoder.encode_many(tasks, queries, targets)
    out["prompt_tokens_mean"] = sum(map(len, seqs)) / len(seqs)
    out["prefix_tokens_mean"] = sum(len(encoder.prefix_ids(t)) for t in tasks) / len(tasks)

    def full_vocab() -> torch.Tensor:
        probs = []
        with torch.inference_mode():
            for start in range(0, len(seqs), args.score_batch):
                ids, mask = pad_right(seqs[start : start + args.score_batch], tokenizer.pad_token_id)
                ids, mask = ids.to(device), mask.to(device)
                logits = model(input_ids=ids, attention_mask=mask).logits  # [batch, seq, vocab]
                last = logits[torch.arange(len(ids), device=device), mask.sum(1) - 1]
                probs.append(p_yes(last[:, encoder.tokens.no], last[:, encoder.tokens.yes]).cpu())
        return torch.cat(probs)

    full_vocab()  # warm-up
    sync(device)
    start = time.perf_counter()
    full = full_vocab().double().numpy()
    sync(device)
    out["pairs_per_s_full_vocab"] = args.pairs / (time.perf_counter() - start)
    diffs = {
        "max_dp_cache_vs_no_cache": abs(results[True] - results[False]).max(),
        "max_dp_two_logit_vs_full_vocab": abs(results[False] - full).max(),
    }
    out |= {k: float(v) for k, v in diffs.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--tiny", action="store_true", help="a tiny model instead of the Qwen3-14B shape")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak for MFU (H100/H200: 989)")
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--lora-r", type=int, default=32)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=2048, help="scored pairs per path")
    parser.add_argument("--score-batch", type=int, default=64)
    args = parser.parse_args(argv)
    if args.tiny:
        args.micro_batch, args.seq_len, args.lora_r = min(args.micro_batch, 4), min(args.seq_len, 128), 4
        args.warmup_steps, args.steps, args.pairs, args.score_batch = 1, 2, min(args.pairs, 32), 8
    tolerance = 1e-5
    dtype = torch.float32
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            print("no CUDA device: run with --device cpu --tiny", file=sys.stderr)
            return 2
        dtype, tolerance = torch.bfloat16, 2e-2
        torch.backends.cuda.matmul.allow_tf32 = True

    started = time.perf_counter()
    tokenizer = train_tokenizer([*QUERIES, *CATEGORIES, *TITLES, shared_prefix("QC"), shared_prefix("QI")], 1024)
    shape = KNOWN_SHAPES["Qwen/Qwen3-14B-Base"]
    if args.tiny:
        shape = ModelShape(vocab=len(tokenizer), hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16,
                           intermediate=128)  # fmt: skip
    model = build_model(shape, tokenizer, dtype, args.device)
    built = sum(p.numel() for p in model.parameters())
    if built != shape.params:
        raise RuntimeError(f"the model has {built} parameters; the planner counts {shape.params}")
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(f"{'tiny' if args.tiny else 'Qwen3-14B-shaped'} model, {built / 1e9:.3f}B params, {dtype}, {name}; "
          f"built in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip

    numbers = {"device": name, "params": built, "dtype": str(dtype)}
    numbers |= check_training(model, shape, tokenizer, args, args.device)
    print(f"train  LoRA r={args.lora_r}, micro-batch {args.micro_batch} x {args.seq_len}, checkpointing: "
          f"{numbers['train_tokens_per_s']:,.0f} tokens/s, {numbers['train_step_s'] * 1e3:.0f} ms/step, "
          f"MFU {numbers['mfu']:.1%} (planner bound {numbers['planner_mfu_bound']:.1%}), memory "
          f"{numbers.get('peak_memory_gb', float('nan')):.1f} GB (planner {numbers['planner_memory_gb']:.1f})",
          flush=True)  # fmt: skip
    numbers |= check_scoring(model, tokenizer, args, args.device)
    print(f"score  {args.pairs} pairs, {numbers['prompt_tokens_mean']:.0f} prompt tokens "
          f"({numbers['prefix_tokens_mean']:.0f} shared prefix): two-logit + prefix cache "
          f"{numbers['pairs_per_s_prefix_cache']:,.0f} pairs/s, two-logit {numbers['pairs_per_s_no_cache']:,.0f}, "
          f"full-vocabulary forward {numbers['pairs_per_s_full_vocab']:,.0f}; max |dP(yes)| cache vs not "
          f"{numbers['max_dp_cache_vs_no_cache']:.2e}, two-logit vs full vocabulary "
          f"{numbers['max_dp_two_logit_vs_full_vocab']:.2e} (tolerance {tolerance:g})")  # fmt: skip
    numbers["wall_s"] = time.perf_counter() - started
    numbers["p_yes_equal"] = max(numbers["max_dp_cache_vs_no_cache"], numbers["max_dp_two_logit_vs_full_vocab"]) <= (
        tolerance
    )
    print(json.dumps(numbers))
    return 0 if numbers["p_yes_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
