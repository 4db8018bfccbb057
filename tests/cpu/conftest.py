"""Shared fixtures: one tiny Qwen3 model and one local Ray instance per test session.

Both are session-scoped because they are the slow parts (tokenizer training + model init ~2 s; Ray start ~7 s)
and several test files need them. Only 2 cores are shared by everything, so there is never more than one Ray.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import cluster  # noqa: F401  (sets RAY_AUTH_MODE=token, which Ray reads once, when it is first imported)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: Text the tiny model's tokenizer is trained on: queries, category paths and titles in several languages.
FIXTURE_TEXT: list[str] = [
    "red running shoes",
    "wireless earbuds",
    "phone case",
    "garden hose",
    "kitchen knife set",
    "zapatillas de running",
    "funda para movil",
    "chaussures de course",
    "coque de telephone",
    "tenis de corrida",
    "ランニングシューズ",
    "스마트폰 케이스",
    "sports & outdoors,running,shoes",
    "electronics,phones & accessories,cases",
    "electronics,audio,earbuds",
    "home & garden,garden,hoses",
    "home & garden,kitchen,knives",
    "automobiles, parts & accessories,tools",
    "Men's lightweight running shoes, breathable mesh",
    "Silicone phone case for iPhone 15, shockproof",
    "Bluetooth 5.3 wireless earbuds with charging case",
    "Expandable garden hose 30m with spray nozzle",
    "Stainless steel kitchen knife set, 6 pieces",
]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """Directory of a random tiny Qwen3 causal LM + tokenizer (loads with ``from_pretrained``)."""
    from ecomrel.tiny import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny") / "model", FIXTURE_TEXT * 4, vocab_size=1024)


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray with 2 CPUs, started once for the session and shut down at the end."""
    import ray

    from cluster.ray_runtime import connect
    from ecomrel.config import RayConfig

    connect(RayConfig(num_cpus=2))
    yield ray
    ray.shutdown()
