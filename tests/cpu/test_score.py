"""Batch scoring: Ray Data actor pool == the scorer run directly; prefix KV cache == no cache; the vLLM path
(through Ray's own ray.data.llm Processor, with a fake engine in place of vLLM) returns the same schema and P(yes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecomrel.schema import RECORD_SCHEMA
from ecomrel.scorer import TwoLogitScorer
from pipelines.score import P_YES, ScoreConfig, score_dataset, vllm_processor_config

QUERIES = [
    "red running shoes",
    "zapatos de mujer",
    "ワイヤレスイヤホン",
    "coque iphone 15 pro max silicone transparente antichoc avec cordon",
    "kimchi",
    "tai nghe không dây",
    "sac à dos",
    "bolsa",
]
CATEGORIES = ["clothing,shoes,women", "automobiles, parts & accessories,tires", "electronics,audio,earphones"]
TITLES = ["Women's leather running shoe, size 38", "Wireless earbuds with charging case", "Kimchi 1kg jar"]


def _rows(n: int, split: str = "dev", offset: int = 0) -> list[dict]:
    rng = np.random.default_rng(offset)
    rows = []
    for i in range(n):
        task = "QC" if i % 3 else "QI"
        rows.append(
            {
                "id": str(offset + i),
                "task": task,
                "split": split,
                "language": ["en", "es", "ja", "fr", "ko", "vn"][i % 6],
                "query": QUERIES[i % len(QUERIES)] * (1 + i % 3),
                "target": (CATEGORIES if task == "QC" else TITLES)[int(rng.integers(3))],
                "label": int(rng.integers(2)),
                "source": "original",
                "parent_id": None if i % 2 else f"p{i}",
            }
        )
    return rows


def _write_dataset(path: Path, parts: list[list[dict]]) -> Path:
    path.mkdir(parents=True)
    for k, rows in enumerate(parts):
        pq.write_table(pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), path / f"part-{k}.parquet")
    (path / "manifest.json").write_text("{}")  # stage folders carry one; the reader must skip it
    return path


@pytest.fixture
def model(tiny_model) -> str:
    """The shared tiny Qwen3 (conftest), as the from_pretrained string the pipeline takes."""
    return str(tiny_model)


def _direct(model: str, rows: list[dict], **kw) -> dict[str, float]:
    scorer = TwoLogitScorer(model, max_seq_len=kw.pop("max_seq_len", 256), **kw)
    p = scorer.score([r["task"] for r in rows], [r["query"] for r in rows], [r["target"] for r in rows])
    return {r["id"]: float(x) for r, x in zip(rows, p, strict=True)}


def _read(out: Path) -> pa.Table:
    return pq.read_table(out)


# --- prefix KV cache -----------------------------------------------------------------------------------------


def test_prefix_cache_equals_full_prompt(model):
    rows = _rows(23)
    cached = TwoLogitScorer(model, batch_size=5, prefix_cache=True)
    plain = TwoLogitScorer(model, batch_size=7, prefix_cache=False)
    args = ([r["task"] for r in rows], [r["query"] for r in rows], [r["target"] for r in rows])
    a, b = cached.score(*args), plain.score(*args)
    assert set(cached._prefix_kv) == {"QC", "QI"}  # the cache was really used, once per task
    np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    # Scoring again reuses the cached prefix and must not have grown it (the forward appends by concatenation).
    size = {t: kv[0][0].shape for t, kv in cached._prefix_kv.items()}
    np.testing.assert_allclose(cached.score(*args), a, atol=1e-6, rtol=0)
    assert {t: kv[0][0].shape for t, kv in cached._prefix_kv.items()} == size


def test_prefix_cache_with_truncated_rows(model):
    """Rows cut to max_seq_len keep the instruction and the response cue; cache and no cache still agree."""
    rows = [{**r, "query": r["query"] * 20} for r in _rows(6)]
    a = _direct(model, rows, max_seq_len=110, batch_size=4, prefix_cache=True)
    b = _direct(model, rows, max_seq_len=110, batch_size=4, prefix_cache=False)
    np.testing.assert_allclose(list(a.values()), list(b.values()), atol=1e-5, rtol=0)


def test_score_ids_batch_invariant(model):
    """A row scores the same alone or in any batch (right padding)."""
    rows = _rows(9)
    batched = _direct(model, rows, batch_size=9)
    alone = _direct(model, rows, batch_size=1)
    np.testing.assert_allclose(list(batched.values()), list(alone.values()), atol=1e-6, rtol=0)


@pytest.mark.slow
def test_prefix_cache_on_gemma():
    """Gemma-3 (sliding-window layers, soft-capping config, tied head): the cache must be exact there too."""
    from ecomrel.bundled import materialize_gemma3_270m

    model = str(materialize_gemma3_270m())
    rows = _rows(12)
    a = _direct(model, rows, batch_size=4, prefix_cache=True)
    b = _direct(model, rows, batch_size=4, prefix_cache=False)
    np.testing.assert_allclose(list(a.values()), list(b.values()), atol=1e-5, rtol=0)


# --- Ray Data actor pool ------------------------------------------------------------------------------------


def _check_actor_pool(model: str, tmp_path: Path, sort_by_length: bool) -> None:
    parts = [_rows(14, offset=0), _rows(13, offset=100)]
    src = _write_dataset(tmp_path / "in", parts)
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.parquet").write_bytes(b"left over from a killed run")
    cfg = ScoreConfig(batch_size=4, rows_per_call=8, sort_by_length=sort_by_length, concurrency=1, num_cpus=1)

    stats = score_dataset(src, out, model, None, cfg)

    assert not (out / "stale.parquet").exists()
    assert stats["input_rows"] == stats["output_rows"] == 27 and stats["rows_per_s"] > 0
    table = _read(out)
    assert table.schema.names == RECORD_SCHEMA.names + [P_YES]
    assert table.schema.field(P_YES).type == pa.float64()
    assert table.schema.field("label").type == pa.int8()
    rows = [r for part in parts for r in part]
    got = {r["id"]: r for r in table.to_pylist()}
    assert sorted(got) == sorted(r["id"] for r in rows)
    for r in rows:  # every input column is carried over unchanged
        assert {k: got[r["id"]][k] for k in r} == r
    want = _direct(model, rows, prefix_cache=False)
    np.testing.assert_allclose([got[i][P_YES] for i in want], list(want.values()), atol=1e-6, rtol=0)


def test_score_dataset_matches_direct_scorer(model, ray_local, tmp_path):
    _check_actor_pool(model, tmp_path, sort_by_length=False)


@pytest.mark.slow
def test_score_dataset_sorted_by_length_matches_direct_scorer(model, ray_local, tmp_path):
    """The optional dataset-wide sort (a Ray Data shuffle, ~30 s more here) changes order, never scores."""
    _check_actor_pool(model, tmp_path, sort_by_length=True)


def test_score_dataset_rejects_missing_columns(ray_local, tmp_path, model):
    src = tmp_path / "bad"
    src.mkdir()
    pq.write_table(pa.table({"id": ["1"], "task": ["QC"], "query": ["x"]}), src / "a.parquet")
    with pytest.raises(ValueError, match=r"bad: dataset lacks column\(s\) \['target'\]"):
        score_dataset(src, tmp_path / "out", model, None, ScoreConfig())


def test_score_dataset_empty_input_writes_empty_dataset(ray_local, tmp_path, model):
    src = _write_dataset(tmp_path / "in", [[]])
    stats = score_dataset(src, tmp_path / "out", model, None, ScoreConfig())
    assert stats["input_rows"] == stats["output_rows"] == 0
    table = _read(tmp_path / "out")
    assert table.num_rows == 0 and table.schema.names == RECORD_SCHEMA.names + [P_YES]


# --- vLLM backend (the engine itself: tests/cpu/test_vllm_engine.py) -----------------------------------------


def test_vllm_processor_builds_with_rays_builder(model, ray_local):
    """The production config goes through Ray's real builder: one vLLM stage (ids arrive tokenized), one GPU each,
    the base model as the stage's model."""
    from ray.data.llm import build_processor

    processor = build_processor(vllm_processor_config(model, None, ScoreConfig(backend="vllm", concurrency=2)))
    assert processor.list_stage_names() == ["vLLMEngineStage"]
    stage = processor.get_stage_by_name("vLLMEngineStage")
    assert stage.fn_constructor_kwargs["task_type"] == "classify"
    assert stage.fn_constructor_kwargs["engine_kwargs"]["hf_overrides"]["method"] == "from_2_way_softmax"
    assert stage.map_batches_kwargs["num_gpus"] == 1 and stage.fn_constructor_kwargs["model"] == model


def test_vllm_requests_use_the_adapters_prompt_template(tiny_model):
    """Each row's ids come from the adapter's prompt template; with an adapter the row names it as its ``model``."""
    from ecomrel.lm import PromptEncoder
    from ecomrel.models import load_tokenizer
    from pipelines.score import _vllm_request

    row = {"task": "QC", "query": "red dress", "target": "women,clothing,dresses"}
    tok = load_tokenizer(str(tiny_model))
    for template in ("alpaca", "compact"):
        req = _vllm_request(row, base_model=str(tiny_model), adapter="/a", max_seq_len=128, template=template)
        ids, model = req["tokenized_prompt"], req["model"]
        assert model == "/a"
        assert ids == PromptEncoder(tok, 128, template).encode(row["task"], row["query"], row["target"])
    compact = _vllm_request(row, base_model=str(tiny_model), adapter=None, max_seq_len=128, template="compact")
    assert "model" not in compact
    assert len(compact["tokenized_prompt"]) < len(PromptEncoder(tok, 128).encode("QC", "red dress", row["target"]))
