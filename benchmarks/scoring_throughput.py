"""Scoring throughput: the two-logit head (with and without the prompt-prefix KV cache) against the two usual ways
of getting P(yes) from a causal LM, all in one process on the same rows, with ratios against the baseline.

  two_logit+prefix_cache  TwoLogitScorer: decoder over the row part only (prefix KV cached), 2 rows of the LM head
  two_logit               TwoLogitScorer without the cache: decoder over the full prompt, 2 rows of the LM head
  full_vocab              model(...).logits (every position x full vocabulary), softmax, then P(yes) of the two
  generate                model.generate(max_new_tokens=1, output_scores=True), left-padded, softmax of the scores

The baseline for the ratios is ``full_vocab``. Every method scores the same rows with the same prompt ids; the
script also prints the largest |P(yes) difference| against the two-logit scores, so a fast but wrong method shows.
Methods run in rounds (one pass of each per round) and the best round counts. Both wall-clock rows/s and rows per
CPU-second of this process are reported, and the ratios use CPU time: on a shared machine other processes slow
the wall clock but not the work done. With ``--threads 1`` CPU time is pure work (no OpenMP spin-waiting).

    HF_HUB_OFFLINE=1 python benchmarks/scoring_throughput.py            # bundled Gemma-3-270M
    HF_HUB_OFFLINE=1 python benchmarks/scoring_throughput.py --model PATH --rows 64 --rounds 3
    HF_HUB_OFFLINE=1 python benchmarks/scoring_throughput.py --prompt-template compact  # the shorter prompt
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
import torch

from ecomrel.lm import pad_right
from ecomrel.prompts import TEMPLATES
from ecomrel.scorer import TwoLogitScorer

_QUERIES = [
    "zapatillas running mujer talla 38",
    "wireless earbuds noise cancelling",
    "coque iphone 15 pro max",
    "ワイヤレスイヤホン ノイズキャンセリング",
    "무선 이어폰",
    "tênis feminino corrida",
    "kinder fahrradhelm",
    "سماعات بلوتوث",
    "tai nghe không dây chống ồn",
    "mochila escolar niña",
    "robot aspirador con mopa",
    "cargador rápido usb c 65w",
]
_CATEGORIES = [
    "sports & outdoors,sports shoes,running shoes",
    "consumer electronics,earphones & headphones,wireless earbuds",
    "phones & telecommunications,mobile phone accessories,phone cases",
    "automobiles, parts & accessories,car electronics,chargers",
    "home appliances,cleaning appliances,robot vacuums",
    "luggage & bags,school bags",
]
_TITLES = [
    "Women's lightweight breathable running shoes, mesh upper, non-slip sole, size 35-41",
    "Bluetooth 5.3 wireless earbuds with active noise cancelling and 40h charging case",
    "Shockproof transparent silicone case for iPhone 15 Pro Max with lanyard",
    "65W GaN USB-C fast charger, 3 ports, foldable plug",
    "Kids bicycle helmet, adjustable, CE certified, 3-8 years",
    "Robot vacuum cleaner with mop, 4000Pa suction, app control",
]


def bench_rows(n: int) -> tuple[list[str], list[str], list[str]]:
    """``n`` rows, half QC and half QI, realistic lengths, deterministic."""
    rng = np.random.default_rng(0)
    tasks, queries, targets = [], [], []
    for i in range(n):
        task = "QC" if i % 2 == 0 else "QI"
        tasks.append(task)
        queries.append(_QUERIES[int(rng.integers(len(_QUERIES)))])
        pool = _CATEGORIES if task == "QC" else _TITLES
        targets.append(pool[int(rng.integers(len(pool)))])
    return tasks, queries, targets


def full_vocab(scorer: TwoLogitScorer, seqs: list[list[int]], batch_size: int) -> np.ndarray:
    """The naive way: all logits from the model's forward, softmax over the vocabulary at the last prompt token."""
    out = np.empty(len(seqs))
    no, yes = scorer.encoder.tokens.ids
    order = np.argsort([len(s) for s in seqs], kind="stable")
    with torch.inference_mode():
        for start in range(0, len(seqs), batch_size):
            idx = order[start : start + batch_size]
            ids, mask = pad_right([seqs[i] for i in idx], scorer.tokenizer.pad_token_id)
            logits = scorer.model(input_ids=ids, attention_mask=mask).logits
            probs = logits[torch.arange(len(idx)), mask.sum(1) - 1].float().softmax(-1)
            out[idx] = (probs[:, yes] / (probs[:, yes] + probs[:, no])).numpy()
    return out


