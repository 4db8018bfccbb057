"""Ground truth of a synthetic dataset: what each query means, what each item is, and the relevance rule.

The generator labels every row with the functions here, and writes the facts they need to
``<data>/ground_truth/``; :func:`load_ground_truth` reads them back, so a later stage's test can ask whether
*any* (query, target) pair from the data is relevant, including pairs the data never contains (a mined
"negative" may really be a positive). The rule:

* QC: a category path is relevant to a product query when it is the query's leaf or one of its ancestors; to a
  brand-only query when it is on the line through the brand's home category (an ancestor or a descendant).
* QI: an item is relevant when it is the query's product type (any type, for a brand-only query) and none of
  its attributes (brand, colour, material, audience, size) contradicts one the query states. An attribute the
  title does not state contradicts nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ecomrel.schema import Task, split_category_path

GROUND_TRUTH_DIR = "ground_truth"
QUERIES_FILE = "queries.jsonl"
ITEMS_FILE = "items.jsonl"
CATEGORIES_FILE = "categories.jsonl"
SUMMARY_FILE = "summary.json"
PRODUCT, BRAND = "product", "brand"


def noise_file(task: Task | str) -> str:
    return f"noise_{Task(task).value}.jsonl"


@dataclass(frozen=True)
class Intent:
    """What a query asks for: a product type (``kind="product"``, ``category`` = its leaf path) or anything
    from one brand (``kind="brand"``, ``category`` = the brand's home category), with the stated attributes."""

    kind: str
    category: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    """What an item title describes: its leaf path and the attributes the title states (brand always)."""

    category: str
    attributes: dict[str, str]


@lru_cache(maxsize=65536)
def _levels(path: str) -> tuple[str, ...]:
    return tuple(split_category_path(path))


def category_relevant(intent: Intent, path: str) -> bool:
    """QC rule (see the module docstring)."""
    target = _levels(path)
    anchor = _levels(intent.category)
    if anchor[: len(target)] == target:
        return True
    return intent.kind == BRAND and target[: len(anchor)] == anchor


def item_relevant(intent: Intent, item: Item) -> bool:
    """QI rule (see the module docstring)."""
    if intent.kind == PRODUCT and item.category != intent.category:
        return False
    return all(item.attributes.get(name, value) == value for name, value in intent.attributes.items())


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing ground-truth file (was the folder written by make_data?)")
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None


def _field(row: dict, name: str, path: Path, lineno: int):
    if name not in row:
        raise ValueError(f"{path}:{lineno}: missing field {name!r}")
    return row[name]


class GroundTruth:
    """Relevance of any (task, query, target) whose query and target occur in one synthetic dataset."""

    def __init__(self, intents: dict[str, Intent], items: dict[str, Item], categories: list[str]) -> None:
        self.intents = intents
        self.items = items
        self.categories = categories
        self._category_set = set(categories)
        self._items_by_category: dict[str, list[str]] = {}
        self._items_by_brand: dict[str, list[str]] = {}
        for title, item in items.items():
            self._items_by_category.setdefault(item.category, []).append(title)
            self._items_by_brand.setdefault(item.attributes["brand"], []).append(title)

    def intent(self, query: str) -> Intent:
        try:
            return self.intents[query]
        except KeyError:
            raise KeyError(f"query {query!r} is not in this dataset's ground truth") from None

    def item(self, title: str) -> Item:
        try:
            return self.items[title]
        except KeyError:
            raise KeyError(f"item title {title!r} is not in this dataset's ground truth") from None

    def is_relevant(self, task: Task | str, query: str, target: str) -> bool:
        intent = self.intent(query)
        if Task(task) is Task.QC:
            if target not in self._category_set:
                raise KeyError(f"category path {target!r} is not in this dataset's taxonomy")
            return category_relevant(intent, target)
        return item_relevant(intent, self.item(target))

    def positives(self, task: Task | str, query: str) -> set[str]:
        """Every target of the dataset (category paths for QC, item titles for QI) relevant to ``query``."""
        intent = self.intent(query)
        if Task(task) is Task.QC:
            return {path for path in self.categories if category_relevant(intent, path)}
        if intent.kind == PRODUCT:
            pool = self._items_by_category.get(intent.category, [])
        else:
            pool = self._items_by_brand.get(intent.attributes["brand"], [])
        return {title for title in pool if item_relevant(intent, self.items[title])}


def load_ground_truth(data_dir: str | Path) -> GroundTruth:
    """Read ``<data_dir>/ground_truth/`` as written by :func:`pipelines.synthetic.make_data`."""
    root = Path(data_dir) / GROUND_TRUTH_DIR
    intents: dict[str, Intent] = {}
    path = root / QUERIES_FILE
    for lineno, row in _read_jsonl(path):
        intents[_field(row, "query", path, lineno)] = Intent(
            _field(row, "kind", path, lineno), _field(row, "category", path, lineno), row.get("attributes", {})
        )
    items: dict[str, Item] = {}
    path = root / ITEMS_FILE
    for lineno, row in _read_jsonl(path):
        attributes = _field(row, "attributes", path, lineno)
        if "brand" not in attributes:
            raise ValueError(f"{path}:{lineno}: field 'attributes' has no 'brand'")
        items[_field(row, "title", path, lineno)] = Item(_field(row, "category", path, lineno), attributes)
    path = root / CATEGORIES_FILE
    categories = [_field(row, "path", path, lineno) for lineno, row in _read_jsonl(path)]
    return GroundTruth(intents, items, categories)


def noise_ids(data_dir: str | Path) -> dict[str, set[str]]:
    """Task -> ids (as strings, like the ``id`` column of ecomrel datasets) of training rows whose label was
    deliberately flipped."""
    root = Path(data_dir) / GROUND_TRUTH_DIR
    out: dict[str, set[str]] = {}
    for task in Task:
        path = root / noise_file(task)
        out[task.value] = {str(_field(row, "id", path, lineno)) for lineno, row in _read_jsonl(path)}
    return out
