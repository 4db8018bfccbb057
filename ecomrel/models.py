"""Load causal LMs, tokenizers and LoRA adapters by ``from_pretrained`` name or path.

Nothing here special-cases a particular model: hub ids (Qwen/Qwen3-14B-Base) and local directories (the bundled
Gemma-3-270M materialized by ``ecomrel.bundled``, tiny test models) go through the same calls.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def load_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(name_or_path)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(
    name_or_path: str, dtype: str = "float32", adapter: str | Path | None = None, trainable_adapter: bool = False
):
    """Base model, optionally with a saved LoRA adapter on top (frozen unless ``trainable_adapter``)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=DTYPES[dtype])
    if adapter is not None:
        from peft import PeftModel

        adapter = Path(adapter)
        if not (adapter / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{adapter}: not a LoRA adapter directory (no adapter_config.json)")
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable_adapter)
    return model
