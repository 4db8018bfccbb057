"""ecomrel's metrics through ``ray.util.metrics``; Ray's metrics agent exports them to Prometheus.

This module is the one registry of every metric ecomrel emits, under one naming rule. A package declares its
metrics with ``declare`` (this module's own pipeline and training metrics are ``METRICS``; ``serve/metrics.py``
declares the service's) and records through ``metric(name)``. The rule: ``ecomrel_`` then lower-case snake case,
a counter's name ends in ``_total`` and nothing else's does, a histogram names its bucket boundaries. The Grafana
dashboard and the alert rules in ``infra/`` reference these names and ``tests/cpu/test_cluster_files.py`` checks
them against the declared lists; ``tests/cpu/test_multinode.py`` checks that a real Ray node exports exactly the
series ``exported_series`` predicts.

How Ray 2.60 names them in Prometheus (measured, and documented under "Adding Application-Level Metrics"): every
name gets a ``ray_`` prefix; a counter whose name ends in ``_total`` keeps it (others get ``_total`` appended);
a histogram becomes ``_bucket``/``_sum``/``_count``. Counters and histograms outlive the process that recorded
them, gauges do not, so per-stage figures are counters and rates are computed in PromQL.

The ``record_*`` helpers do nothing when the process is not connected to Ray (unit tests, plain scripts): there is
no metrics agent to talk to. Tag values are bounded (run and stage names, languages, tasks, fixed outcomes), never
row text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, NamedTuple

from ecomrel.manifest import Manifest

MetricKind = Literal["counter", "gauge", "histogram"]


class Metric(NamedTuple):
    """One declared metric: its kind, tag keys, description and (histograms only) bucket boundaries."""

    kind: MetricKind
    tags: tuple[str, ...]
    description: str
    boundaries: tuple[float, ...] = ()


#: Every metric declared in this process, by name, whichever package declared it.
REGISTRY: dict[str, Metric] = {}
_NAME = re.compile(r"^ecomrel_[a-z0-9]+(?:_[a-z0-9]+)*$")


def declare(metrics: Mapping[str, Metric]) -> Mapping[str, Metric]:
    """Add one package's metrics to ``REGISTRY`` and return them, read-only, as that package's list.

    Raises ``ValueError`` for a name that breaks the naming rule, a histogram without bucket boundaries (or
    another kind with some), or a name already declared differently (declaring the same again is a no-op).
    """
    for name, spec in metrics.items():
        if not _NAME.match(name):
            raise ValueError(f"metric {name!r}: names are 'ecomrel_' followed by lower-case snake case")
        if name.endswith("_total") != (spec.kind == "counter"):
            raise ValueError(f"metric {name!r}: counter names end in '_total', other names do not")
        if bool(spec.boundaries) != (spec.kind == "histogram"):
            raise ValueError(f"metric {name!r}: histograms, and only histograms, have bucket boundaries")
        if REGISTRY.get(name, spec) != spec:
            raise ValueError(f"metric {name!r} is already declared as {REGISTRY[name]}")
    REGISTRY.update(metrics)
    return MappingProxyType(dict(metrics))


#: The pipeline and training metrics, recorded by the ``record_*`` helpers below.
METRICS = declare(
    {
        "ecomrel_recipe_runs_total": Metric(
            "counter", ("run", "status"), "Recipe runs by outcome: succeeded or failed."
        ),
        "ecomrel_stage_runs_total": Metric(
            "counter",
            ("run", "stage", "outcome"),
            "Stage executions: ran, or skipped because its manifest matched its inputs and config.",
        ),
        "ecomrel_stage_rows_total": Metric(
            "counter",
            ("run", "stage", "kind"),
            "Rows a stage that ran read (input), wrote (output) or quarantined.",
        ),
        "ecomrel_stage_seconds_total": Metric(
            "counter",
            ("run", "stage"),
            "Wall seconds spent in stages that ran; output rows / seconds is the stage's rows/s.",
        ),
        "ecomrel_translations_total": Metric(
            "counter",
            ("run", "source_language", "target_language", "outcome"),
            "Translation candidates by quality-gate outcome: accepted, or the name of the gate that rejected them.",
        ),
        "ecomrel_negatives_mined_total": Metric(
            "counter",
            ("run", "task", "kind"),
            "Negative rows added by mining: hard (from the retrieval window), easy or random.",
        ),
        "ecomrel_train_steps_total": Metric("counter", ("run",), "Optimizer steps taken."),
        "ecomrel_train_tokens_total": Metric(
            "counter",
            ("run",),
            "Non-padding tokens processed by all training workers; its rate is the job's tokens/s.",
        ),
        "ecomrel_train_loss": Metric("gauge", ("run",), "Training loss of the latest optimizer step."),
    }
)

PROMETHEUS_PREFIX = "ray_"
RUN_STATUSES = ("succeeded", "failed")
STAGE_OUTCOMES = ("ran", "skipped")
ROW_KINDS = ("input", "output", "quarantined")
NEGATIVE_KINDS = ("hard", "easy", "random")
_TAG_VALUE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def exported_series(name: str) -> list[str]:
    """The Prometheus series a declared metric is exported as by Ray 2.60."""
    return prometheus_series(name, REGISTRY[name].kind)


def prometheus_series(name: str, kind: MetricKind) -> list[str]:
    """The Prometheus series Ray 2.60 exports a ``ray.util.metrics`` metric of this name and kind as."""
    full = PROMETHEUS_PREFIX + name
    if kind == "histogram":
        return [f"{full}_bucket", f"{full}_sum", f"{full}_count"]
    if kind == "counter" and not name.endswith("_total"):
        return [f"{full}_total"]
    return [full]


@functools.cache
def metric(name: str):
    """The ``ray.util.metrics`` object of a declared metric, created once per process (Ray registers it then)."""
    from ray.util.metrics import Counter, Gauge, Histogram

    spec = REGISTRY[name]
    if spec.kind == "histogram":
        return Histogram(name, description=spec.description, boundaries=list(spec.boundaries), tag_keys=spec.tags)
    cls = {"counter": Counter, "gauge": Gauge}[spec.kind]
    return cls(name, description=spec.description, tag_keys=spec.tags)


def _connected() -> bool:
    import ray

    return ray.is_initialized()


def _tag(key: str, value: str, allowed: tuple[str, ...] | None = None) -> str:
    if allowed is not None and value not in allowed:
        raise ValueError(f"metric tag {key}={value!r}: expected one of {allowed}")
    if not _TAG_VALUE.match(value):
        # Free-form names (runs, arms such as "+negatives") are made safe rather than failing the work they tag.
        value = re.sub(r"[^A-Za-z0-9_.-]", "_", value)[:64] or "_"
    return value


def _inc(name: str, value: float, tags: dict[str, str]) -> None:
    if value > 0:  # Ray counters reject zero increments; a zero adds nothing anyway
        metric(name).inc(value, tags=tags)


def record_recipe_run(run: str, status: str) -> None:
    """Count one finished recipe run; ``status`` is ``succeeded`` or ``failed`` (alerted on)."""
    tags = {"run": _tag("run", run), "status": _tag("status", status, RUN_STATUSES)}
    if _connected():
        _inc("ecomrel_recipe_runs_total", 1, tags)


def record_stage(run: str, manifest: Manifest, ran: bool) -> None:
    """Count one stage execution from its manifest: rows in, out and quarantined, and its wall time if it ran."""
    run, stage = _tag("run", run), _tag("stage", manifest.stage)
    if not _connected():
        return
    _inc("ecomrel_stage_runs_total", 1, {"run": run, "stage": stage, "outcome": "ran" if ran else "skipped"})
    if not ran:  # a skipped stage read and wrote nothing; counting its old rows again would inflate rows/s
        return
    rows = {"input": manifest.input_rows, "output": manifest.output_rows, "quarantined": manifest.quarantined_rows}
    for kind, n in rows.items():
        _inc("ecomrel_stage_rows_total", n, {"run": run, "stage": stage, "kind": kind})
    _inc("ecomrel_stage_seconds_total", manifest.wall_time_s, {"run": run, "stage": stage})


def record_translations(run: str, source: str, target: str, accepted: int, rejected: Mapping[str, int]) -> None:
    """Count translation candidates of one language pair: ``accepted`` and ``rejected`` by gate name."""
    base = {
        "run": _tag("run", run),
        "source_language": _tag("source_language", source),
        "target_language": _tag("target_language", target),
    }
    outcomes = {"accepted": accepted, **{_tag("gate", gate): n for gate, n in rejected.items()}}
    if _connected():
        for outcome, n in outcomes.items():
            _inc("ecomrel_translations_total", n, {**base, "outcome": outcome})


def record_negatives(run: str, task: str, mined: Mapping[str, int]) -> None:
    """Count mined negative rows of one task by kind (``hard``, ``easy``, ``random``)."""
    base = {"run": _tag("run", run), "task": _tag("task", task)}
    kinds = {_tag("kind", kind, NEGATIVE_KINDS): n for kind, n in mined.items()}
    if _connected():
        for kind, n in kinds.items():
            _inc("ecomrel_negatives_mined_total", n, {**base, "kind": kind})


def record_train_step(run: str, loss: float, tokens: int) -> None:
    """Record one optimizer step: its loss and the non-padding tokens all workers processed in it.

    Call it from one worker (rank 0) with the global token count, or the job's tokens/s is counted twice.
    """
    tags = {"run": _tag("run", run)}
    if _connected():
        _inc("ecomrel_train_steps_total", 1, tags)
        _inc("ecomrel_train_tokens_total", tokens, tags)
        metric("ecomrel_train_loss").set(float(loss), tags=tags)
