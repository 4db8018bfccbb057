"""Training throughput of the causal LM on CPU: today's fp32 path against each throughput lever of ``train`` alone
and all of them together, in one process, through the Ray Train loop's own optimizer step.

Every arm is a ``TrainConfig`` run by the production code: ``train.families`` builds the model (LoRA + answer head),
``train.loop.build_schedule`` the seeded schedule, ``train.strategy.DDPStrategy`` (without Ray's wrapper) the
micro-step and the optimizer step, and ``train.loop._optimizer_step`` the step itself, exactly as a Ray Train
worker runs it. Only the config differs between arms:

  fp32              today's default: fp32, LoRA on every layer, Alpaca prompt, full prompt per row
  bf16_autocast     train.autocast_bf16: the training forward under torch.autocast(bfloat16)
  top_layers        train.lora.top_layers: adapters on the last N decoder layers only
  length_bucketing  train.length_bucketing: micro-batches of rows of similar length
  compact_prompt    train.prompt_template=compact: a one-line instruction instead of the Alpaca preamble
  prefix_sharing    train.prefix_sharing: the task's prompt prefix once per micro-batch (with gradients)
  all               all of the above

Arms run in rounds (a few steps of each arm per round) on the same synthetic CIKM-like data, so a neighbour's load
slows them alike; the first step of each arm is left out. Rows per second of wall time and rows per CPU-second of
this process are reported; the ratios use CPU time (``--threads 1``, the demo's setting: CPU time is pure work).
Before training, bf16 autocast is checked against fp32 on the pretrained model: loss and P(yes) on dev rows.

``--auc-seconds T`` then trains ``fp32`` and ``all`` for T seconds of wall time each (steps alternate between the
two, so both see the same load; each arm's cosine schedule spans 1.3x the steps it is expected to fit in T) and scores
the dev rows with ``ecomrel.scorer.TwoLogitScorer`` from the saved adapters (as the score stage does): dev ROC-AUC
after equal wall time.

    python benchmarks/train_throughput.py                       # bundled Gemma-3-270M
    python benchmarks/train_throughput.py --auc-seconds 300
    python benchmarks/train_throughput.py --ray --model PATH    # Ray Train against a plain torch loop

On a shared machine the absolute numbers move with the neighbours' load: compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

import cluster  # noqa: F401  (token auth for Ray: must come before the first import of ray)
from ecomrel.config import RayConfig
from ecomrel.lm import PromptEncoder, pad_right
from ecomrel.models import load_causal_lm, load_tokenizer
from ecomrel.schema import RECORD_SCHEMA
from train.config import LoraConfig, TrainConfig
from train.families import prompt_lengths

QUERIES = ["red running shoes", "wireless earbuds", "phone case", "garden hose", "kitchen knife set",
           "zapatillas de running", "funda para movil", "chaussures de course", "coque de telephone"]  # fmt: skip
TARGETS = ["electronics,phones & accessories,cases", "electronics,audio,earbuds", "home & garden,garden,hoses",
           "home & garden,kitchen,knives", "sports & outdoors,running,shoes"]  # fmt: skip


# --- levers ------------------------------------------------------------------------------------------------------


def synthetic_rows(out: Path, rows_per_task: int, seed: int = 0) -> dict[str, list[dict]]:
    """Train and dev rows (both tasks, many languages, dev labels joined) from the synthetic CIKM generator that
    ``ecomrel make-data`` runs."""
    from pipelines.synthetic.generator import make_data

    make_data(out, rows=rows_per_task, seed=seed)
    split_rows: dict[str, list[dict]] = {}
    for split in ("train", "dev"):
        rows = []
        for task, target_key in (("QC", "category_path"), ("QI", "item_title")):
            lines = (out / f"{split}_{task}.txt").read_text(encoding="utf-8").splitlines()
            labels = {}
            if split == "dev":
                answers = (out / "answers" / f"dev_{task}.txt").read_text().splitlines()
                labels = {(a := json.loads(line))["id"]: a["label"] for line in answers}
            for line in lines:
                r = json.loads(line)
                label = int(r["label"]) if "label" in r else labels[r["id"]]
                rows.append({"id": f"{task}{r['id']}", "task": task, "query": r["origin_query"],
                             "target": r[target_key], "label": label})  # fmt: skip
        split_rows[split] = rows
    return split_rows


def arms(top_layers: int) -> dict[str, dict]:
    """Arm name -> TrainConfig changes against today's defaults."""
    every = {"autocast_bf16": True, "top_layers": top_layers, "length_bucketing": True,
             "prompt_template": "compact", "prefix_sharing": True}  # fmt: skip
    return {
        "fp32": {},
        "bf16_autocast": {"autocast_bf16": True},
        "top_layers": {"top_layers": top_layers},
        "length_bucketing": {"length_bucketing": True},
        "compact_prompt": {"prompt_template": "compact"},
        "prefix_sharing": {"prefix_sharing": True},
        "all": every,
    }


