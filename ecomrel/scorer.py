"""The relevance scorers: a trained model -> P(yes) per (task, query, target).

``load_scorer(family, ...)`` gives the scorer of any model family: ``TwoLogitScorer`` (below) for the causal LM
(base model + LoRA adapter), ``ecomrel.encoders.EncoderScorer`` for the encoder families. One scorer serves batch
scoring (wrapped in a Ray Data actor by ``pipelines.score``) and the online service
(``serve``), so offline and online scores are the same numbers.

Rows are encoded with the prompt template the adapter was trained with (``ecomrel.artifacts.read_prompt_template``).
Every prompt of a task starts with the same token ids (``PromptEncoder.prefix_ids``): about half of each prompt.
With ``prefix_cache`` on, the decoder runs over that prefix once per task, and each batch feeds only its row ids
on top of the cached keys/values (expanded to the batch, never copied per row). P(yes) is the same as without the
cache (the test suite checks 1e-5) because right padding keeps every real token at its unpadded position.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from .artifacts import read_prompt_template
from .lm import PrefixKV, PromptEncoder, answer_logits, expanded_cache, pad_right, prefix_fits_cache, prefix_kv
from .models import load_causal_lm, load_tokenizer
from .prompts import DEFAULT_TEMPLATE
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
        prefix_cache: bool = True,
        prompt_template: str | None = None,
    ) -> None:
        # An adapter is scored with the template it records (ecomrel.artifacts.PROMPT_FILE): training's prompts,
        # never another; a bare base model with the one asked for.
        template = read_prompt_template(adapter) if adapter is not None else prompt_template or DEFAULT_TEMPLATE
        if prompt_template is not None and prompt_template != template:
            raise ValueError(
                f"adapter {adapter} was trained with the {template!r} prompt template, not {prompt_template!r}"
            )
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        model = load_causal_lm(base_model, dtype=dtype, adapter=adapter).to(device)
        self._setup(model, load_tokenizer(base_model), template, max_seq_len, batch_size, prefix_cache)

    @classmethod
    def from_model(
        cls,
        model,
        tokenizer,
        *,
        max_seq_len: int = 256,
        batch_size: int = 16,
        prefix_cache: bool = True,
        template: str = DEFAULT_TEMPLATE,
    ) -> TwoLogitScorer:
        """A scorer around a model already in memory (on its device), e.g. one built from a config."""
        scorer = cls.__new__(cls)
        scorer._setup(model, tokenizer, template, max_seq_len, batch_size, prefix_cache)
        return scorer

    def _setup(self, model, tokenizer, template: str, max_seq_len: int, batch_size: int, prefix_cache: bool) -> None:
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self.tokenizer = tokenizer
        self.encoder = PromptEncoder(self.tokenizer, max_seq_len, template)
        self.batch_size = batch_size
        self.prefix_cache = prefix_cache
        # task -> per-layer (keys, values) of the shared prefix, batch dimension 1. Computed with the loaded
        # adapter: LoRA on k/v projections changes them, so a scorer never outlives its adapter.
        self._prefix_kv: dict[str, PrefixKV] = {}

    def score(self, tasks: Sequence[str], queries: Sequence[str], targets: Sequence[str]) -> np.ndarray:
        """P(yes) per row. Rows are grouped by task (one shared prefix each), then sorted by length."""
        tasks = list(tasks)
        if not (len(tasks) == len(queries) == len(targets)):
            raise ValueError(f"got {len(tasks)} tasks, {len(queries)} queries and {len(targets)} targets")
        out = np.empty(len(tasks), dtype=np.float64)
        for task in sorted(set(tasks)):
            idx = [i for i, t in enumerate(tasks) if t == task]
            rows = [self.encoder.row_ids(task, queries[i], targets[i]) for i in idx]
            out[idx] = self.score_rows(task, rows)
        return out

    def prompt_tokens(self, tasks: Sequence[str], queries: Sequence[str], targets: Sequence[str]) -> list[int]:
        """Prompt length in tokens per row (the shared prefix included), in one batched tokenizer call."""
        return self.encoder.lengths(tasks, queries, targets)

    def score_rows(self, task: str, rows: Sequence[Sequence[int]]) -> np.ndarray:
        """P(yes) for row-part ids (``PromptEncoder.row_ids``) of one task; uses the prefix cache when on."""
        if not self.prefix_cache or not self._cacheable(task):
            prefix = self.encoder.prefix_ids(task)
            return self.score_ids([prefix + list(r) for r in rows])
        return self._score_batches(rows, self._prefix_kv_of(task))

    def score_ids(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        """P(yes) for already-encoded full prompts (no prefix cache)."""
        return self._score_batches(seqs, None)

    def _score_batches(self, seqs: Sequence[Sequence[int]], kv: PrefixKV | None) -> np.ndarray:
        """Rows sorted by length so each batch pads little; results put back in input order."""
        out = np.empty(len(seqs), dtype=np.float64)
        order = np.argsort([len(s) for s in seqs], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                ids, mask = pad_right([seqs[i] for i in idx], self.tokenizer.pad_token_id)
                ids, mask = ids.to(self.device), mask.to(self.device)
                past = None
                if kv is not None:
                    past = self._expanded_cache(kv, len(idx))
                    prefix_len = kv[0][0].shape[-2]
                    mask = torch.cat([mask.new_ones((len(idx), prefix_len)), mask], dim=1)
                logits = answer_logits(self.model, ids, mask, self.encoder.tokens, past_key_values=past)
                out[idx] = p_yes(logits[:, 0], logits[:, 1]).cpu().numpy()
        return out

    def _cacheable(self, task: str) -> bool:
        """Sliding-window models score without the cache when the prefix is too long to replay
        (``ecomrel.lm.prefix_fits_cache``)."""
        return prefix_fits_cache(self.model, len(self.encoder.prefix_ids(task)))

    @torch.inference_mode()
    def _prefix_kv_of(self, task: str) -> PrefixKV:
        if task not in self._prefix_kv:
            ids = torch.tensor([self.encoder.prefix_ids(task)], dtype=torch.long, device=self.device)
            self._prefix_kv[task] = prefix_kv(self.model, ids)
        return self._prefix_kv[task]

    def _expanded_cache(self, kv: PrefixKV, batch: int):
        return expanded_cache(self.model, kv, batch)


class PairScorer(Protocol):
    """What batch scoring and serving call, whatever the model family."""

    def score(self, tasks: Sequence[str], queries: Sequence[str], targets: Sequence[str]) -> np.ndarray: ...
    def prompt_tokens(self, tasks: Sequence[str], queries: Sequence[str], targets: Sequence[str]) -> list[int]: ...


def load_scorer(
    family: str,
    base_model: str,
    adapter: str | Path | None,
    *,
    max_seq_len: int = 256,
    batch_size: int = 16,
    dtype: str = "float32",
    device: str | None = None,
    prefix_cache: bool = True,
    prompt_template: str | None = None,
) -> PairScorer:
    """The scorer of a trained model of ``family``: the causal LM (base model + LoRA adapter) or a trained encoder
    directory (``adapter``; its own settings say everything else). ``prompt_template`` (causal LM; e.g. from
    ``thresholds.json``) is checked against the one the adapter records; None reads it from the adapter."""
    if family == "causal_lm":
        return TwoLogitScorer(
            base_model, adapter, max_seq_len, batch_size, dtype, device, prefix_cache, prompt_template
        )
    from .encoders import EncoderScorer

    if adapter is None:
        raise ValueError(f"a {family} model is scored from its trained directory; got none")
    return EncoderScorer(adapter, batch_size=batch_size, dtype=dtype, device=device)
