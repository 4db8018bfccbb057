"""Crash consistency: a stage killed anywhere in its body (SIGKILL, through ``ECOMREL_FAULT_KILL_IN``) is redone on
the next run, from its own folder onward, and the recipe ends with the outputs of a run that was never killed.

The first tests drive ``run_stage`` itself in a small subprocess (the issue's stale-manifest sequence: a stage
done with config A, killed under config B after the old output was deleted, then run with A again). The recipe test
runs a tiny version of the demo recipe (every stage of configs/demo.yaml on tiny random models) once unharmed as
the reference (conftest's ``demo_run``, alongside), and as a chain of ``ecomrel run`` subprocesses that each kill
the next stage: run k dies inside stage k, run k+1 must skip stages 0..k-1, redo stage k and die inside stage
k+1; a last run without the fault finishes the recipe. The subprocesses join the session's Ray, so a run costs its
imports, not a Ray start.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from ecomrel.faults import ENV
from ecomrel.manifest import MANIFEST, fingerprint, is_current, read_manifest

ROOT = Path(__file__).resolve().parents[2]

# --- run_stage: the stale-manifest sequence, with a real SIGKILL ----------------------------------------------

#: A stage that writes ``rows`` lines to data/part-*.txt, one file at a time, and a downstream stage counting them.
_STAGE_SCRIPT = """
import sys, time
from pathlib import Path
from ecomrel.manifest import run_stage

out, rows, down = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])

def body(m):
    (out / "data").mkdir()
    for i in range(rows):
        (out / "data" / f"part-{i:03d}.txt").write_text(f"{i}\\n")
        time.sleep(0.01)
    m.input_rows = m.output_rows = rows

def count(m):
    n = sum(1 for _ in (out / "data").glob("*.txt"))
    (down / "count.txt").write_text(str(n))
    m.input_rows = m.output_rows = n