def arm_config(base: TrainConfig, changes: dict) -> TrainConfig:
    changes = dict(changes)
    lora = base.lora.model_copy(update={"top_layers": changes.pop("top_layers", None)})
    return TrainConfig.model_validate({**base.model_dump(), **changes, "lora": lora.model_dump()})


class Arm:
    """One config, trained by the Ray Train worker's own step on a one-worker schedule, without Ray."""

    def __init__(self, name: str, cfg: TrainConfig, rows) -> None:
        from train.loop import _Worker, build_schedule
        from train.strategy import DDPStrategy

        self.name, self.cfg = name, cfg
        schedule = build_schedule(cfg, rows, world=1)
        strategy = DDPStrategy(cfg, schedule.total_steps, prepare=lambda module: module)
        self.worker = _Worker(cfg, 0, 1, rows, schedule, strategy)
        self.step = 0
        self.rows = self.wall = self.cpu = 0.0  # measured steps only
        self.step_wall: list[float] = []
        # Tokens the forward computes, and how many of them are padding (measured steps).
        encoder = PromptEncoder(load_tokenizer(cfg.base_model), cfg.max_seq_len, cfg.prompt_template)
        self.lengths = prompt_lengths(cfg, rows.task, rows.query, rows.target)
        self.prefix = np.array([len(encoder.prefix_ids(t)) for t in rows.task])
        self.computed = self.padding = 0

    def run_step(self, measure: bool = True) -> float:
        from train.loop import _optimizer_step

        accum = self.cfg.grad_accum_steps
        batches = [self.worker.schedule.indices(self.step * accum + k, 0) for k in range(accum)]
        start, start_cpu = time.perf_counter(), time.process_time()
        record, _ = _optimizer_step(self.worker, self.step)
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        self.step += 1
        if measure:
            self.rows += record["examples_per_s"] * record["step_time_s"]
            self.wall += wall
            self.cpu += cpu
            self.step_wall.append(wall)
            for idx in batches:
                self._count_tokens(idx)
        return wall

    def _count_tokens(self, idx: np.ndarray) -> None:
        lengths, prefix = self.lengths[idx], self.prefix[idx]
        shared = self.cfg.prefix_sharing and len(set(self.worker.rows.task[i] for i in idx)) == 1
        if shared:  # the prefix once, the row parts padded to the longest
            rows = lengths - prefix
            self.computed += int(prefix[0] + rows.max() * len(idx))
            self.padding += int(rows.max() * len(idx) - rows.sum())
        else:
            self.computed += int(lengths.max() * len(idx))
            self.padding += int(lengths.max() * len(idx) - lengths.sum())

    def rows_per_s(self) -> float:
        return self.rows / self.wall

    def rows_per_cpu_s(self) -> float:
        return self.rows / self.cpu


def bf16_check(arm: Arm, dev: list[dict], n: int = 32) -> dict[str, float]:
    """fp32 against bf16 autocast on the pretrained model (fresh LoRA: B = 0): largest |P(yes) difference| and the
    loss difference on ``n`` dev rows of each task."""
    from ecomrel.scoring import p_yes
    from train.model import answer_loss
    from train.strategy import train_autocast

    rows = [r for task in ("QC", "QI") for r in [r for r in dev if r["task"] == task][:n]]
    trainable = arm.worker.strategy.trainable
    batch, _ = trainable.batcher([r["task"] for r in rows], [r["query"] for r in rows], [r["target"] for r in rows])
    labels = torch.tensor([r["label"] for r in rows])
    module = trainable.module.eval()
    with torch.no_grad():
        fp32 = module(**batch)
        with train_autocast(arm.cfg.model_copy(update={"autocast_bf16": True}), torch.device("cpu")):
            bf16 = module(**batch)
    module.train()
    dp = (p_yes(bf16[:, 0], bf16[:, 1]) - p_yes(fp32[:, 0], fp32[:, 1])).abs()
    return {
        "rows": len(rows),
        "max_abs_dp": float(dp.max()),
        "mean_abs_dp": float(dp.mean()),
        "loss_fp32": float(answer_loss(fp32, labels)),
        "loss_bf16": float(answer_loss(bf16, labels)),
    }


