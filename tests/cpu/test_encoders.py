"""The encoder model families (bi-encoder, cross-encoder) through the same contracts as the causal LM: two logits,
P(yes), Ray Train (DDP and DeepSpeed ZeRO-2), saved directory that reloads with equal scores, the Ray Data scorer,
and the Serve backend."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F

from ecomrel.encoders import BiEncoder, EncoderBatcher, EncoderScorer, EncoderSettings, build_encoder, save_encoder
from ecomrel.manifest import Manifest, write_manifest
from ecomrel.models import load_tokenizer
from ecomrel.schema import RECORD_SCHEMA
from ecomrel.scorer import load_scorer
from ecomrel.tiny import build_tiny_encoder
from train.config import EncoderConfig, TrainConfig
from train.families import build_trainable
from train.trainer import METRICS_FILE, train_model

QUERIES = ["red running shoes", "wireless earbuds", "phone case", "garden hose", "kitchen knife set", "tent"]
TARGETS = {
    q: f"{top},{q}"
    for q, top in zip(QUERIES, ["sports", "electronics", "electronics", "home", "home", "sports"], strict=True)
}


def _rows() -> list[dict]:
    rows = []
    for q in QUERIES:
        for t in TARGETS.values():
            rows.append(
                {"id": f"r{len(rows):03d}", "task": "QC", "split": "train", "language": "en", "query": q,
                 "target": t, "label": int(TARGETS[q] == t), "source": "original", "parent_id": None}
            )  # fmt: skip
            rows.append({**rows[-1], "id": f"r{len(rows):03d}", "task": "QI", "target": f"{t} deluxe"})
    return rows


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory) -> Path:
    texts = [r["query"] for r in _rows()] + [r["target"] for r in _rows()]
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny_enc") / "model", texts)


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("enc_train") / "train"
    d.mkdir()
    pq.write_table(pa.Table.from_pylist(_rows(), schema=RECORD_SCHEMA), d / "part-0.parquet")
    write_manifest(d, Manifest(stage="toy", output_rows=len(_rows())))
    return d


def _settings(family: str) -> EncoderSettings:
    return EncoderSettings(family, ["QC", "QI"], max_len=16, scale=[20.0, 10.0], bias=[-16.0, -5.0])


def test_bi_encoder_logits_are_scaled_cosine_per_task(encoder_dir):
    module = build_encoder(str(encoder_dir), _settings("bi_encoder")).eval()
    batcher = EncoderBatcher(load_tokenizer(str(encoder_dir)), _settings("bi_encoder"))
    batch, tokens = batcher(["QC", "QI"], ["tent", "tent"], ["sports,outdoor,tents", "garden hose"])
    with torch.no_grad():
        logits = module(**batch)
        enc = module.encoder
        q = enc(input_ids=batch["q_ids"], attention_mask=batch["q_mask"]).last_hidden_state
        t = enc(input_ids=batch["t_ids"], attention_mask=batch["t_mask"]).last_hidden_state
    qm, tm = batch["q_mask"].unsqueeze(-1).float(), batch["t_mask"].unsqueeze(-1).float()
    cos = (F.normalize((q * qm).sum(1) / qm.sum(1), dim=-1) * F.normalize((t * tm).sum(1) / tm.sum(1), dim=-1)).sum(-1)
    np.testing.assert_allclose(logits[:, 0].numpy(), 0.0)
    np.testing.assert_allclose(logits[:, 1].numpy(), [20 * cos[0] - 16, 10 * cos[1] - 5], rtol=1e-5, atol=1e-5)
    assert tokens == int(batch["q_mask"].sum() + batch["t_mask"].sum())
    with pytest.raises(ValueError, match=r"task\(s\) \['XX'\] unknown"):
        batcher(["XX"], ["a"], ["b"])


def test_bi_encoder_forward_under_bf16_autocast_stays_close_to_fp32(encoder_dir):
    """configs/demo.yaml trains the bi-encoder with ``train.autocast_bf16``: its matrix products run in bf16, while
    the pooled cosine and the logits stay fp32, within a small distance of the fp32 forward, and gradients reach the
    head."""
    from train.model import answer_loss
    from train.strategy import train_autocast

    cfg = TrainConfig(base_model=str(encoder_dir), family="bi_encoder", autocast_bf16=True)
    module = build_encoder(str(encoder_dir), _settings("bi_encoder"))
    batcher = EncoderBatcher(load_tokenizer(str(encoder_dir)), _settings("bi_encoder"))
    rows = _rows()[:12]
    batch, _ = batcher([r["task"] for r in rows], [r["query"] for r in rows], [r["target"] for r in rows])
    dtypes = []
    hook = module.encoder.encoder.layer[0].attention.self.query.register_forward_hook(
        lambda _m, _i, out: dtypes.append(out.dtype)
    )
    fp32 = module(**batch)
    with train_autocast(cfg, torch.device("cpu")):
        bf16 = module(**batch)
    hook.remove()
    assert dtypes == [torch.float32] * 2 + [torch.bfloat16] * 2 and bf16.dtype == torch.float32  # query, target
    diff = (torch.softmax(bf16, -1)[:, 1] - torch.softmax(fp32, -1)[:, 1]).abs().max()
    assert 0 < diff < 0.05, f"bf16 P(yes) differs from fp32 by {diff}"
    answer_loss(bf16, torch.tensor([r["label"] for r in rows])).backward()
    assert module.log_scale.grad.abs().sum() > 0 and module.bias.grad.abs().sum() > 0


@pytest.mark.parametrize("family", ["bi_encoder", "cross_encoder"])
def test_saved_model_reloads_with_the_same_scores_and_the_bi_encoder_caches_targets(encoder_dir, tmp_path, family):
    module = build_encoder(str(encoder_dir), _settings(family)).eval()
    tokenizer = load_tokenizer(str(encoder_dir))
    rows = (["QC", "QI", "QC"], ["tent", "phone case", "garden hose"], ["sports,outdoor,tents", "a", "b"])
    batch, _ = EncoderBatcher(tokenizer, _settings(family))(*rows)
    with torch.no_grad():
        logits = module(**batch)
    expected = torch.softmax(logits, dim=-1)[:, 1].numpy()
    save_encoder(module, _settings(family), tokenizer, tmp_path / "saved")
    scorer = load_scorer(family, "unused-base", tmp_path / "saved", batch_size=2)
    np.testing.assert_allclose(scorer.score(*rows), expected, atol=1e-6)
    batcher = EncoderBatcher(tokenizer, _settings(family))
    alone = [batcher(*(col[i : i + 1] for col in rows))[1] for i in range(3)]
    assert scorer.prompt_tokens(*rows) == alone and min(alone) > 3  # batched, each row's own (unpadded) count
    if family == "bi_encoder":
        assert json.loads((tmp_path / "saved" / "relevance_encoder.json").read_text())["scale"] == [20.0, 10.0]
        small = EncoderScorer(tmp_path / "saved", cache_size=2)
        np.testing.assert_allclose(small.score(*rows), expected, atol=1e-6)
        assert len(small._targets) == 2  # bounded: the least recently used target was dropped
        np.testing.assert_allclose(small.score(*rows), expected, atol=1e-6)  # cached and recomputed alike


def test_cross_encoder_re_initialises_an_all_zero_pooler(encoder_dir, tmp_path):
    from transformers import BertModel

    zero = BertModel.from_pretrained(str(encoder_dir))
    with torch.no_grad():
        zero.pooler.dense.weight.zero_()
    zero.save_pretrained(tmp_path / "zero")
    load_tokenizer(str(encoder_dir)).save_pretrained(tmp_path / "zero")
    module = build_encoder(str(tmp_path / "zero"), _settings("cross_encoder"))
    assert module.model.bert.pooler.dense.weight.abs().sum() > 0


def test_trainable_freezes_embeddings_and_gives_the_head_its_learning_rate(encoder_dir):
    cfg = TrainConfig(
        base_model=str(encoder_dir), family="bi_encoder", encoder=EncoderConfig(head_learning_rate=0.05, max_len=16)
    )
    t = build_trainable(cfg)
    names = {n for n, _ in t.named_params}
    assert {"log_scale", "bias"} <= names
    assert not any("word_embeddings" in n or ".pooler." in f".{n}" for n in names)
    assert t.param_groups[1]["lr"] == 0.05 and len(t.param_groups[1]["params"]) == 2
    assert isinstance(t.module, BiEncoder)
    assert math.isclose(float(t.module.log_scale.exp()[0]), cfg.encoder.init_scale, rel_tol=1e-6)


def _assert_trained_and_reloads(out: Path, learns: bool = True) -> None:
    """The loss fell (the tiny random cross-encoder cannot learn word overlap from 72 rows: it only has to run;
    its learning is measured on the bundled e5 in docs/learning-curves.md), and the saved directory reloads into
    the in-training model's P(yes)."""
    losses = [json.loads(line)["loss"] for line in (out / METRICS_FILE).read_text().splitlines()]
    assert all(np.isfinite(losses))
    if learns:
        assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), losses
    probe = json.loads((out / "probe.json").read_text())
    family = json.loads((out / "adapter" / "relevance_encoder.json").read_text())["family"]
    scorer = load_scorer(family, "unused-base", out / "adapter")
    np.testing.assert_allclose(scorer.score(probe["task"], probe["query"], probe["target"]), probe["p_yes"], atol=1e-5)


