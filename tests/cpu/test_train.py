"""LoRA training on Ray Train: loss falls, saved adapters reload to the same scores, killed runs resume.

The toy set is learnable from the target alone (phone/audio categories are relevant, garden/kitchen ones are
not), so a tiny random Qwen3 with LoRA gets from ~0.7 to below 0.3 in 20 steps. Both strategies see the same
seeded data and the same LoRA init, so their loss curves agree to float noise, also across a resume: that
comparison is the strongest check that a checkpoint restores weights, optimizer, scheduler and data position.

Faults are injected from outside the production code: a Ray Train ``UserCallback`` (it runs on the Train
controller) SIGKILLs one training worker right after the first checkpoint. The worker is found among the
children of this Ray instance's raylet, so no process of another Ray on the machine is ever touched.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray.cloudpickle
import ray.train

from ecomrel.manifest import Manifest, write_manifest
from ecomrel.schema import RECORD_SCHEMA
from ecomrel.scorer import TwoLogitScorer
from train.config import DeepSpeedConfig, LoraConfig, TrainConfig
from train.data import Schedule, TrainDataError, read_train_dir
from train.deepspeed_config import build_deepspeed_config, deep_merge
from train.trainer import METRICS_FILE, train_model

# The kill callback is defined here and runs on the Train controller, which cannot import this test module.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

QUERIES = [
    "red running shoes",
    "wireless earbuds",
    "phone case",
    "garden hose",
    "kitchen knife set",
    "zapatillas de running",
    "funda para movil",
    "chaussures de course",
]
RELEVANT = ["electronics,phones & accessories,cases", "electronics,audio,earbuds"]
IRRELEVANT = ["home & garden,garden,hoses", "home & garden,kitchen,knives"]
STEPS = 20
CHECKPOINT_EVERY = 5


def _toy_rows() -> list[dict]:
    rows = []
    for q in QUERIES:
        for t in RELEVANT + IRRELEVANT:
            rows.append(
                {
                    "id": f"r{len(rows):03d}",
                    "task": "QC",
                    "split": "train",
                    "language": "en",
                    "query": q,
                    "target": t,
                    "label": int(t in RELEVANT),
                    "source": "original",
                    "parent_id": None,
                }
            )
    return rows


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("toy") / "train"
    d.mkdir()
    rows = _toy_rows()
    half = len(rows) // 2
    pq.write_table(pa.Table.from_pylist(rows[:half], schema=RECORD_SCHEMA), d / "part-0.parquet")
    pq.write_table(pa.Table.from_pylist(rows[half:], schema=RECORD_SCHEMA), d / "part-1.parquet")
    write_manifest(d, Manifest(stage="toy", output_rows=len(rows)))  # stage folders carry one; not a data file
    return d


def _cfg(model: Path, **changes) -> TrainConfig:
    base = dict(
        base_model=str(model),
        num_workers=2,
        micro_batch_size=4,
        max_steps=STEPS,
        learning_rate=5e-3,
        warmup_ratio=0.1,
        checkpoint_every_steps=CHECKPOINT_EVERY,
        lora=LoraConfig(r=8, alpha=16, dropout=0.0),
    )
    return TrainConfig(**{**base, **changes})


class KillOneWorkerAfterFirstCheckpoint(ray.train.UserCallback):
    """SIGKILL one training worker of this Ray instance once the first checkpoint is registered."""

    def __init__(self) -> None:
        self.killed_pid: int | None = None

    def after_report(self, run_context, metrics, checkpoint) -> None:
        if self.killed_pid is not None or checkpoint is None:
            return
        raylet = psutil.Process().parent()  # the controller is a worker process of our own raylet
        workers = [p for p in raylet.children() if "RayTrainWorker" in " ".join(p.cmdline())]
        assert workers, f"no RayTrainWorker among the children of raylet {raylet.pid}"
        self.killed_pid = workers[-1].pid
        os.kill(self.killed_pid, signal.SIGKILL)


def _losses(out: Path) -> list[float]:
    records = [json.loads(line) for line in (out / METRICS_FILE).read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, STEPS + 1)), "a resumed run must not repeat or skip steps"
    for r in records:
        assert set(r) >= {"step", "epoch", "loss", "lr", "tokens_per_s", "examples_per_s"}
        assert r["tokens_per_s"] > 0 and r["examples_per_s"] > 0
    return [r["loss"] for r in records]


def _assert_learned(losses: list[float]) -> None:
    first, last = np.mean(losses[:3]), np.mean(losses[-5:])
    assert first > 0.6, f"a random model starts near ln 2, got {first:.3f}"
    assert last < 0.3 and last < 0.5 * first, f"loss did not fall enough: {first:.3f} -> {last:.3f}"


def _assert_adapter_reloads(out: Path, base_model: Path) -> None:
    """The saved adapter, loaded like the scorer loads it, gives the in-training model's P(yes) to 1e-5."""
    adapter = out / "adapter"
    weights = adapter / "adapter_model.safetensors"
    assert weights.stat().st_size > 10_000, "empty or truncated adapter weights"
    assert (adapter / "tokenizer.json").is_file()
    probe = json.loads((out / "probe.json").read_text())
    scorer = TwoLogitScorer(str(base_model), adapter=adapter)
    reloaded = scorer.score(probe["task"], probe["query"], probe["target"])
    np.testing.assert_allclose(reloaded, probe["p_yes"], atol=1e-5)
    assert np.ptp(probe["p_yes"]) > 0.3, "the probe rows should be told apart after training"


