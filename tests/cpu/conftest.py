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


# --- one tiny demo recipe, shared -----------------------------------------------------------------------------


def _demo_tree(models: dict[str, Path], runs: Path, name: str) -> dict:
    """Every section of configs/demo.yaml, on tiny random models and 60 rows per task: the translator is the tiny
    causal LM, the embedder and the classifier (the bi-encoder family, as in the demo) the tiny encoder. Planted
    noise 0.2 and a skill gate at AUC 0 let self-validation's out-of-fold flags through to ``removed.parquet``."""
    return {
        "name": name,
        "runs_dir": str(runs),
        "make_data": {"rows": 60, "seed": 1, "noise": 0.2},
        "embed": {"model": str(models["encoder"]), "batch_size": 64},
        "translate": {"model": str(models["lm"]), "rows_per_pair": 2, "batch_size": 16, "max_new_tokens": 4},
        "negatives": {"negatives_per_positive": 0.3, "hard_fraction": 0.7},
        "selfval": {"method": "oof", "folds": 2, "confidence": 0.55, "min_auc": 0.0,
                    "initial_train": {"max_steps": 3}},
        "train": {"family": "bi_encoder", "base_model": str(models["encoder"]), "num_workers": 1,
                  "micro_batch_size": 16, "max_steps": 4, "max_seq_len": 64, "checkpoint_every_steps": 2,
                  "learning_rate": 1e-3, "encoder": {"max_len": 24}},
        "score": {"batch_size": 32, "max_seq_len": 64},
    }  # fmt: skip


@pytest.fixture(scope="session")
def demo_tree(demo_models):
    """``(runs_dir, name) -> tree`` of the tiny demo recipe."""
    return lambda runs, name: _demo_tree(demo_models, runs, name)


@pytest.fixture(scope="session")
def demo_models(tiny_model, tmp_path_factory) -> dict[str, Path]:
    """The tiny causal LM, and a tiny encoder whose vocabulary covers the synthetic data."""
    import json

    from ecomrel.tiny import build_tiny_encoder
    from pipelines.synthetic import make_data

    data = tmp_path_factory.mktemp("demo_text")
    make_data(data, rows=60, seed=1, noise=0.0)
    texts = [v for f in data.glob("*.txt") for line in f.read_text().splitlines() for v in json.loads(line).values()]
    encoder = build_tiny_encoder(data / "encoder", [t for t in texts if isinstance(t, str)])
    return {"lm": tiny_model, "encoder": encoder}


class DemoRun:
    """The tiny demo recipe run once by ``ecomrel run`` in a subprocess that joins the session's Ray. It starts when
    the fixture is first used and runs while that test does its own work; :meth:`config` waits for it."""

    NAME = "demo-reference"  # its own run name: the telemetry series of other runs in the session's Ray differ

    def __init__(self, ray, models: dict[str, Path], root: Path) -> None:
        import subprocess
        import sys

        import yaml

        from ecomrel.faults import ENV

        self.tree = _demo_tree(models, root / "runs", self.NAME)
        (root / "demo.yaml").write_text(yaml.safe_dump(self.tree))
        env = {k: v for k, v in os.environ.items() if k != ENV}  # never a kill
        env["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address
        self._log = (root / "run.log").open("w")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "cluster.cli", "run", "-c", str(root / "demo.yaml")],
            cwd=Path(__file__).resolve().parents[2], env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._root = root

    def config(self):
        from cluster.config import config_from_overrides

        rc = self._proc.wait(timeout=900)
        self._log.close()
        assert rc == 0, (self._root / "run.log").read_text()[-5000:]
        return config_from_overrides(self.tree, [])

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def demo_run(ray_local, demo_models, tmp_path_factory):
    run = DemoRun(ray_local, demo_models, tmp_path_factory.mktemp("demo_run"))
    yield run
    run.stop()
