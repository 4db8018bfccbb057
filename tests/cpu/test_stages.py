"""The stage registry, the recipe plan, the config homes and the package layering."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from cluster.cli import app
from cluster.config import RecipeConfig, config_from_overrides
from cluster.recipe import plan
from cluster.stages import STAGES
from ecomrel.config import ActorPool, Resources, Section, Toggle, VllmBackend

ROOT = Path(__file__).resolve().parents[2]
#: Which top-level packages each package may import (ARCHITECTURE.md: cluster -> pipelines|train|evaluation|serve
#: -> ecomrel).
ALLOWED = {
    "ecomrel": {"ecomrel"},
    "pipelines": {"ecomrel", "pipelines"},
    "train": {"ecomrel", "train"},
    "evaluation": {"ecomrel", "evaluation"},
    "serve": {"ecomrel", "serve"},
    "cluster": {"ecomrel", "pipelines", "train", "evaluation", "serve", "cluster"},
}


def _tree(**sections) -> dict:
    return {
        "name": "t",
        "make_data": {"rows": 60},
        "embed": {"model": "e5"},
        "translate": {"model": "m"},
        "negatives": {"random_negatives": True},
        "selfval": {},
        "train": {"base_model": "m", "max_seq_len": 128},
        "score": {"max_seq_len": 128},
        **sections,
    }


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_flow_one_way(package):
    ours = set(ALLOWED)
    offending = {
        str(f.relative_to(ROOT)): sorted((_imports(f) & ours) - ALLOWED[package])
        for f in (ROOT / package).rglob("*.py")
    }
    assert {f: bad for f, bad in offending.items() if bad} == {}


def test_every_stage_is_listed_by_the_cli_under_its_registry_name():
    result = CliRunner().invoke(app, ["stage", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    rows = (re.match(r"^\s*(\S+)\s{2,}\S", line) for line in result.output.splitlines())
    listed = [m.group(1) for m in rows if m and m.group(1) in STAGES]
    assert listed == list(STAGES)


def test_each_stage_lives_in_one_module_with_its_config_beside_it():
    for name, spec in STAGES.items():
        package = spec.module.split(".")[0]
        assert package in {"pipelines", "train", "evaluation"}, name
        assert spec.summary, f"{name}: its function has no docstring"
        if spec.config is not None:
            assert spec.config.__module__.split(".")[0] == package, name
            # An optional section (`embed`: the baseline stage runs only with one) is `Config | None`.
            assert RecipeConfig.model_fields[spec.section].annotation in (spec.config, spec.config | None), name
    # cluster/ holds no stage: every stage function and config is defined elsewhere.
    assert not [s for s in STAGES.values() if s.module.startswith("cluster")]


def test_shared_knobs_are_declared_once():
    from pipelines.embed import EmbedConfig
    from pipelines.score import ScoreConfig
    from pipelines.translate import TranslateConfig
    from serve.settings import ServeConfig

    for cls in (EmbedConfig, ScoreConfig, TranslateConfig):
        assert issubclass(cls, ActorPool)
        assert {"concurrency", "num_cpus", "num_gpus", "dtype"} <= set(cls.model_fields)
    assert issubclass(ServeConfig, Resources) and issubclass(ServeConfig, VllmBackend)
    for cls in (ScoreConfig, TranslateConfig):
        assert issubclass(cls, VllmBackend)
    for field in ("concurrency", "num_cpus", "num_gpus", "dtype", "vllm_engine_kwargs"):
        owners = {c for c in (ActorPool, Resources, VllmBackend) if field in c.__annotations__}
        assert len(owners) == 1, field


def test_plan_folders_manifests_and_stages_share_one_name():
    cfg = config_from_overrides(_tree(), [])
    steps = plan(cfg, cfg.run_dir)
    names = [s.name for s in steps]
    assert names == [
        "make_data", "ingest", "audit", "split", "baseline", "translate", "negatives", "random_negatives",
        "trainset", "selfval", "train", "score_calib", "model", "score_test", "report",
    ]  # fmt: skip
    for step in steps:
        assert step.out.name == step.name or step.out.name.startswith(f"{step.name}-"), (step.name, step.out)
        assert step.name in STAGES
    # The embedding baseline lives in the run folder (shared by every ablation arm) and needs an `embed` section.
    assert next(s for s in steps if s.name == "baseline").out == cfg.run_dir / "baseline"
    arm = plan(cfg, cfg.run_dir / "arms" / "x")
    assert next(s for s in arm if s.name == "baseline").out == cfg.run_dir / "baseline"
    no_embed = config_from_overrides(_tree(embed=None, translate={"enabled": False}), [])
    assert "baseline" not in [s.name for s in plan(no_embed, no_embed.run_dir)]


def test_one_on_off_convention():
    # An omitted section is off; a given one is on unless `enabled: false`.
    bare = config_from_overrides({"name": "t"}, [])
    assert not any(getattr(bare, k).enabled for k in ("make_data", "translate", "negatives", "selfval", "train"))
    assert [s.name for s in plan(bare, bare.run_dir)] == ["ingest", "audit"]
    on = config_from_overrides(_tree(), [])
    assert all(getattr(on, k).enabled for k in ("make_data", "translate", "negatives", "selfval", "train"))
    off = config_from_overrides(_tree(), ["translate.enabled=false", "selfval.enabled=false"])
    assert "translate" not in [s.name for s in plan(off, off.run_dir)]
    assert all(issubclass(type(getattr(on, k)), Toggle) for k in ("make_data", "translate", "negatives", "selfval"))
    assert issubclass(RecipeConfig, Section)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["score.max_seq_len=256"], "score.max_seq_len=256 differs from train.max_seq_len=128"),
        (["embed=null", "translate.enabled=true"], "translate needs an `embed` section"),
        (["embed=null", "translate.enabled=false", "negatives.random_negatives=false"], "negatives needs an `embed`"),
        (["selfval.initial_train={max_stepz: 3}"], r"selfval.initial_train: unknown train field\(s\) \['max_stepz'\]"),
        (["negatives.range_max=30"], "need range_min < range_max <= top_k"),
        (["train.base_model=null"], "train.base_model is required when training is enabled"),
        (["translate.model=null"], "translate.model is required when translation is enabled"),
    ],
)
def test_checks_across_sections_fail_at_load_time_naming_the_fields(overrides, message):
    from ecomrel.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        config_from_overrides(_tree(), overrides, "recipe.yaml")


def test_a_disabled_section_needs_no_model():
    cfg = config_from_overrides(_tree(translate={"enabled": False}, train={"enabled": False}), [])
    assert cfg.translate.model is None and cfg.train.base_model is None
    with pytest.raises(ValidationError):
        RecipeConfig(name="t", train={"base_model": "m"}, score={"max_seq_len": 64})
