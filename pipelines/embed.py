"""Sentence embeddings on a Ray Data actor pool.

Every unique text is embedded exactly once: duplicates are folded before the texts enter Ray, and the vectors are
scattered back to input order afterwards (rows carry their index, so Ray Data is free to reorder blocks). Queries
and passages can share one pass over one actor pool (:func:`embed_queries_and_passages`), so a model is loaded once
per actor, not once per kind.

The model is any sentence-transformers name or path. Query and passage prompts come from :class:`EmbedConfig`:
a value that names a prompt in the model's own config (``"query"``) is used as that prompt; any other string is a
literal prefix, which is how Qwen3-Embedding's task instruction (``"Instruct: ...\\nQuery:"``) is expressed; unset
means the model's own non-empty prompt for the kind (see :func:`resolve_prompt`).

Actors reserve ``num_cpus`` / ``num_gpus`` from the config: CPU actors on a laptop, GPU actors on a cluster, same
code. On CPU each actor pins torch to its reserved cores so that actors do not oversubscribe a node.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from ecomrel.config import ActorPool

Kind = Literal["query", "passage"]
KINDS: tuple[Kind, ...] = ("query", "passage")

#: Blocks per actor handed to Ray Data: enough that a slow actor does not hold up the pool's tail, few enough that
#: per-block scheduling overhead stays small next to the model's forward passes.
_BLOCKS_PER_ACTOR = 8


class EmbedConfig(ActorPool):
    model: str = Field(..., description="sentence-transformers name or path (demo: bundled multilingual-e5-small).")
    query_prompt: str | None = Field(
        None, description="Prompt name or literal prefix for queries (e5: 'query: '; Qwen3-Embedding: its instruct)."
    )
    passage_prompt: str | None = Field(None, description="Prompt name or literal prefix for targets.")
    batch_size: int = Field(64, ge=1, description="Sentences per encode call.")
    truncate_dim: int | None = Field(
        None, ge=1, description="Matryoshka truncation of the vectors (Qwen3-Embedding supports it); re-normalised."
    )


#: Prompt names sentence-transformers' ``encode_query`` / ``encode_document`` look for, in its order.
_DEFAULT_PROMPT_NAMES: dict[str, tuple[str, ...]] = {"query": ("query",), "passage": ("document", "passage", "corpus")}


def resolve_prompt(prompts: dict[str, str], value: str | None, kind: Kind) -> dict[str, str]:
    """``encode_*`` keyword arguments for a configured prompt: a prompt *name* if the model defines one by that
    name, else the value as a literal prefix. Unset: the model's first *non-empty* prompt among the names
    sentence-transformers uses for the kind. (sentence-transformers 6 adds an empty "document" prompt that
    ``encode_document`` prefers over "passage", which would silently drop e5's "passage: " prefix.)"""
    if value is None:
        name = next((n for n in _DEFAULT_PROMPT_NAMES[kind] if prompts.get(n)), None)
        return {"prompt_name": name} if name else {}
    if value in prompts:
        return {"prompt_name": value}
    return {"prompt": value}


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-wise unit length in float32 (zero rows stay zero): inner product is then cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)