@pytest.mark.parametrize(
    ("family", "strategy", "workers", "steps"), [("bi_encoder", "ddp", 2, 30), ("cross_encoder", "ddp", 1, 20)]
)
def test_encoder_trains_on_ray_train_and_reloads(
    ray_local, encoder_dir, train_dir, tmp_path, family, strategy, workers, steps
):
    cfg = TrainConfig(
        base_model=str(encoder_dir),
        family=family,
        strategy=strategy,
        num_workers=workers,
        micro_batch_size=8,
        max_steps=steps,
        learning_rate=3e-3,
        warmup_ratio=0.1,
        checkpoint_every_steps=15,
        encoder=EncoderConfig(max_len=24, head_learning_rate=3e-2),
    )
    result = train_model(cfg, train_dir, tmp_path / "train")
    assert result.steps == steps and len(result.workers) == workers
    _assert_trained_and_reloads(tmp_path / "train", learns=family == "bi_encoder")


def test_bi_encoder_trains_under_deepspeed_zero2(ray_local, encoder_dir, train_dir, tmp_path):
    from train.config import DeepSpeedConfig

    cfg = TrainConfig(
        base_model=str(encoder_dir), family="bi_encoder", strategy="deepspeed",
        deepspeed=DeepSpeedConfig(zero_stage=2), num_workers=2, micro_batch_size=8, max_steps=30,
        learning_rate=3e-3, checkpoint_every_steps=15, encoder=EncoderConfig(max_len=24, head_learning_rate=3e-2),
    )  # fmt: skip
    train_model(cfg, train_dir, tmp_path / "train")
    _assert_trained_and_reloads(tmp_path / "train")


