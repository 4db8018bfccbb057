"""The config core: the base every config section derives from, the shared resource knobs, and YAML loading.

Each stage's config section lives beside the stage (``pipelines.ingest.IngestConfig``, ``train.config.TrainConfig``,
...); the recipe that composes them is ``cluster.config.RecipeConfig``. Every field has a description; unknown keys
are errors. ``load_tree`` reads a YAML file and ``parse`` validates a tree against a config class after applying
``--set a.b=c`` overrides (values parsed as YAML) and expanding ``${VAR}``, so a typo in a key is an error naming
the file and the field rather than a silently ignored setting.

One on/off convention: a stage that may be left out has ``enabled`` (:class:`Toggle`), and its section may be
omitted (it is then off). Shared knobs are declared once, as Ray's ``ray.data.llm`` processors declare theirs in
``ProcessorConfig``: :class:`Resources` (what one actor or replica reserves, and its dtype), :class:`ActorPool`
(plus how many actors), :class:`VllmBackend` (extra vLLM engine arguments).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

Dtype = Literal["float32", "bfloat16", "float16"]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    def digest(self) -> str:
        """Stable hash of this section, used by stage manifests to decide whether a stage must re-run."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


class Toggle(Section):
    """A stage the recipe may leave out. Its section turns it on; ``enabled: false`` (or omitting the section, which
    ``cluster.config.RecipeConfig`` then fills in disabled) turns it off."""

    enabled: bool = Field(True, description="Run this stage (an omitted section is off).")


class Resources(Section):
    """What one actor (or Serve replica) of a stage reserves, and the dtype its model computes in."""

    num_cpus: float = Field(1, ge=0, description="CPUs per actor (replica).")
    num_gpus: float = Field(0, ge=0, description="GPUs per actor (replica); > 0 runs the model on CUDA.")
    dtype: Dtype = Field("float32", description="Model weights and compute dtype (bfloat16 on GPUs).")


class ActorPool(Resources):
    """A Ray Data actor pool: ``concurrency`` actors, each reserving :class:`Resources`."""

    concurrency: int = Field(1, ge=1, description="Actors of this stage (vllm: engine replicas).")


class VllmBackend(Section):
    """Extra vLLM engine arguments for a stage's ``vllm`` backend."""

    vllm_engine_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra vLLM engine arguments, applied over ecomrel's defaults (hf_overrides merged key by key).",
    )


class RayConfig(Section):
    address: str | None = Field(
        None,
        description="Ray cluster to join ('auto', 'ray://host:10001', ...). Unset: RAY_ADDRESS, else an "
        "embedded local Ray is started.",
    )
    num_cpus: int | None = Field(None, description="CPUs for an embedded local Ray (default: all).")
    include_dashboard: bool = Field(True, description="Start the dashboard with an embedded local Ray.")


class ConfigError(ValueError):
    """A config file or override that does not validate; the message names the file and the field."""


def _set_path(tree: dict, dotted: str, value: Any, origin: str) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        nxt = node.setdefault(key, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{origin}: cannot set {dotted!r}: {key!r} is not a section")
        node = nxt
    node[keys[-1]] = value


def apply_overrides(tree: dict, overrides: list[str]) -> dict:
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key.path=value")
        key, raw = item.split("=", 1)
        _set_path(tree, key.strip(), yaml.safe_load(raw), f"--set {item!r}")
    return tree


_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def expand_env(value: Any, origin: str) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` and a leading ``~`` in every string of a parsed YAML tree, so one
    config serves machines whose cache or data folders differ."""
    if isinstance(value, dict):
        return {k: expand_env(v, origin) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, origin) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m["name"] in os.environ:
            return os.environ[m["name"]]
        if m["default"] is not None:
            return m["default"]
        raise ConfigError(f"{origin}: environment variable {m['name']} is not set (used as {m.group(0)})")

    value = _VAR.sub(sub, value)
    return os.path.expanduser(value) if value.startswith("~") else value


C = TypeVar("C", bound=BaseModel)


def parse(cls: type[C], tree: dict, overrides: list[str], origin: str = "--set") -> C:
    """Validate a config tree as ``cls`` after applying ``--set`` overrides and expanding environment variables."""
    tree = expand_env(apply_overrides(tree, overrides), origin)
    try:
        return cls.model_validate(tree)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{origin}: {problems}") from exc


def load_tree(path: str | Path) -> dict:
    """The parsed YAML mapping of a config file; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return tree
