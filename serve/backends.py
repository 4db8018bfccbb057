"""Scoring backends behind one interface: a list of (task, query, target) rows in, P(yes) and prompt length out.

Both backends encode rows with the same code (tokenizer, prompt or prefixes, truncation) that training, calibration
and batch scoring use, so a threshold calibrated offline means the same thing online.

- ``TransformersBackend`` wraps the model family's scorer (``ecomrel.scorer.load_scorer``; CPU or GPU): the exact
  numbers of batch scoring.
- ``VllmBackend`` (GPU) runs vLLM's sequence-classification conversion of the causal LM, set up by
  ``ecomrel.vllm_engine`` exactly as batch scoring sets it up (training's answer tokens; the classifier row is
  ``W[yes] - W[no]`` of the LM head and its sigmoid is the two-way softmax, i.e. the same P(yes)). The LoRA adapter
  is applied per request (``LoRARequest``). The engine class is injectable so the path is testable without vLLM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ecomrel.prompts import DEFAULT_TEMPLATE, PromptTemplate


class Row(NamedTuple):
    task: str
    query: str
    target: str


class Scored(NamedTuple):
    p_yes: float
    prompt_tokens: int


class BackendSpec(BaseModel):
    """Everything a backend needs to load the model; built from ``thresholds.json`` and ``ServeConfig``."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    kind: Literal["transformers", "vllm"] = Field("transformers", description="Which backend to build.")
    family: Literal["causal_lm", "bi_encoder", "cross_encoder"] = Field(
        "causal_lm", description="Model family (thresholds.json); vllm serves causal LMs only."
    )
    base_model: str = Field(..., description="from_pretrained id or path of the base model.")
    adapter: str = Field(..., description="The trained directory: LoRA adapter or fine-tuned encoder.")
    max_seq_len: int = Field(256, ge=16, description="Prompt truncation length the thresholds were calibrated with.")
    prompt_template: PromptTemplate = Field(
        DEFAULT_TEMPLATE, description="causal_lm: the prompt template the adapter was trained with (thresholds.json)."
    )
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="Weights and compute dtype.")
    device: str | None = Field(None, description="torch device for the transformers backend (default: cuda if any).")
    batch_size: int = Field(16, ge=1, description="Rows per forward pass.")
    engine_kwargs: dict[str, Any] = Field(default_factory=dict, description="Extra vLLM engine arguments.")


class Backend(Protocol):
    """What the scorer deployment calls. ``score`` is blocking and is run off the event loop."""

    name: str

    def score(self, rows: Sequence[Row]) -> list[Scored]: ...


BackendFactory = Callable[[BackendSpec], Backend]


class TransformersBackend:
    """The model family's scorer (``ecomrel.scorer.load_scorer``): the exact numbers of batch scoring. The causal LM
    reuses each task's prompt-prefix KV cache; the bi-encoder caches target embeddings."""

    name = "transformers"

    def __init__(self, spec: BackendSpec) -> None:
        from ecomrel.scorer import load_scorer

        self.scorer = load_scorer(
            spec.family,
            spec.base_model,
            spec.adapter,
            max_seq_len=spec.max_seq_len,
            batch_size=spec.batch_size,
            dtype=spec.dtype,
            device=spec.device,
            prompt_template=spec.prompt_template if spec.family == "causal_lm" else None,
        )

    def score(self, rows: Sequence[Row]) -> list[Scored]:
        tasks, queries, targets = (list(col) for col in zip(*rows, strict=True))
        p = self.scorer.score(tasks, queries, targets)
        tokens = self.scorer.prompt_tokens(tasks, queries, targets)
        return [Scored(float(pi), n) for pi, n in zip(p, tokens, strict=True)]


class VllmBackend:
    """vLLM pooling runner on the converted classifier; prompts go in as token ids from our encoder."""

    name = "vllm"

    def __init__(self, spec: BackendSpec, engine_cls: type | None = None) -> None:
        """``engine_cls`` replaces ``vllm.LLM`` (tests); requests then carry ``ecomrel.vllm_engine.LoraRef``."""
        from ecomrel.lm import PromptEncoder
        from ecomrel.models import load_tokenizer
        from ecomrel.vllm_engine import CLASSIFY_RUNNER, LoraRef, classifier_engine_kwargs

        lora_request_cls = LoraRef
        if engine_cls is None:
            from vllm import LLM as engine_cls
            from vllm.lora.request import LoRARequest as lora_request_cls
        self.encoder = PromptEncoder(load_tokenizer(spec.base_model), spec.max_seq_len, spec.prompt_template)
        kwargs = classifier_engine_kwargs(
            spec.base_model, spec.adapter, max_seq_len=spec.max_seq_len, dtype=spec.dtype, user=spec.engine_kwargs
        )
        self.engine = engine_cls(model=spec.base_model, **CLASSIFY_RUNNER, **kwargs)
        self.lora = lora_request_cls("relevance", 1, spec.adapter)

    def score(self, rows: Sequence[Row]) -> list[Scored]:
        seqs = self.encoder.encode_many(*zip(*rows, strict=True))
        prompts = [{"prompt_token_ids": s} for s in seqs]  # a vllm.inputs.TokensPrompt is this TypedDict
        outputs = self.engine.classify(prompts, lora_request=self.lora, use_tqdm=False)
        if len(outputs) != len(seqs):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(seqs)} prompts")
        return [Scored(float(o.outputs.probs[0]), len(s)) for o, s in zip(outputs, seqs, strict=True)]


def make_backend(spec: BackendSpec) -> Backend:
    """The backend ``spec.kind`` names."""
    if spec.kind == "vllm":
        if spec.family != "causal_lm":
            raise ValueError(f"the vllm backend serves causal LMs; this model is a {spec.family}: use transformers")
        return VllmBackend(spec)
    return TransformersBackend(spec)
