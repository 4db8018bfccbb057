"""The negatives stage: mine every task of a table in memory (:func:`mine_records`), and the stage around it
(:func:`mine_negatives`: read the ingested dataset, embed, mine in parallel blocks, write the mined rows).

Both run the same per-query miner (:func:`.mining.mine_query`) over the same per-task contexts, so they produce the
same rows for the same seed; the stage only cuts the queries into blocks."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ecomrel import telemetry
from ecomrel.manifest import Manifest, StageRun, read_manifest, run_stage
from ecomrel.records import read_dataset, write_dataset
from ecomrel.schema import Source, Split, Task

from ..embed import EmbedConfig, Embedder
from .config import NegativesConfig
from .guard import Drops
from .inputs import KeySet, all_task_inputs, anchor_rows, stream_task_inputs
from .mining import Tally, TaskContext, mine_query, task_context
from .report import run_report, task_report
from .rows import MINED_SCHEMA
from .slots import Matched
from .vectors import MiningVectors, embed_for_mining

log = logging.getLogger(__name__)

DATA_DIR = "data"
#: One row per mined query in the stage's block output: its task, its mined rows and its tally (JSON).
_ROWS_TYPE = pa.list_(pa.struct(list(MINED_SCHEMA)))
#: Anchors per shuffle partition of the (task, query) grouping (Ray Data's default is 200 partitions whatever the
#: size, each a task: too many for small runs).
_ANCHORS_PER_PARTITION = 50_000
_NO_MATCH = Matched(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64))


def _check_arm(cfg: NegativesConfig, embeds: bool, match: object | None) -> None:
    if not embeds and not cfg.random_negatives:
        raise ValueError("negatives: semantic mining needs an embed config (recipe key 'embed')")
    if match is not None and not cfg.random_negatives:
        raise ValueError("negatives: only the random arm draws counts matched to another run")


def mine_records(
    records: pd.DataFrame,
    neg_cfg: NegativesConfig,
    vectors: MiningVectors | None,
    match: Mapping[str, Matched] | None = None,
) -> tuple[pa.Table, dict]:
    """Mine negatives for every task of ``records`` (a table of ingested rows, in memory; anchors are its positive
    training rows). ``vectors`` is None only for the random arm; ``match`` (random arm only) is task -> the
    per-anchor counts to draw (see :func:`matched_counts`). Returns the mined rows (MINED_SCHEMA) and the report."""
    _check_arm(neg_cfg, vectors is not None, match)
    semantic = None if neg_cfg.random_negatives else vectors
    anchors = anchor_rows(records)
    rows: list[dict] = []
    tasks: dict[str, dict] = {}
    for ti in all_task_inputs(records):
        ctx = task_context(ti, neg_cfg, semantic, None if match is None else match.get(ti.task, _NO_MATCH))
        tally = Tally()
        for query, group in anchors[anchors["task"] == ti.task].groupby("query", sort=True):
            mined, t = mine_query(ctx, str(query), group["id"].tolist(), group["language"].tolist())
            rows.extend(mined)
            tally.add(t)
        tasks[ti.task] = task_report(ctx.summary(), tally)
    report = run_report(tasks, semantic.facts if semantic is not None else None)
    return pa.Table.from_pylist(rows, schema=MINED_SCHEMA), report


def matched_counts(semantic_dir: Path) -> dict[str, Matched]:
    """task -> the negatives that semantic mining produced per anchor, from a semantic run's output (streamed):
    the random arm draws exactly these, so "retrieval vs random" compares the same number of negatives per
    anchor."""
    ds = read_dataset(Path(semantic_dir) / DATA_DIR, columns=["id", "task", "source", "parent_id"])
    bad = ds.map_batches(_not_semantic, batch_format="pandas").take(1)
    if bad:
        raise ValueError(
            f"{Path(semantic_dir) / DATA_DIR}: row id {bad[0]['id']!r} has source {bad[0]['source']!r}; a random "
            "arm can only match the counts of a semantic run (hard/easy negatives)"
        )
    keys: dict[str, list[np.ndarray]] = {}
    for batch in ds.iter_batches(batch_format="pandas", batch_size=None):
        for task, part in batch.groupby("task"):
            ids = part["parent_id"].tolist()
            keys.setdefault(str(task), []).append(KeySet.hash([Split.TRAIN.value] * len(ids), ids))
    out = {}
    for task, parts in keys.items():
        uniq, counts = np.unique(np.concatenate(parts), return_counts=True)
        out[task] = Matched(uniq, counts.astype(np.int64))
    return out


def _not_semantic(batch: pd.DataFrame) -> pd.DataFrame:
    semantic = {Source.HARD_NEGATIVE.value, Source.EASY_NEGATIVE.value}
    return batch.loc[~batch["source"].isin(semantic), ["id", "source"]]


def _prepare(
    train_dir: Path,
    embed_cfg: EmbedConfig | None,
    neg_cfg: NegativesConfig,
    embedder_cls: type[Embedder],
    match_from: Path | None,
    data_context,
) -> tuple:
    """The stage's shared state, built in one Ray task (not the driver): read the dataset (streamed), embed, load
    the matched counts, and build each task's :class:`TaskContext` (faiss included). Returns (a small summary:
    embedding facts and each task's report header) followed by each :class:`Task`'s context (None when absent);
    Ray stores the contexts in the object store, where the mining blocks read them."""
    from ray.data import DataContext

    DataContext._set_current(data_context)
    inputs = stream_task_inputs(train_dir)
    vectors = None if neg_cfg.random_negatives else embed_for_mining(inputs, embed_cfg, embedder_cls)
    matched = matched_counts(match_from) if match_from is not None else None
    contexts = {
        ti.task: task_context(ti, neg_cfg, vectors, None if matched is None else matched.get(ti.task, _NO_MATCH))
        for ti in inputs
    }
    summary = {
        "embedding": None if vectors is None else vectors.facts,
        "tasks": {task: ctx.summary() for task, ctx in contexts.items()},
    }
    return (summary, *(contexts.get(t.value) for t in Task))


class _QueryMiner:
    """Ray Data ``map_groups`` callable: one (task, query) group of anchor rows in, one row out (the task, the
    query's mined rows, its tally as JSON). The task contexts are fetched once per actor."""

    def __init__(self, contexts: dict) -> None:
        import ray

        self.contexts: dict[str, TaskContext] = {task: ray.get(ref) for task, ref in contexts.items()}

    def __call__(self, group: dict[str, np.ndarray]) -> pa.Table:
        task, query = str(group["task"][0]), str(group["query"][0])
        rows, tally = mine_query(self.contexts[task], query, group["id"].tolist(), group["language"].tolist())
        return pa.table(
            {
                "task": [task],
                "rows": pa.array([rows], type=_ROWS_TYPE),
                "tally": [json.dumps(_tally_dict(tally))],
            }
        )


def _tally_dict(tally: Tally) -> dict:
    return {**asdict(tally), "drops": {k: asdict(d) for k, d in tally.drops.items()}}


def _tally(d: dict) -> Tally:
    return Tally(d["counts"], {k: Drops(**v) for k, v in d["drops"].items()}, d["hard_similarity_sum"])


def _mined_rows(batch: pa.Table) -> pa.Table:
    """The mined rows of a block of :class:`_QueryMiner` output."""
    return pa.Table.from_struct_array(batch.column("rows").combine_chunks().flatten())


def _block_tallies(batch: pd.DataFrame) -> pd.DataFrame:
    """A block's tallies summed per task (one row per task)."""
    out = {"task": [], "tally": []}
    for task, part in batch.groupby("task"):
        total = Tally()
        for t in part["tally"]:
            total.add(_tally(json.loads(t)))
        out["task"].append(task)
        out["tally"].append(json.dumps(_tally_dict(total)))
    return pd.DataFrame(out)


def mine_negatives(
    train_dir: Path,
    out_dir: Path,
    embed_cfg: EmbedConfig | None,
    neg_cfg: NegativesConfig,
    embedder_cls: type[Embedder] = Embedder,
    match_from: Path | None = None,
) -> dict:
    """Mine label-0 pairs for the training rows of the ingested dataset in ``train_dir`` and write them (mined rows
    only, MINED_SCHEMA) to ``out_dir/data/``. Rows of other splits are read to know every labelled positive and
    every existing pair. ``embed_cfg`` may be None only for the random arm; ``match_from`` (random arm only) is a
    semantic run's output folder whose per-anchor counts the random draw matches. Returns the report: counts by
    kind and per task, label balance before/after, guard drops, index facts (recall@k when approximate).

    The driver holds no rows and no vectors: one Ray task builds each task's shared state (:func:`_prepare`:
    positives, unique targets, keys, embeddings, faiss) into the object store; the anchors stream from the
    dataset, grouped by (task, query) with ``map_groups``, are mined on an actor pool, and the mined rows go
    straight to Parquet (``write_parquet``). The driver sums one small tally per block and task."""
    import ray
    from ray.data import DataContext

    _check_arm(neg_cfg, embed_cfg is not None, match_from)
    started = time.perf_counter()
    # max_calls=1: the worker that held every vector exits when the task ends (its results live in the store).
    prepare = ray.remote(num_cpus=0, num_returns=1 + len(Task), max_calls=1)(_prepare)
    summary_ref, *ctx_refs = prepare.remote(
        Path(train_dir), embed_cfg, neg_cfg, embedder_cls, match_from, DataContext.get_current()
    )
    try:
        summary = ray.get(summary_ref)
    except ray.exceptions.RayTaskError as e:
        for ref in ctx_refs:  # the same error; fetched, so that Ray does not log it again as unhandled
            with contextlib.suppress(ray.exceptions.RayTaskError):
                ray.get(ref)
        if isinstance(e.cause, ValueError):  # bad input: its own message (file, row id, field), not a traceback
            raise e.cause from None
        raise
    contexts = {t.value: ref for t, ref in zip(Task, ctx_refs, strict=True) if t.value in summary["tasks"]}
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    anchors = sum(t["anchors"] for t in summary["tasks"].values())
    groups = (
        read_dataset(train_dir, columns=["id", "task", "split", "language", "query", "label"])
        .map_batches(anchor_rows, batch_format="pandas")
        .groupby(["task", "query"], num_partitions=max(cpus, math.ceil(anchors / _ANCHORS_PER_PARTITION)))
        .map_groups(_QueryMiner, fn_constructor_args=(contexts,), batch_format="numpy", concurrency=(1, cpus))
        .materialize()
    )
    data_dir = write_dataset(
        groups.map_batches(_mined_rows, batch_format="pyarrow", batch_size=None), Path(out_dir) / DATA_DIR, MINED_SCHEMA
    )
    tallies = {task: Tally() for task in contexts}
    for row in groups.map_batches(_block_tallies, batch_format="pandas", batch_size=None).take_all():
        tallies[row["task"]].add(_tally(json.loads(row["tally"])))
    tasks = {task: task_report(summary["tasks"][task], tallies[task]) for task in contexts}
    report = run_report(tasks, summary["embedding"])
    report.update(matched_to=None if match_from is None else str(match_from), data_dir=str(data_dir))
    report["wall_s"] = round(time.perf_counter() - started, 3)
    log.info(
        "mined %d negatives %s; shortfall %s",
        report["output_rows"],
        report["counts"],
        {t: r["shortfall_by_kind"] for t, r in report["tasks"].items()},
    )
    return report


def negatives_stage(
    name: str,
    cfg: NegativesConfig,
    embed_cfg: EmbedConfig | None,
    ingested: Path,
    match_from: Path | None,
    out: Path,
    force: bool = False,
) -> StageRun:
    """The ``negatives`` stage (semantic hard + easy negatives) or, as ``random_negatives``, the ablation arm's
    uniform draw: with ``match_from`` (a semantic run's output) as many per anchor as that run has. Each task's
    mined rows are counted by kind in ``ecomrel_negatives_mined_total`` under the run's name (the folder ``out``
    is in)."""

    def body(m: Manifest) -> None:
        report = mine_negatives(ingested, out, embed_cfg, cfg, match_from=match_from)
        m.input_rows = sum(t["anchors"] for t in report["tasks"].values())  # positive training rows (anchors)
        m.output_rows = report["output_rows"]
        m.extra = report
        for task, t in report["tasks"].items():
            mined = {kind.removesuffix("_negative"): n for kind, n in t["counts"].items()}
            telemetry.record_negatives(out.parent.name, task, mined)

    embed = embed_cfg.digest() if embed_cfg is not None and not cfg.random_negatives else ""
    inputs = [ingested] if match_from is None else [ingested, match_from]
    return run_stage(name, out, f"{cfg.digest()}-{embed}", inputs, body, force)


def report_section(out: Path) -> tuple[str, str]:
    """The report's "Mined negatives by kind" section, from the stage's manifest."""
    lines = ["| task | anchors | mined | by kind | positive rate before → after |", "|---|---|---|---|---|"]
    for task, t in read_manifest(out).extra.get("tasks", {}).items():
        before, after = (t["label_balance"][k]["positive_fraction"] for k in ("before", "after"))
        lines.append(f"| {task} | {t['anchors']} | {t['mined']} | {t['counts']} | {before} → {after} |")
    return "Mined negatives by kind", "\n".join(lines)