def dev_auc(arm: Arm, dev: list[dict], out: Path) -> dict[str, float | None]:
    """Dev ROC-AUC per task (and over both) of the arm's trained adapter, scored as the score stage does."""
    from ecomrel.metrics import ranking_metrics
    from ecomrel.scorer import TwoLogitScorer

    adapter = out / arm.name
    arm.worker.strategy.trainable.save_model(adapter, arm.worker.strategy.trained_state_dict())
    scorer = TwoLogitScorer(arm.cfg.base_model, adapter, max_seq_len=arm.cfg.max_seq_len, batch_size=16)
    p = scorer.score([r["task"] for r in dev], [r["query"] for r in dev], [r["target"] for r in dev])
    labels = np.array([r["label"] for r in dev])
    tasks = np.array([r["task"] for r in dev])
    auc = {task: ranking_metrics(labels[tasks == task], p[tasks == task])["roc_auc"] for task in ("QC", "QI")}
    auc["mean"] = float(np.mean([auc["QC"], auc["QI"]]))
    return auc


def levers(args: argparse.Namespace) -> dict:
    from train.data import Rows

    torch.set_num_threads(args.threads)
    if args.model is None:
        from ecomrel.bundled import materialize_gemma3_270m

        args.model = str(materialize_gemma3_270m())
    with tempfile.TemporaryDirectory(prefix="ecomrel-bench-") as tmp:
        data = synthetic_rows(Path(tmp) / "data", args.rows_per_task, args.seed)
        rows = Rows.from_table(pa.Table.from_pylist(data["train"]))
        # The causal-LM demo's settings (configs/demo-lm.yaml), one worker.
        base = TrainConfig(
            base_model=args.model, num_workers=1, cpus_per_worker=args.threads, torch_threads=args.threads,
            micro_batch_size=args.micro_batch, max_steps=1000, learning_rate=3e-4, warmup_ratio=0.1,
            max_seq_len=args.max_seq_len, lora=LoraConfig(r=16, alpha=32, dropout=0.05), seed=args.seed,
        )  # fmt: skip
        runs = {name: Arm(name, arm_config(base, changes), rows) for name, changes in arms(args.top_layers).items()}
        check = bf16_check(runs["fp32"], data["dev"])
        for arm in runs.values():
            arm.run_step(measure=False)  # warm-up: first-call allocations, oneDNN kernels
        for _ in range(args.rounds):
            for arm in runs.values():
                for _ in range(args.steps_per_round):
                    arm.run_step()
        base_cpu, base_wall = runs["fp32"].rows_per_cpu_s(), runs["fp32"].rows_per_s()
        result = {
            "model": args.model,
            "threads": args.threads,
            "seed": args.seed,
            "micro_batch": args.micro_batch,
            "max_seq_len": args.max_seq_len,
            "measured_steps_per_arm": args.rounds * args.steps_per_round,
            "bf16_vs_fp32": check,
            "arms": {
                name: {
                    "rows_per_s": round(arm.rows_per_s(), 3),
                    "rows_per_cpu_s": round(arm.rows_per_cpu_s(), 3),
                    "x_fp32_cpu": round(arm.rows_per_cpu_s() / base_cpu, 2),
                    "x_fp32_wall": round(arm.rows_per_s() / base_wall, 2),
                    "fwd_tokens_per_row": round(arm.computed / arm.rows, 1),
                    "padding_share": round(arm.padding / arm.computed, 3),
                }
                for name, arm in runs.items()
            },
        }
        if args.auc_seconds:
            step_wall = {name: float(np.median(arm.step_wall)) for name, arm in runs.items()}
            runs.clear()  # free the throughput arms' models
            result["auc"] = auc_comparison(args, base, step_wall, rows, data["dev"], Path(tmp))
    return result


