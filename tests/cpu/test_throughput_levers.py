"""The causal LM's CPU throughput levers (train.config): each is checked for what it must keep equal.

- ``prefix_sharing``: the prefix computed once per micro-batch gives the per-row forward's logits, loss and LoRA
  gradients (tiny Qwen3; tiny Gemma-3 with a sliding window the rows run past), and falls back to full prompts where
  a KV cache could not replay the prefix or a micro-batch mixes tasks.
- ``lora.top_layers``: adapters only on the top layers, and nothing below them is part of the backward graph.
- ``length_bucketing`` and task grouping (``train.data.Schedule``): the same rows per epoch, one task per
  micro-batch, less padding, the same micro-batches after a restart.
- ``prompt_template``: recorded in the adapter, read by the scorer, recorded in thresholds.json by the ``model``
  stage, passed by the service; a mismatch is an error.
- ``autocast_bf16``: bf16 matrix products in the training forward only, P(yes) within a stated distance of fp32.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ecomrel.artifacts import PROMPT_FILE, THRESHOLDS_FILE, Thresholds, read_prompt_template
from ecomrel.lm import PromptEncoder, pad_right
from ecomrel.manifest import Manifest, write_manifest
from ecomrel.models import load_tokenizer
from ecomrel.records import write_records
from ecomrel.scorer import TwoLogitScorer
from ecomrel.scoring import p_yes
from train.config import LoraConfig, TrainConfig
from train.data import Schedule, TrainDataError
from train.families import build_trainable, prompt_lengths
from train.model import answer_loss
from train.strategy import train_autocast

QC = [
    ("red running shoes", "sports & outdoors,running,shoes", 1),
    ("wireless earbuds with a very long query that goes on " * 8, "electronics,audio,earbuds", 1),
    ("garden hose", "electronics,phones & accessories,cases", 0),
    ("zapatillas de running", "home & garden,kitchen,knives", 0),
    ("funda para movil", "electronics,phones & accessories,cases", 1),
]
QI = [
    ("phone case", "Silicone phone case for iPhone 15, shockproof", 1),
    ("kitchen knife set", "Bluetooth 5.3 wireless earbuds with charging case", 0),
]


def _cfg(model: Path | str, lora: dict | None = None, **changes) -> TrainConfig:
    lora_cfg = LoraConfig(r=4, alpha=8, dropout=0.0, **(lora or {}))
    return TrainConfig(base_model=str(model), max_seq_len=120, lora=lora_cfg, **changes)


def _trainable(cfg: TrainConfig, load_base=None):
    """The family's Trainable with random (not zero) LoRA B matrices, so the adapters change the prefix's keys
    and values and every LoRA weight gets a gradient."""
    t = build_trainable(cfg, load_base)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in t.named_params:
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.05)
    t.module.train()
    return t


def _forward_backward(t, batch: dict, labels: torch.Tensor):
    for _, param in t.named_params:
        param.grad = None
    logits = t.module(**batch)
    loss = answer_loss(logits, labels)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in t.named_params if p.grad is not None}
    return logits.detach(), loss.detach(), grads


def _per_row_batch(cfg: TrainConfig, rows) -> dict:
    encoder = PromptEncoder(load_tokenizer(cfg.base_model), cfg.max_seq_len, cfg.prompt_template)
    ids, mask = pad_right([encoder.encode(task, q, g) for task, q, g, _ in rows], encoder.tokenizer.pad_token_id)
    return {"input_ids": ids, "attention_mask": mask}


def _assert_shared_equals_per_row(cfg: TrainConfig, load_base=None) -> float:
    """Shared-prefix and per-row forward/backward of the same rows (one task); returns the largest gradient
    difference relative to the gradient's scale."""
    t = _trainable(cfg, load_base)
    rows = [("QC", q, g, y) for q, g, y in QC]
    labels = torch.tensor([y for *_, y in rows])
    shared, tokens = t.batcher(*zip(*[(task, q, g) for task, q, g, _ in rows], strict=True))
    assert set(shared) == {"input_ids", "attention_mask", "prefix_ids"}
    full = _per_row_batch(cfg, rows)
    assert tokens == int(full["attention_mask"].sum())  # the same prompt tokens, counted the same way
    assert shared["input_ids"].shape[1] + shared["prefix_ids"].shape[1] == full["input_ids"].shape[1]

    logits_s, loss_s, grads_s = _forward_backward(t, shared, labels)
    logits_f, loss_f, grads_f = _forward_backward(t, full, labels)
    torch.testing.assert_close(logits_s, logits_f, rtol=0, atol=1e-5)
    torch.testing.assert_close(loss_s, loss_f, rtol=0, atol=1e-6)
    assert grads_s.keys() == grads_f.keys() and len(grads_f) == len(t.named_params)
    worst = 0.0
    for name, g in grads_f.items():
        assert g.abs().max() > 0, f"{name}: no gradient"
        worst = max(worst, float((grads_s[name] - g).abs().max() / g.abs().max()))
    assert worst < 1e-4, f"shared-prefix gradients differ from per-row ones by {worst:.2e} of their scale"
    return worst


