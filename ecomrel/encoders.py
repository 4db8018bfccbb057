"""Encoder model families: a fine-tuned text encoder (e5, any ``AutoModel``) as a relevance classifier.

Both give the same contract as the causal LM: two logits (no, yes) per (task, query, target) row, P(yes) their
two-way softmax.

- ``bi_encoder``: query and target are embedded separately (mean pooling, L2-normalised; the e5 recipe) and
  logits = (0, s_task * cos(q, t) + b_task), with a learned scale and bias per task. Before any training it is the
  cosine baseline, calibrated; target embeddings depend on the target alone, so a scorer caches them (QC has a few
  thousand category paths).
- ``cross_encoder``: ``AutoModelForSequenceClassification`` with two labels on the pair ("query: q", "passage: t")
  — the first-placed CIKM team's architecture.

A trained model is one directory (the ``adapter/`` of a run): the encoder's weights and tokenizer
(``save_pretrained``) plus ``relevance_encoder.json`` (family, prefixes, lengths, tasks and, for the bi-encoder,
the scale and bias), so scoring and serving load it from the directory alone.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .models import DTYPES
from .scoring import p_yes

EncoderFamily = Literal["bi_encoder", "cross_encoder"]
SETTINGS_FILE = "relevance_encoder.json"


@dataclass
class EncoderSettings:
    """What scoring needs besides the weights; saved beside them."""

    family: EncoderFamily
    tasks: list[str]
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    max_len: int = 64
    scale: list[float] = field(default_factory=list)  # bi-encoder: s per task
    bias: list[float] = field(default_factory=list)  # bi-encoder: b per task

    def save(self, directory: Path) -> None:
        (Path(directory) / SETTINGS_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: Path) -> EncoderSettings:
        path = Path(directory) / SETTINGS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{directory}: not a trained encoder directory (no {SETTINGS_FILE})")
        return cls(**json.loads(path.read_text()))


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L2-normalised mean of the real tokens' hidden states."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return F.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1), dim=-1)


class BiEncoder(nn.Module):
    """``forward(task, q_ids, q_mask, t_ids, t_mask) -> [batch, 2]`` logits (0, s_task * cos + b_task)."""

    def __init__(self, encoder: nn.Module, n_tasks: int, scale: Sequence[float], bias: Sequence[float]) -> None:
        super().__init__()
        self.encoder = encoder
        self.log_scale = nn.Parameter(torch.tensor([math.log(s) for s in scale], dtype=torch.float32))
        self.bias = nn.Parameter(torch.tensor(list(bias), dtype=torch.float32))
        if len(self.bias) != n_tasks or len(self.log_scale) != n_tasks:
            raise ValueError(f"need a scale and a bias per task ({n_tasks}), got {len(scale)} and {len(bias)}")

    def embed(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return mean_pool(self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state, mask)

    def head(self, task: torch.Tensor, cos: torch.Tensor) -> torch.Tensor:
        yes = self.log_scale.exp()[task] * cos.float() + self.bias[task]
        return torch.stack([torch.zeros_like(yes), yes], dim=-1)

    def forward(self, task, q_ids, q_mask, t_ids, t_mask) -> torch.Tensor:
        cos = (self.embed(q_ids, q_mask) * self.embed(t_ids, t_mask)).sum(-1)
        return self.head(task, cos)


class CrossEncoder(nn.Module):
    """``forward(task, input_ids, attention_mask) -> [batch, 2]``: a two-label sequence classifier on the pair."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, task, input_ids, attention_mask) -> torch.Tensor:
        """``task`` is unused (one signature for every family): the pair text carries what the model needs."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


class EncoderBatcher:
    """Rows -> the tensors a family's ``forward`` takes (plus ``task`` indices), and the real token count."""

    def __init__(self, tokenizer, settings: EncoderSettings) -> None:
        self.tokenizer = tokenizer
        self.settings = settings
        self.task_index = {t: i for i, t in enumerate(settings.tasks)}

    def tasks(self, tasks: Sequence[str]) -> torch.Tensor:
        unknown = sorted(set(tasks) - set(self.task_index))
        if unknown:
            raise ValueError(f"task(s) {unknown} unknown to this model (trained on {self.settings.tasks})")
        return torch.tensor([self.task_index[t] for t in tasks], dtype=torch.long)

    def texts(self, texts: Sequence[str], prefix: str) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(
            [prefix + t for t in texts],
            padding=True,
            truncation=True,
            max_length=self.settings.max_len,
            return_tensors="pt",
        )
        return {"ids": enc["input_ids"], "mask": enc["attention_mask"]}

    def __call__(self, tasks: Sequence[str], queries: Sequence[str], targets: Sequence[str]):
        s = self.settings
        if s.family == "bi_encoder":
            q, t = self.texts(queries, s.query_prefix), self.texts(targets, s.passage_prefix)
            batch = {"q_ids": q["ids"], "q_mask": q["mask"], "t_ids": t["ids"], "t_mask": t["mask"]}
            tokens = int(q["mask"].sum() + t["mask"].sum())
        else:
            enc = self.tokenizer(
                [s.query_prefix + q for q in queries],
                [s.passage_prefix + t for t in targets],
                padding=True,
                truncation=True,
                max_length=s.max_len,
                return_tensors="pt",
            )
            batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
            tokens = int(enc["attention_mask"].sum())
        return {"task": self.tasks(tasks), **batch}, tokens


