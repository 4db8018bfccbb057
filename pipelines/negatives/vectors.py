"""What semantic mining embeds, and the embedding pass itself (on a Ray Data actor pool, see :mod:`pipelines.embed`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pipelines.embed import EmbedConfig

from ..embed import Embedder, embed_queries_and_passages
from .inputs import TaskInput


@dataclass
class MiningVectors:
    """Unit vectors of the texts mining needs: anchor queries (query prompt) and targets (passage prompt)."""

    queries: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    facts: dict = field(default_factory=dict)


def mining_texts(inputs: Sequence[TaskInput]) -> tuple[list[str], list[str]]:
    """What semantic mining embeds, each text once across tasks: the queries of positive training rows, and the
    training targets plus every known positive target of those queries (for the guard)."""
    queries = sorted({q for ti in inputs for q in ti.queries})
    passages = sorted(
        {t for ti in inputs for t in ti.corpus} | {p for ti in inputs for q in ti.queries for p in ti.known_positive[q]}
    )
    return queries, passages


def embed_for_mining(
    inputs: Sequence[TaskInput], embed_cfg: EmbedConfig, embedder_cls: type[Embedder] = Embedder
) -> MiningVectors:
    """Embed :func:`mining_texts` in one pass over one Ray Data actor pool."""
    queries, passages = mining_texts(inputs)
    start = time.perf_counter()
    q_arr, p_arr = embed_queries_and_passages(queries, passages, embed_cfg, embedder_cls)
    facts = {
        "queries": len(queries),
        "passages": len(passages),
        "dim": int(p_arr.shape[1]) if passages else 0,
        "seconds": round(time.perf_counter() - start, 3),
    }
    return MiningVectors(dict(zip(queries, q_arr, strict=True)), dict(zip(passages, p_arr, strict=True)), facts)
