"""Write a synthetic CIKM AnalytiCup 2025 dataset (QC + QI, train/dev/test) with exact ground truth.

Rows come in small groups per query, as in the real files: a query is drawn (product type + optional colour,
material, audience, size, brand; or a bare brand name), rendered in the row's language, and paired with a few
targets whose labels were fixed beforehand, so label balance and language mix are exact. Negatives are a
mix of hard ones (sibling categories, same product with a contradicting attribute, targets sharing a word) and
easy ones (another department). Every label is decided by :mod:`.truth`, then a fraction of training labels is
flipped on purpose and the flipped ids are recorded apart from the data.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ecomrel.schema import QUERY_FIELD, TARGET_FIELD, Split, Task, split_category_path

from .lexicons import COLOURS, LANGS
from .render import render_query, render_title
from .taxonomy import LeafFacts, Taxonomy
from .truth import (
    BRAND,
    CATEGORIES_FILE,
    GROUND_TRUTH_DIR,
    ITEMS_FILE,
    PRODUCT,
    QUERIES_FILE,
    SUMMARY_FILE,
    Intent,
    Item,
    category_relevant,
    item_relevant,
    noise_file,
)

#: Share of positive labels in the real CIKM training files (what the written files show, noise included).
POSITIVE_RATE: dict[Task, float] = {Task.QC: 0.69, Task.QI: 0.62}

_QC_EVAL_MIX = {"en": 0.30, "es": 0.10, "fr": 0.09, "ja": 0.08, "ko": 0.08, "pt": 0.09} | dict.fromkeys(
    ("ar", "de", "it", "pl"), 0.065
)
_QI_EVAL_MIX = {"en": 0.25, "es": 0.08, "fr": 0.07, "ja": 0.07, "ko": 0.07, "pt": 0.08, "th": 0.08} | dict.fromkeys(
    ("ar", "de", "id", "it", "pl", "vn"), 0.05
)
#: Language mix per (task, split). English dominates; zero-shot languages appear only in dev/test.
LANGUAGE_MIX: dict[tuple[Task, Split], dict[str, float]] = {
    (Task.QC, Split.TRAIN): {"en": 0.42, "es": 0.14, "fr": 0.12, "ja": 0.10, "ko": 0.10, "pt": 0.12},
    (Task.QC, Split.DEV): _QC_EVAL_MIX,
    (Task.QC, Split.TEST): _QC_EVAL_MIX,
    (Task.QI, Split.TRAIN): {"en": 0.36, "es": 0.12, "fr": 0.10, "ja": 0.10, "ko": 0.10, "pt": 0.11, "th": 0.11},
    (Task.QI, Split.DEV): _QI_EVAL_MIX,
    (Task.QI, Split.TEST): _QI_EVAL_MIX,
}

#: How many rows one query gets, drawn uniformly from these (real QC queries carry more candidates).
GROUP_SIZES: dict[Task, tuple[int, ...]] = {Task.QC: (1, 2, 2, 3, 3, 4, 5), Task.QI: (1, 1, 2, 2, 3)}

MIN_ROWS = 10
BRAND_ONLY_RATE = 0.04
#: Chance a query states an attribute (when the product type takes it).
QUERY_ATTR_RATE = {"colour": 0.30, "material": 0.20, "audience": 0.25, "size": 0.12, "brand": 0.15}
#: Chance a title states an attribute the query did not ask about / one it did.
TITLE_ATTR_RATE = {"colour": 0.75, "material": 0.60, "audience": 0.60, "size": 0.50}
TITLE_KEEPS_QUERY_ATTR = 0.85
_COLOUR_KEYS = tuple(COLOURS)
_TRIES = 40


@dataclass
class _Registry:
    """Every query and title written so far, so one text always means one thing across the whole dataset."""

    intents: dict[str, Intent] = field(default_factory=dict)
    languages: dict[str, set[str]] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)

    def add_query(self, text: str, intent: Intent, lang: str) -> bool:
        known = self.intents.setdefault(text, intent)
        if known != intent:
            return False
        self.languages.setdefault(text, set()).add(lang)
        return True

    def add_item(self, title: str, item: Item) -> bool:
        return self.items.setdefault(title, item) == item


@dataclass
class _Row:
    language: str
    query: str
    target: str
    label: int


class _Sampler:
    """Draws queries and labelled targets for one (task, split) from a seeded RNG."""

    def __init__(self, tax: Taxonomy, registry: _Registry, task: Task, rng: random.Random) -> None:
        self.tax, self.registry, self.task, self.rng = tax, registry, task, rng
        self.brands = sorted(tax.brand_home)
        self._shared: dict[str, list[str]] = {}

    # -- queries ---------------------------------------------------------------------------------------------
    def _intent(self) -> Intent:
        rng = self.rng
        if rng.random() < BRAND_ONLY_RATE:
            brand = rng.choice(self.brands)
            return Intent(BRAND, self.tax.brand_home[brand], {"brand": brand})
        leaf = rng.choice(self.tax.leaves)
        options = _options(self.tax.leaf_facts[leaf])
        attrs = {k: rng.choice(v) for k, v in options.items() if v and rng.random() < QUERY_ATTR_RATE[k]}
        return Intent(PRODUCT, leaf, attrs)

    def query(self, lang: str) -> tuple[str, Intent]:
        for _ in range(_TRIES):
            intent = self._intent()
            product = self.tax.product[intent.category] if intent.kind == PRODUCT else None
            text = render_query(lang, product, intent.attributes, self.rng)
            if self.registry.add_query(text, intent, lang):
                return text, intent
        raise RuntimeError(f"could not draw an unambiguous {lang} query in {_TRIES} tries")

    # -- QC targets ------------------------------------------------------------------------------------------
    def _other_department_path(self, department: str) -> str:
        while self.tax.department(path := self.rng.choice(self.tax.paths)) == department:
            pass
        return path

    def _shared_word_nodes(self, anchor: str) -> list[str]:
        if anchor not in self._shared:
            words = self.tax.node_words(anchor)
            self._shared[anchor] = sorted({p for w in sorted(words) for p in self.tax.words.get(w, [])} - {anchor})
        return self._shared[anchor]

    def _qc_candidate(self, intent: Intent, label: int) -> str:
        rng, tax, anchor = self.rng, self.tax, intent.category
        if label:
            if intent.kind == BRAND:
                return rng.choice(tax.ancestors(anchor)[1:] + tax.subtree[anchor])
            line = tax.ancestors(anchor)
            return anchor if rng.random() < 0.55 or len(line) == 1 else rng.choice(line[1:])
        r = rng.random()
        below_top = tax.ancestors(anchor)[:-1]
        if r < 0.40 and below_top:  # hard: a sibling of the anchor or of one of its ancestors, maybe deeper
            node = rng.choice(below_top)
            sibling = rng.choice([c for c in tax.children[tax.parent[node]] if c != node] or [node])
            return rng.choice(tax.subtree[sibling]) if rng.random() < 0.5 else sibling
        if r < 0.60 and (shared := self._shared_word_nodes(anchor)):  # hard: shares a word with the anchor
            return rng.choice(shared)
        return self._other_department_path(tax.department(anchor))  # easy

    def qc_target(self, intent: Intent, label: int, used: set[str]) -> str | None:
        for _ in range(_TRIES):
            path = self._qc_candidate(intent, label)
            if path not in used and category_relevant(intent, path) == bool(label):
                return path
        return None

    # -- QI targets ------------------------------------------------------------------------------------------
    def _item(self, leaf: str, keep: dict[str, str], brand: str | None = None) -> Item:
        """Facts of a title at ``leaf``: query attributes in ``keep`` mostly restated, others random."""
        rng, facts = self.rng, self.tax.leaf_facts[leaf]
        if brand is None:
            brand = keep["brand"] if keep.get("brand") in facts.brands else rng.choice(facts.brands)
        attrs = {"brand": brand}
        for kind, values in _options(facts).items():
            if kind == "brand" or not values:
                continue
            if keep.get(kind) in values:
                if rng.random() < TITLE_KEEPS_QUERY_ATTR:
                    attrs[kind] = keep[kind]
            elif rng.random() < TITLE_ATTR_RATE[kind]:
                attrs[kind] = rng.choice(values)
        return Item(leaf, attrs)

    def _contradict(self, intent: Intent) -> Item | None:
        """Same product type, one stated query attribute replaced by another value (a hard negative)."""
        kind = self.rng.choice(sorted(intent.attributes))
        values = _options(self.tax.leaf_facts[intent.category])[kind]
        others = [v for v in values if v != intent.attributes[kind]]
        if not others:
            return None
        wrong = self.rng.choice(others)
        if kind == "brand":
            return self._item(intent.category, intent.attributes, brand=wrong)
        item = self._item(intent.category, intent.attributes)
        return Item(item.category, item.attributes | {kind: wrong})

    def _qi_candidate(self, intent: Intent, label: int) -> Item | None:
        rng, tax = self.rng, self.tax
        if intent.kind == BRAND:
            brand = intent.attributes["brand"]
            if label:
                return self._item(rng.choice(tax.leaves_under(intent.category)), {}, brand)
            if rng.random() < 0.5:  # hard: same kind of products, another brand
                leaf = rng.choice(tax.leaves_under(intent.category))
                others = [b for b in tax.leaf_facts[leaf].brands if b != brand]
                return self._item(leaf, {}, rng.choice(others)) if others else None
            leaf = rng.choice(tax.leaves_under(self._other_department_path(tax.department(intent.category))))
            return self._item(leaf, {})
        leaf = intent.category
        if label:
            return self._item(leaf, intent.attributes)
        r = rng.random()
        if r < 0.45 and intent.attributes:
            return self._contradict(intent)
        if r < 0.65:  # hard: a sibling product type, with the query's attributes where they apply
            siblings = [x for x in tax.leaves_under(tax.parent[leaf]) if x != leaf]
            siblings = siblings or [x for x in tax.leaves_under(tax.department(leaf)) if x != leaf]
            return self._item(rng.choice(siblings), intent.attributes) if siblings else None
        if r < 0.80:  # hard: a product type sharing a word with this one
            shared = [p for p in self._shared_word_nodes(leaf) if p in tax.product]
            if shared:
                return self._item(rng.choice(shared), intent.attributes)
        other = rng.choice(tax.leaves_under(self._other_department_path(tax.department(leaf))))
        return self._item(other, intent.attributes)  # easy, though it may repeat the query's colour/material

    def _title(self, item: Item) -> str | None:
        fillers = self.tax.departments[self.tax.department(item.category)].fillers
        for _ in range(4):
            title = render_title(self.tax.product[item.category], item.attributes, fillers, self.rng)
            if self.registry.add_item(title, item):
                return title
        return None

    def qi_target(self, intent: Intent, label: int, used: set[str]) -> str | None:
        for _ in range(_TRIES):
            item = self._qi_candidate(intent, label)
            if item is None or item_relevant(intent, item) != bool(label):
                continue
            title = self._title(item)
            if title is not None and title not in used:
                return title
        return None

    # -- rows ------------------------------------------------------------------------------------------------
    def rows(self, n: int, positives: int, mix: dict[str, float]) -> list[_Row]:
        labels = [1] * positives + [0] * (n - positives)
        self.rng.shuffle(labels)
        target = self.qc_target if self.task is Task.QC else self.qi_target
        out: list[_Row] = []
        start = 0
        for lang, count in _allocate(n, mix).items():
            block, start = labels[start : start + count], start + count
            i = misses = 0
            while i < len(block):
                text, intent = self.query(lang)
                used: set[str] = set()
                for _ in range(self.rng.choice(GROUP_SIZES[self.task])):
                    if i == len(block) or (chosen := target(intent, block[i], used)) is None:
                        break
                    used.add(chosen)
                    out.append(_Row(lang, text, chosen, block[i]))
                    i += 1
                misses = 0 if used else misses + 1  # a query with no target of the needed label: draw another
                if misses == _TRIES:
                    raise RuntimeError(f"{self.task.value}: {_TRIES} queries in a row found no target")
        self.rng.shuffle(out)
        return out


def _options(facts: LeafFacts) -> dict[str, tuple[str, ...]]:
    """Attribute name -> the values products at this leaf can have (empty: the attribute does not apply)."""
    return {
        "colour": _COLOUR_KEYS if facts.colours else (),
        "material": facts.materials,
        "audience": facts.audiences,
        "size": facts.sizes,
        "brand": facts.brands,
    }


def _allocate(n: int, mix: dict[str, float]) -> dict[str, int]:
    """Split ``n`` rows over languages in proportion to ``mix`` (largest remainder, at least one each)."""
    if n < len(mix):
        raise ValueError(f"{n} rows cannot cover {len(mix)} languages")
    total = sum(mix.values())
    quotas = {lang: n * w / total for lang, w in mix.items()}
    counts = {lang: max(1, int(q)) for lang, q in quotas.items()}
    by_remainder = sorted(mix, key=lambda lang: (counts[lang] - quotas[lang], lang))
    k = 0
    while (diff := n - sum(counts.values())) != 0:
        lang = by_remainder[k % len(by_remainder)]
        if diff > 0 or counts[lang] > 1:
            counts[lang] += 1 if diff > 0 else -1
        k += 1
    return counts


def _flip(rows: list[_Row], noise: float, rng: random.Random) -> list[tuple[int, int]]:
    """Flip ``round(noise * len(rows))`` labels, positives and negatives in proportion; returns
    ``(row index, original label)`` in row order."""
    k = round(noise * len(rows))
    pos = [i for i, r in enumerate(rows) if r.label == 1]
    neg = [i for i, r in enumerate(rows) if r.label == 0]
    n_pos = min(len(pos), round(k * len(pos) / len(rows))) if rows else 0
    n_neg = min(len(neg), k - n_pos)
    flipped = sorted(rng.sample(pos, n_pos) + rng.sample(neg, n_neg))
    for i in flipped:
        rows[i].label = 1 - rows[i].label
    return [(i, 1 - rows[i].label) for i in flipped]


def _write_jsonl(path: Path, records: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _write_split(
    out: Path, task: Task, split: Split, first_id: int, rows: list[_Row], flipped: list[tuple[int, int]], summary: dict
) -> None:
    """Write one CIKM file (plus its answers, or its noise record for train) and note its figures in ``summary``."""
    name = f"{split.value}_{task.value}.txt"
    ids = range(first_id, first_id + len(rows))
    labelled = split is Split.TRAIN
    records = []
    for i, r in zip(ids, rows, strict=True):
        record = {
            "id": i,
            "task": task.value,
            "language": r.language,
            QUERY_FIELD: r.query,
            TARGET_FIELD[task]: r.target,
        }
        records.append(record | {"label": r.label} if labelled else record)
    _write_jsonl(out / name, records)
    if labelled:
        noise = [{"id": ids[i], "split": split.value, "original_label": o, "label": 1 - o} for i, o in flipped]
        _write_jsonl(out / GROUND_TRUTH_DIR / noise_file(task), noise)
        summary["noise_count"][task.value] = len(noise)
    else:
        _write_jsonl(out / "answers" / name, [{"id": i, "label": r.label} for i, r in zip(ids, rows, strict=True)])
    summary["rows"][name] = len(rows)
    summary["positive_rate"][name] = round(sum(r.label for r in rows) / len(rows), 4)
    summary["languages"][name] = dict(sorted(Counter(r.language for r in rows).items()))


def _write_ground_truth(root: Path, tax: Taxonomy, registry: _Registry) -> None:
    """Every query's intent, every title's facts and every category path, in first-seen / taxonomy order."""
    queries = [
        {"query": text, "kind": it.kind, "category": it.category, "attributes": it.attributes}
        | {"languages": sorted(registry.languages[text])}
        for text, it in registry.intents.items()
    ]
    _write_jsonl(root / QUERIES_FILE, queries)
    items = [{"title": t, "category": it.category, "attributes": it.attributes} for t, it in registry.items.items()]
    _write_jsonl(root / ITEMS_FILE, items)
    categories = [
        {"path": p, "depth": len(split_category_path(p)), "leaf": p in tax.product, "product": tax.product.get(p)}
        for p in tax.paths
    ]
    _write_jsonl(root / CATEGORIES_FILE, categories)


def make_data(out_dir: str | Path, rows: int = 2000, seed: int = 0, noise: float = 0.05) -> dict:
    """Write a CIKM-format dataset to ``out_dir``; return a summary (files, row counts, positive rates, noise).

    ``rows`` training rows per task; dev and test get ``max(rows // 5, 50)`` each. A fraction ``noise`` of the
    training labels is flipped (ids in ``ground_truth/noise_<task>.jsonl``); dev/test answers are clean. The
    same arguments give byte-identical files.
    """
    if rows < MIN_ROWS:
        raise ValueError(f"rows must be >= {MIN_ROWS} (enough for every training language), got {rows}")
    if not 0.0 <= noise < 0.5:
        raise ValueError(f"noise must be in [0, 0.5), got {noise}")
    out = Path(out_dir)
    (out / "answers").mkdir(parents=True, exist_ok=True)
    (out / GROUND_TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    tax, registry = Taxonomy(), _Registry()
    eval_rows = max(rows // 5, 50)
    summary: dict = {"seed": seed, "rows_per_task": rows, "noise": noise}
    summary |= {"rows": {}, "positive_rate": {}, "languages": {}, "noise_count": {}}

    for task in Task:
        next_id = 0
        for split in Split:
            n = rows if split is Split.TRAIN else eval_rows
            rate = POSITIVE_RATE[task]
            if split is Split.TRAIN:  # choose the clean rate so that the noisy file shows the real rate
                rate = min(1.0, max(0.0, (rate - noise) / (1 - 2 * noise)))
            rng = random.Random(f"ecomrel-synthetic:{seed}:{task.value}:{split.value}")
            sampled = _Sampler(tax, registry, task, rng).rows(n, round(rate * n), LANGUAGE_MIX[(task, split)])
            flipped = _flip(sampled, noise, rng) if split is Split.TRAIN else []
            _write_split(out, task, split, next_id, sampled, flipped, summary)
            next_id += n
    _write_ground_truth(out / GROUND_TRUTH_DIR, tax, registry)
    summary["taxonomy"] = {"top_level": len(tax.departments), "leaves": len(tax.leaves), "paths": len(tax.paths)}
    summary["unique_queries"] = len(registry.intents)
    summary["unique_items"] = len(registry.items)
    (out / GROUND_TRUTH_DIR / SUMMARY_FILE).write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "README.md").write_text(_readme(summary), encoding="utf-8")
    return {"out_dir": str(out), **summary}


def _readme(summary: dict) -> str:
    files = "\n".join(
        f"| {name} | {n} | {summary['positive_rate'][name]:.3f} | {', '.join(summary['languages'][name])} |"
        for name, n in summary["rows"].items()
    )
    noise = ", ".join(f"{task}: {k}" for task, k in summary["noise_count"].items())
    tax = summary["taxonomy"]
    return f"""# Synthetic CIKM AnalytiCup 2025 data (ecomrel)

Generated by `ecomrel make-data` (seed {summary["seed"]}, {summary["rows_per_task"]} training rows per task,
noise {summary["noise"]}). Same format as the competition files: JSON Lines `train_QC.txt` ... `test_QI.txt`
with `id, task, language, origin_query, category_path | item_title` and `label` in train only. Dev/test
labels are in `answers/` (`{{"id", "label"}}`, same row order). Languages: {", ".join(LANGS)}.

| file | rows | positive rate | languages |
|---|---|---|---|
{files}

Taxonomy: {tax["top_level"]} top-level categories, {tax["leaves"]} leaves, {tax["paths"]} paths.
Unique queries: {summary["unique_queries"]}; unique item titles: {summary["unique_items"]}.

## Ground truth (`ground_truth/`)
- `queries.jsonl`: each query's intent: `kind` (product | brand), `category` (the product's leaf, or the brand's
  home category), stated `attributes` (brand, colour, material, audience, size).
- `items.jsonl`: each item title's leaf `category` and the `attributes` the title states.
- `categories.jsonl`: every category path of the taxonomy.
- `noise_QC.jsonl`, `noise_QI.jsonl`: training rows whose label was flipped on purpose ({noise}), with the
  original label. The training files carry the flipped label; dev/test answers are clean.

Relevance rule (`pipelines.synthetic.load_ground_truth(dir).is_relevant(task, query, target)`): QC, a path is
relevant when it is the query's leaf or an ancestor of it (brand-only queries: any path on the line through the
brand's home category); QI, an item is relevant when it is the query's product type and none of its stated
attributes contradicts one the query states.
"""