def generate_one(scorer: TwoLogitScorer, seqs: list[list[int]], batch_size: int) -> np.ndarray:
    """``generate(max_new_tokens=1)`` with the step's scores: what a generation API hands back."""
    out = np.empty(len(seqs))
    no, yes = scorer.encoder.tokens.ids
    pad = scorer.tokenizer.pad_token_id
    order = np.argsort([len(s) for s in seqs], kind="stable")
    with torch.inference_mode():
        for start in range(0, len(seqs), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(seqs[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):  # generation needs left padding
                ids[row, width - len(seqs[i]) :] = torch.tensor(seqs[i])
                mask[row, width - len(seqs[i]) :] = 1
            gen = scorer.model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=1,
                do_sample=False,
                output_scores=True,
                return_dict_in_generate=True,
                pad_token_id=pad,
            )
            probs = gen.scores[0].float().softmax(-1)
            out[idx] = (probs[:, yes] / (probs[:, yes] + probs[:, no])).numpy()
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="from_pretrained id or path (default: the bundled Gemma-3-270M)")
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-seq-len", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--prompt-template", default="alpaca", choices=TEMPLATES, help="ecomrel.prompts template")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model is None:
        from ecomrel.bundled import materialize_gemma3_270m

        args.model = str(materialize_gemma3_270m())

    scorer = TwoLogitScorer(
        args.model, max_seq_len=args.max_seq_len, batch_size=args.batch_size, prompt_template=args.prompt_template
    )
    tasks, queries, targets = bench_rows(args.rows)
    seqs = scorer.encoder.encode_many(tasks, queries, targets)
    prefix_share = np.mean([len(scorer.encoder.prefix_ids(t)) / len(s) for t, s in zip(tasks, seqs, strict=True)])

    def two_logit(cache: bool) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            scorer.prefix_cache = cache
            scorer._prefix_kv.clear()  # each pass pays for its prefix, as a fresh actor would
            return scorer.score(tasks, queries, targets)

        return run

    methods: dict[str, Callable[[], np.ndarray]] = {
        "two_logit+prefix_cache": two_logit(True),
        "two_logit": two_logit(False),
        "full_vocab": lambda: full_vocab(scorer, seqs, args.batch_size),
        "generate": lambda: generate_one(scorer, seqs, args.batch_size),
    }
    wall = {name: float("inf") for name in methods}
    cpu = dict(wall)
    scores: dict[str, np.ndarray] = {}
    warm = seqs[: args.batch_size]
    scorer.score_ids(warm)
    full_vocab(scorer, warm, args.batch_size)
    for _ in range(args.rounds):
        for name, run in methods.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            scores[name] = run()
            wall[name] = min(wall[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], time.process_time() - start_cpu)

    ref = scores["two_logit"]
    result = {
        "model": args.model,
        "prompt_template": args.prompt_template,
        "rows": args.rows,
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "mean_prompt_tokens": float(np.mean([len(s) for s in seqs])),
        "prefix_share_of_tokens": round(float(prefix_share), 3),
        "methods": {
            name: {
                "rows_per_s": round(args.rows / wall[name], 3),
                "rows_per_cpu_s": round(args.rows / cpu[name], 3),
                "vs_full_vocab": round(cpu["full_vocab"] / cpu[name], 3),
                "max_abs_diff_vs_two_logit": float(np.abs(scores[name] - ref).max()),
            }
            for name in methods
        },
    }
    print(f"model {args.model}: {args.rows} rows, batch {args.batch_size}, {torch.get_num_threads()} torch threads, "
          f"{args.prompt_template} prompt,")  # fmt: skip
    print(f"mean prompt {result['mean_prompt_tokens']:.1f} tokens, prefix share {prefix_share:.0%}")
    print(f"{'method':<24} {'rows/s':>8} {'rows/cpu-s':>10} {'x full_vocab':>12} {'max |dP|':>10}")
    for name, m in result["methods"].items():
        print(
            f"{name:<24} {m['rows_per_s']:>8.2f} {m['rows_per_cpu_s']:>10.2f} {m['vs_full_vocab']:>12.2f} "
            f"{m['max_abs_diff_vs_two_logit']:>10.2e}"
        )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
