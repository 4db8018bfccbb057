"""The mined rows: their schema, their ids and lineage, and how a query's picks are handed to its anchors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ecomrel.schema import RECORD_SCHEMA, Source, Split

#: Mined rows: the record columns plus where the target sat in the query's retrieval list and its cosine
#: similarity to the query (both null for easy and random negatives).
MINED_SCHEMA = RECORD_SCHEMA.append(pa.field("rank", pa.int32(), nullable=True)).append(
    pa.field("similarity", pa.float32(), nullable=True)
)
#: The kinds of mined negative, in report order, and the suffix each puts on its anchor's id.
ID_SUFFIX = {Source.HARD_NEGATIVE: "hn", Source.EASY_NEGATIVE: "en", Source.RANDOM_NEGATIVE: "rn"}

#: A pick: (target, retrieval rank, similarity); rank and similarity are None for easy and random negatives.
Pick = tuple[str, int | None, float | None]


def assign(rows: list[dict], anchors: list[dict], quota: np.ndarray, picks: list[Pick], source: Source) -> None:
    """Hand a query's picks to its anchor rows (dicts of ANCHOR_COLUMNS) in order, each up to its quota (a
    shortfall hits the last), and append the resulting rows to ``rows``."""
    it = iter(picks)
    for anchor, n in zip(anchors, quota.tolist(), strict=True):
        for k in range(n):
            pick = next(it, None)
            if pick is None:
                return
            rows.append(_row(anchor, source, k, *pick))


def _row(anchor: dict, source: Source, k: int, target: str, rank: int | None, sim: float | None) -> dict:
    return {
        "id": f"{anchor['id']}-{ID_SUFFIX[source]}{k}",
        "task": anchor["task"],
        "split": Split.TRAIN.value,
        "language": anchor["language"],
        "query": anchor["query"],
        "target": target,
        "label": 0,
        "source": source.value,
        "parent_id": anchor["id"],
        "rank": rank,
        "similarity": sim,
    }
