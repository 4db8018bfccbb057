"""Request and response models of the HTTP API.

Request models are built per deployment by ``request_models(limits)`` so the configured limits (pairs per request,
characters per text) are pydantic constraints: they are enforced before any scoring, answered as 422 naming the
field, and published in the OpenAPI schema. ``/v1/score`` follows vLLM's score endpoint (``text_1``/``text_2``,
``{"data": [{"index", "object": "score", "score"}]}``) so existing vLLM clients work; it ignores vLLM options
it does not implement instead of rejecting them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ecomrel.languages import LANGUAGES, from_iso

Task = Literal["QC", "QI"]
TASKS: tuple[str, ...] = ("QC", "QI")

#: A language code as the data spells it ("vn") or ISO 639-1 ("vi"), optionally with a region ("pt-BR").
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")]


def normalize_language(code: str) -> str:
    """Lower-case primary subtag in the data's spelling: 'pt-BR' -> 'pt', 'vi' -> 'vn'. Codes the data does not
    know (zero-shot languages) pass through; they get the task threshold."""
    primary = code.replace("_", "-").split("-")[0].lower()
    if primary in LANGUAGES:
        return primary
    try:
        return from_iso(primary)
    except KeyError:
        return primary


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain non-whitespace characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates arrive through JSON "\ud800" escapes
        raise ValueError(f"is not valid Unicode text ({exc.reason} at position {exc.start})") from exc
    return value


@dataclass(frozen=True)
class Limits:
    max_pairs: int
    max_chars: int

    @property
    def max_body_bytes(self) -> int:
        """The largest JSON body a valid request can have: every character may arrive as a 12-byte surrogate-pair
        escape, plus room for keys and a language per pair. Bigger bodies are refused before they are read."""
        return self.max_pairs * (2 * self.max_chars * 12 + 512) + 4096


@dataclass(frozen=True)
class RequestModels:
    relevance: type[BaseModel]
    score: type[BaseModel]


def request_models(limits: Limits) -> RequestModels:
    """Request models that carry ``limits`` as constraints (and therefore in the OpenAPI schema)."""
    Text = Annotated[
        str, StringConstraints(min_length=1, max_length=limits.max_chars, strict=True), AfterValidator(_text)
    ]

    class Pair(BaseModel):
        """One (query, target) pair to judge."""

        model_config = ConfigDict(extra="forbid")

        task: Task = Field(..., description="QC: target is a category path; QI: target is an item title.")
        query: Text = Field(..., description="The search query, any language.")
        target: Text = Field(..., description="QC: category path, levels joined by ',' (no space); QI: the item title.")
        language: LanguageCode | None = Field(
            None, description="Language of the query ('vn' or 'vi' for Vietnamese); picks a per-language threshold."
        )

    class RelevanceRequest(BaseModel):
        """A batch of pairs; each is judged at its task's (and language's) calibrated threshold."""

        model_config = ConfigDict(extra="forbid")

        pairs: list[Pair] = Field(..., min_length=1, max_length=limits.max_pairs)

    class ScoreRequest(BaseModel):
        """vLLM's score request: ``text_1`` (queries) against ``text_2`` (targets), 1:1, 1:N or N:N."""

        model_config = ConfigDict(extra="ignore")

        model: str | None = Field(None, description="Served model id (see /v1/models); '<name>-qc' selects QC.")
        text_1: Text | list[Text] = Field(..., description="Query, or queries.")
        text_2: Text | list[Text] = Field(..., description="Target, or targets.")
        task: Task | None = Field(None, description="QC or QI; optional when 'model' names the task.")
        language: LanguageCode | None = Field(None, description="Language of the queries (per-language threshold).")

        @model_validator(mode="after")
        def _pairable(self) -> ScoreRequest:
            n1 = len(self.text_1) if isinstance(self.text_1, list) else 1
            n2 = len(self.text_2) if isinstance(self.text_2, list) else 1
            if 0 in (n1, n2):
                raise ValueError("text_1 and text_2 must not be empty lists")
            if n1 != 1 and n1 != n2:
                raise ValueError(f"text_1 has {n1} items and text_2 {n2}: give one text_1, or as many as text_2")
            if max(n1, n2) > limits.max_pairs:
                raise ValueError(f"{max(n1, n2)} pairs exceed the limit of {limits.max_pairs} per request")
            return self

        def pairs(self) -> list[tuple[str, str]]:
            t1 = self.text_1 if isinstance(self.text_1, list) else [self.text_1]
            t2 = self.text_2 if isinstance(self.text_2, list) else [self.text_2]
            if len(t1) == 1:
                t1 = t1 * len(t2)
            return list(zip(t1, t2, strict=True))

    return RequestModels(relevance=RelevanceRequest, score=ScoreRequest)


class PairResult(BaseModel):
    index: int = Field(..., description="Position of the pair in the request.")
    task: Task
    language: str | None = Field(None, description="Normalized language code, if one was given.")
    p_yes: float = Field(..., description="P(yes): softmax over the two answer-token logits.")
    relevant: bool = Field(..., description="p_yes >= threshold.")
    threshold: float = Field(..., description="The calibrated threshold applied (per language when there is one).")


class RelevanceResponse(BaseModel):
    model: str
    version: str = Field(..., description="Model version (thresholds.json 'version', else a digest of the file).")
    results: list[PairResult]


class ScoreData(BaseModel):
    index: int
    object: Literal["score"] = "score"
    score: float


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int
    completion_tokens: int = 0


class ScoreResponse(BaseModel):
    id: str
    object: Literal["list"] = "list"
    created: int
    model: str
    data: list[ScoreData]
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "ecomrel"
    root: str = Field(..., description="Base model.")
    version: str
    task: Task | None = Field(None, description="The task this id selects on /v1/score, if any.")
    max_model_len: int
    thresholds: dict[str, float]


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
    warning: str | None = Field(None, description="Set when the service runs without authentication.")


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    model_loaded: bool
    version: str
    backend: str | None = None


class Error(BaseModel):
    detail: str
