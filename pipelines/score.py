"""Batch scoring on Ray Data: a dataset directory in, the same rows plus ``p_yes`` (float64) out.

Two backends behind one function:

- ``transformers`` (the embedded default): an actor pool where each actor loads the family's scorer
  (``ecomrel.scorer.load_scorer``: ``TwoLogitScorer`` for the causal LM, ``EncoderScorer`` for the encoders)
  once and scores many calls; the scorer sorts each call's rows by task and length (little padding) and reuses
  each task's prompt-prefix KV cache. ``sort_by_length`` also sorts the whole dataset first (a shuffle).
- ``vllm`` (cluster GPUs): Ray's own ``ray.data.llm`` processor running vLLM's sequence-classification
  conversion of the causal LM (``ecomrel.vllm_engine``: training's answer tokens, ``from_2_way_softmax``), which
  yields sigmoid(l_yes - l_no) = the same P(yes) from the same prompt token ids. The base weights are loaded by
  the engine replicas and the LoRA adapter applied per request (no merge; Serve does the same).

Both write every input column unchanged plus ``p_yes``, so evaluation, calibration and submission read one shape.
"""

from __future__ import annotations

import functools
import logging
import shutil
import time
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray
from pydantic import Field

from ecomrel.artifacts import THRESHOLDS_FILE, Thresholds, read_prompt_template
from ecomrel.config import ActorPool, VllmBackend
from ecomrel.lm import PromptEncoder
from ecomrel.manifest import Manifest, StageRun, run_stage
from ecomrel.models import load_tokenizer
from ecomrel.prompts import DEFAULT_TEMPLATE
from ecomrel.scorer import load_scorer
from ecomrel.vllm_engine import classifier_engine_kwargs, use_engine_udf

log = logging.getLogger(__name__)


class ScoreConfig(ActorPool, VllmBackend):
    backend: Literal["transformers", "vllm"] = Field(
        "transformers",
        description="transformers: the model family's scorer in actors (CPU or GPU). vllm (causal LM only): "
        "ray.data.llm with vLLM's "
        "sequence-classification conversion of the causal LM (GPU only).",
    )
    batch_size: int = Field(16, ge=1, description="Rows per forward pass (rows are bucketed by length).")
    rows_per_call: int = Field(
        512,
        ge=1,
        description="Rows Ray Data hands a scoring actor per call (vLLM: per engine batch); the transformers "
        "scorer sorts them by task and length into batch_size forward passes (at 512 rows and batch 16, "
        "padding adds ~5% to the row tokens of realistic data; at 256, ~9%).",
    )
    sort_by_length: bool = Field(
        False,
        description="Also sort the whole dataset by (task, text length) before scoring (a Ray Data shuffle), "
        "which removes the remaining padding. Output row order then differs from the input (rows keep ids).",
    )
    prefix_cache: bool = Field(
        True, description="Compute the shared prompt prefix's KV cache once per task and reuse it (transformers)."
    )
    max_seq_len: int = Field(256, ge=16, description="Prompt truncation length (same as training).")


P_YES = "p_yes"
REQUIRED_COLUMNS = ("task", "query", "target")
_LENGTH = "__prompt_chars"  # temporary sort key, never written


