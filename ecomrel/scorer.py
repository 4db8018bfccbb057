"""The two-logit relevance scorer: base model + LoRA adapter -> P(yes) per (task, query, target).

One class serves batch scoring (wrapped in a Ray Data actor by ``pipelines.score``) and the online service
(``serve``), so offline and online scores are the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .lm import PromptEncoder, answer_logits, pad_right
from .models import load_causal_lm, load_tokenizer
from .scoring import p_yes


class TwoLogitScorer:
    """Loads the model once; ``score`` returns P(yes) for each row, in input order."""

    def __init__(
        self,
        base_model: str,
        adapter: str | Path | None = None,
        max_seq_len: int = 256,
        batch_size: int = 16,
        dtype: str = "float32",
        device: str | None = None,
    ) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.tokenizer = load_tokenizer(base_model)
        self.model = load_causal_lm(base_model, dtype=dtype, adapter=adapter).to(self.device).eval()
        self.encoder = PromptEncoder(self.tokenizer, max_seq_len)
        self.batch_size = batch_size

    @torch.inference_mode()
    def score_ids(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        """P(yes) for already-encoded prompts. Rows are sorted by length so each batch pads little."""
        out = np.empty(len(seqs), dtype=np.float64)
        order = np.argsort([len(s) for s in seqs], kind="stable")
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            ids, mask = pad_right([seqs[i] for i in idx], self.tokenizer.pad_token_id)
            logits = answer_logits(self.model, ids.to(self.device), mask.to(self.device), self.encoder.tokens)
            out[idx] = p_yes(logits[:, 0], logits[:, 1]).cpu().numpy()
        return out

    def score(self, tasks: Sequence[str], queries: Sequence[str], targets: Sequence[str]) -> np.ndarray:
        return self.score_ids(self.encoder.encode_many(tasks, queries, targets))