def test_prefix_sharing_gives_the_per_row_logits_loss_and_gradients(tiny_model):
    _assert_shared_equals_per_row(_cfg(tiny_model, prefix_sharing=True))
    _assert_shared_equals_per_row(_cfg(tiny_model, prefix_sharing=True, prompt_template="compact"))


def _tiny_gemma3(tiny_model: Path, sliding_window: int):
    """A random tiny Gemma-3 (one sliding-window layer, one global; soft-capped logits) on the fixture's tokenizer."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    tok = load_tokenizer(str(tiny_model))
    config = Gemma3TextConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        layer_types=["sliding_attention", "full_attention"], sliding_window=sliding_window,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16,
        final_logit_softcapping=30.0, max_position_embeddings=512, pad_token_id=tok.pad_token_id,
    )  # fmt: skip

    def load():
        torch.manual_seed(0)
        return Gemma3ForCausalLM(config)

    return load


def test_prefix_sharing_on_gemma3_sliding_window(tiny_model):
    """The QC prefix is 75 tokens; a window of 80 keeps it whole while the rows reach past it (up to 120 tokens),
    so the sliding-window layer's mask is exercised on both sides of the window."""
    cfg = _cfg(tiny_model, prefix_sharing=True)
    prefix_len = len(PromptEncoder(load_tokenizer(str(tiny_model))).prefix_ids("QC"))
    assert prefix_len == 75
    _assert_shared_equals_per_row(cfg, _tiny_gemma3(tiny_model, sliding_window=80))

    # A window the prefix does not fit in: no KV cache could replay it, so the batcher sends full prompts.
    t = build_trainable(cfg, _tiny_gemma3(tiny_model, sliding_window=60))
    batch, _ = t.batcher(["QC", "QC"], ["a", "b"], ["c", "d"])
    assert "prefix_ids" not in batch


def test_prefix_sharing_falls_back_on_mixed_tasks_and_is_off_by_default(tiny_model):
    shared = build_trainable(_cfg(tiny_model, prefix_sharing=True))
    mixed, _ = shared.batcher(["QC", "QI"], ["phone case", "phone case"], ["a,b", "Phone case"])
    assert set(mixed) == {"input_ids", "attention_mask"}
    plain = build_trainable(_cfg(tiny_model))
    one_task, _ = plain.batcher(["QC", "QC"], ["phone case", "garden hose"], ["a,b", "c,d"])
    assert set(one_task) == {"input_ids", "attention_mask"}
    with pytest.raises(ValueError, match="gradient_checkpointing"):
        _cfg(tiny_model, prefix_sharing=True, gradient_checkpointing=True)
    with pytest.raises(ValueError, match="causal_lm"):
        _cfg(tiny_model, prefix_sharing=True, family="bi_encoder")


def test_top_layers_puts_adapters_on_the_top_layers_only(tiny_model, tmp_path):
    """2 decoder layers, top_layers=1: every LoRA weight sits in layer 1, the adapter config says so, and layer 0's
    output is not part of the backward graph (the backward pass stops at layer 1)."""
    all_layers = build_trainable(_cfg(tiny_model))
    assert {".layers.0." in n for n, _ in all_layers.named_params} == {True, False}
    t = _trainable(_cfg(tiny_model, lora={"top_layers": 1}))
    names = [n for n, _ in t.named_params]
    assert names and all(".layers.1." in n for n in names)
    assert len(names) == len(all_layers.named_params) // 2

    from ecomrel.lm import causal_lm_of

    layers = causal_lm_of(t.module.model).get_decoder().layers
    needs_grad = {}
    hooks = [
        layer.register_forward_hook(lambda m, a, out, i=i: needs_grad.__setitem__(i, _first(out).requires_grad))
        for i, layer in enumerate(layers)
    ]
    batch, _ = t.batcher(["QC"], ["red running shoes"], ["sports & outdoors,running,shoes"])
    logits, loss, grads = _forward_backward(t, batch, torch.tensor([1]))
    for h in hooks:
        h.remove()
    assert needs_grad == {0: False, 1: True}
    assert len(grads) == len(names)

    t.save_model(tmp_path / "adapter", {n: p.detach() for n, p in t.named_params})
    saved = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert saved["layers_to_transform"] == [1]
    with pytest.raises(ValueError, match="2 decoder layers"):
        build_trainable(_cfg(tiny_model, lora={"top_layers": 3}))


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def test_prompt_lengths_are_the_encoded_lengths(tiny_model):
    rows = [("QC", q, g) for q, g, _ in QC] + [("QI", q, g) for q, g, _ in QI]
    tasks, queries, targets = (list(c) for c in zip(*rows, strict=True))
    for template in ("alpaca", "compact"):
        cfg = _cfg(tiny_model, prompt_template=template)
        encoder = PromptEncoder(load_tokenizer(str(tiny_model)), cfg.max_seq_len, template)
        want = [len(encoder.encode(*r)) for r in rows]
        assert prompt_lengths(cfg, tasks, queries, targets).tolist() == want
        assert max(want) == cfg.max_seq_len  # the long query is cut, and counted as cut
    compact, alpaca = (prompt_lengths(_cfg(tiny_model, prompt_template=t), tasks, queries, targets) for t in
                       ("compact", "alpaca"))  # fmt: skip
    assert (alpaca - compact)[2:].min() >= 45  # the prefix is 52 tokens shorter (row cue 1 token longer)