def score_dataset(
    in_dir: Path,
    out_dir: Path,
    base_model: str,
    adapter: str | None,
    cfg: ScoreConfig,
    *,
    family: str = "causal_lm",
    engine_udf: type | None = None,
) -> dict:
    """Score every row of the Parquet dataset ``in_dir`` into ``out_dir`` (replaced); return counts and rows/s.

    The vllm backend never loads the model in this process: the engine replicas load the base weights and apply
    ``adapter`` per request. ``engine_udf`` (vllm backend) replaces vLLM for tests
    (``ecomrel.vllm_engine.use_engine_udf``).
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    start = time.perf_counter()
    ds = ray.data.read_parquet(str(in_dir), file_extensions=["parquet"])
    in_schema = ds.schema().base_schema
    missing = [c for c in REQUIRED_COLUMNS if c not in in_schema.names]
    if missing:
        raise ValueError(f"{in_dir}: dataset lacks column(s) {missing}; has {in_schema.names}")
    out_schema = output_schema(in_schema)
    input_rows = ds.count()
    if input_rows == 0:  # e.g. a run without test files: downstream stages still read one (empty) dataset
        _write_empty(out_dir, out_schema)
        return {"backend": cfg.backend, "input_rows": 0, "output_rows": 0, "wall_s": 0.0, "rows_per_s": 0.0}
    if P_YES in in_schema.names:
        log.warning("%s already has a %s column: it is replaced", in_dir, P_YES)
        ds = ds.drop_columns([P_YES])

    # Read everything before the scoring actors claim their CPUs: with actors holding every CPU of a small
    # cluster, a read task still waiting for one would never run (a deadlock seen on 2 cores). One block per
    # actor at least, so every actor gets work.
    blocks = max(cfg.concurrency, -(-input_rows // cfg.rows_per_call))
    ds = ds.repartition(blocks).materialize()
    if cfg.backend == "transformers":
        scored = _score_transformers(ds, family, base_model, adapter, cfg, out_schema)
    elif family != "causal_lm":
        raise ValueError(f"score.backend 'vllm' scores causal LMs; this model is a {family}: use 'transformers'")
    else:
        scored = score_vllm(ds, base_model, None if adapter is None else str(adapter), cfg, out_schema, engine_udf)
    scored.write_parquet(str(out_dir), mode=ray.data.SaveMode.OVERWRITE)

    output_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in out_dir.glob("*.parquet"))
    if output_rows != input_rows:
        raise RuntimeError(f"scoring {in_dir} -> {out_dir}: read {input_rows} rows but wrote {output_rows}")
    wall = time.perf_counter() - start
    return {
        "backend": cfg.backend,
        "input_rows": input_rows,
        "output_rows": output_rows,
        "wall_s": round(wall, 3),
        "rows_per_s": round(output_rows / wall, 3),
    }


def score_stage(
    name: str,
    cfg: ScoreConfig,
    family: str,
    base_model: str,
    rows: Path,
    model_dir: Path,
    out: Path,
    force: bool = False,
) -> StageRun:
    """A scoring stage (``score_calib``, ``score_test``): P(yes) for every row of ``rows`` with the model in
    ``model_dir`` (a trained ``adapter/``, or a packaged model whose ``thresholds.json`` names family, base and
    adapter)."""

    def body(m: Manifest) -> None:
        thresholds = Thresholds.load(model_dir) if (model_dir / THRESHOLDS_FILE).is_file() else None
        fam = thresholds.family if thresholds else family
        base = thresholds.base_model if thresholds else base_model
        adapter = thresholds.adapter if thresholds else str(model_dir / "adapter")
        # score_dataset counts both sides and raises if a row was lost.
        counts = score_dataset(rows / "data", out / "data", base, adapter, cfg, family=fam)
        m.input_rows, m.output_rows = counts["input_rows"], counts["output_rows"]
        m.extra = counts

    return run_stage(name, out, cfg.digest(), [rows, model_dir / "adapter"], body, force)


def _write_empty(out_dir: Path, schema: pa.Schema) -> None:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    pq.write_table(schema.empty_table(), out_dir / "empty.parquet")


def output_schema(in_schema: pa.Schema) -> pa.Schema:
    """The input columns, unchanged, then ``p_yes`` float64."""
    fields = [f for f in in_schema if f.name != P_YES]
    return pa.schema([*fields, pa.field(P_YES, pa.float64(), nullable=False)])


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Exactly ``schema``: drops helper columns and undoes type drift from row-wise stages (int8 label, ...)."""
    return table.select(schema.names).cast(schema)


# --- transformers backend -----------------------------------------------------------------------------------


def _add_length(batch: pa.Table) -> pa.Table:
    length = pc.add(pc.utf8_length(batch["query"]), pc.utf8_length(batch["target"]))
    return batch.append_column(_LENGTH, length)


class _ScoreActor:
    """A Ray Data actor: one scorer per actor (model load, prefix or target caches paid once), many batches."""

    def __init__(self, family: str, base_model: str, adapter: str | None, cfg: ScoreConfig, schema: pa.Schema) -> None:
        self.scorer = load_scorer(
            family,
            base_model,
            adapter,
            max_seq_len=cfg.max_seq_len,
            batch_size=cfg.batch_size,
            dtype=cfg.dtype,
            prefix_cache=cfg.prefix_cache,
        )
        self.schema = schema

    def __call__(self, batch: pa.Table) -> pa.Table:
        p = self.scorer.score(batch["task"].to_pylist(), batch["query"].to_pylist(), batch["target"].to_pylist())
        return _conform(batch.append_column(P_YES, pa.array(p, pa.float64())), self.schema)