def auc_comparison(args, base: TrainConfig, step_wall: dict[str, float], rows, dev, tmp: Path) -> dict:
    """fp32 and all levers, trained from scratch for the same wall time, steps alternating; dev ROC-AUC. Each
    arm's schedule (warm-up, cosine decay) spans 1.3x the steps its measured median step time fits in the budget,
    so that neither runs out of schedule before the budget on a machine whose load changes; both stop at the
    budget, a little before the end of their decay."""
    fresh = {}
    for name in ("fp32", "all"):
        expected = max(1, int(1.3 * args.auc_seconds / step_wall[name]))
        cfg = arm_config(base, arms(args.top_layers)[name]).model_copy(update={"max_steps": expected})
        fresh[name] = Arm(name, cfg, rows)
    while True:
        running = [a for a in fresh.values() if a.wall < args.auc_seconds and a.step < a.worker.total_steps]
        if not running:
            break
        for arm in running:
            arm.run_step()
    out = {}
    for name, arm in fresh.items():
        out[name] = {
            "train_wall_s": round(arm.wall, 1),
            "steps": arm.step,
            "planned_steps": arm.worker.total_steps,
            "rows_trained": int(arm.rows),
            "dev_roc_auc": dev_auc(arm, dev, tmp / "adapters"),
        }
    return out


def print_levers(result: dict) -> None:
    print(f"model {result['model']}: {result['threads']} torch thread(s), micro-batch {result['micro_batch']}, "
          f"seed {result['seed']}, "
          f"max_seq_len {result['max_seq_len']}, {result['measured_steps_per_arm']} measured steps "
          "per arm")  # fmt: skip
    c = result["bf16_vs_fp32"]
    print(f"bf16 autocast vs fp32 on {c['rows']} dev rows (pretrained model): max |dP(yes)| {c['max_abs_dp']:.4f}, "
          f"mean {c['mean_abs_dp']:.4f}; loss {c['loss_fp32']:.4f} (fp32) vs {c['loss_bf16']:.4f} (bf16)")  # fmt: skip
    print(f"{'arm':<18} {'rows/s':>8} {'rows/cpu-s':>10} {'x fp32 (cpu)':>12} {'x fp32 (wall)':>13} "
          f"{'fwd tokens/row':>14} {'padding':>8}")  # fmt: skip
    for name, a in result["arms"].items():
        print(f"{name:<18} {a['rows_per_s']:>8.2f} {a['rows_per_cpu_s']:>10.2f} {a['x_fp32_cpu']:>12.2f} "
              f"{a['x_fp32_wall']:>13.2f} {a['fwd_tokens_per_row']:>14.1f} {a['padding_share']:>8.1%}")  # fmt: skip
    if "auc" in result:
        print(f"{'arm':<8} {'train s':>8} {'steps':>6} {'rows':>6} {'dev AUC QC':>10} {'QI':>6} {'mean':>6}")
        for name, a in result["auc"].items():
            auc = a["dev_roc_auc"]
            print(f"{name:<8} {a['train_wall_s']:>8.1f} {a['steps']:>6} {a['rows_trained']:>6} {auc['QC']:>10.3f} "
                  f"{auc['QI']:>6.3f} {auc['mean']:>6.3f}")  # fmt: skip
    print(json.dumps(result))


# --- Ray Train against a plain torch loop ------------------------------------------------------------------------


def write_rows(out: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    rows = [
        {
            "id": f"b{i:06d}",
            "task": "QC",
            "split": "train",
            "language": "en",
            "query": QUERIES[rng.integers(len(QUERIES))],
            "target": TARGETS[rng.integers(len(TARGETS))],
            "label": int(rng.integers(2)),
            "source": "original",
            "parent_id": None,
        }
        for i in range(n)
    ]
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), out / "part-0.parquet")
    return out


def plain_torch(cfg: TrainConfig, data_dir: Path) -> tuple[float, float]:
    """(tokens/s after the first step, start-up seconds) of the same training step without Ray."""
    from train.data import Rows, Schedule
    from train.model import AnswerHead, add_lora, answer_loss, build_scheduler, trainable_parameters

    start = time.perf_counter()
    torch.set_num_threads(cfg.torch_threads)
    rows = Rows.from_table(pq.read_table(data_dir, columns=["id", "task", "query", "target", "label"]))
    schedule = Schedule(len(rows), 1, cfg.micro_batch_size, 1, cfg.epochs, cfg.max_steps, cfg.seed)
    tokenizer = load_tokenizer(cfg.base_model)
    encoder = PromptEncoder(tokenizer, cfg.max_seq_len)
    torch.manual_seed(cfg.seed)
    model = add_lora(load_causal_lm(cfg.base_model), cfg.lora)
    head = AnswerHead(model, encoder.tokens).train()
    params = [p for _, p in trainable_parameters(model)]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate)
    scheduler = build_scheduler(optimizer, schedule.total_steps, cfg.warmup_ratio)
    startup = time.perf_counter() - start

    tokens, elapsed = 0.0, 0.0
    for step in range(schedule.total_steps):
        t0 = time.perf_counter()
        idx = schedule.indices(step, 0)
        seqs = [encoder.encode(rows.task[i], rows.query[i], rows.target[i]) for i in idx]
        ids, mask = pad_right(seqs, tokenizer.pad_token_id)
        loss = answer_loss(head(ids, mask), torch.as_tensor(rows.label[idx], dtype=torch.long))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if step > 0:
            tokens += float(mask.sum())
            elapsed += time.perf_counter() - t0
    return tokens / elapsed, startup


