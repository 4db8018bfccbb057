"""Few-shot causal-LM translation: batched generation with left padding against one query at a time.

The baseline is the same ``CausalLMTranslator`` with ``batch_size=1`` in this process, on the same queries, so the
ratio isolates what batching buys (one ``generate`` call continues every row; rows stop at their first newline).
Greedy decoding should give the same text either way; the share of identical outputs is printed as a check, since
padding can shift float sums enough to flip a near-tie. Wall and CPU seconds are both printed: on a shared machine
CPU seconds show the work, wall seconds what a user waits. Torch runs ``--threads`` threads (default 1, as in a
one-CPU Ray actor; more threads on an oversubscribed machine spin and slow down).

    python benchmarks/translate_throughput.py                       # bundled Gemma-3-270M, es -> de, batch 16
    python benchmarks/translate_throughput.py --model PATH --target it --batch-size 8 --rows 32
"""

from __future__ import annotations

import argparse
import copy
import time

from pipelines.translators import CausalLMTranslator

QUERIES = (
    "zapatillas deportivas para hombre",
    "funda de silicona para móvil",
    "vestido largo de verano",
    "cargador rápido usb tipo c",
    "mochila escolar para niños",
    "reloj inteligente resistente al agua",
    "sartén antiadherente",
    "lámpara de escritorio led",
    "camiseta de algodón para mujer",
    "auriculares inalámbricos con cancelación de ruido",
    "juguetes educativos para bebés",
    "crema hidratante para la cara",
    "silla de oficina ergonómica",
    "bolso de cuero negro",
    "cortinas opacas para dormitorio",
    "bicicleta de montaña",
)


def timed(translator: CausalLMTranslator, texts: list[str], source: str, target: str) -> tuple[list[str], float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = translator.translate(texts, source, target)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="causal LM name or path (default: the bundled Gemma-3-270M)")
    parser.add_argument("--source", default="es")
    parser.add_argument("--target", default="de")
    parser.add_argument("--rows", type=int, default=16, help="queries translated (the built-in list, repeated)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    if args.model is None:
        from ecomrel.bundled import materialize_gemma3_270m

        args.model = str(materialize_gemma3_270m())
    texts = [QUERIES[i % len(QUERIES)] for i in range(args.rows)]
    batched = CausalLMTranslator(args.model, args.max_new_tokens, args.batch_size)
    single = copy.copy(batched)  # shares the model and tokenizer
    single.batch_size = 1

    timed(batched, texts[:2], args.source, args.target)  # warm-up: stop-string tables, allocator
    base, base_wall, base_cpu = timed(single, texts, args.source, args.target)
    out, wall, cpu = timed(batched, texts, args.source, args.target)
    same = sum(a == b for a, b in zip(base, out, strict=True)) / len(texts)
    print(f"{args.model}: {args.rows} queries {args.source}->{args.target}, {args.threads} torch thread(s)")
    print(f"  one at a time : {args.rows / base_wall:6.2f} rows/s wall, {args.rows / base_cpu:6.2f} rows/cpu-s")
    print(
        f"  batch {args.batch_size:<8}: {args.rows / wall:6.2f} rows/s wall, {args.rows / cpu:6.2f} rows/cpu-s  "
        f"(x{base_wall / wall:.2f} wall, x{base_cpu / cpu:.2f} cpu)"
    )
    print(f"  identical outputs: {same:.0%}")
    for text, translation in list(zip(texts, out, strict=True))[:4]:
        print(f"    {text!r} -> {translation!r}")


if __name__ == "__main__":
    main()