# --- the schedule: task groups and length bucketing ---------------------------------------------------------


def _epoch(s: Schedule, epoch: int, rank: int) -> list[np.ndarray]:
    m = s.micro_batches_per_epoch
    return [s.indices(epoch * m + k, rank) for k in range(m)]


def _plain_shard(s: Schedule, epoch: int, rank: int) -> np.ndarray:
    plain = Schedule(s.n_rows, s.world_size, s.micro_batch_size, 1, 1.0, None, s.seed)
    return np.concatenate(_epoch(plain, epoch, rank))


def test_schedule_groups_and_buckets_keep_each_epochs_rows():
    n, world, b = 203, 2, 8
    rng = np.random.default_rng(3)
    groups = (rng.random(n) < 0.3).astype(int)  # ~30% of one task, ~70% of the other
    lengths = rng.integers(20, 120, size=n)
    kw = dict(n_rows=n, world_size=world, micro_batch_size=b, grad_accum_steps=2, epochs=2.0, max_steps=None, seed=5)
    for options in ({"groups": groups}, {"lengths": lengths}, {"groups": groups, "lengths": lengths}):
        s = Schedule(**kw, **options, bucket_window=4)
        assert s.micro_batches_per_epoch == int(np.ceil(101 / b)) + (1 if "groups" in options else 0)
        for epoch in (0, 1):
            for rank in range(world):
                batches = _epoch(s, epoch, rank)
                assert all(0 < len(x) <= b for x in batches)
                got = np.sort(np.concatenate(batches))
                assert np.array_equal(got, np.sort(_plain_shard(s, epoch, rank))), "not the epoch's rows"
                if "groups" in options:
                    assert all(len(set(groups[x])) == 1 for x in batches), "a micro-batch mixes tasks"
        # A fresh schedule (a restarted worker) gives the same micro-batches, from any position on.
        again = Schedule(**kw, **options, bucket_window=4)
        for m in (17, 3, 0, 30):
            assert np.array_equal(again.indices(m, 1), s.indices(m, 1))
    # Bucketing: padding (sum over micro-batches of longest x rows - real tokens) falls by two thirds.
    pad = {}
    for name, options in (("plain", {}), ("bucketed", {"lengths": lengths})):
        s = Schedule(**kw, **options, bucket_window=4)
        pad[name] = sum(int(lengths[x].max() * len(x) - lengths[x].sum()) for x in _epoch(s, 0, 0))
    assert pad["bucketed"] < 0.4 * pad["plain"], pad  # 1212 vs 3780 tokens


def test_schedule_with_one_group_is_the_plain_schedule():
    """Task grouping on single-task data (the training tests' toy set) changes nothing."""
    plain = Schedule(40, 2, 4, 1, 1.5, None, 7)
    grouped = Schedule(40, 2, 4, 1, 1.5, None, 7, groups=np.zeros(40, dtype=int))
    assert plain.micro_batches_per_epoch == grouped.micro_batches_per_epoch == 5
    assert all(np.array_equal(plain.indices(m, r), grouped.indices(m, r)) for m in range(10) for r in range(2))
    with pytest.raises(TrainDataError, match="micro-batches"):
        Schedule(6, 2, 8, 1, 1.0, None, 0, groups=np.array([0, 1, 2, 3, 4, 5]))


# --- the prompt template: training -> adapter -> calibration -> scoring and serving ----------------------------