# --- pure parts ------------------------------------------------------------------------------------------------


def test_deepspeed_config_from_typed_config():
    cfg = TrainConfig(base_model="m", strategy="deepspeed", micro_batch_size=3, grad_accum_steps=4, max_grad_norm=0.5)
    ds = build_deepspeed_config(cfg)
    assert ds["zero_optimization"]["stage"] == 2  # auto, without GPUs to plan for
    assert ds["train_micro_batch_size_per_gpu"] == 3 and ds["gradient_accumulation_steps"] == 4
    assert ds["gradient_clipping"] == 0.5
    assert ds["bf16"] == {"enabled": False}
    assert "train_batch_size" not in ds  # derived by DeepSpeed from the world size
    assert ds["optimizer"]["params"]["torch_adam"] is True
    assert ds["optimizer"]["params"]["lr"] == cfg.learning_rate

    bf16 = build_deepspeed_config(cfg.model_copy(update={"bf16": True}))
    assert bf16["bf16"] == {"enabled": True}

    zero3 = cfg.model_copy(update={"deepspeed": DeepSpeedConfig(zero_stage=3)})
    assert build_deepspeed_config(zero3)["zero_optimization"]["stage"] == 3
    assert "zero_hpz_partition_size" not in build_deepspeed_config(zero3)["zero_optimization"]  # one node
    # Several nodes: hpZ keeps a node-local partition, so the backward gathers stay inside the node.
    assert build_deepspeed_config(zero3, nodes=2, gpus_per_node=8)["zero_optimization"]["zero_hpz_partition_size"] == 8

    offload = build_deepspeed_config(
        cfg.model_copy(update={"deepspeed": DeepSpeedConfig(offload_optimizer=True, offload_params=True)})
    )
    assert offload["zero_optimization"]["offload_optimizer"]["device"] == "cpu"
    assert offload["zero_optimization"]["offload_param"]["device"] == "cpu"
    assert offload["optimizer"]["params"]["torch_adam"] is False  # DeepSpeed's CPU Adam for offloaded state
    with pytest.raises(ValueError, match="zero_stage 3"):
        build_deepspeed_config(cfg.model_copy(update={"deepspeed": DeepSpeedConfig(zero_stage=2, offload_params=True)}))


def test_deepspeed_overrides_are_deep_merged_last():
    overrides = {
        "zero_optimization": {"stage": 2, "reduce_bucket_size": 1000},
        "bf16": {"enabled": True},
        "gradient_clipping": 2.0,
    }
    cfg = TrainConfig(base_model="m", strategy="deepspeed", deepspeed=DeepSpeedConfig(overrides=overrides))
    ds = build_deepspeed_config(cfg)
    assert ds["zero_optimization"]["stage"] == 2  # an override beats the typed field
    assert ds["zero_optimization"]["reduce_bucket_size"] == 1000
    assert ds["zero_optimization"]["contiguous_gradients"] is True  # siblings survive the merge
    assert ds["bf16"]["enabled"] is True and ds["gradient_clipping"] == 2.0
    assert build_deepspeed_config(cfg) == ds  # pure: same config, same dict

    base = {"a": {"b": 1, "c": 2}}
    merged = deep_merge(base, {"a": {"b": 3}, "d": [1]})
    assert merged == {"a": {"b": 3, "c": 2}, "d": [1]} and base == {"a": {"b": 1, "c": 2}}


