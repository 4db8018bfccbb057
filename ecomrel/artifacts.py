"""The artifacts a trained model is made of, and that serving loads: model family + base model id + the trained
directory (a LoRA adapter, or a fine-tuned encoder) + ``thresholds.json`` (per task, optionally per language) + the
evaluation report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from .prompts import DEFAULT_TEMPLATE, TEMPLATES, PromptTemplate

THRESHOLDS_FILE = "thresholds.json"
#: In a causal-LM adapter directory: the prompt template it was trained with (absent: the default template).
PROMPT_FILE = "ecomrel_prompt.json"


class Thresholds(BaseModel):
    """Decision thresholds on P(yes), as ``thresholds.json``."""

    family: Literal["causal_lm", "bi_encoder", "cross_encoder"] = Field(
        "causal_lm", description="Model family: how the model turns a row into its two logits (ecomrel.scorer)."
    )
    base_model: str = Field(..., description="from_pretrained id or path of the base model.")
    adapter: str = Field(
        ...,
        description="The trained part: a LoRA adapter (causal_lm) or the fine-tuned encoder directory; relative "
        "paths resolve against this file.",
    )
    tasks: dict[str, float] = Field(..., description="Threshold per task.")
    per_language: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Optional (task -> language -> threshold) overrides."
    )
    calibrated_on: Literal["dev_labels", "heldout_train", "seed"] = Field(
        ..., description="Where the labels for the sweep came from."
    )
    max_seq_len: int = Field(256, description="Prompt length the model was trained and calibrated with.")
    prompt_template: PromptTemplate = Field(
        DEFAULT_TEMPLATE,
        description="causal_lm: the prompt template the adapter was trained with (ecomrel.prompts); scoring and "
        "serving encode rows with it.",
    )
    version: str = Field("", description="Model version string reported by the service.")

    def threshold(self, task: str, language: str | None = None) -> float:
        if task not in self.tasks:
            raise KeyError(f"no threshold for task {task!r}; have {sorted(self.tasks)}")
        if language is not None and language in self.per_language.get(task, {}):
            return self.per_language[task][language]
        return self.tasks[task]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.model_dump_json(indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Thresholds:
        path = Path(path)
        if path.is_dir():
            path = path / THRESHOLDS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no thresholds file")
        t = cls.model_validate_json(path.read_text())
        adapter = Path(t.adapter)
        if not adapter.is_absolute():
            t.adapter = str((path.parent / adapter).resolve())
        return t


def write_prompt_template(adapter_dir: str | Path, template: str) -> None:
    """Record in a trained adapter directory which prompt template it was trained with."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown prompt template {template!r}; known: {list(TEMPLATES)}")
    (Path(adapter_dir) / PROMPT_FILE).write_text(json.dumps({"template": template}))


def read_prompt_template(adapter_dir: str | Path | None) -> str:
    """The prompt template an adapter directory was trained with; the default for adapters that predate the
    record (and for no adapter: the base model is prompted with the default)."""
    if adapter_dir is None or not (Path(adapter_dir) / PROMPT_FILE).is_file():
        return DEFAULT_TEMPLATE
    template = json.loads((Path(adapter_dir) / PROMPT_FILE).read_text())["template"]
    if template not in TEMPLATES:
        raise ValueError(f"{adapter_dir}: unknown prompt template {template!r}; known: {list(TEMPLATES)}")
    return template
