"""The yes/no scoring math.

P(yes) = p_yes / (p_yes + p_no) = softmax over the two answer-token logits = sigmoid(l_yes - l_no).
Only two rows of the LM head are ever multiplied: full-vocabulary logits (Gemma-3: 262k, Qwen3: 151k) at every
position would dominate the cost of both training and scoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .prompts import NO, YES


@dataclass(frozen=True)
class AnswerTokens:
    """Vocabulary ids of the answer tokens; index 0 is "no", index 1 is "yes" (so argmax == label)."""

    no: int
    yes: int

    @property
    def ids(self) -> list[int]:
        return [self.no, self.yes]


def answer_tokens(tokenizer) -> AnswerTokens:
    """The first token of "no" and "yes" as the model would write them after the prompt."""
    ids = {}
    for word in (NO, YES):
        toks = tokenizer.encode(word, add_special_tokens=False)
        if not toks:
            raise ValueError(f"tokenizer encodes {word!r} to no tokens")
        ids[word] = toks[0]
    if ids[NO] == ids[YES]:
        raise ValueError(f"'yes' and 'no' start with the same token id {ids[NO]}: cannot tell answers apart")
    return AnswerTokens(no=ids[NO], yes=ids[YES])


def p_yes(logit_no, logit_yes):
    """Two-way softmax; works on floats, numpy arrays and torch tensors alike."""
    diff = logit_yes - logit_no
    if isinstance(diff, np.ndarray | float | int | np.floating):
        return 1.0 / (1.0 + np.exp(-np.asarray(diff, dtype=np.float64)))
    return diff.float().sigmoid()  # torch


def answer_rows(head_weight, tokens: AnswerTokens, head_bias=None):
    """The (no, yes) rows of the LM head (or tied embedding) weight [vocab, d], and of its bias if any."""
    import torch

    idx = torch.tensor(tokens.ids, device=head_weight.device)
    bias = None if head_bias is None else head_bias.index_select(0, idx)
    return head_weight.index_select(0, idx), bias


def rows_logits(hidden, rows, bias=None, softcap: float | None = None):
    """[batch, 2] answer logits (no, yes) of last-position hidden states [batch, d] and the two head ``rows``
    [2, d]. ``softcap`` mirrors Gemma's final-logit soft-capping, which is elementwise and therefore exact on the
    two rows."""
    import torch

    logits = hidden @ rows.to(hidden.dtype).T
    if bias is not None:
        logits = logits + bias.to(hidden.dtype)
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return logits


def two_logits(hidden, head_weight, tokens: AnswerTokens, head_bias=None, softcap: float | None = None):
    """Answer-token logits from last-position hidden states and the whole LM head weight (see ``rows_logits``)."""
    return rows_logits(hidden, *answer_rows(head_weight, tokens, head_bias), softcap)