def test_schedule_deals_disjoint_seeded_shards():
    s = Schedule(n_rows=10, world_size=2, micro_batch_size=2, grad_accum_steps=2, epochs=1.5, max_steps=None, seed=7)
    assert (s.rows_per_worker, s.micro_batches_per_epoch, s.total_steps) == (5, 3, 3)  # ceil(1.5 * 3 / 2)
    epoch0 = [np.concatenate([s.indices(m, r) for m in range(3)]) for r in range(2)]
    assert all(len(e) == 5 for e in epoch0) and not set(epoch0[0]) & set(epoch0[1])
    again = Schedule(10, 2, 2, 2, 1.5, None, 7)
    assert all(np.array_equal(s.indices(m, r), again.indices(m, r)) for m in range(6) for r in range(2))
    epoch1 = np.concatenate([s.indices(m, 0) for m in range(3, 6)])
    assert not np.array_equal(epoch0[0], epoch1)  # a fresh permutation each epoch
    assert Schedule(10, 2, 2, 2, 1.0, 4, 7).total_steps == 4  # max_steps wins
    with pytest.raises(TrainDataError):
        Schedule(1, 2, 2, 1, 1.0, None, 0)


def test_training_loss_is_the_scorers_negative_log_likelihood(tiny_model):
    """The loss trains exactly the number the scorer reports: CE over (no, yes) = -log P(label)."""
    import torch

    from ecomrel.lm import PromptEncoder, pad_right
    from ecomrel.models import load_causal_lm, load_tokenizer
    from train.model import AnswerHead, answer_loss

    rows = _toy_rows()[::5]
    tasks, queries, targets = ([r[k] for r in rows] for k in ("task", "query", "target"))
    labels = torch.tensor([r["label"] for r in rows])
    p = TwoLogitScorer(str(tiny_model), prefix_cache=False).score(tasks, queries, targets)
    encoder = PromptEncoder(load_tokenizer(str(tiny_model)))
    ids, mask = pad_right(encoder.encode_many(tasks, queries, targets), encoder.tokenizer.pad_token_id)
    head = AnswerHead(load_causal_lm(str(tiny_model)), encoder.tokens).eval()
    with torch.no_grad():
        loss = answer_loss(head(ids, mask), labels, reduction="none").numpy()
    expected = -np.log(np.where(labels.numpy() == 1, p, 1 - p))
    np.testing.assert_allclose(loss, expected, atol=1e-5)


def test_gradient_checkpointing_gives_the_same_lora_gradients(tiny_model):
    import torch

    from ecomrel.lm import PromptEncoder, pad_right
    from ecomrel.models import load_causal_lm, load_tokenizer
    from train.model import AnswerHead, add_lora, answer_loss, trainable_parameters

    rows = _toy_rows()[:6]
    encoder = PromptEncoder(load_tokenizer(str(tiny_model)))
    ids, mask = pad_right([encoder.encode(r["task"], r["query"], r["target"]) for r in rows], 0)
    labels = torch.tensor([r["label"] for r in rows])
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = add_lora(load_causal_lm(str(tiny_model)), LoraConfig(r=4, dropout=0.0), checkpointing)
        answer_loss(AnswerHead(model, encoder.tokens).train()(ids, mask), labels).backward()
        grads.append(torch.cat([p.grad.flatten() for _, p in trainable_parameters(model) if p.grad is not None]))
    assert grads[0].abs().sum() > 0 and grads[0].shape == grads[1].shape
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-7)


def test_bad_training_row_is_an_error_naming_file_row_and_field(ray_local, tmp_path):
    rows = _toy_rows()[:4]
    rows[2]["label"] = -1  # unlabelled rows cannot be trained on
    pq.write_table(pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), tmp_path / "bad.parquet")
    with pytest.raises(TrainDataError, match=r"bad\.parquet id=r002: bad label='-1'"):
        read_train_dir(tmp_path)
    with pytest.raises(TrainDataError, match="no Parquet files"):
        read_train_dir(tmp_path / "missing")


