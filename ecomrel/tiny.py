"""Tiny random models for tests and the quick demo: a causal LM and a text encoder.

A tokenizer is trained on the caller's text (so prompts tokenize into a few hundred ids, not bytes) and a model of
the production architecture family (Qwen3 for the causal LM, BERT like multilingual-e5 for the encoder) is
initialised from a small config. The result is an ordinary model directory that the production ``from_pretrained``
path loads.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .prompts import NO, YES, shared_prefix

_SPECIAL = ["<|endoftext|>", "<|pad|>"]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048, add_prefix_space: bool = False):
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on ``texts`` plus the prompt scaffolding.

    ``add_prefix_space`` (as GPT-2-style tokenizers do) makes a text's first word a word-start entry (``Ġyes``): the
    answer tokens are then not the bare words' vocabulary entries."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    scaffold = [
        shared_prefix("QC"),
        shared_prefix("QI"),
        "\n\n### Response:\n",
        "Query: ",
        "Category path: ",
        "Item title: ",
    ] + [YES, NO] * 50
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(scaffold) + list(texts), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=_SPECIAL[0], pad_token=_SPECIAL[1])


def build_tiny_causal_lm(
    out_dir: str | Path,
    texts: Iterable[str],
    vocab_size: int = 2048,
    hidden_size: int = 64,
    num_layers: int = 2,
    seed: int = 0,
    add_prefix_space: bool = False,
) -> Path:
    """Write a random tiny Qwen3 causal LM + tokenizer (``train_tokenizer``) to ``out_dir`` and return it."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    out_dir = Path(out_dir)
    tokenizer = train_tokenizer(texts, vocab_size, add_prefix_space)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=hidden_size // 4,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_tiny_encoder(
    out_dir: str | Path, texts: Iterable[str], hidden_size: int = 32, num_layers: int = 2, seed: int = 0
) -> Path:
    """Write a random tiny BERT encoder + word-level tokenizer (lower-cased, whitespace split) to ``out_dir``."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([*texts, "query: passage:"], trainers.WordLevelTrainer(special_tokens=special))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=128,
    )  # fmt: skip
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=hidden_size * 2,
        max_position_embeddings=128,
        pad_token_id=0,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