class Embedder:
    """Ray Data callable class: one sentence-transformers model per actor, loaded once in ``__init__``.

    Batches hold ``idx`` (position among the unique texts), ``kind`` (query|passage) and ``text``; the output
    keeps ``idx`` and adds ``embedding`` (float32, L2-normalised, truncated to ``truncate_dim`` if set).
    """

    def __init__(self, cfg: EmbedConfig) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        from ecomrel.models import DTYPES

        device = "cuda" if cfg.num_gpus > 0 else "cpu"
        if device == "cpu":
            torch.set_num_threads(max(1, int(cfg.num_cpus)))
        self.cfg = cfg
        self.model = SentenceTransformer(
            cfg.model,
            device=device,
            model_kwargs={"dtype": DTYPES[cfg.dtype]},
            truncate_dim=cfg.truncate_dim,
        )
        self._prompt_kwargs = {
            "query": resolve_prompt(self.model.prompts, cfg.query_prompt, "query"),
            "passage": resolve_prompt(self.model.prompts, cfg.passage_prompt, "passage"),
        }

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Embed ``texts`` as ``kind`` with the configured prompt: float32, unit length."""
        encode = self.model.encode_query if kind == "query" else self.model.encode_document
        vectors = encode(
            texts,
            batch_size=self.cfg.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
            **self._prompt_kwargs[kind],
        )
        # Normalise again after any Matryoshka truncation: a truncated unit vector is no longer unit length.
        return l2_normalize(vectors)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        kinds = batch["kind"]
        texts = batch["text"]
        parts: list[np.ndarray] = []
        order: list[np.ndarray] = []
        for kind in KINDS:
            rows = np.flatnonzero(kinds == kind)
            if rows.size:
                parts.append(self.encode([str(t) for t in texts[rows]], kind))
                order.append(rows)
        if not parts:  # an empty block (from_arrow pads with them)
            dim = self.model.get_embedding_dimension()
            return {"idx": batch["idx"], "embedding": np.zeros((0, dim), dtype=np.float32)}
        embeddings = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        embeddings[np.concatenate(order)] = np.concatenate(parts)
        return {"idx": batch["idx"], "embedding": embeddings}


def _run_pool(texts: list[str], kinds: list[Kind], cfg: EmbedConfig, embedder_cls: type[Embedder]) -> np.ndarray:
    """Embed (already unique) ``(kind, text)`` rows on an actor pool; rows come back in input order."""
    import ray

    n = len(texts)
    # Rows enter the pool sorted by kind and length, so each batch pads its texts to a similar length, as one
    # plain ``encode`` call over all texts does (it sorts by length); batches of random lengths pad far more.
    order = sorted(range(n), key=lambda i: (kinds[i], len(texts[i])))
    table = pa.table(
        {
            "idx": pa.array(np.asarray(order, dtype=np.int64)),
            "kind": [kinds[i] for i in order],
            "text": [texts[i] for i in order],
        }
    )
    num_blocks = max(1, min(math.ceil(n / cfg.batch_size), cfg.concurrency * _BLOCKS_PER_ACTOR))
    ds = ray.data.from_arrow(table, override_num_blocks=num_blocks).map_batches(
        embedder_cls,
        fn_constructor_args=(cfg,),
        batch_size=cfg.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=cfg.concurrency),
        num_cpus=cfg.num_cpus,
        num_gpus=cfg.num_gpus,
    )
    out: np.ndarray | None = None
    seen = 0
    for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
        emb = np.asarray(batch["embedding"], dtype=np.float32)
        if out is None:
            out = np.empty((n, emb.shape[1]), dtype=np.float32)
        out[batch["idx"]] = emb
        seen += len(batch["idx"])
    if out is None or seen != n:
        raise RuntimeError(f"embedding pool returned {seen} rows for {n} texts")
    return out


def embed_queries_and_passages(
    queries: list[str],
    passages: list[str],
    cfg: EmbedConfig,
    embedder_cls: type[Embedder] = Embedder,
) -> tuple[np.ndarray, np.ndarray]:
    """Embed queries (query prompt) and passages (passage prompt) in one actor-pool pass.

    Each unique text of each kind is embedded once; the result arrays follow the input lists row for row.
    ``embedder_cls`` is the injection point for tests (a subclass that records what it was asked to embed).
    """
    uniq = {kind: list(dict.fromkeys(texts)) for kind, texts in (("query", queries), ("passage", passages))}
    texts = uniq["query"] + uniq["passage"]
    if not texts:
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)
    kinds: list[Kind] = ["query"] * len(uniq["query"]) + ["passage"] * len(uniq["passage"])
    vectors = _run_pool(texts, kinds, cfg, embedder_cls)
    dim = vectors.shape[1]
    q_vectors, p_vectors = vectors[: len(uniq["query"])], vectors[len(uniq["query"]) :]
    q_pos = {t: i for i, t in enumerate(uniq["query"])}
    p_pos = {t: i for i, t in enumerate(uniq["passage"])}
    q_out = q_vectors[[q_pos[t] for t in queries]] if queries else np.zeros((0, dim), np.float32)
    p_out = p_vectors[[p_pos[t] for t in passages]] if passages else np.zeros((0, dim), np.float32)
    return q_out, p_out
