"""The stage's report: counts by kind, shortfalls, guard drops and label balance, per task and for the run, from
each task's context summary and the sum of its blocks' :class:`~.mining.Tally`."""

from __future__ import annotations

from .mining import HARD, Tally
from .rows import ID_SUFFIX


def task_report(summary: dict, tally: Tally) -> dict:
    """One task's entry (from its context's :meth:`~.mining.TaskContext.summary` and its summed tally): anchors,
    requested / mined / shortfall (in all and by kind), counts by kind, drops by
    kind and rule, label balance of its training rows before and after, then the mining facts."""
    counts = {kind.value: tally.counts.get(kind.value, 0) for kind in ID_SUFFIX}
    requested = summary["requested_by_kind"]
    produced = sum(counts.values())
    facts = dict(summary["facts"])
    if "similarity" in facts:
        n_hard = counts[HARD.value]
        mean = round(tally.hard_similarity_sum / n_hard, 4) if n_hard else None
        facts["similarity"] = {**facts["similarity"], "hard_negative_mean": mean}
    return {
        "anchors": summary["anchors"],
        "requested": sum(requested.values()),
        "mined": produced,
        "shortfall": sum(requested.values()) - produced,
        "requested_by_kind": dict(requested),
        "shortfall_by_kind": {k: v - counts[k] for k, v in requested.items()},
        "counts": _nonzero(counts),
        "drops": {k: d.as_dict() for k, d in tally.drops.items()},
        "label_balance": label_balance(summary["train_labels"], produced),
        **facts,
    }


def run_report(tasks: dict[str, dict], embedding: dict | None) -> dict:
    """The whole run: rows mined, counts by kind, the per-task entries and the embedding facts (None when
    nothing was embedded)."""
    counts: dict[str, int] = {}
    for t in tasks.values():
        for kind, n in t["counts"].items():
            counts[kind] = counts.get(kind, 0) + n
    output = sum(t["mined"] for t in tasks.values())
    order = [kind.value for kind in ID_SUFFIX]
    return {
        "output_rows": output,
        "counts": {k: counts[k] for k in order if counts.get(k)},
        "tasks": tasks,
        "embedding": embedding,
    }


def label_balance(labels: dict[int, int], mined_rows: int) -> dict:
    """Positives and negatives of the training labels (label -> rows) before and after adding ``mined_rows``
    negatives."""
    pos = labels.get(1, 0)
    neg = labels.get(0, 0)
    return {"before": _side(pos, neg), "after": _side(pos, neg + mined_rows)}


def _side(pos: int, neg: int) -> dict:
    return {"positive": pos, "negative": neg, "positive_fraction": round(pos / (pos + neg), 4) if pos + neg else None}


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}