# --- training on Ray -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zero3_run(ray_local, tiny_model, toy_dir, tmp_path_factory):
    """DeepSpeed ZeRO-3 on 2 workers; one worker is killed after the first checkpoint and Ray Train restarts
    the worker group (FailureConfig), which resumes from that checkpoint."""
    out = tmp_path_factory.mktemp("zero3") / "train"
    cfg = _cfg(tiny_model, strategy="deepspeed", deepspeed=DeepSpeedConfig(zero_stage=3), max_failures=2)
    result = train_model(cfg, toy_dir, out, callbacks=[KillOneWorkerAfterFirstCheckpoint()])
    return out, result


def test_zero3_worker_killed_resumes_and_loss_falls(zero3_run):
    out, result = zero3_run
    assert result.steps == STEPS
    assert result.resumed_from_step is not None and result.resumed_from_step % CHECKPOINT_EVERY == 0
    assert CHECKPOINT_EVERY <= result.resumed_from_step < STEPS
    losses = _losses(out)
    _assert_learned(losses)
    assert result.first_loss == losses[0] and result.final_loss == losses[-1]
    assert result.tokens_per_s_per_worker > 0 and result.wall_time_s > 0
    # every rank of the resumed worker group says where it ran: here, both on the one local node
    assert [w["rank"] for w in result.workers] == [0, 1]
    assert {w["node_id"] for w in result.workers} == {ray.get_runtime_context().get_node_id()}


def test_zero3_adapter_reloads_with_the_same_scores(zero3_run, tiny_model):
    _assert_adapter_reloads(zero3_run[0], tiny_model)


def test_ddp_rerun_after_a_failed_run_resumes_and_matches_zero3(ray_local, tiny_model, toy_dir, tmp_path, zero3_run):
    """A run that dies (no retries left) leaves its checkpoints in out/ray; calling train_model again with the
    same config and data resumes from the last one, as after a killed driver. Same seeds and data as the ZeRO-3
    run, so the loss curves agree although both runs were interrupted at different places."""
    out = tmp_path / "train"
    cfg = _cfg(tiny_model, strategy="ddp", max_failures=0)
    with pytest.raises(ray.train.TrainingFailedError):
        train_model(cfg, toy_dir, out, callbacks=[KillOneWorkerAfterFirstCheckpoint()])
    result = train_model(cfg.model_copy(update={"max_failures": 2}), toy_dir, out)
    assert result.steps == STEPS and result.resumed_from_step == CHECKPOINT_EVERY
    losses = _losses(out)
    _assert_learned(losses)
    np.testing.assert_allclose(losses, _losses(zero3_run[0]), atol=1e-4)
    _assert_adapter_reloads(out, tiny_model)


def test_ddp_with_every_throughput_lever(ray_local, tiny_model, tmp_path):
    """The Ray Train loop with prefix sharing (micro-batches grouped by task), length bucketing, bf16 autocast, LoRA
    on the top layer only and the compact prompt, on both tasks: the loss falls as in the runs above, and the saved
    adapter (top layer only; it records the compact template) reloads into the in-training model's P(yes)."""
    from ecomrel.artifacts import read_prompt_template

    qi = [
        {**r, "id": f"i{i:03d}", "task": "QI", "target": title, "label": int(title in RELEVANT_TITLES)}
        for i, (r, title) in enumerate(
            (r, t) for r in _toy_rows()[::4] for t in RELEVANT_TITLES + ["Garden hose 30m", "Kitchen knife set"]
        )
    ]
    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(pa.Table.from_pylist(_toy_rows() + qi, schema=RECORD_SCHEMA), data / "part-0.parquet")
    cfg = _cfg(
        tiny_model, prefix_sharing=True, length_bucketing=True, bucket_window=2, autocast_bf16=True,
        prompt_template="compact", lora=LoraConfig(r=8, alpha=16, dropout=0.0, top_layers=1),
    )  # fmt: skip
    out = tmp_path / "train"
    result = train_model(cfg, data, out)
    assert result.steps == STEPS and result.resumed_from_step is None
    _assert_learned(_losses(out))
    assert read_prompt_template(out / "adapter") == "compact"
    adapter_config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["layers_to_transform"] == [1]
    _assert_adapter_reloads(out, tiny_model)


RELEVANT_TITLES = ["Silicone phone case for iPhone 15, shockproof", "Bluetooth 5.3 wireless earbuds with charging case"]
