"""The ``negatives`` stage's config (also the ``random_negatives`` ablation arm's)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ecomrel.config import Toggle


class NegativesConfig(Toggle):
    top_k: int = Field(20, ge=1, description="Nearest targets retrieved per query (the paper: 20).")
    range_min: int = Field(
        1, ge=0, description="Hard negatives come from retrieval ranks [range_min, range_max) (0 = nearest)."
    )
    range_max: int = Field(20, ge=1, description="End (exclusive) of the hard-negative rank window; <= top_k.")
    absolute_margin: float | None = Field(
        0.02,
        description="False-negative guard (sentence-transformers' name): drop candidates with similarity > "
        "s_pos - absolute_margin, s_pos = the query's least similar known positive.",
    )
    relative_margin: float | None = Field(
        None,
        description="Guard as a fraction: drop candidates with similarity > s_pos - |s_pos| * relative_margin "
        "(NV-Retriever's TopK-PercPos uses 0.05).",
    )
    sampling_strategy: Literal["top", "random"] = Field(
        "top", description="Hard negatives: the nearest surviving candidates, or a random draw among them."
    )
    negatives_per_positive: float = Field(1.0, gt=0, description="Mined negatives per positive training row.")
    hard_fraction: float = Field(0.7, ge=0, le=1, description="Share of mined negatives that are hard (rest easy).")
    index: Literal["flat", "ivf", "hnsw"] = Field("flat", description="faiss index: exact inner product or ANN.")
    ivf_nlist: int = Field(1024, ge=1, description="IVF lists.")
    ivf_nprobe: int = Field(32, ge=1, description="IVF lists probed per query.")
    hnsw_m: int = Field(32, ge=4, description="HNSW graph degree.")
    hnsw_ef_search: int = Field(128, ge=1, description="HNSW search breadth.")
    hnsw_ef_construction: int = Field(40, ge=1, description="HNSW build breadth (faiss default 40).")
    recall_queries: int = Field(
        1000, ge=1, description="Approximate index: queries sampled to measure recall@top_k against exact search."
    )
    random_negatives: bool = Field(
        False,
        description="Ablation: draw negatives uniformly at random instead; with an `embed` section the recipe first "
        "mines (or reuses) the semantic run and draws exactly as many per anchor as it produced.",
    )
    seed: int = Field(0, description="Sampling seed.")

    @model_validator(mode="after")
    def _rank_window(self) -> NegativesConfig:
        if not self.range_min < self.range_max <= self.top_k:
            raise ValueError(
                f"need range_min < range_max <= top_k, got range_min={self.range_min}, "
                f"range_max={self.range_max}, top_k={self.top_k}"
            )
        return self
