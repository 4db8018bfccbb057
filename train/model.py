"""The trainable model: a causal LM with LoRA adapters, seen through its two answer-token logits.

The loss is the answer-token cross-entropy restricted to the answer vocabulary: a two-way softmax over the
("no", "yes") logits at the last prompt position, with the row's label (0 = no, 1 = yes) as the target. It is
exactly the negative log of the P(yes) / P(no) that ``ecomrel.scorer.TwoLogitScorer`` reports, so training
optimizes the number the scorer, the calibration and the service use. Unlike the usual next-token loss it never
forms full-vocabulary logits (151k columns for Qwen3) at any position.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from ecomrel.lm import answer_logits, causal_lm_of
from ecomrel.scoring import AnswerTokens, answer_rows
from train.config import LoraConfig


class AnswerHead(nn.Module):
    """``forward(input_ids, attention_mask) -> [batch, 2]`` answer logits (no, yes) of a (peft) causal LM.

    This is the module DDP or DeepSpeed wraps: both hook into the wrapper's ``forward`` (DDP to schedule its
    gradient all-reduce, ZeRO-3 to gather partitioned parameters), so the answer-logit computation must happen
    inside it rather than on the unwrapped model.

    The LM head is frozen and only two of its rows are used: they are copied once, here, into a non-persistent
    buffer (``answer_rows``). Under ZeRO-3 the head is partitioned, so the copy gathers it once (1.56 GB for
    Qwen3-14B) instead of around every micro-step's forward.
    """

    def __init__(self, model: nn.Module, tokens: AnswerTokens) -> None:
        super().__init__()
        self.model = model
        self.tokens = tokens
        head = causal_lm_of(model).get_output_embeddings()
        bias = getattr(head, "bias", None)
        with _gathered([p for p in (head.weight, bias) if p is not None]):
            rows, bias_rows = answer_rows(head.weight, tokens, bias)
            self.register_buffer("answer_rows", rows.detach().clone(), persistent=False)
            self.register_buffer(
                "answer_bias", None if bias_rows is None else bias_rows.detach().clone(), persistent=False
            )

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, prefix_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``prefix_ids`` ([1, P]): the rows are the parts after a prefix they share (``ecomrel.lm.answer_logits``)."""
        rows = (self.answer_rows, self.answer_bias)
        return answer_logits(self.model, input_ids, attention_mask, self.tokens, prefix_ids=prefix_ids, head_rows=rows)


def _gathered(params: list[nn.Parameter]):
    """The full tensors of ZeRO-3-partitioned ``params`` inside the context (on every rank); else nothing to do."""
    if not any(hasattr(p, "ds_id") for p in params):
        return contextlib.nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters(params, modifier_rank=None)


def answer_loss(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy over (no, yes) with the label as the class index (see the module docstring)."""
    return F.cross_entropy(logits.float(), labels, reduction=reduction)


def add_lora(model: nn.Module, lora: LoraConfig, gradient_checkpointing: bool = False) -> nn.Module:
    """Wrap ``model`` with trainable LoRA adapters; every base weight stays frozen."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import TaskType, get_peft_model

    if gradient_checkpointing:
        # Non-reentrant checkpointing works with frozen inputs (no enable_input_require_grads hack needed).
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    peft_cfg = PeftLoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        layers_to_transform=top_layer_indices(model, lora.top_layers),
        bias="none",
    )
    model.config.use_cache = False
    return get_peft_model(model, peft_cfg)


def top_layer_indices(model: nn.Module, top_layers: int | None) -> list[int] | None:
    """Indices of the last ``top_layers`` decoder layers (peft ``layers_to_transform``); None: every layer."""
    if top_layers is None:
        return None
    n = causal_lm_of(model).config.get_text_config(decoder=True).num_hidden_layers
    if top_layers > n:
        raise ValueError(f"lora.top_layers={top_layers}, but the model has {n} decoder layers")
    return list(range(n - top_layers, n))


def trainable_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float):
    """Linear warm-up over ``warmup_ratio`` of the steps, then cosine decay to zero."""
    from transformers import get_cosine_schedule_with_warmup

    return get_cosine_schedule_with_warmup(optimizer, int(round(warmup_ratio * total_steps)), total_steps)