def _reinit_zero_pooler(model: nn.Module) -> None:
    """A sentence-embedding checkpoint may ship an all-zero pooler (the bundled e5-small does): its pooled output is
    then constant and a classifier on top cannot learn. Such a pooler is re-initialised like a fresh one."""
    pooler = getattr(getattr(model, model.base_model_prefix, model), "pooler", None)
    dense = getattr(pooler, "dense", None)
    if dense is not None and not bool(dense.weight.any()):
        std = getattr(model.config, "initializer_range", 0.02)
        with torch.no_grad():
            dense.weight.normal_(0.0, std)
            dense.bias.zero_()


def build_encoder(base_model: str, settings: EncoderSettings, dtype: str = "float32") -> nn.Module:
    """A fresh (untrained-head) model of ``settings.family`` on the pretrained encoder ``base_model``."""
    from transformers import AutoModel, AutoModelForSequenceClassification

    if settings.family == "bi_encoder":
        encoder = AutoModel.from_pretrained(base_model, dtype=DTYPES[dtype])
        return BiEncoder(encoder, len(settings.tasks), settings.scale, settings.bias)
    model = AutoModelForSequenceClassification.from_pretrained(base_model, num_labels=2, dtype=DTYPES[dtype])
    _reinit_zero_pooler(model)
    return CrossEncoder(model)


def save_encoder(module: nn.Module, settings: EncoderSettings, tokenizer, directory: Path) -> None:
    """Write a trained model directory (see the module docstring)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(module, BiEncoder):
        module.encoder.save_pretrained(str(directory))
        settings.scale = module.log_scale.detach().exp().float().tolist()
        settings.bias = module.bias.detach().float().tolist()
    else:
        module.model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    settings.save(directory)


def load_encoder(directory: str | Path, dtype: str = "float32") -> tuple[nn.Module, EncoderSettings]:
    """A trained model directory -> (module in eval mode, its settings)."""
    settings = EncoderSettings.load(Path(directory))
    module = build_encoder(str(directory), settings, dtype)
    return module.eval(), settings


class EncoderScorer:
    """P(yes) of a trained encoder model; the bi-encoder caches target embeddings (``cache_size`` targets, LRU)."""

    def __init__(
        self,
        directory: str | Path,
        batch_size: int = 32,
        dtype: str = "float32",
        device: str | None = None,
        cache_size: int = 100_000,
    ) -> None:
        from transformers import AutoTokenizer

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.module, self.settings = load_encoder(directory, dtype)
        self.module.to(self.device)
        self.batcher = EncoderBatcher(AutoTokenizer.from_pretrained(str(directory)), self.settings)
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._targets: OrderedDict[str, torch.Tensor] = OrderedDict()

    def prompt_tokens(self, tasks: Sequence[str], queries: Sequence[str], targets: Sequence[str]) -> list[int]:
        """Tokens the model reads per row (query + target, or the pair), from one batched tokenization."""
        batch, _ = self.batcher(tasks, queries, targets)
        masks = [batch["q_mask"], batch["t_mask"]] if "q_mask" in batch else [batch["attention_mask"]]
        return sum(m.sum(dim=1) for m in masks).tolist()

    @torch.inference_mode()
    def score(self, tasks: Sequence[str], queries: Sequence[str], targets: Sequence[str]) -> np.ndarray:
        if not (len(tasks) == len(queries) == len(targets)):
            raise ValueError(f"got {len(tasks)} tasks, {len(queries)} queries and {len(targets)} targets")
        out = np.empty(len(tasks), dtype=np.float64)
        order = np.argsort([len(q) + len(t) for q, t in zip(queries, targets, strict=True)], kind="stable")
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            rows = ([tasks[i] for i in idx], [queries[i] for i in idx], [targets[i] for i in idx])
            logits = self._bi_logits(*rows) if isinstance(self.module, BiEncoder) else self._pair_logits(*rows)
            out[idx] = p_yes(logits[:, 0], logits[:, 1]).cpu().numpy()
        return out

    def _pair_logits(self, tasks, queries, targets) -> torch.Tensor:
        batch, _ = self.batcher(tasks, queries, targets)
        return self.module(**{k: v.to(self.device) for k, v in batch.items()}).float()

    def _bi_logits(self, tasks, queries, targets) -> torch.Tensor:
        q = self.batcher.texts(queries, self.settings.query_prefix)
        q_vec = self.module.embed(q["ids"].to(self.device), q["mask"].to(self.device))
        t_vec = torch.stack(self._target_vectors(targets))
        task = self.batcher.tasks(tasks).to(self.device)
        return self.module.head(task, (q_vec * t_vec).sum(-1))

    def _target_vectors(self, targets: Sequence[str]) -> list[torch.Tensor]:
        missing = list(dict.fromkeys(t for t in targets if t not in self._targets))
        if missing:
            t = self.batcher.texts(missing, self.settings.passage_prefix)
            vectors = self.module.embed(t["ids"].to(self.device), t["mask"].to(self.device))
            for text, vec in zip(missing, vectors, strict=True):
                self._targets[text] = vec
        for text in targets:
            self._targets.move_to_end(text)
        vectors = [self._targets[t] for t in targets]
        while len(self._targets) > self.cache_size:
            self._targets.popitem(last=False)
        return vectors
