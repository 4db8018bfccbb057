"""The metrics a real (tiny) recipe run exports: the tiny demo recipe run by ``ecomrel run`` (conftest's
``demo_run``), then the local node's Prometheus endpoint scraped for every series the Grafana dashboard plots for
translation and negatives, with the counts of their manifests."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections import Counter
from pathlib import Path

from ecomrel.manifest import read_manifest

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "infra" / "grafana" / "dashboards" / "ecomrel.json"
STAGE_SERIES = ("ray_ecomrel_translations_total", "ray_ecomrel_negatives_mined_total")
_SAMPLE = re.compile(r"^(\w+)\{(.*)\} ([0-9.eE+-]+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _dashboard_series() -> set[str]:
    """Every series of the two stages' metrics that a dashboard panel queries."""
    exprs = [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p.get("targets", [])]
    return {name for e in exprs for name in re.findall(r"\bray_ecomrel_\w+", e) if name.startswith(STAGE_SERIES)}


def _scrape(port: int) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    samples = []
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and m[1].startswith("ray_ecomrel_"):
            samples.append((m[1], dict(_LABEL.findall(m[2])), float(m[3])))
    return samples


def _totals(samples, name: str, run: str, key: tuple[str, ...]) -> Counter:
    out: Counter = Counter()
    for series, labels, value in samples:
        if series == name and labels.get("run") == run:
            out[tuple(labels[k] for k in key)] += value
    return out


def test_translate_and_negatives_export_the_series_the_dashboard_plots(ray_local, demo_run):
    cfg = demo_run.config()  # the tiny demo recipe, run by `ecomrel run` on the session's Ray under its own name
    run = cfg.name
    translated = read_manifest(next(cfg.run_dir.glob("translate-*"))).extra
    mined = read_manifest(next(cfg.run_dir.glob("negatives-*"))).extra
    assert translated["planned"] > 0 and mined["output_rows"] > 0

    port = ray_local.nodes()[0]["MetricsExportPort"]
    expected = _dashboard_series()
    assert expected == set(STAGE_SERIES), expected  # the dashboard plots both stages
    deadline, samples = time.monotonic() + 90, []
    while time.monotonic() < deadline:
        samples = _scrape(port)
        if expected <= {name for name, labels, _ in samples if labels.get("run") == run}:
            break
        time.sleep(2)
    seen = {name for name, labels, _ in samples if labels.get("run") == run}
    assert expected <= seen, f"missing {sorted(expected - seen)}; the run exported {sorted(seen)}"

    # The counts are the stages' own: every planned candidate by outcome, every mined row by task and kind.
    outcomes = _totals(
        samples, "ray_ecomrel_translations_total", run, ("source_language", "target_language", "outcome")
    )
    want = Counter()
    for p in translated["pairs"].values():
        want[(p["source"], p["target"], "accepted")] += p["accepted"]
        for reason, n in p["rejected_by_reason"].items():
            want[(p["source"], p["target"], reason)] += n
    assert outcomes == +want and sum(outcomes.values()) == translated["planned"]
    kinds = _totals(samples, "ray_ecomrel_negatives_mined_total", run, ("task", "kind"))
    want_kinds = Counter(
        {(task, k.removesuffix("_negative")): n for task, t in mined["tasks"].items() for k, n in t["counts"].items()}
    )
    assert kinds == want_kinds and sum(kinds.values()) == mined["output_rows"]
