"""The vLLM classifier setup (ecomrel.vllm_engine) as batch scoring and Serve use it, with one fake engine class in
vLLM's place: what reaches the engine (base model, runtime LoRA, training's answer tokens), that the scoring driver
never loads the model, and that batch and Serve give the transformers scorer's P(yes) on a tokenizer whose answer
tokens are not the bare words."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecomrel.schema import RECORD_SCHEMA
from ecomrel.vllm_engine import classifier_engine_kwargs, classify_udf, merge_engine_kwargs

ROWS = [
    ("QC", "red running shoes", "sports & outdoors,running,shoes"),
    ("QI", "phone case", "Silicone phone case for iPhone 15, shockproof"),
    ("QC", "funda para movil", "home & garden,kitchen,knives"),
    ("QI", "wireless earbuds", "Bluetooth 5.3 wireless earbuds with charging case"),
    ("QC", "garden hose", "home & garden,garden,hoses"),
]


def fake_llm(log: Path) -> type:
    """A class answering ``classify`` like vLLM's from_2_way_softmax classifier with runtime LoRA: it resolves
    ``classifier_from_token`` with ``convert_tokens_to_ids`` (as vLLM's loader does), applies the request's adapter,
    and logs its constructor arguments and every request to ``log`` (JSON lines; it may run in a Ray worker)."""

    class FakeLLM:
        def __init__(self, **kwargs) -> None:
            self.kwargs = kwargs
            self.models: dict = {}
            self._log({"engine": kwargs})

        def _log(self, record: dict) -> None:
            with open(log, "a") as f:
                f.write(json.dumps(record, default=str) + "\n")

        def _model(self, adapter: str | None):
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            if adapter not in self.models:
                lm = AutoModelForCausalLM.from_pretrained(self.kwargs["model"]).eval()
                if adapter is not None:
                    from peft import PeftModel

                    lm = PeftModel.from_pretrained(lm, adapter).merge_and_unload()
                tokens = self.kwargs["hf_overrides"]["classifier_from_token"]
                no, yes = AutoTokenizer.from_pretrained(self.kwargs["model"]).convert_tokens_to_ids(tokens)
                head = lm.get_output_embeddings().weight
                with torch.no_grad():
                    self.models[adapter] = (lm, head[yes] - head[no])
            return self.models[adapter]

        def classify(self, prompts, lora_request=None, use_tqdm=True):
            import torch

            adapter = None if lora_request is None else lora_request.lora_path
            lm, weight = self._model(adapter)
            out = []
            for prompt in prompts:
                ids = list(prompt["prompt_token_ids"])
                self._log({"lora": adapter, "ids": ids})
                with torch.inference_mode():
                    hidden = lm.get_decoder()(input_ids=torch.tensor([ids])).last_hidden_state[0, -1]
                    out.append(SimpleNamespace(outputs=SimpleNamespace(probs=[float(torch.sigmoid(hidden @ weight))])))
            return out

    return FakeLLM


def _records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture(scope="module")
def spaced_model(tmp_path_factory) -> Path:
    """A tiny Qwen3 whose byte-level tokenizer adds a prefix space: "yes" encodes to the entry ``Ġyes``."""
    from conftest import FIXTURE_TEXT

    from ecomrel.tiny import build_tiny_causal_lm

    out = tmp_path_factory.mktemp("spaced") / "model"
    return build_tiny_causal_lm(out, FIXTURE_TEXT * 4, vocab_size=1024, add_prefix_space=True)


@pytest.fixture(scope="module")
def spaced_adapter(spaced_model, tmp_path_factory) -> Path:
    """A random LoRA adapter (B non-zero, so it changes the scores) in the alpaca template."""
    import torch
    from peft import LoraConfig, get_peft_model

    from ecomrel.artifacts import write_prompt_template
    from ecomrel.models import load_causal_lm

    out = tmp_path_factory.mktemp("spaced_adapter") / "adapter"
    torch.manual_seed(3)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)
    get_peft_model(load_causal_lm(str(spaced_model)), lora).save_pretrained(out)
    write_prompt_template(out, "alpaca")
    return out


@pytest.fixture(scope="module")
def reference(spaced_model, spaced_adapter) -> np.ndarray:
    from ecomrel.scorer import TwoLogitScorer

    scorer = TwoLogitScorer(str(spaced_model), adapter=str(spaced_adapter), max_seq_len=128, device="cpu")
    return scorer.score(*zip(*ROWS, strict=True))


def test_engine_kwargs_are_merged_one_way(spaced_model, spaced_adapter):
    kw = classifier_engine_kwargs(
        str(spaced_model),
        str(spaced_adapter),
        max_seq_len=128,
        dtype="bfloat16",
        user={"max_model_len": 512, "hf_overrides": {"use_pad_token": False}, "enforce_eager": True},
    )
    assert kw == {
        "max_model_len": 512,
        "dtype": "bfloat16",
        "enable_prefix_caching": True,
        "hf_overrides": {
            "architectures": ["Qwen3ForSequenceClassification"],
            "classifier_from_token": ["Ġno", "Ġyes"],  # training's answer tokens, not the bare words
            "method": "from_2_way_softmax",
            "use_pad_token": False,
        },
        "enable_lora": True,
        "max_loras": 1,
        "max_lora_rank": 8,  # r=4 rounded up to vLLM's smallest rank
        "enforce_eager": True,
    }
    assert merge_engine_kwargs({"a": 1, "hf_overrides": {"x": 1}}, {"hf_overrides": {"y": 2}}) == {
        "a": 1,
        "hf_overrides": {"x": 1, "y": 2},
    }


def test_batch_scoring_applies_the_adapter_at_run_time_and_never_loads_the_model(
    spaced_model, spaced_adapter, reference, ray_local, tmp_path, monkeypatch
):
    import transformers
    from ray import cloudpickle

    import ecomrel.models
    from pipelines.score import P_YES, ScoreConfig, score_dataset

    def refuse(*args, **kwargs):
        raise AssertionError("the scoring driver loaded a model")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
    monkeypatch.setattr(ecomrel.models, "load_causal_lm", refuse)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray workers cannot import this test module
    src = tmp_path / "in"
    src.mkdir()
    rows = [
        {"id": str(i), "task": t, "split": "dev", "language": "en", "query": q, "target": g, "label": i % 2,
         "source": "original", "parent_id": None}
        for i, (t, q, g) in enumerate(ROWS)
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), src / "part-0.parquet")
    log = tmp_path / "engine.jsonl"
    cfg = ScoreConfig(backend="vllm", rows_per_call=3, max_seq_len=128)

    stats = score_dataset(src, tmp_path / "out", str(spaced_model), str(spaced_adapter), cfg,
                          engine_udf=classify_udf(fake_llm(log)))  # fmt: skip

    assert stats["output_rows"] == len(ROWS)
    records = _records(log)
    engines = [r["engine"] for r in records if "engine" in r]
    assert engines and all(e["model"] == str(spaced_model) for e in engines)  # the base weights, no merged copy
    assert all(e["enable_lora"] and e["max_lora_rank"] == 8 for e in engines)
    assert all(e["runner"] == "pooling" and e["convert"] == "classify" for e in engines)
    requests = [r for r in records if "ids" in r]
    assert len(requests) == len(ROWS) and {r["lora"] for r in requests} == {str(spaced_adapter)}
    assert not list(tmp_path.glob("*merged*"))
    got = {r["id"]: r[P_YES] for r in pq.read_table(tmp_path / "out").to_pylist()}
    np.testing.assert_allclose([got[str(i)] for i in range(len(ROWS))], reference, atol=1e-5, rtol=0)


def test_serve_scores_what_batch_scores(spaced_model, spaced_adapter, reference, tmp_path):
    from serve.backends import BackendSpec, Row, VllmBackend

    log = tmp_path / "engine.jsonl"
    spec = BackendSpec(kind="vllm", base_model=str(spaced_model), adapter=str(spaced_adapter), max_seq_len=128)
    backend = VllmBackend(spec, engine_cls=fake_llm(log))
    got = backend.score([Row(*r) for r in ROWS])
    (engine,) = [r["engine"] for r in _records(log) if "engine" in r]
    assert engine["hf_overrides"]["classifier_from_token"] == ["Ġno", "Ġyes"]
    assert engine["model"] == str(spaced_model) and engine["enable_lora"]
    np.testing.assert_allclose([s.p_yes for s in got], reference, atol=1e-5, rtol=0)


def test_the_bare_words_would_score_another_number(spaced_model, spaced_adapter, reference, tmp_path):
    """The test above can fail: with the bare words as classifier tokens (what Serve hard-coded), P(yes) differs."""
    from serve.backends import BackendSpec, Row, VllmBackend

    spec = BackendSpec(
        kind="vllm",
        base_model=str(spaced_model),
        adapter=str(spaced_adapter),
        max_seq_len=128,
        engine_kwargs={"hf_overrides": {"classifier_from_token": ["no", "yes"]}},
    )
    got = VllmBackend(spec, engine_cls=fake_llm(tmp_path / "log.jsonl")).score([Row(*r) for r in ROWS])
    assert np.max(np.abs(np.array([s.p_yes for s in got]) - reference)) > 1e-3


def test_rays_engine_stage_turns_the_rows_model_into_a_lora_request(monkeypatch):
    """Ray 2.60's vLLMEngineWrapper._maybe_get_lora_request, run for real against a stand-in ``vllm`` module: the row
    ``model`` that batch scoring sets (the adapter directory) becomes a LoRARequest for that path; the base model's
    name does not."""
    import asyncio

    from ray.llm._internal.batch.stages.vllm_engine_stage import vLLMEngineWrapper

    vllm = types.ModuleType("vllm")
    vllm.lora = types.ModuleType("vllm.lora")
    vllm.lora.request = types.ModuleType("vllm.lora.request")
    vllm.lora.request.LoRARequest = lambda **kw: SimpleNamespace(**kw)
    for name, module in {"vllm": vllm, "vllm.lora": vllm.lora, "vllm.lora.request": vllm.lora.request}.items():
        monkeypatch.setitem(sys.modules, name, module)
    wrapper = object.__new__(vLLMEngineWrapper)  # the method needs only these attributes, not a running engine
    wrapper.model, wrapper.dynamic_lora_loading_path = "Qwen/Qwen3-14B-Base", None
    wrapper.lora_lock, wrapper.lora_name_to_request = asyncio.Lock(), {}

    lora = asyncio.run(wrapper._maybe_get_lora_request({"model": "/runs/x/train/adapter"}))
    assert (lora.lora_name, lora.lora_int_id, lora.lora_path) == ("/runs/x/train/adapter", 1, "/runs/x/train/adapter")
    assert asyncio.run(wrapper._maybe_get_lora_request({"model": "Qwen/Qwen3-14B-Base"})) is None
