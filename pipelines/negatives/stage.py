"""The negatives stage: mine every task of a table in memory (:func:`mine_records`), and the stage around it
(:func:`mine_negatives`: read the ingested dataset, embed, mine ranges of queries in parallel Ray tasks, write the
mined rows).

Both run the same miner (:func:`.mining.mine_queries`) over the same per-task contexts, so they produce the same
rows for the same seed; the stage only cuts each task's queries into ranges."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Mapping
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
from .inputs import KeySet, TaskInput, all_task_inputs, stream_task_inputs
from .mining import Tally, TaskContext, mine_queries, task_context
from .report import run_report, task_report
from .rows import MINED_SCHEMA
from .slots import Matched
from .vectors import MiningVectors, embed_for_mining

log = logging.getLogger(__name__)

DATA_DIR = "data"
#: Anchors per mining task at most (a task's queries are cut into at least one range per CPU).
_ANCHORS_PER_RANGE = 50_000
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
    rows: list[dict] = []
    tasks: dict[str, dict] = {}
    for ti in all_task_inputs(records):
        ctx = task_context(ti, neg_cfg, semantic, None if match is None else match.get(ti.task, _NO_MATCH))
        mined, tally = mine_queries(ctx)
        rows.extend(mined)
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
    cpus: int,
    data_context,
) -> tuple:
    """The stage's shared state, built in one Ray task (not the driver): read the dataset (streamed), embed, load
    the matched counts, and build each task's :class:`TaskContext` (faiss included). Returns (a small summary:
    embedding facts, each task's report header and the query ranges to mine it in) followed by each
    :class:`Task`'s context (None when absent); Ray stores the contexts in the object store, where the mining tasks
    read them."""
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
        "ranges": {task: query_ranges(ctx.ti, cpus) for task, ctx in contexts.items() if ctx.mines},
    }
    return (summary, *(contexts.get(t.value) for t in Task))


def query_ranges(ti: TaskInput, cpus: int) -> list[tuple[int, int]]:
    """``ti``'s queries cut into contiguous ranges of about equal anchor counts: at least one per CPU, and none
    above ``_ANCHORS_PER_RANGE`` anchors unless one query has more."""
    anchors = int(ti.anchor_bounds[-1])
    n = min(len(ti.queries), max(cpus, math.ceil(anchors / _ANCHORS_PER_RANGE)))
    cuts = np.searchsorted(ti.anchor_bounds, np.linspace(0, anchors, n + 1)[1:-1], side="left")
    edges = sorted({0, len(ti.queries), *cuts.tolist()})
    return list(zip(edges[:-1], edges[1:], strict=True))


def _mine_range(ctx: TaskContext, start: int, stop: int) -> tuple[pa.Table, Tally]:
    """One mining task: the mined rows of queries [start, stop) of ``ctx``'s task, as a table, and their tally."""
    rows, tally = mine_queries(ctx, start, stop)
    return pa.Table.from_pylist(rows, schema=MINED_SCHEMA), tally


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

    The driver holds no rows and no vectors: one Ray task builds each task's shared state (:func:`_prepare`: the
    anchors grouped by query, positives, unique targets, keys, embeddings, faiss) into the object store; one Ray
    task per range of queries (:func:`query_ranges`) mines it, and the mined tables go from the object store
    straight to Parquet (``write_parquet``). The driver sums one small tally per range."""
    import ray
    from ray.data import DataContext

    _check_arm(neg_cfg, embed_cfg is not None, match_from)
    started = time.perf_counter()
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    # max_calls=1: the worker that held every vector exits when the task ends (its results live in the store).
    prepare = ray.remote(num_cpus=0, num_returns=1 + len(Task), max_calls=1)(_prepare)
    summary_ref, *ctx_refs = prepare.remote(
        Path(train_dir), embed_cfg, neg_cfg, embedder_cls, match_from, cpus, DataContext.get_current()
    )
    summary = _get([summary_ref], also=ctx_refs)[0]
    contexts = {t.value: ref for t, ref in zip(Task, ctx_refs, strict=True) if t.value in summary["tasks"]}
    mine = ray.remote(num_cpus=1, num_returns=2)(_mine_range)
    tables, tally_refs, owners = [], [], []
    for task, ranges in summary["ranges"].items():
        for start, stop in ranges:
            table, tally = mine.remote(contexts[task], start, stop)
            tables.append(table)
            tally_refs.append(tally)
            owners.append(task)
    tallies = {task: Tally() for task in contexts}
    for task, tally in zip(owners, _get(tally_refs, also=tables), strict=True):
        tallies[task].add(tally)
    mined = ray.data.from_arrow_refs(tables) if tables else ray.data.from_arrow(MINED_SCHEMA.empty_table())
    data_dir = write_dataset(mined, Path(out_dir) / DATA_DIR, MINED_SCHEMA)
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


def _get(refs: list, also: list) -> list:
    """``ray.get(refs)``; a task's bad-input error (ValueError: file, row id, field) is raised as itself, not as a
    traceback. ``also`` are the same tasks' other results, fetched on error so that Ray does not log the error
    again as unhandled."""
    import ray

    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as e:
        for ref in also:
            with contextlib.suppress(ray.exceptions.RayTaskError):
                ray.get(ref)
        if isinstance(e.cause, ValueError):
            raise e.cause from None
        raise


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
