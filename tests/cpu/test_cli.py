"""The CLI end to end through a real local Ray: make-data -> ingest -> audit, errors, token-authenticated join."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from typer.testing import CliRunner

from cluster.cli import app
from pipelines.audit import audit_stage

runner = CliRunner()


def _ok(args: list[str]):
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _audit_stage_while_the_raylet_warns(*args, **kwargs):
    """The real stage, with the message a Ray driver prints from its error-listener thread when workers pile up."""
    from ray._private.worker import print_to_stdstream

    print_to_stdstream({"lines": ["WARNING: 8 PYTHON worker processes"], "pid": "raylet", "is_err": False}, False)
    return audit_stage(*args, **kwargs)


def test_make_data_ingest_audit_lists_zero_shot_languages(ray_local, tmp_path, monkeypatch):
    data, ingested = tmp_path / "d", tmp_path / "i"
    _ok(["make-data", "--out", str(data), "--rows", "200", "--seed", "3"])
    assert sorted(p.name for p in data.glob("*.txt")) == [
        "dev_QC.txt",
        "dev_QI.txt",
        "test_QC.txt",
        "test_QI.txt",
        "train_QC.txt",
        "train_QI.txt",
    ]
    out = _ok(["ingest", str(data), "--out", str(ingested)]).output
    assert "quarantined" in out
    manifest = json.loads((ingested / "manifest.json").read_text())
    lines = sum(len(p.read_text().splitlines()) for p in data.glob("*.txt"))
    assert manifest["input_rows"] == lines == manifest["output_rows"] + manifest["quarantined_rows"]
    assert manifest["quarantined_rows"] == 0  # the generator writes only valid rows
    assert manifest["extra"]["labelled_rows"] == lines  # dev/test labels joined from answers/

    # Ray prints its cluster messages to sys.stdout at any time; `--json` output stays parseable (seen in CI).
    monkeypatch.setattr("pipelines.audit.audit_stage", _audit_stage_while_the_raylet_warns)
    audited = _ok(["audit", str(ingested), "--json"])
    assert "WARNING: 8 PYTHON worker processes" in audited.stderr
    report = json.loads(audited.stdout)
    assert report["zero_shot"]["QC"] == ["ar", "de", "it", "pl"]
    assert report["zero_shot"]["QI"] == ["ar", "de", "id", "it", "pl", "vn"]
    assert (ingested / "audit" / "audit.png").is_file()


def test_cli_errors_name_the_file_and_exit_non_zero(ray_local, tmp_path):
    missing = tmp_path / "nowhere" / "train_QC.txt"
    result = runner.invoke(app, ["ingest", str(missing), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and str(missing) in result.output
    bad = tmp_path / "train_QC.txt"
    bad.write_bytes(b"\x00\x01binary")
    result = runner.invoke(app, ["ingest", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "train_QC.txt: binary content" in result.output
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: x\nmake_data: {rowz: 3}\n")
    result = runner.invoke(app, ["run", "--config", str(cfg)])
    assert result.exit_code == 2 and "make_data.rowz" in result.output


def test_console_script_joins_the_running_cluster_with_token_auth(ray_local, tmp_path):
    """A separate process joins the session's Ray (token auth on) through RAY_ADDRESS and audits a dataset."""
    import ray

    data = tmp_path / "d"
    _ok(["make-data", "--out", str(data), "--rows", "100"])
    _ok(["ingest", str(data), "--out", str(tmp_path / "i")])
    exe = shutil.which("ecomrel", path=os.path.dirname(sys.executable)) or shutil.which("ecomrel")
    assert exe, "the ecomrel console script is not installed"
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    env.pop("RAY_AUTH_MODE", None)  # the CLI itself must turn token auth on for the client
    proc = subprocess.run(
        [exe, "audit", str(tmp_path / "i"), "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["zero_shot"]["QC"] == ["ar", "de", "it", "pl"]
