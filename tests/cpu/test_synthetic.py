"""The synthetic CIKM data generator: format, languages, taxonomy, balance, noise, ground truth, determinism."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ecomrel.languages import to_iso
from ecomrel.schema import join_category_path, split_category_path
from pipelines.synthetic import (
    Intent,
    Item,
    category_relevant,
    item_relevant,
    load_ground_truth,
    make_data,
    noise_ids,
)
from pipelines.synthetic.lexicons import LANGS, PRODUCTS
from pipelines.synthetic.render import render_query
from pipelines.synthetic.taxonomy import TAXONOMY, Taxonomy

ROWS = 2000
EVAL_ROWS = ROWS // 5
TASKS = ("QC", "QI")
SPLITS = ("train", "dev", "test")
TRAIN_LANGS = {"QC": {"en", "es", "fr", "ja", "ko", "pt"}, "QI": {"en", "es", "fr", "ja", "ko", "pt", "th"}}
ZERO_SHOT = {"QC": {"ar", "de", "it", "pl"}, "QI": {"ar", "de", "id", "it", "pl", "vn"}}
TARGET = {"QC": "category_path", "QI": "item_title"}
SCRIPTS = {
    "ja": r"[\u3040-\u30ff\u4e00-\u9fff]",
    "ko": r"[\uac00-\ud7af]",
    "th": r"[\u0e00-\u0e7f]",
    "ar": r"[\u0600-\u06ff]",
}


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synthetic") / "data"
    return out, make_data(out, rows=ROWS, seed=0, noise=0.05)


@pytest.fixture(scope="module")
def rows(data) -> dict[tuple[str, str], list[dict]]:
    """(task, split) -> rows, with dev/test labels joined from answers/."""
    out, _ = data
    table = {}
    for task in TASKS:
        for split in SPLITS:
            records = _read(out / f"{split}_{task}.txt")
            if split != "train":
                answers = _read(out / "answers" / f"{split}_{task}.txt")
                assert [a["id"] for a in answers] == [r["id"] for r in records]
                records = [r | {"label": a["label"]} for r, a in zip(records, answers, strict=True)]
            table[(task, split)] = records
    return table


@pytest.fixture(scope="module")
def truth(data):
    return load_ground_truth(data[0])


def test_files_keys_and_sizes(data, rows):
    out, summary = data
    for task in TASKS:
        for split in SPLITS:
            records = _read(out / f"{split}_{task}.txt")
            keys = {"id", "task", "language", "origin_query", TARGET[task]} | ({"label"} if split == "train" else set())
            assert all(set(r) == keys for r in records), (task, split)
            assert all(isinstance(r["id"], int) and r["task"] == task for r in records)
            assert all(r["origin_query"] and r[TARGET[task]] for r in records)
            assert len(records) == (ROWS if split == "train" else EVAL_ROWS)
            assert {r["label"] for r in rows[(task, split)]} == {0, 1}
            assert summary["rows"][f"{split}_{task}.txt"] == len(records)
    assert (out / "README.md").is_file() and (out / "ground_truth" / "summary.json").is_file()


def test_ids_unique_within_a_task_across_splits(rows):
    for task in TASKS:
        ids = [r["id"] for split in SPLITS for r in rows[(task, split)]]
        assert len(ids) == len(set(ids)) == ROWS + 2 * EVAL_ROWS


def test_small_run_gives_eval_splits_at_least_50_rows(tmp_path):
    summary = make_data(tmp_path, rows=60, seed=3)
    assert summary["rows"]["train_QC.txt"] == 60 and summary["rows"]["dev_QI.txt"] == 50
    assert set(summary["languages"]["test_QI.txt"]) == TRAIN_LANGS["QI"] | ZERO_SHOT["QI"]


def test_languages_per_task_and_split(rows):
    for task in TASKS:
        train = {r["language"] for r in rows[(task, "train")]}
        assert train == TRAIN_LANGS[task]
        for split in ("dev", "test"):
            langs = Counter(r["language"] for r in rows[(task, split)])
            assert set(langs) - train == ZERO_SHOT[task] and train <= set(langs)
            assert langs.most_common(1)[0][0] == "en"
        assert Counter(r["language"] for r in rows[(task, "train")]).most_common(1)[0][0] == "en"


def test_taxonomy_follows_cikm_conventions(truth):
    tax = Taxonomy()
    assert len(TAXONOMY) >= 30 and len(tax.leaves) >= 300
    assert sum(", " in name for name in TAXONOMY) >= 3
    assert "home & garden,garden supplies,fountains & bird baths" in tax.leaves
    for path in tax.paths:
        levels = split_category_path(path)
        assert join_category_path(levels) == path and path == path.lower()
    assert {len(split_category_path(leaf)) for leaf in tax.leaves} == {2, 3, 4}
    assert truth.categories == tax.paths
    assert split_category_path("jewelry, watches & accessories,watches,pocket watches") == [
        "jewelry, watches & accessories",
        "watches",
        "pocket watches",
    ]


def test_every_leaf_has_a_distinct_word_in_every_language():
    tax = Taxonomy()
    owner: dict[str, str] = {}
    for key in tax.product.values():
        assert set(PRODUCTS[key]) == set(LANGS)
        for lang, word in PRODUCTS[key].items():
            if lang in SCRIPTS:
                assert re.search(SCRIPTS[lang], word.text), (key, lang, word.text)
            assert owner.setdefault(word.text.lower(), key) == key, f"{word.text!r} means two products"
    vn = [PRODUCTS[k]["vn"].text for k in tax.product.values()]
    assert sum(bool(re.search(r"[\u00c0-\u1ef9]", w)) for w in vn) / len(vn) > 0.8  # Vietnamese diacritics


def test_query_word_order_and_agreement():
    rng = random.Random(0)
    assert render_query("es", "dress", {"colour": "black", "material": "cotton"}, rng) == "vestido negro de algodón"
    assert render_query("fr", "dress", {"colour": "black"}, rng) == "robe noire"
    assert render_query("pt", "sunglasses", {"colour": "red"}, rng) == "óculos de sol vermelhos"
    assert render_query("it", "skirt", {"colour": "white"}, rng) == "gonna bianca"
    assert render_query("pl", "dress", {"colour": "black"}, rng) == "czarna sukienka"
    assert render_query("ar", "handbag", {"colour": "black"}, rng) == "حقيبة يد سوداء"
    assert render_query("de", "dress", {"colour": "black", "audience": "women"}, rng) == "damen kleid schwarz"
    assert render_query("ja", "dress", {"colour": "black", "material": "cotton"}, rng) == "黒いコットンワンピース"
    assert render_query("th", "wallet", {"material": "leather"}, rng) == "กระเป๋าสตางค์หนังแท้"
    assert render_query("en", None, {"brand": "Velotrek"}, rng) == "velotrek"


def test_queries_use_their_scripts(rows, truth):
    for (_, _), records in rows.items():
        for r in records:
            if r["language"] in SCRIPTS and truth.intent(r["origin_query"]).kind == "product":
                assert re.search(SCRIPTS[r["language"]], r["origin_query"]), r


def test_label_balance(rows):
    for task, rate in (("QC", 0.69), ("QI", 0.62)):
        for split in SPLITS:
            labels = [r["label"] for r in rows[(task, split)]]
            assert abs(sum(labels) / len(labels) - rate) <= 0.03, (task, split)


def test_planted_noise(data, rows):
    out, summary = data
    ids = noise_ids(out)
    for task in TASKS:
        records = _read(out / "ground_truth" / f"noise_{task}.jsonl")
        assert len(records) == summary["noise_count"][task] == round(0.05 * ROWS)
        train = {r["id"]: r for r in rows[(task, "train")]}
        assert ids[task] == {str(r["id"]) for r in records}
        for rec in records:
            assert rec["id"] in train and train[rec["id"]]["label"] == rec["label"] == 1 - rec["original_label"]
        flipped = Counter(rec["original_label"] for rec in records)
        assert flipped[0] > 0 and flipped[1] > 0


def test_labels_agree_with_ground_truth(data, rows, truth):
    noisy = noise_ids(data[0])
    for task in TASKS:
        for split in SPLITS:
            for r in rows[(task, split)]:
                relevant = truth.is_relevant(task, r["origin_query"], r[TARGET[task]])
                is_noise = split == "train" and str(r["id"]) in noisy[task]
                assert relevant == (bool(r["label"]) != is_noise), (task, split, r)


def test_any_pair_in_the_data_is_decidable(rows, truth):
    titles = {r["item_title"] for split in SPLITS for r in rows[("QI", split)]}
    assert titles <= set(truth.items)
    queries = sorted({r["origin_query"] for split in SPLITS for r in rows[("QC", split)]})[:50]
    for query in queries:  # every category path of the taxonomy, paired or not
        positives = truth.positives("QC", query)
        assert positives == {p for p in truth.categories if truth.is_relevant("QC", query, p)} != set()
    for r in rows[("QI", "dev")]:
        positives = truth.positives("QI", r["origin_query"])
        assert (r["item_title"] in positives) == bool(r["label"])
    with pytest.raises(KeyError, match="not in this dataset"):
        truth.is_relevant("QC", "no such query", "shoes")
    with pytest.raises(KeyError, match="taxonomy"):
        truth.is_relevant("QC", queries[0], "shoes,no such leaf")


def test_negatives_include_hard_cases(rows, truth):
    def top(path: str) -> str:
        return split_category_path(path)[0]

    qc = [(truth.intent(r["origin_query"]), r["category_path"]) for r in rows[("QC", "train")]]
    negatives = [(q, path) for q, path in qc if q.kind == "product" and not category_relevant(q, path)]
    same_department = [path for q, path in negatives if top(path) == top(q.category)]
    assert len(same_department) / len(negatives) > 0.3  # siblings, cousins: hard
    assert len(same_department) / len(negatives) < 0.8  # other departments: easy
    qi = [(truth.intent(r["origin_query"]), truth.item(r["item_title"])) for r in rows[("QI", "train")]]
    contradicted = [
        (q, item)
        for q, item in qi
        if q.kind == "product" and item.category == q.category and not item_relevant(q, item)
    ]
    negatives = sum(not item_relevant(q, item) for q, item in qi)
    assert len(contradicted) > 0.1 * negatives  # same product type, one attribute contradicts the query
    assert sum(q.kind == "brand" for q, _ in qi) > 0.01 * len(qi)  # brand-only queries


def test_relevance_rules():
    leaf = "home & garden,garden supplies,fountains & bird baths"
    query = Intent("product", leaf, {"colour": "white"})
    assert category_relevant(query, leaf) and category_relevant(query, "home & garden")
    assert not category_relevant(query, "home & garden,garden supplies,flower pots & planters")
    brand = Intent("brand", "home & garden,home decor", {"brand": "Casalina"})
    assert category_relevant(brand, "home & garden,home decor,vases") and category_relevant(brand, "home & garden")
    assert not category_relevant(brand, "home & garden,home textiles")
    assert item_relevant(query, Item(leaf, {"brand": "Hearthly"}))  # colour not stated: no contradiction
    assert item_relevant(query, Item(leaf, {"brand": "Hearthly", "colour": "white"}))
    assert not item_relevant(query, Item(leaf, {"brand": "Hearthly", "colour": "black"}))
    assert not item_relevant(query, Item("home & garden,home decor,vases", {"brand": "Hearthly"}))
    assert item_relevant(brand, Item("home & garden,home decor,vases", {"brand": "Casalina"}))


def _digest(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic_by_seed(tmp_path, data):
    out, _ = data
    env = os.environ | {"PYTHONHASHSEED": "123"}  # set/dict order must not leak into the files
    code = f"from pipelines.synthetic import make_data; make_data({str(tmp_path / 'same')!r}, rows={ROWS})"
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
    assert _digest(tmp_path / "same") == _digest(out)
    make_data(tmp_path / "other", rows=ROWS, seed=1)
    assert _read(tmp_path / "other" / "train_QC.txt") != _read(out / "train_QC.txt")


def test_lingua_recognises_longer_queries(rows, truth):
    lingua = pytest.importorskip("lingua")
    languages = [lingua.Language.from_iso_code_639_1(getattr(lingua.IsoCode639_1, to_iso(c).upper())) for c in LANGS]
    detector = lingua.LanguageDetectorBuilder.from_languages(*languages).build()
    pairs = {(r["origin_query"], r["language"]) for recs in rows.values() for r in recs}
    longer = sorted(p for p in pairs if len(p[0].split()) >= 3)
    hits = 0
    for query, lang in longer:
        found = detector.detect_language_of(query)
        hits += found is not None and found.iso_code_639_1.name.lower() == to_iso(lang)
    assert len(longer) > 300 and hits / len(longer) >= 0.8  # measured 0.88 at seed 0


def test_bad_arguments_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="rows"):
        make_data(tmp_path, rows=0)
    with pytest.raises(ValueError, match="noise"):
        make_data(tmp_path, noise=0.5)
    with pytest.raises(FileNotFoundError, match="queries.jsonl"):
        load_ground_truth(tmp_path)
