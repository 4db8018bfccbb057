"""The stage's report: counts by kind, shortfalls, guard drops and label balance, per task and for the run."""

from __future__ import annotations

from .inputs import TaskInput
from .mining import Mined
from .rows import ID_SUFFIX


def task_report(ti: TaskInput, mined: Mined) -> dict:
    """One task's entry: anchors, requested / mined / shortfall (in all and by kind), counts by kind, drops by
    kind and rule, label balance of its training rows before and after, then the mining facts."""
    counts = _counts(mined.rows)
    requested = sum(mined.requested.values())
    produced = len(mined.rows)
    return {
        "anchors": len(ti.anchors),
        "requested": requested,
        "mined": produced,
        "shortfall": requested - produced,
        "requested_by_kind": mined.requested,
        "shortfall_by_kind": {k: v - counts[k] for k, v in mined.requested.items()},
        "counts": _nonzero(counts),
        "drops": {k: d.as_dict() for k, d in mined.drops.items()},
        "label_balance": label_balance(ti.train_labels, produced),
        **mined.facts,
    }


def run_report(rows: list[dict], tasks: dict[str, dict], embedding: dict | None) -> dict:
    """The whole run: rows mined, counts by kind, the per-task entries and the embedding facts (None when
    nothing was embedded)."""
    return {"output_rows": len(rows), "counts": _nonzero(_counts(rows)), "tasks": tasks, "embedding": embedding}


def label_balance(labels: dict[int, int], mined_rows: int) -> dict:
    """Positives and negatives of the training labels (label -> rows) before and after adding ``mined_rows``
    negatives."""
    pos = labels.get(1, 0)
    neg = labels.get(0, 0)
    return {"before": _side(pos, neg), "after": _side(pos, neg + mined_rows)}


def _side(pos: int, neg: int) -> dict:
    return {"positive": pos, "negative": neg, "positive_fraction": round(pos / (pos + neg), 4) if pos + neg else None}


def _counts(rows: list[dict]) -> dict[str, int]:
    counts = {kind.value: 0 for kind in ID_SUFFIX}
    for r in rows:
        counts[r["source"]] += 1
    return counts


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}