def test_encoders_refuse_zero3_and_vllm():
    from pydantic import ValidationError

    from cluster.config import config_from_overrides
    from ecomrel.config import ConfigError

    with pytest.raises(ValidationError, match="use DeepSpeed ZeRO-2"):
        TrainConfig(base_model="m", family="bi_encoder", strategy="deepspeed", deepspeed={"zero_stage": 3})
    TrainConfig(base_model="m", family="bi_encoder", strategy="deepspeed")  # zero_stage auto: ZeRO-2 for encoders
    tree = {"name": "t", "train": {"base_model": "m", "family": "cross_encoder"}, "score": {"max_seq_len": 256}}
    with pytest.raises(ConfigError, match="score.backend 'vllm' serves causal LMs"):
        config_from_overrides(tree, ["score.backend=vllm"])


def test_ray_data_scorer_and_serve_backend_give_the_encoder_scorer_numbers(ray_local, encoder_dir, train_dir, tmp_path):
    from pipelines.score import ScoreConfig, score_dataset
    from serve.backends import BackendSpec, Row, make_backend

    model = tmp_path / "model"
    save_encoder(build_encoder(str(encoder_dir), _settings("bi_encoder")), _settings("bi_encoder"),
                 load_tokenizer(str(encoder_dir)), model)  # fmt: skip
    rows = pq.read_table(train_dir / "part-0.parquet").to_pandas()
    (tmp_path / "rows").mkdir()
    pq.write_table(pa.Table.from_pandas(rows, schema=RECORD_SCHEMA), tmp_path / "rows" / "part-0.parquet")
    direct = EncoderScorer(model).score(list(rows["task"]), list(rows["query"]), list(rows["target"]))

    cfg = ScoreConfig()
    counts = score_dataset(tmp_path / "rows", tmp_path / "scored", "unused", str(model), cfg, family="bi_encoder")
    assert counts["input_rows"] == counts["output_rows"] == len(rows)
    scored = pq.read_table(tmp_path / "scored").to_pandas().set_index("id").loc[rows["id"]]
    np.testing.assert_allclose(scored["p_yes"].to_numpy(), direct, atol=1e-6)

    backend = make_backend(BackendSpec(family="bi_encoder", base_model="unused-base", adapter=str(model)))
    served = backend.score([Row(*r) for r in rows[["task", "query", "target"]].head(5).itertuples(index=False)])
    np.testing.assert_allclose([s.p_yes for s in served], direct[:5], atol=1e-6)
    assert all(s.prompt_tokens > 4 for s in served)
    with pytest.raises(ValueError, match="vllm backend serves causal LMs"):
        make_backend(BackendSpec(kind="vllm", family="bi_encoder", base_model="x", adapter=str(model)))
