"""Prompt encoding and the two-logit forward pass, shared by training, batch scoring and serving.

A prompt is encoded as ``tokens(shared prefix, with special tokens) + tokens(row part)``: the prefix of a task is
then the same token sequence in every row, which lets a scorer compute its KV cache once, and training compute it
once per micro-batch. Long rows are cut in the middle of the row part, so the instruction and the response cue
always survive.

The forward pass runs the decoder stack only (no LM head), takes the hidden state at each row's last prompt
token, and multiplies it by the two answer-token rows of the LM head: P(yes) never needs the full vocabulary.

Shared prefix (``prefix_ids`` of ``answer_logits``): the decoder runs over the prefix once (batch 1), its per-layer
keys and values are expanded (views, not copies) to the rows, and the rows' own tokens attend to them as to a KV
cache. Right padding keeps every real token at its unpadded position, so this is the same computation as the full
prompt per row, in training too: with gradients on, the prefix's keys and values carry them back to the LoRA
weights that produced them (the broadcast sums each row's gradient, which is what the per-row forward computes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .prompts import DEFAULT_TEMPLATE, build_prompt, response_cue, shared_prefix
from .scoring import AnswerTokens, answer_rows, answer_tokens, rows_logits

#: Per decoder layer, the (keys, values) of a prompt prefix: [1, kv heads, prefix tokens, head dim] each.
PrefixKV = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class PromptEncoder:
    """Tokenizes (task, query, target) rows into prompt ids, with per-task prefix ids cached."""

    tokenizer: object
    max_seq_len: int = 256
    template: str = DEFAULT_TEMPLATE

    def __post_init__(self) -> None:
        self.tokens: AnswerTokens = answer_tokens(self.tokenizer)
        self._prefix: dict[str, list[int]] = {}
        self._tail = self.tokenizer.encode(response_cue(self.template), add_special_tokens=False)

    def prefix_ids(self, task: str) -> list[int]:
        if task not in self._prefix:
            text = shared_prefix(task, self.template)
            self._prefix[task] = self.tokenizer.encode(text, add_special_tokens=True)
        return self._prefix[task]

    def _row_text(self, task: str, query: str, target: str) -> str:
        return build_prompt(task, query, target, self.template)[len(shared_prefix(task, self.template)) :]

    def _budget(self, task: str) -> int:
        prefix = self.prefix_ids(task)
        budget = self.max_seq_len - len(prefix)
        if budget <= len(self._tail):
            raise ValueError(f"max_seq_len={self.max_seq_len} leaves no room after the {len(prefix)}-token prefix")
        return budget

    def row_ids(self, task: str, query: str, target: str) -> list[int]:
        """Token ids of the row-specific part (after the shared prefix), cut to fit ``max_seq_len``."""
        budget = self._budget(task)
        ids = self.tokenizer.encode(self._row_text(task, query, target), add_special_tokens=False)
        if len(ids) > budget:
            ids = ids[: budget - len(self._tail)] + ids[-len(self._tail) :]
        return ids

    def encode(self, task: str, query: str, target: str) -> list[int]:
        return self.prefix_ids(task) + self.row_ids(task, query, target)

    def encode_many(self, tasks: Sequence[str], queries: Sequence[str], targets: Sequence[str]) -> list[list[int]]:
        return [self.encode(t, q, g) for t, q, g in zip(tasks, queries, targets, strict=True)]

    def lengths(self, tasks: Sequence[str], queries: Sequence[str], targets: Sequence[str]) -> list[int]:
        """``len(encode(...))`` of every row, tokenized in one batched call (fast for a whole training table)."""
        texts = [self._row_text(t, q, g) for t, q, g in zip(tasks, queries, targets, strict=True)]
        if not texts:
            return []
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(self.prefix_ids(t)) + min(len(r), self._budget(t)) for t, r in zip(tasks, ids, strict=True)]


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


def prefix_fits_cache(model, prefix_len: int) -> bool:
    """Whether a ``prefix_len``-token prefix can be replayed from a KV cache. A sliding-window layer keeps only its
    last ``window - 1`` positions, so a longer prefix could not be (none of ours: Gemma-3's window is 512)."""
    config = causal_lm_of(model).config.get_text_config(decoder=True)
    window = getattr(config, "sliding_window", None)
    return window is None or prefix_len < window - 1


def prefix_kv(model, prefix_ids: torch.Tensor) -> PrefixKV:
    """Per-layer keys and values of a prefix (``prefix_ids``: [1, prefix tokens]); they carry gradients when grad
    mode is on."""
    decoder = causal_lm_of(model).get_decoder()
    cache = decoder(input_ids=prefix_ids, attention_mask=torch.ones_like(prefix_ids), use_cache=True).past_key_values
    if cache is None:  # transformers drops the cache under gradient checkpointing
        raise RuntimeError("the decoder returned no KV cache (gradient checkpointing?): cannot share the prefix")
    return [(layer.keys, layer.values) for layer in cache.layers]


def expanded_cache(model, kv: PrefixKV, batch: int):
    """A fresh DynamicCache holding the prefix for ``batch`` rows. ``expand`` makes views, not copies; the forward
    pass appends the rows' keys/values by concatenation, so the prefix tensors are never modified."""
    from transformers import DynamicCache

    data = [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in kv]
    return DynamicCache(ddp_cache_data=data, config=causal_lm_of(model).config)


def answer_logits(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    tokens: AnswerTokens,
    past_key_values=None,
    prefix_ids: torch.Tensor | None = None,
    head_rows: tuple[torch.Tensor, torch.Tensor | None] | None = None,
) -> torch.Tensor:
    """[batch, 2] logits (no, yes) at each row's last real token.

    ``prefix_ids`` ([1, P]): ``input_ids`` / ``attention_mask`` are the rows' parts after a prefix they all share;
    the prefix runs once and the rows attend to its keys and values (see the module docstring).
    ``head_rows``: the (no, yes) rows of the LM head and its bias (``ecomrel.scoring.answer_rows``), when the caller
    took them once; default: read from the model's head on each call."""
    lm = causal_lm_of(model)
    if prefix_ids is not None:
        batch = input_ids.shape[0]
        past_key_values = expanded_cache(model, prefix_kv(model, prefix_ids), batch)
        prefix_mask = attention_mask.new_ones((batch, prefix_ids.shape[1]))
        attention_mask = torch.cat([prefix_mask, attention_mask], dim=1)
    out = lm.get_decoder()(
        input_ids=input_ids, attention_mask=attention_mask, past_key_values=past_key_values, use_cache=False
    )
    hidden = out.last_hidden_state
    # attention_mask may include a cached prefix; the row's last token is at (real tokens in this chunk) - 1.
    chunk_mask = attention_mask[:, -input_ids.shape[1] :]
    last = chunk_mask.sum(dim=1) - 1
    h_last = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    if head_rows is None:
        head = lm.get_output_embeddings()
        head_rows = answer_rows(head.weight, tokens, getattr(head, "bias", None))
    softcap = getattr(lm.config, "final_logit_softcapping", None)
    return rows_logits(h_last, *head_rows, softcap)
