"""The embedding-similarity baseline: cosine(query, target) under the run's untrained ``embed`` model.

The report puts the fine-tuned classifier beside it: a classifier that ranks pairs worse than an off-the-shelf
embedder's cosine has learnt less than nothing. This stage only computes the cosines of the split's calibration
and test rows; the report tunes the baseline's threshold on the calibration rows, as it does the model's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecomrel.manifest import Manifest, StageRun, run_stage
from ecomrel.records import read_records, write_records

from .embed import EmbedConfig, Embedder, embed_queries_and_passages

#: The column of cosine similarities the stage adds to the record columns.
COSINE = "cosine"
#: The split's sets the baseline scores: calibration (to tune its threshold on) and test.
SETS = ("calib", "test")


def cosines(rows: pd.DataFrame, cfg: EmbedConfig, embedder_cls: type[Embedder] = Embedder) -> np.ndarray:
    """cosine(query, target) per row (float64): queries with the query prompt, targets with the passage prompt,
    every unique text embedded once in one actor-pool pass."""
    q, p = embed_queries_and_passages(
        rows["query"].astype(str).tolist(), rows["target"].astype(str).tolist(), cfg, embedder_cls
    )
    if not len(rows):
        return np.zeros(0, dtype=np.float64)
    # The vectors are unit length, so the inner product is the cosine; summed in float64.
    return np.einsum("ij,ij->i", q.astype(np.float64), p.astype(np.float64))


def baseline_stage(
    embed_cfg: EmbedConfig,
    split: Path,
    out: Path,
    force: bool = False,
    *,
    embedder_cls: type[Embedder] = Embedder,
) -> StageRun:
    """The ``baseline`` stage: ``out/{calib,test}/data``, the split's calibration and test rows with the
    ``cosine`` of query and target under the untrained ``embed`` model (the report's embedding baseline).

    Both sets are embedded in one actor-pool pass, so the model loads once per actor. ``embedder_cls`` is the
    injection point for tests.
    """

    def body(m: Manifest) -> None:
        frames = {name: read_records(split / name) for name in SETS}
        both = pd.concat(list(frames.values()), ignore_index=True)
        scores = cosines(both, embed_cfg, embedder_cls)
        start = 0
        for name, df in frames.items():
            df = df.assign(**{COSINE: scores[start : start + len(df)]})
            start += len(df)
            write_records(df, out / name / "data", extra_columns=True)
            m.extra[f"{name}_rows"] = len(df)
        m.input_rows = m.output_rows = len(both)
        m.extra["model"] = embed_cfg.model

    return run_stage("baseline", out, embed_cfg.digest(), [split / name for name in SETS], body, force)