def _score_transformers(
    ds: ray.data.Dataset, family: str, base_model: str, adapter: str | None, cfg: ScoreConfig, schema: pa.Schema
) -> ray.data.Dataset:
    if cfg.sort_by_length:
        ds = ds.map_batches(_add_length, batch_format="pyarrow").sort(["task", _LENGTH])
    return ds.map_batches(
        _ScoreActor,
        fn_constructor_kwargs={
            "family": family,
            "base_model": base_model,
            "adapter": adapter,
            "cfg": cfg,
            "schema": schema,
        },
        batch_size=cfg.rows_per_call,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=cfg.concurrency),
        num_cpus=cfg.num_cpus,
        num_gpus=cfg.num_gpus,
        udf_modifying_row_count=False,
    )


# --- vLLM backend (ray.data.llm; vLLM itself is CUDA-only) ---------------------------------------------------


def vllm_processor_config(base_model: str, adapter: str | None, cfg: ScoreConfig):
    """The ``vLLMEngineProcessorConfig``: vLLM's classify runner on the [no, yes] 2-way-softmax conversion of
    ``base_model``, the adapter applied per request (``ecomrel.vllm_engine.classifier_engine_kwargs``).

    Prompts arrive already tokenized by ``PromptEncoder`` (same ids and truncation as training and the
    transformers scorer), so Ray's chat-template, tokenize and detokenize stages are off.
    """
    from ray.data.llm import vLLMEngineProcessorConfig

    engine_kwargs = classifier_engine_kwargs(
        base_model, adapter, max_seq_len=cfg.max_seq_len, dtype=cfg.dtype, user=cfg.vllm_engine_kwargs
    )
    return vLLMEngineProcessorConfig(
        model_source=base_model,
        task_type="classify",
        engine_kwargs=engine_kwargs,
        batch_size=cfg.rows_per_call,
        concurrency=cfg.concurrency,
        chat_template_stage=False,
        tokenize_stage=False,
        detokenize_stage=False,
    )


@functools.lru_cache(maxsize=4)
def _encoder(model_source: str, max_seq_len: int, template: str) -> PromptEncoder:
    """One tokenizer per worker process, not per row."""
    return PromptEncoder(load_tokenizer(model_source), max_seq_len, template)


def _vllm_request(row: dict, *, base_model: str, adapter: str | None, max_seq_len: int, template: str) -> dict:
    """Token ids of the row's prompt; ``model`` = the adapter makes Ray's engine stage send a ``LoRARequest``."""
    ids = _encoder(base_model, max_seq_len, template).encode(row["task"], row["query"], row["target"])
    return {"tokenized_prompt": ids} if adapter is None else {"tokenized_prompt": ids, "model": adapter}


def _vllm_p_yes(row: dict, *, columns: list[str]) -> dict:
    """Keep the input columns; P(yes) is the one probability vLLM's from_2_way_softmax classifier returns."""
    probs = np.asarray(row["embeddings"], dtype=np.float64).ravel()
    if probs.size != 1:
        raise ValueError(
            f"row id={row.get('id')!r}: vLLM returned {probs.size} class probabilities; the from_2_way_softmax "
            "conversion returns exactly one, P(yes)"
        )
    return {**{c: row[c] for c in columns}, P_YES: float(probs[0])}


def score_vllm(
    ds: ray.data.Dataset,
    base_model: str,
    adapter: str | None,
    cfg: ScoreConfig,
    schema: pa.Schema,
    engine_udf: type | None = None,
) -> ray.data.Dataset:
    """Rows -> token ids (the adapter's prompt template) -> vLLM classify with the adapter -> rows + p_yes, through
    Ray's ``ray.data.llm`` processor. ``engine_udf``: see ``ecomrel.vllm_engine.use_engine_udf``."""
    from ray.data.llm import build_processor

    template = read_prompt_template(adapter) if adapter is not None else DEFAULT_TEMPLATE
    columns = [n for n in schema.names if n != P_YES]
    processor = build_processor(
        vllm_processor_config(base_model, adapter, cfg),
        preprocess=functools.partial(
            _vllm_request, base_model=base_model, adapter=adapter, max_seq_len=cfg.max_seq_len, template=template
        ),
        postprocess=functools.partial(_vllm_p_yes, columns=columns),
    )
    if engine_udf is not None:
        use_engine_udf(processor, engine_udf)
    return processor(ds).map_batches(_conform, fn_kwargs={"schema": schema}, batch_format="pyarrow")