def ray_train(cfg: TrainConfig, data_dir: Path, out: Path) -> tuple[float, float]:
    """(tokens/s per worker after the first step, wall time of the whole train_model call)."""
    from cluster.ray_runtime import connect
    from train.trainer import train_model

    connect(RayConfig(num_cpus=max(2, int(cfg.cpus_per_worker)), include_dashboard=False))
    start = time.perf_counter()
    result = train_model(cfg, data_dir, out, resume=False)
    return result.tokens_per_s_per_worker, time.perf_counter() - start


def ray_vs_plain(args: argparse.Namespace) -> None:
    """Ray Train (1 worker) against a plain torch loop, same model, data, threads and step code: the ratio
    isolates what Ray Train adds per step. The plain loop runs before and after the Ray run."""
    with tempfile.TemporaryDirectory(prefix="ecomrel-bench-") as tmp:
        tmp = Path(tmp)
        model = args.model
        if model is None:
            from ecomrel.tiny import build_tiny_causal_lm

            model = str(build_tiny_causal_lm(tmp / "model", QUERIES + TARGETS, hidden_size=256, num_layers=4))
        data = write_rows(tmp / "data", args.rows)
        cfg = TrainConfig(
            base_model=model,
            strategy="ddp",
            num_workers=1,
            cpus_per_worker=args.threads,
            torch_threads=args.threads,
            micro_batch_size=args.micro_batch,
            max_steps=args.steps,
            checkpoint_every_steps=args.steps,  # one report at the end, as the plain loop saves nothing
            lora=LoraConfig(r=16, alpha=32, dropout=0.0),
        )
        before, plain_startup = plain_torch(cfg, data)
        ray_tps, ray_wall = ray_train(cfg, data, tmp / "out")
        after, _ = plain_torch(cfg, data)
    plain_tps = (before + after) / 2

    print(f"model: {model}  rows: {args.rows}  steps: {args.steps}  micro-batch: {args.micro_batch}  "
          f"threads: {args.threads}")  # fmt: skip
    print(f"plain torch : {plain_tps:10.0f} tokens/s   (before {before:.0f}, after {after:.0f}; "
          f"start-up {plain_startup:.1f}s)")  # fmt: skip
    print(f"Ray Train   : {ray_tps:10.0f} tokens/s/worker   (whole train_model call {ray_wall:.1f}s)")
    print(f"ratio Ray/plain: {ray_tps / plain_tps:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model directory (levers: the bundled Gemma-3-270M; --ray: a tiny Qwen3)")
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (= CPUs of one demo worker)")
    ap.add_argument("--rows-per-task", type=int, default=600, help="synthetic training rows per task")
    ap.add_argument("--max-seq-len", type=int, default=128)
    ap.add_argument("--top-layers", type=int, default=6, help="lora.top_layers of the top_layers and all arms")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps-per-round", type=int, default=4)
    ap.add_argument("--auc-seconds", type=float, default=0, help="train fp32 and all this long each; dev AUC")
    ap.add_argument("--seed", type=int, default=0, help="synthetic data and training seed")
    ap.add_argument("--ray", action="store_true", help="Ray Train against a plain torch loop instead")
    ap.add_argument("--rows", type=int, default=512, help="--ray: training rows")
    ap.add_argument("--steps", type=int, default=30, help="--ray: optimizer steps")
    args = ap.parse_args()
    # Set before transformers is first imported (lazily, by the model loaders) and before Ray starts its workers.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.ray:
        ray_vs_plain(args)
    else:
        print_levers(levers(args))


if __name__ == "__main__":
    main()
