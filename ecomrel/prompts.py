"""Prompts for the two tasks, answered by a single "yes" / "no" token, in one of two templates.

- ``alpaca`` (the default): the Alpaca preamble, ``### Instruction`` / ``### Input`` / ``### Response`` headers.
- ``compact``: a one-line question and the row, under a quarter of the Alpaca prefix's tokens (Gemma-3: 17
  instead of 71-75), so a training or scoring pass that recomputes the prefix for every row does far less work.

A trained model is tied to the template it was trained with: training records it in the adapter directory and
``thresholds.json`` (``ecomrel.artifacts``), and the scorer and the service read it from there.

In both templates the text before the row (``shared_prefix``) is identical for every row of a task, so a scorer
can reuse its KV cache and training can compute it once per micro-batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .schema import Task, split_category_path

YES = "yes"
NO = "no"

#: The prompt template names; ``DEFAULT_TEMPLATE`` is what every model trained before templates existed used.
PromptTemplate = Literal["alpaca", "compact"]
TEMPLATES: tuple[str, ...] = ("alpaca", "compact")
DEFAULT_TEMPLATE = "alpaca"

_PREAMBLE = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
)

_INSTRUCTIONS: dict[Task, str] = {
    Task.QC: (
        "Decide whether the e-commerce search query is relevant to the product category path. "
        "The query may be in any language; the category path is in English. Answer yes or no."
    ),
    Task.QI: (
        "Decide whether the e-commerce search query is relevant to the product item title. "
        "The query and the title may be in different languages. Answer yes or no."
    ),
}

_COMPACT_QUESTIONS: dict[Task, str] = {
    Task.QC: "Is the shopping query relevant to the product category? Answer yes or no.",
    Task.QI: "Is the shopping query relevant to the product title? Answer yes or no.",
}

_TARGET_NAMES: dict[Task, str] = {Task.QC: "Category path", Task.QI: "Item title"}


@dataclass(frozen=True)
class _Template:
    prefixes: dict[Task, str]  # the shared prefix of each task
    cue: str  # after the row, right before the answer token


_TEMPLATES: dict[str, _Template] = {
    "alpaca": _Template(
        {t: f"{_PREAMBLE}### Instruction:\n{_INSTRUCTIONS[t]}\n\n### Input:\n" for t in Task},
        "\n\n### Response:\n",
    ),
    "compact": _Template({t: f"{_COMPACT_QUESTIONS[t]}\n\n" for t in Task}, "\nAnswer:\n"),
}


def _template(template: str) -> _Template:
    if template not in _TEMPLATES:
        raise ValueError(f"unknown prompt template {template!r}; known: {list(TEMPLATES)}")
    return _TEMPLATES[template]


def shared_prefix(task: Task | str, template: str = DEFAULT_TEMPLATE) -> str:
    """The part of every prompt of ``task`` that does not depend on the row."""
    return _template(template).prefixes[Task(task)]


def response_cue(template: str = DEFAULT_TEMPLATE) -> str:
    """The text after the row: the prompt ends here and the answer token follows."""
    return _template(template).cue


def render_target(task: Task | str, target: str) -> str:
    task = Task(task)
    if task is Task.QC:
        return " > ".join(split_category_path(target))
    return target.strip()


def build_prompt(task: Task | str, query: str, target: str, template: str = DEFAULT_TEMPLATE) -> str:
    """The full prompt, ending right where the answer token goes."""
    task = Task(task)
    row = f"Query: {query.strip()}\n{_TARGET_NAMES[task]}: {render_target(task, target)}"
    return f"{shared_prefix(task, template)}{row}{response_cue(template)}"


def answer(label: int) -> str:
    return YES if int(label) == 1 else NO
