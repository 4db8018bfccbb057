"""Prompt encoding and the two-logit forward pass, shared by training, batch scoring and serving.

A prompt is encoded as ``tokens(shared prefix, with special tokens) + tokens(row part)``: the prefix of a task is
then the same token sequence in every row, which lets a scorer compute its KV cache once. Long rows are cut in
the middle of the row part, so the instruction and the ``### Response:`` cue always survive.

The forward pass runs the decoder stack only (no LM head), takes the hidden state at each row's last prompt
token, and multiplies it by the two answer-token rows of the LM head: P(yes) never needs the full vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .prompts import build_prompt, shared_prefix
from .scoring import AnswerTokens, answer_tokens, two_logits


@dataclass
class PromptEncoder:
    """Tokenizes (task, query, target) rows into prompt ids, with per-task prefix ids cached."""

    tokenizer: object
    max_seq_len: int = 256

    def __post_init__(self) -> None:
        self.tokens: AnswerTokens = answer_tokens(self.tokenizer)
        self._prefix: dict[str, list[int]] = {}
        self._tail = self.tokenizer.encode("\n\n### Response:\n", add_special_tokens=False)

    def prefix_ids(self, task: str) -> list[int]:
        if task not in self._prefix:
            self._prefix[task] = self.tokenizer.encode(shared_prefix(task), add_special_tokens=True)
        return self._prefix[task]

    def row_ids(self, task: str, query: str, target: str) -> list[int]:
        """Token ids of the row-specific part (after the shared prefix), cut to fit ``max_seq_len``."""
        prefix = self.prefix_ids(task)
        text = build_prompt(task, query, target)[len(shared_prefix(task)) :]
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        budget = self.max_seq_len - len(prefix)
        if budget <= len(self._tail):
            raise ValueError(f"max_seq_len={self.max_seq_len} leaves no room after the {len(prefix)}-token prefix")
        if len(ids) > budget:
            ids = ids[: budget - len(self._tail)] + ids[-len(self._tail) :]
        return ids

    def encode(self, task: str, query: str, target: str) -> list[int]:
        return self.prefix_ids(task) + self.row_ids(task, query, target)

    def encode_many(self, tasks: Sequence[str], queries: Sequence[str], targets: Sequence[str]) -> list[list[int]]:
        return [self.encode(t, q, g) for t, q, g in zip(tasks, queries, targets, strict=True)]


def pad_right(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and attention mask. Right padding keeps every real token at its unpadded position, so a
    row scores the same alone or in any batch."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids, mask


def causal_lm_of(model):
    """The underlying ``*ForCausalLM`` of a plain, peft-wrapped or DeepSpeed/DDP-wrapped model."""
    while hasattr(model, "module"):  # DDP / DeepSpeed engine
        model = model.module
    if hasattr(model, "get_base_model"):  # peft: LoRA layers live inside the base model
        model = model.get_base_model()
    return model


def answer_logits(
    model, input_ids: torch.Tensor, attention_mask: torch.Tensor, tokens: AnswerTokens, past_key_values=None
) -> torch.Tensor:
    """[batch, 2] logits (no, yes) at each row's last real token."""
    lm = causal_lm_of(model)
    out = lm.get_decoder()(
        input_ids=input_ids, attention_mask=attention_mask, past_key_values=past_key_values, use_cache=False
    )
    hidden = out.last_hidden_state
    # attention_mask may include a cached prefix; the row's last token is at (real tokens in this chunk) - 1.
    chunk_mask = attention_mask[:, -input_ids.shape[1] :]
    last = chunk_mask.sum(dim=1) - 1
    h_last = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    head = lm.get_output_embeddings()
    softcap = getattr(lm.config, "final_logit_softcapping", None)
    return two_logits(h_last, head.weight, tokens, getattr(head, "bias", None), softcap)