print(run_stage("up", out, f"rows={rows}", [], body)[1], run_stage("down", down, "v1", [out], count)[1])
"""


def _run_script(tmp_path: Path, rows: int, kill_in: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if kill_in:
        env[ENV] = kill_in
    script = tmp_path / "stage.py"
    script.write_text(_STAGE_SCRIPT)
    args = [sys.executable, str(script), str(tmp_path / "up"), str(rows), str(tmp_path / "down")]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_stage_killed_under_another_config_is_rerun_and_restores_its_data(tmp_path):
    up, down = tmp_path / "up", tmp_path / "down"
    a = _run_script(tmp_path, 600)  # config A: 600 rows, and a downstream stage that counts them
    assert a.returncode == 0 and a.stdout.split() == ["True", "True"], a.stderr
    a_manifest = read_manifest(up)
    assert len(a_manifest.outputs) == 600 and (down / "count.txt").read_text() == "600"

    # Config B is killed once it has written 3 of its 50 files: A's output and manifest are gone.
    b = _run_script(tmp_path, 50, kill_in="up:data/part-002.txt")
    assert b.returncode == -signal.SIGKILL and "SIGKILL in stage up (its body wrote data/part-002.txt)" in b.stderr
    assert not (up / MANIFEST).exists() and 3 <= len(list((up / "data").glob("*.txt"))) < 50

    # A again: the stage is not "current" (it used to be, with no data); it runs and restores A's 600 files, and
    # the downstream stage, whose input is byte-identical again, is current.
    again = _run_script(tmp_path, 600)
    assert again.returncode == 0 and again.stdout.split() == ["True", "False"], again.stderr
    restored = read_manifest(up)
    assert restored.output_rows == 600 == len(list((up / "data").glob("*.txt")))
    assert restored.outputs == a_manifest.outputs and restored.completed_at > a_manifest.completed_at


def test_a_stage_whose_files_changed_is_not_current_and_fails_downstream_fingerprints(tmp_path):
    up = tmp_path / "up"
    assert _run_script(tmp_path, 5).returncode == 0
    assert is_current(up, "rows=5", [])
    before = fingerprint(up)
    (up / "data" / "part-004.txt").write_text("4\n5\n")  # another size: truncated or rewritten since
    assert not is_current(up, "rows=5", [])
    with pytest.raises(FileNotFoundError, match=r"stage 'up'.*part-004.txt.*run it again"):
        fingerprint(up)
    (up / "data" / "part-004.txt").unlink()
    assert not is_current(up, "rows=5", [])
    assert _run_script(tmp_path, 5).stdout.split() == ["True", "False"]  # redone; downstream data is the same
    assert fingerprint(up) == before


def test_kill_at_the_end_of_a_body_that_wrote_no_matching_file(tmp_path):
    """The kill happens at the latest when the body returns, before the manifest: the stage never completes."""
    run = _run_script(tmp_path, 2, kill_in="up:no-such-file")
    assert run.returncode == -signal.SIGKILL and "SIGKILL in stage up (its body returned)" in run.stderr
    assert not (tmp_path / "up" / MANIFEST).exists() and len(list((tmp_path / "up" / "data").iterdir())) == 2


# --- every stage of the demo recipe, killed in turn -------------------------------------------------------------

#: The demo recipe's stages (configs/demo.yaml), in order; the test checks this list against the recipe's plan.
DEMO_STAGES = [
    "make_data",
    "ingest",
    "audit",
    "split",
    "baseline",
    "translate",
    "negatives",
    "trainset",
    "selfval",
    "train",
    "score_calib",
    "model",
    "score_test",
    "report",
]


def _folders(cfg) -> dict[str, Path]:
    from cluster.recipe import plan

    return {step.name: step.out for step in plan(cfg, cfg.run_dir)}


def _completed(folders: dict[str, Path]) -> dict[str, float | None]:
    return {s: read_manifest(out).completed_at if (out / MANIFEST).is_file() else None for s, out in folders.items()}


@pytest.fixture(scope="module")
def killed(ray_local, demo_tree, demo_run, tmp_path_factory):
    """The chain: run k of ``ecomrel run`` is killed in stage k; the last run has no fault. Returns the config, and
    per run its return code, stderr and every stage's manifest ``completed_at`` after it. The clean reference run
    (``demo_run``, the same recipe under another name) runs alongside."""
    from cluster.config import config_from_overrides

    tree = demo_tree(tmp_path_factory.mktemp("killed"), "kill")
    cfg = config_from_overrides(tree, [])
    path = cfg.run_dir.parent / "kill.yaml"
    path.write_text(yaml.safe_dump(tree))
    folders = _folders(cfg)
    env = {k: v for k, v in os.environ.items() if k != ENV}
    env["RAY_ADDRESS"] = ray_local.get_runtime_context().gcs_address  # join the session's Ray: no Ray start per run
    runs = []
    for stage in [*DEMO_STAGES, None]:
        # Killed at the first file the stage's body writes (training: its run key, before any checkpoint, so the
        # re-run trains from the start: a resume from a checkpoint is close but not bit-exact, see test_train.py).
        run_env = env if stage is None else {**env, ENV: stage}
        start = time.time()
        proc = subprocess.run(
            [sys.executable, "-m", "cluster.cli", "run", "-c", str(path)],
            cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        runs.append({"stage": stage, "rc": proc.returncode, "stderr": proc.stderr[-3000:], "start": start,
                     "completed": _completed(folders)})  # fmt: skip
        print(f"run killed in {stage}: rc {proc.returncode}, {time.time() - start:.1f}s")
    return cfg, folders, runs


def test_the_demo_recipe_has_these_stages(demo_tree, tmp_path):
    from cluster.config import config_from_overrides, load_config

    assert list(_folders(load_config(ROOT / "configs" / "demo.yaml"))) == DEMO_STAGES
    assert list(_folders(config_from_overrides(demo_tree(tmp_path, "t"), []))) == DEMO_STAGES


@pytest.mark.parametrize("k", range(len(DEMO_STAGES)), ids=DEMO_STAGES)
def test_a_killed_stage_is_redone_from_there_on(killed, k):
    cfg, folders, runs = killed
    stage, before, after = DEMO_STAGES[k], runs[k], runs[k + 1]
    # Run k died by SIGKILL inside stage k's body: once the body had written a file there (or, where the body's
    # writes all come at its very end and the watcher only saw them return, between the body and its manifest).
    assert before["rc"] == -signal.SIGKILL, before["stderr"]
    assert re.search(rf"SIGKILL in stage {stage} \(its body (wrote \S+|returned)\)", before["stderr"])
    assert all(before["completed"][s] for s in DEMO_STAGES[:k])
    assert all(before["completed"][s] is None for s in DEMO_STAGES[k:])
    # The next run skipped every stage before k (their manifests untouched) and redid stage k.
    assert {s: after["completed"][s] for s in DEMO_STAGES[:k]} == {s: before["completed"][s] for s in DEMO_STAGES[:k]}
    assert after["completed"][stage] is not None and after["completed"][stage] > after["start"]
    if after["stage"] is None:
        assert after["rc"] == 0, after["stderr"]


def _datasets(folder: Path) -> dict[str, pd.DataFrame]:
    """Every Parquet dataset under a stage folder (training's checkpoint storage aside), rows in (task, id) order."""
    out = {}
    for d in sorted({p.parent for p in folder.rglob("*.parquet")}):
        rel = d.relative_to(folder).as_posix()
        if rel.startswith("ray/") or "/ray/" in rel:
            continue
        df = pq.read_table(d).to_pandas()
        keys = [c for c in ("task", "id", "anchor_id") if c in df.columns] or list(df.columns)
        out[rel] = df.sort_values(keys, kind="stable").reset_index(drop=True)
    return out


def test_the_killed_chain_ends_with_the_outputs_of_a_clean_run(killed, demo_run):
    cfg, folders, runs = killed
    clean = _folders(demo_run.config())
    assert runs[-1]["rc"] == 0, runs[-1]["stderr"]
    compared = 0
    for stage in DEMO_STAGES:
        got, want = _datasets(folders[stage]), _datasets(clean[stage])
        assert got.keys() == want.keys(), stage
        for rel in want:
            g, w = got[rel], want[rel]
            assert len(g) == len(w) and list(g.columns) == list(w.columns), (stage, rel)
            pd.testing.assert_frame_equal(g, w, check_exact=False, atol=1e-6, rtol=0, obj=f"{stage}/{rel}")
            compared += len(w)
        assert read_manifest(folders[stage]).output_rows == read_manifest(clean[stage]).output_rows, stage
    assert compared > 0
    scores = pq.read_table(folders["score_test"] / "data").column("p_yes").to_numpy()
    assert len(scores) > 0 and np.isfinite(scores).all()
    # Training was killed before its first checkpoint and trained again from the start.
    assert read_manifest(folders["train"]).extra["resumed_from_step"] is None
    thresholds = [json.loads((f["model"] / "thresholds.json").read_text())["tasks"] for f in (folders, clean)]
    assert thresholds[0] == pytest.approx(thresholds[1], abs=1e-6)
    got, want = (_numbers(json.loads((f["report"] / "reports.json").read_text())) for f in (folders, clean))
    assert got.keys() == want.keys() and len(want) > 100
    assert got == pytest.approx(want, abs=1e-6, nan_ok=True)


def _numbers(tree, path: str = "") -> dict[str, float]:
    """Every number in a JSON tree, by its path."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _numbers(sub, f"{path}/{key}").items()}
    if isinstance(tree, list):
        return {k: v for i, sub in enumerate(tree) for k, v in _numbers(sub, f"{path}/{i}").items()}
    return {path: float(tree)} if isinstance(tree, int | float) and not isinstance(tree, bool) else {}