def test_compact_template_round_trips_through_calibration_scoring_and_serving(tiny_model, tmp_path):
    from evaluation.calibrate import CalibrateConfig, calibrate_stage
    from serve.backends import BackendSpec, Row, TransformersBackend

    cfg = _cfg(tiny_model, prompt_template="compact")
    t = _trainable(cfg)
    trained = tmp_path / "train"
    t.save_model(trained / "adapter", {n: p.detach() for n, p in t.named_params})
    write_manifest(trained, Manifest(stage="train", config_hash="abc"))
    assert json.loads((trained / "adapter" / PROMPT_FILE).read_text()) == {"template": "compact"}
    assert read_prompt_template(trained / "adapter") == "compact" and read_prompt_template(None) == "alpaca"

    rows = [("QC", q, g, y) for q, g, y in QC] + [("QI", q, g, y) for q, g, y in QI]
    tasks, queries, targets, labels = (list(c) for c in zip(*rows, strict=True))
    t.module.eval()
    with torch.no_grad():
        batch = _per_row_batch(cfg, rows)  # compact prompts, as training encodes them
        logits = t.module(**batch)
    in_training = p_yes(logits[:, 0], logits[:, 1]).numpy()

    scorer = TwoLogitScorer(str(tiny_model), trained / "adapter", max_seq_len=cfg.max_seq_len)
    assert scorer.encoder.template == "compact"
    scored = scorer.score(tasks, queries, targets)
    np.testing.assert_allclose(scored, in_training, atol=1e-5)
    with pytest.raises(ValueError, match="'compact' prompt template"):
        TwoLogitScorer(str(tiny_model), trained / "adapter", prompt_template="alpaca")

    # The model stage records the adapter's template in thresholds.json.
    split, calib, model = tmp_path / "split", tmp_path / "score_calib", tmp_path / "model"
    split.mkdir()
    write_manifest(split, Manifest(stage="split", extra={"calibrated_on": {"QC": "dev_labels", "QI": "dev_labels"}}))
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(len(rows))], "task": tasks, "split": "calib",
                          "language": "en", "query": queries, "target": targets, "label": labels,
                          "source": "original", "parent_id": None, "p_yes": scored})  # fmt: skip
    write_records(frame, calib / "data", extra_columns=True)
    write_manifest(calib, Manifest(stage="score_calib", output_rows=len(rows)))
    calibrate_stage(CalibrateConfig(), "causal_lm", str(tiny_model), cfg.max_seq_len, ["QC", "QI"], "t", calib,
                    split, trained, model)  # fmt: skip
    thresholds = Thresholds.load(model / THRESHOLDS_FILE)
    assert thresholds.prompt_template == "compact"
    assert json.loads((model / THRESHOLDS_FILE).read_text())["prompt_template"] == "compact"

    # The service builds its backend from thresholds.json (as serve.app.build_app does): the same P(yes).
    spec = BackendSpec(family=thresholds.family, base_model=thresholds.base_model, adapter=thresholds.adapter,
                       max_seq_len=thresholds.max_seq_len, prompt_template=thresholds.prompt_template)  # fmt: skip
    served = TransformersBackend(spec).score([Row(*r[:3]) for r in rows])
    np.testing.assert_allclose([s.p_yes for s in served], scored, atol=1e-6)
    assert [s.prompt_tokens for s in served] == [int(n) for n in batch["attention_mask"].sum(1)]


def test_default_template_is_todays_prompt(tiny_model):
    """Models trained before templates existed (no record in the adapter) keep being scored with the Alpaca
    prompt, and a fresh training config still trains with it."""
    assert TrainConfig(base_model="m").prompt_template == "alpaca"
    assert Thresholds(base_model="m", adapter="a", tasks={}, calibrated_on="seed").prompt_template == "alpaca"
    assert TwoLogitScorer(str(tiny_model)).encoder.template == "alpaca"
    # A bare base model (no adapter, nothing recorded) is prompted with the template asked for.
    assert TwoLogitScorer(str(tiny_model), prompt_template="compact").encoder.template == "compact"


# --- bf16 autocast -----------------------------------------------------------------------------------------------


def test_autocast_bf16_runs_the_forward_in_bf16_close_to_fp32(tiny_model):
    t = _trainable(_cfg(tiny_model))
    rows = [("QC", q, g, y) for q, g, y in QC]
    batch = _per_row_batch(_cfg(tiny_model), rows)
    labels = torch.tensor([y for *_, y in rows])
    fp32 = t.module(**batch)
    with train_autocast(_cfg(tiny_model, autocast_bf16=True), torch.device("cpu")):
        bf16 = t.module(**batch)
    assert fp32.dtype == torch.float32 and bf16.dtype == torch.bfloat16
    assert answer_loss(bf16, labels).dtype == torch.float32  # the loss is taken in fp32
    diff = (p_yes(bf16[:, 0], bf16[:, 1]) - p_yes(fp32[:, 0], fp32[:, 1])).abs().max()
    assert 0 < diff < 0.02, f"bf16 P(yes) differs from fp32 by {diff}"
    with train_autocast(_cfg(tiny_model), torch.device("cpu")):
        assert t.module(**batch).dtype == torch.float32  # off: nothing changes
