"""Alpaca-style prompts for the two tasks, answered by a single "yes" / "no" token.

The text before ``### Input`` is identical for every row of a task, so a scorer can reuse its KV cache.
"""

from __future__ import annotations

from .schema import Task, split_category_path

YES = "yes"
NO = "no"

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

_TARGET_NAMES: dict[Task, str] = {Task.QC: "Category path", Task.QI: "Item title"}


def shared_prefix(task: Task | str) -> str:
    """The part of every prompt of ``task`` that does not depend on the row."""
    task = Task(task)
    return f"{_PREAMBLE}### Instruction:\n{_INSTRUCTIONS[task]}\n\n### Input:\n"


def render_target(task: Task | str, target: str) -> str:
    task = Task(task)
    if task is Task.QC:
        return " > ".join(split_category_path(target))
    return target.strip()


def build_prompt(task: Task | str, query: str, target: str) -> str:
    """The full prompt, ending right where the answer token goes."""
    task = Task(task)
    return (
        f"{shared_prefix(task)}Query: {query.strip()}\n{_TARGET_NAMES[task]}: {render_target(task, target)}"
        "\n\n### Response:\n"
    )


def answer(label: int) -> str:
    return YES if int(label) == 1 else NO
