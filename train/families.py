"""Each model family as the training strategies see it: one module giving two logits, its trainable parameters,
how rows become a batch, and how the trained part is saved.

- ``causal_lm``: LoRA adapters on a causal LM behind ``AnswerHead``; the adapter is what is trained and saved.
- ``bi_encoder`` / ``cross_encoder``: the encoder of ``ecomrel.encoders`` fine-tuned whole (the word embeddings
  frozen by default), its head at its own learning rate; saved as a model directory with its settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecomrel.artifacts import write_prompt_template
from ecomrel.encoders import EncoderBatcher, EncoderSettings, build_encoder, save_encoder
from ecomrel.lm import PromptEncoder, pad_right, prefix_fits_cache
from ecomrel.models import load_causal_lm, load_tokenizer
from ecomrel.schema import Task
from train.config import TrainConfig

from .model import AnswerHead, add_lora, trainable_parameters

#: rows (tasks, queries, targets) -> (the module's keyword tensors, real tokens in them)
Batcher = Callable[[Sequence[str], Sequence[str], Sequence[str]], tuple[dict[str, torch.Tensor], int]]
#: Builds the base causal LM. The default loads ``cfg.base_model`` with ``from_pretrained``; benchmarks inject
#: ``from_config`` of a real architecture with random weights (no download).
BaseLoader = Callable[[], nn.Module]


@dataclass
class Trainable:
    """What a strategy trains: ``module(**batch) -> [batch, 2]`` logits (no, yes) is what DDP / DeepSpeed wrap."""

    module: nn.Module
    named_params: list[tuple[str, nn.Parameter]]  # trained, in a fixed order (checkpoints match them by name)
    param_groups: list[dict]  # optimizer groups; a group without "lr" uses the configured learning rate
    batcher: Batcher
    save_model: Callable[[Path, dict[str, torch.Tensor]], None]  # the model directory, from gathered weights


def build_trainable(cfg: TrainConfig, load_base: BaseLoader | None = None) -> Trainable:
    torch.manual_seed(cfg.seed)  # the same initialisation on every rank
    if cfg.family == "causal_lm":
        return _causal_lm(cfg, load_base)
    return _encoder(cfg)


def _causal_lm(cfg: TrainConfig, load_base: BaseLoader | None) -> Trainable:
    tokenizer = load_tokenizer(cfg.base_model)
    encoder = PromptEncoder(tokenizer, cfg.max_seq_len, cfg.prompt_template)
    dtype = "bfloat16" if cfg.bf16 else "float32"
    base = load_base() if load_base is not None else load_causal_lm(cfg.base_model, dtype=dtype)
    # Prefix sharing needs a prefix a KV cache can replay (a sliding-window model's prefix must fit its window).
    shareable = {t.value: prefix_fits_cache(base, len(encoder.prefix_ids(t.value))) for t in Task}
    peft_model = add_lora(base, cfg.lora, cfg.gradient_checkpointing)
    named = trainable_parameters(peft_model)

    def batcher(tasks, queries, targets):
        task = tasks[0]
        if cfg.prefix_sharing and shareable.get(task, False) and all(t == task for t in tasks):
            # One task: its prefix once ([1, P]), each row's own part after it (see ecomrel.lm.answer_logits).
            prefix = encoder.prefix_ids(task)
            rows = [encoder.row_ids(task, q, g) for q, g in zip(queries, targets, strict=True)]
            ids, mask = pad_right(rows, tokenizer.pad_token_id)
            batch = {"input_ids": ids, "attention_mask": mask, "prefix_ids": torch.tensor([prefix])}
            return batch, int(mask.sum()) + len(prefix) * len(rows)  # the prompt tokens the rows stand for
        ids, mask = pad_right(encoder.encode_many(tasks, queries, targets), tokenizer.pad_token_id)
        return {"input_ids": ids, "attention_mask": mask}, int(mask.sum())

    def save(directory: Path, weights: dict[str, torch.Tensor]) -> None:
        peft_model.save_pretrained(str(directory), state_dict=weights)
        write_prompt_template(directory, cfg.prompt_template)  # scoring and serving prompt as training did

    head = AnswerHead(peft_model, encoder.tokens)
    return Trainable(head, named, [{"params": [p for _, p in named]}], batcher, save)


def prompt_lengths(
    cfg: TrainConfig, tasks: Sequence[str], queries: Sequence[str], targets: Sequence[str]
) -> np.ndarray:
    """Tokens per row as the family's batcher will see them (for length bucketing): the whole prompt of the causal
    LM; query plus target tokens, each capped at ``encoder.max_len``, for the encoders."""
    tokenizer = load_tokenizer(cfg.base_model)
    if cfg.family == "causal_lm":
        return np.asarray(
            PromptEncoder(tokenizer, cfg.max_seq_len, cfg.prompt_template).lengths(tasks, queries, targets)
        )
    cap = cfg.encoder.max_len
    q = [min(len(ids), cap) for ids in tokenizer(list(queries))["input_ids"]]
    t = [min(len(ids), cap) for ids in tokenizer(list(targets))["input_ids"]]
    return np.asarray(q) + np.asarray(t)


def _encoder(cfg: TrainConfig) -> Trainable:
    enc = cfg.encoder
    tasks = [t.value for t in Task]
    settings = EncoderSettings(
        cfg.family, tasks, enc.query_prefix, enc.passage_prefix, enc.max_len,
        scale=[enc.init_scale] * len(tasks), bias=[enc.init_bias] * len(tasks),
    )  # fmt: skip
    module = build_encoder(cfg.base_model, settings, "bfloat16" if cfg.bf16 else "float32")
    body = module.encoder if cfg.family == "bi_encoder" else module.model
    if cfg.gradient_checkpointing:
        body.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    for name, param in module.named_parameters():
        # The bi-encoder never reads the pooler; frozen word embeddings stay as pretrained.
        unused = cfg.family == "bi_encoder" and ".pooler." in f".{name}"
        param.requires_grad = not (unused or (enc.freeze_embeddings and "word_embeddings" in name))
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    head = [p for n, p in named if _is_head(cfg.family, n)]
    rest = [p for n, p in named if not _is_head(cfg.family, n)]
    tokenizer = load_tokenizer(cfg.base_model)

    def save(directory: Path, weights: dict[str, torch.Tensor]) -> None:
        del weights  # replicated (DDP, ZeRO-2): this rank's module holds the trained weights
        save_encoder(module, settings, tokenizer, directory)

    groups = [{"params": rest}, {"params": head, "lr": enc.head_learning_rate}]
    return Trainable(module, named, groups, EncoderBatcher(tokenizer, settings), save)


def _is_head(family: str, name: str) -> bool:
    """Parameters that start untrained: the bi-encoder's scale and bias; the classifier and pooler on top of a
    sequence classifier (a pooler shipped all-zero is re-initialised)."""
    if family == "bi_encoder":
        return name in ("log_scale", "bias")
    return name.startswith("model.classifier.") or ".pooler." in name
