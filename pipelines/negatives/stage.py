"""The negatives stage: mine every task of a dataset in memory (:func:`mine_records`), and the stage around it
(:func:`mine_negatives`: read the ingested dataset, embed, mine, write the mined rows)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from ecomrel import telemetry
from ecomrel.manifest import Manifest, StageRun, read_manifest, run_stage
from ecomrel.records import read_records, write_dataset
from ecomrel.schema import Source

from ..embed import EmbedConfig, Embedder
from .config import NegativesConfig
from .inputs import TaskInput, stream_task_inputs
from .mining import mine_task
from .report import run_report, task_report
from .rows import MINED_SCHEMA
from .vectors import MiningVectors, embed_for_mining

log = logging.getLogger(__name__)

DATA_DIR = "data"


def mine_records(
    inputs: Sequence[TaskInput],
    neg_cfg: NegativesConfig,
    vectors: MiningVectors | None,
    match: Mapping[str, Mapping[str, int]] | None = None,
) -> tuple[pa.Table, dict]:
    """Mine negatives for every task's input (:func:`all_task_inputs` of a table, or :func:`stream_task_inputs`
    of a dataset; anchors are the positive training rows). ``vectors`` is None
    only for the random arm; ``match`` (random arm only) is task -> anchor id -> how many to draw for that anchor
    (see :func:`matched_counts`). Returns the mined rows (MINED_SCHEMA) and the report."""
    if vectors is None and not neg_cfg.random_negatives:
        raise ValueError("negatives: semantic mining needs embeddings (recipe key 'embed')")
    if match is not None and not neg_cfg.random_negatives:
        raise ValueError("negatives: only the random arm draws counts matched to another run")
    semantic_vectors = None if neg_cfg.random_negatives else vectors
    tasks: dict[str, dict] = {}
    rows: list[dict] = []
    for task_no, ti in enumerate(inputs):
        rng = np.random.default_rng([neg_cfg.seed, task_no])
        mined = mine_task(ti, neg_cfg, rng, semantic_vectors, None if match is None else match.get(ti.task, {}))
        _check_ids(ti, mined.rows)
        tasks[ti.task] = task_report(ti, mined)
        rows.extend(mined.rows)
    report = run_report(rows, tasks, semantic_vectors.facts if semantic_vectors is not None else None)
    return pa.Table.from_pylist(rows, schema=MINED_SCHEMA), report


def _check_ids(ti: TaskInput, rows: list[dict]) -> None:
    """Ids are unique per (task, split), as ingest keeps them (the CIKM files number each task from 0)."""
    clash = ti.row_ids.isin([r["split"] for r in rows], [r["id"] for r in rows])
    if clash.any():
        r = rows[int(np.flatnonzero(clash)[0])]
        raise ValueError(
            f"mined ids collide with existing (task, split, id) keys, e.g. {(r['task'], r['split'], r['id'])!r}"
        )


def matched_counts(semantic_dir: Path) -> dict[str, dict[str, int]]:
    """task -> anchor id -> negatives that semantic mining produced for it, from a semantic run's output: the
    random arm draws exactly these, so "retrieval vs random" compares the same number of negatives per anchor."""
    path = Path(semantic_dir) / DATA_DIR
    mined = read_records(path)
    bad = mined[~mined["source"].isin([Source.HARD_NEGATIVE.value, Source.EASY_NEGATIVE.value])]
    if len(bad):
        raise ValueError(
            f"{path}: row id {bad.iloc[0]['id']!r} has source {bad.iloc[0]['source']!r}; a random arm can only "
            "match the counts of a semantic run (hard/easy negatives)"
        )
    counts = mined.groupby(["task", "parent_id"]).size()
    out: dict[str, dict[str, int]] = {}
    for (task, anchor), n in counts.items():
        out.setdefault(str(task), {})[str(anchor)] = int(n)
    return out


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

    The input streams through Ray Data (:func:`stream_task_inputs`); the driver holds what mining needs of it
    (positives, unique training targets, 8-byte keys of the rest) and the mined rows, written by
    ``write_parquet``."""
    import ray.data

    if embed_cfg is None and not neg_cfg.random_negatives:
        raise ValueError("negatives: semantic mining needs an embed config (recipe key 'embed')")
    started = time.perf_counter()
    inputs = stream_task_inputs(Path(train_dir))
    vectors = None if neg_cfg.random_negatives else embed_for_mining(inputs, embed_cfg, embedder_cls)
    match = matched_counts(match_from) if match_from is not None else None
    table, report = mine_records(inputs, neg_cfg, vectors, match)
    report["matched_to"] = None if match_from is None else str(match_from)
    data_dir = write_dataset(ray.data.from_arrow(table), Path(out_dir) / DATA_DIR, MINED_SCHEMA)
    report.update(data_dir=str(data_dir), wall_s=round(time.perf_counter() - started, 3))
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
