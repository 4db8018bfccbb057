"""The relevance service against real local Serve applications (tiny Qwen3 + a random LoRA adapter).

Two applications share one Serve instance: ``/`` serves the model with the transformers backend, ``/slow`` a
fake backend that sleeps (and reports its batch size as the score) behind tiny limits, to provoke overload.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import requests
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from serve.settings import ServeConfig

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAIRS = [
    ("QC", "red running shoes", "sports & outdoors,running,shoes", "es"),
    ("QC", "phone case", "electronics,phones & accessories,cases", "en"),
    ("QC", "funda para movil", "automobiles, parts & accessories,tools", None),
    ("QI", "wireless earbuds", "Bluetooth 5.3 wireless earbuds with charging case", "vi"),
    ("QI", "garden hose", "Stainless steel kitchen knife set, 6 pieces", "fr"),
    ("QI", "ランニングシューズ", "Men's lightweight running shoes, breathable mesh", "ja"),
]
THRESHOLDS = {"QC": 0.4, "QI": 0.2}
PER_LANGUAGE = {"QC": {"es": 0.6}, "QI": {"vn": 0.7}}
MAX_PAIRS, MAX_CHARS = 8, 200


def _pickle_by_value() -> None:
    """Replicas cannot import this test module: ship the fakes defined here by value."""
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


class SlowBackend:
    """Sleeps per batch; the score is the batch size / 100, so a client can see cross-request batching."""

    name = "slow"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def score(self, rows):
        from serve.backends import Scored

        time.sleep(self.seconds)
        return [Scored(len(rows) / 100, 1) for _ in rows]


def slow_backend(spec) -> SlowBackend:
    return SlowBackend(0.4)


@pytest.fixture(scope="module")
def model_dir(tiny_model, tmp_path_factory) -> Path:
    """A run's model directory: a LoRA adapter made with peft (random B, so it changes the scores) + thresholds."""
    import torch
    from peft import LoraConfig, get_peft_model

    from ecomrel.artifacts import Thresholds
    from ecomrel.models import load_causal_lm

    out = tmp_path_factory.mktemp("model_dir")
    torch.manual_seed(7)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(load_causal_lm(str(tiny_model)), lora).save_pretrained(out / "adapter")
    Thresholds(
        base_model=str(tiny_model),
        adapter="adapter",
        tasks=THRESHOLDS,
        per_language=PER_LANGUAGE,
        calibrated_on="seed",
        version="test-1",
    ).save(out / "thresholds.json")
    return out


@pytest.fixture(scope="module")
def reference(model_dir):
    from ecomrel.artifacts import Thresholds
    from ecomrel.scorer import TwoLogitScorer

    t = Thresholds.load(model_dir)
    return TwoLogitScorer(t.base_model, adapter=t.adapter, max_seq_len=t.max_seq_len, device="cpu")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def service(ray_local, model_dir, tmp_path_factory):
    from ray import serve

    from serve.app import build_app

    _pickle_by_value()
    token_file = tmp_path_factory.mktemp("secret") / "token"
    token_file.write_text(TOKEN + "\n")
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    common = dict(auth_token_file=str(token_file), max_pairs_per_request=MAX_PAIRS, max_text_chars=MAX_CHARS)
    main = ServeConfig(num_cpus=0.5, max_batch_size=8, target_ongoing_requests=8, max_ongoing_requests=16, **common)
    slow = ServeConfig(
        num_cpus=0,
        max_batch_size=4,
        batch_wait_timeout_s=0.05,
        target_ongoing_requests=4,
        max_ongoing_requests=4,
        max_queued_requests=2,
        retry_after_s=2,
        **common,
    )
    serve.run_many(  # both start at once: replica start-up dominates this file's wall time
        [
            serve.RunTarget(build_app(model_dir, main), name="relevance-test", route_prefix="/"),
            serve.RunTarget(
                build_app(model_dir, slow, backend_factory=slow_backend), name="overload-test", route_prefix="/slow"
            ),
        ]
    )
    base = f"http://127.0.0.1:{port}"
    yield SimpleNamespace(url=base, slow=f"{base}/slow")
    serve.shutdown()


def _relevance(url: str, pairs, headers=AUTH) -> requests.Response:
    body = {"pairs": [{"task": t, "query": q, "target": g, "language": lang} for t, q, g, lang in pairs]}
    return requests.post(f"{url}/v1/relevance", json=body, headers=headers, timeout=60)


def test_scores_equal_two_logit_scorer_alone_and_batched_across_requests(service, reference):
    expected = reference.score([p[0] for p in PAIRS], [p[1] for p in PAIRS], [p[2] for p in PAIRS])
    whole = _relevance(service.url, PAIRS)
    assert whole.status_code == 200, whole.text
    with ThreadPoolExecutor(len(PAIRS)) as pool:  # single-pair requests at once: batched together by @serve.batch
        singles = list(pool.map(lambda p: _relevance(service.url, [p]), PAIRS))
    body = whole.json()
    assert body["model"] == "ecomrel-relevance" and body["version"] == "test-1"
    got = np.array([r["p_yes"] for r in body["results"]])
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose([s.json()["results"][0]["p_yes"] for s in singles], expected, atol=1e-6, rtol=0)
    for (task, _, _, lang), result in zip(PAIRS, body["results"], strict=True):
        language = "vn" if lang == "vi" else lang
        threshold = PER_LANGUAGE[task].get(language, THRESHOLDS[task])
        assert result["language"] == language and result["threshold"] == threshold
        assert result["relevant"] == (result["p_yes"] >= threshold)


def test_adapter_is_applied(reference, tiny_model):
    from ecomrel.scorer import TwoLogitScorer

    rows = [p[0] for p in PAIRS], [p[1] for p in PAIRS], [p[2] for p in PAIRS]
    base = TwoLogitScorer(str(tiny_model), device="cpu").score(*rows)
    assert np.abs(base - reference.score(*rows)).max() > 1e-4


def test_vllm_score_endpoint_shape(service, reference):
    targets = [p[2] for p in PAIRS[:2]]
    expected = reference.score(["QC", "QC"], ["red running shoes"] * 2, targets)
    r = requests.post(
        f"{service.url}/v1/score",
        json={"model": "ecomrel-relevance-qc", "text_1": "red running shoes", "text_2": targets, "encoding": "x"},
        headers=AUTH,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["model"] == "ecomrel-relevance-qc"
    assert [d["index"] for d in body["data"]] == [0, 1] and {d["object"] for d in body["data"]} == {"score"}
    np.testing.assert_allclose([d["score"] for d in body["data"]], expected, atol=1e-6, rtol=0)
    assert body["usage"]["prompt_tokens"] > 0
    same = requests.post(
        f"{service.url}/v1/score",
        json={"model": "ecomrel-relevance", "task": "QC", "text_1": ["red running shoes"] * 2, "text_2": targets},
        headers=AUTH,
    )
    np.testing.assert_allclose([d["score"] for d in same.json()["data"]], expected, atol=1e-6, rtol=0)
    unknown = requests.post(
        f"{service.url}/v1/score", json={"model": "gpt-9", "text_1": "a", "text_2": "b"}, headers=AUTH
    )
    assert unknown.status_code == 404 and "gpt-9" in unknown.json()["detail"]


def test_models_health_and_openapi(service):
    models = requests.get(f"{service.url}/v1/models", headers=AUTH).json()
    assert {m["id"]: m["task"] for m in models["data"]} == {
        "ecomrel-relevance": None,
        "ecomrel-relevance-qc": "QC",
        "ecomrel-relevance-qi": "QI",
    }
    assert models["warning"] is None and models["data"][0]["thresholds"] == THRESHOLDS
    health = requests.get(f"{service.url}/healthz")  # no token needed
    assert health.status_code == 200 and health.json()["model_loaded"] and health.json()["backend"] == "transformers"
    schema = requests.get(f"{service.url}/openapi.json", headers=AUTH).json()
    assert {"/v1/relevance", "/v1/score", "/v1/models", "/healthz"} <= set(schema["paths"])
    assert schema["components"]["schemas"]["RelevanceRequest"]["properties"]["pairs"]["maxItems"] == MAX_PAIRS


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
    ids=["missing", "wrong", "wrong-scheme", "no-scheme"],
)
def test_unauthorized_is_401_on_every_route_but_healthz(service, headers):
    calls = [
        ("post", "/v1/relevance", {"pairs": "malformed bodies are not even read"}),
        ("post", "/v1/score", {"text_1": "a", "text_2": "b", "task": "QC"}),
        ("get", "/v1/models", None),
        ("get", "/openapi.json", None),
        ("get", "/docs", None),
    ]
    for method, path, body in calls:
        r = requests.request(method, f"{service.url}{path}", json=body, headers=headers)
        assert r.status_code == 401, (path, r.status_code)
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert requests.get(f"{service.slow}/v1/models", headers=headers).status_code == 401
    assert requests.get(f"{service.slow}/healthz", headers=headers).status_code == 200


def _pair(**change):
    return {"task": "QC", "query": "red shoes", "target": "sports,shoes"} | change


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"pairs": [_pair(task="QX")]}, ["body", "pairs", 0, "task"]),
        ({"pairs": [_pair(task=None)]}, ["body", "pairs", 0, "task"]),
        ({"pairs": [_pair(query="")]}, ["body", "pairs", 0, "query"]),
        ({"pairs": [_pair(query=" \t\n")]}, ["body", "pairs", 0, "query"]),
        ({"pairs": [_pair(target="x" * (MAX_CHARS + 1))]}, ["body", "pairs", 0, "target"]),
        ({"pairs": [_pair(query=5)]}, ["body", "pairs", 0, "query"]),
        ({"pairs": [_pair(language="english!")]}, ["body", "pairs", 0, "language"]),
        ({"pairs": [_pair(score=1)]}, ["body", "pairs", 0, "score"]),
        ({"pairs": [_pair()] * (MAX_PAIRS + 1)}, ["body", "pairs"]),
        ({"pairs": []}, ["body", "pairs"]),
        ({"pairs": "QC"}, ["body", "pairs"]),
        ({}, ["body", "pairs"]),
        ([_pair()], ["body"]),
    ],
)
def test_bad_relevance_bodies_are_422_naming_the_field(service, body, loc):
    r = requests.post(f"{service.url}/v1/relevance", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert loc in [e["loc"] for e in r.json()["detail"]]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"pairs": [{"task": "QC", "query": "\\ud800", "target": "x"}]}',  # lone surrogate
        b"{not json",
        b"",
        b"\xff\xfe\x00",
        b"[" * 10_000,
    ],
)
def test_malformed_raw_bodies_are_4xx(service, raw):
    headers = AUTH | {"Content-Type": "application/json"}
    assert requests.post(f"{service.url}/v1/relevance", data=raw, headers=headers).status_code in (400, 422)


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"task": "QC", "text_1": ["a", "b"], "text_2": ["x", "y", "z"]}, ["body"]),
        ({"task": "QC", "text_1": "a", "text_2": ["b"] * (MAX_PAIRS + 1)}, ["body"]),
        ({"task": "QC", "text_1": "a", "text_2": []}, ["body"]),
        ({"model": "ecomrel-relevance", "text_1": "a", "text_2": "b"}, ["body", "task"]),
        ({"task": "QQ", "text_1": "a", "text_2": "b"}, ["body", "task"]),
    ],
)
def test_bad_score_bodies_are_422(service, body, loc):
    r = requests.post(f"{service.url}/v1/score", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert loc in [e["loc"] for e in r.json()["detail"]]


def test_oversized_body_is_413_unread(service):
    r = requests.post(f"{service.url}/v1/relevance", data=b"x" * 5_000_000, headers=AUTH)
    assert r.status_code == 413


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
_field = st.one_of(_json, st.sampled_from(["QC", "QI", "qc", "", " ", "es", "vi", "x" * (MAX_CHARS + 1)]))
_near_pair = st.dictionaries(st.sampled_from(["task", "query", "target", "language", "extra"]), _field, max_size=5)
_relevance_body = st.one_of(
    _json, st.fixed_dictionaries({"pairs": st.one_of(_json, st.lists(_near_pair, max_size=10))})
)
_score_body = st.one_of(
    _json,
    st.dictionaries(
        st.sampled_from(["model", "task", "text_1", "text_2", "language"]),
        st.one_of(_field, st.lists(_field, max_size=10)),
        max_size=5,
    ),
)


@settings(max_examples=80, deadline=None)
@given(route=st.sampled_from(["/v1/relevance", "/v1/score"]), body=st.one_of(_relevance_body, _score_body))
def test_fuzzed_bodies_never_500(service, route, body):
    r = requests.post(f"{service.url}{route}", data=json.dumps(body), headers=AUTH, timeout=60)
    assert r.status_code in (200, 404, 422), (r.status_code, r.text[:300])


def _exported(port: int) -> list:
    """Every sample the node's metrics agent exports now (Prometheus text format, parsed)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _total(samples, name: str, **labels) -> float:
    """The sum of a series over every process exporting it (Ray tags each with its worker), matching ``labels``."""
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def test_overload_answers_503_fast_and_batches_across_requests(service, ray_local):
    def call(_):
        start = time.perf_counter()
        r = _relevance(service.slow, [PAIRS[0]])
        return r, time.perf_counter() - start

    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(call, range(24)))
    codes = [r.status_code for r, _ in results]
    assert set(codes) <= {200, 503}, codes
    ok = [r for r, _ in results if r.status_code == 200]
    shed = [(r, t) for r, t in results if r.status_code == 503]
    assert len(ok) >= 4 and len(shed) >= 8, codes
    assert all(r.headers["retry-after"] == "2" for r, _ in shed)
    assert max(t for _, t in shed) < 2.0  # refused at once, not after waiting for the slow backend
    assert max(r.json()["results"][0]["p_yes"] for r in ok) * 100 >= 2  # several requests shared a model call
    assert requests.get(f"{service.slow}/healthz").status_code == 200

    # The exporter shows the overload as the alert rules read it (infra/prometheus/alerts.yml): this burst is the
    # module's only source of reason="overloaded", so that series counts exactly its 503s.
    rejected, requests_total, latency, batch = (
        "ray_ecomrel_serve_rejected_total",
        "ray_ecomrel_serve_requests_total",
        "ray_ecomrel_serve_request_latency_seconds",
        "ray_ecomrel_serve_batch_size",
    )
    port = ray_local._private.worker.global_worker.node.metrics_export_port

    def exported() -> tuple[list, dict[str, bool]]:
        samples = _exported(port)
        latency_count = _total(samples, f"{latency}_count", route="/v1/relevance")
        scoring = sum(_total(samples, requests_total, route=r) for r in ("/v1/relevance", "/v1/score"))
        return samples, {
            "overloaded = the 503s": _total(samples, rejected, reason="overloaded") == len(shed),
            "503s among the requests": _total(samples, requests_total, route="/v1/relevance", code="503") >= len(shed),
            # EcomrelServeOverloaded's ratio: overloaded rejections over scoring requests, here far above 5%
            "overload alert ratio": scoring > 0 and _total(samples, rejected, reason="overloaded") / scoring > 0.05,
            # every burst request is timed, the slow backend's 200s (>= 0.4 s) above the 0.25 s bucket
            "latency count": latency_count >= len(results),
            "slow latencies": latency_count - _total(samples, f"{latency}_bucket", route="/v1/relevance", le="0.25")
            >= len(ok),
            # the slow scorer's calls gathered several requests: some batch is above the le="1.0" bucket (Ray
            # exports a histogram's buckets exactly, its _sum from bucket midpoints)
            "batches above 1": _total(samples, f"{batch}_count") - _total(samples, f"{batch}_bucket", le="1.0") >= 1,
        }

    deadline = time.monotonic() + 40  # Ray's metrics agent exports every few seconds, each process on its own
    while not all((checks := exported())[1].values()) and time.monotonic() < deadline:
        time.sleep(2)
    samples, results_by_check = checks
    assert all(results_by_check.values()), (results_by_check, [s for s in samples if "ecomrel_serve" in s.name])


def test_metrics_are_exported_under_the_listed_names(service, ray_local):
    from ecomrel.telemetry import REGISTRY, exported_series
    from serve.metrics import METRICS

    assert all(name.startswith("ecomrel_serve_") and REGISTRY[name] == spec for name, spec in METRICS.items())
    assert _relevance(service.url, PAIRS[:1]).status_code == 200
    assert _relevance(service.url, PAIRS[:1], headers={}).status_code == 401
    assert requests.post(f"{service.url}/v1/relevance", json={}, headers=AUTH).status_code == 422
    port = ray_local._private.worker.global_worker.node.metrics_export_port
    wanted = [
        exported_series("ecomrel_serve_requests_total")[0] + "{",
        exported_series("ecomrel_serve_batch_size")[0] + "{",
        exported_series("ecomrel_serve_decisions_total")[0] + "{",
        'reason="unauthorized"',
        'reason="invalid"',
    ]
    deadline = time.monotonic() + 40  # Ray's metrics agent exports every few seconds
    while True:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        missing = [w for w in wanted if w not in text]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(2)
    ours = [line for line in text.splitlines() if "ecomrel_serve" in line and not line.startswith("#")]
    assert not missing, (missing, ours)


class FakeLLM:
    """Answers ``classify`` like vLLM's converted classifier: probs = [P(yes)] from the prompt token ids."""

    def __init__(self, **kwargs) -> None:
        self.kwargs = kwargs
        self.scorer = None

    def classify(self, prompts, lora_request=None, use_tqdm=True):
        from ecomrel.scorer import TwoLogitScorer

        if self.scorer is None:
            self.scorer = TwoLogitScorer(
                self.kwargs["model"], adapter=lora_request.lora_path, max_seq_len=self.kwargs["max_model_len"]
            )
        p = self.scorer.score_ids([prompt["prompt_token_ids"] for prompt in prompts])
        return [SimpleNamespace(outputs=SimpleNamespace(probs=[float(v)])) for v in p]


def test_vllm_backend_with_fake_engine(model_dir, reference):
    from ecomrel.artifacts import Thresholds
    from serve.backends import BackendSpec, Row, VllmBackend

    t = Thresholds.load(model_dir)
    spec = BackendSpec(kind="vllm", base_model=t.base_model, adapter=t.adapter, engine_kwargs={"enforce_eager": True})
    backend = VllmBackend(spec, engine_cls=FakeLLM)
    kw = backend.engine.kwargs
    assert kw["hf_overrides"] == {
        "architectures": ["Qwen3ForSequenceClassification"],
        "classifier_from_token": ["no", "yes"],
        "method": "from_2_way_softmax",
    }
    assert kw["runner"] == "pooling" and kw["convert"] == "classify" and kw["enable_lora"] and kw["enforce_eager"]
    assert kw["max_lora_rank"] == 8
    assert backend.lora.lora_path == t.adapter
    rows = [Row(*p[:3]) for p in PAIRS]
    got = backend.score(rows)
    expected = reference.score(*zip(*rows, strict=True))
    np.testing.assert_allclose([s.p_yes for s in got], expected, atol=1e-6, rtol=0)
    assert all(s.prompt_tokens > 0 for s in got)


def test_token_is_required_unless_explicitly_waived(tmp_path, monkeypatch, caplog, model_dir):
    from ecomrel.artifacts import Thresholds
    from serve.app import Gateway
    from serve.auth import AuthConfigError, resolve_token

    monkeypatch.delenv("ECOMREL_TEST_TOKEN", raising=False)
    with pytest.raises(AuthConfigError, match="ECOMREL_TEST_TOKEN"):
        resolve_token("ECOMREL_TEST_TOKEN", None, allow_unauthenticated=False)
    monkeypatch.setenv("ECOMREL_TEST_TOKEN", "short")
    with pytest.raises(AuthConfigError, match="at least 16"):
        resolve_token("ECOMREL_TEST_TOKEN", None, allow_unauthenticated=False)
    (tmp_path / "token").write_text(TOKEN)
    assert resolve_token("ECOMREL_TEST_TOKEN", str(tmp_path / "token"), allow_unauthenticated=False) == TOKEN
    with pytest.raises(AuthConfigError, match="no such file"):
        resolve_token("ECOMREL_TEST_TOKEN", str(tmp_path / "missing"), allow_unauthenticated=True)

    monkeypatch.delenv("ECOMREL_TEST_TOKEN")
    cfg = ServeConfig(auth_token_env="ECOMREL_TEST_TOKEN", allow_unauthenticated=True)
    with caplog.at_level("WARNING"):
        gateway = Gateway(None, Thresholds.load(model_dir), "v", cfg)
        listing = gateway.model_list()
    assert gateway.token is None and "WITHOUT authentication" in listing.warning
    assert sum("WITHOUT authentication" in r.message for r in caplog.records) == 2  # start-up and /v1/models


def test_serve_modules_import_each_other_without_cycles():
    import ast
    from graphlib import TopologicalSorter

    package = Path(__file__).resolve().parents[2] / "serve"
    graph = {}
    for path in package.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported |= {node.module} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("serve."):
                imported.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                imported |= {a.name.split(".")[1] for a in node.names if a.name.startswith("serve.")}
        graph[path.stem] = imported
    assert graph["app"] >= {"routes", "errors"} and "app" not in graph["routes"]
    tuple(TopologicalSorter(graph).static_order())  # raises CycleError on a cycle


def test_build_app_errors_name_the_file(tmp_path, model_dir):
    from serve.app import build_app

    with pytest.raises(FileNotFoundError, match="thresholds"):
        build_app(tmp_path)
    broken = json.loads((model_dir / "thresholds.json").read_text()) | {"adapter": str(tmp_path / "nowhere")}
    (tmp_path / "thresholds.json").write_text(json.dumps(broken))
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        build_app(tmp_path)


def test_deploy_config_is_what_serve_build_writes():
    from serve.deploy_config import DEFAULT_PATH, render

    assert render(DEFAULT_PATH) == DEFAULT_PATH.read_text(), "stale: rewrite it with python -m serve.deploy_config"


def test_deploy_config_rewrite_follows_args_and_keeps_what_the_file_owns(tmp_path):
    from serve.app import GATEWAY, SCORER, AppArgs, gateway_options, scorer_options
    from serve.deploy_config import DEFAULT_PATH, IMPORT_PATH, main

    config = yaml.safe_load(DEFAULT_PATH.read_text())
    config["http_options"] = {"host": "::", "port": 8080}
    (app,) = config["applications"]
    app |= {"name": "mine", "runtime_env": {"env_vars": {"A": "1"}}}
    app["args"]["serve"] |= {"max_replicas": 8, "num_cpus": 2}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(config))
    main([str(path)])

    rewritten = yaml.safe_load(path.read_text())
    assert rewritten["http_options"] == config["http_options"]
    (new,) = rewritten["applications"]
    assert new["import_path"] == IMPORT_PATH
    assert {k: new[k] for k in ("name", "runtime_env", "args")} == {k: app[k] for k in ("name", "runtime_env", "args")}
    cfg = AppArgs.model_validate(app["args"]).serve
    deployments = {d["name"]: d for d in new["deployments"]}
    assert (
        deployments[SCORER]["autoscaling_config"]["max_replicas"]
        == scorer_options(cfg)["autoscaling_config"]["max_replicas"]
        == 8
    )
    assert deployments[SCORER]["ray_actor_options"]["num_cpus"] == 2
    assert deployments[GATEWAY]["max_ongoing_requests"] == gateway_options(cfg)["max_ongoing_requests"] == 1280


class _Response:
    """Stands in for a DeploymentResponse: awaitable, cancellable."""

    def __init__(self, value=None, error: Exception | None = None, delay_s: float = 0.0) -> None:
        self.value, self.error, self.delay_s, self.cancelled = value, error, delay_s, False

    def __await__(self):
        return self._result().__await__()

    async def _result(self):
        import asyncio

        await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        return self.value

    def cancel(self) -> None:
        self.cancelled = True


def _gateway_with(response: _Response, model_dir, **cfg):
    from ecomrel.artifacts import Thresholds
    from serve.app import Gateway

    method = SimpleNamespace(remote=lambda *args: response)
    handle = SimpleNamespace(score=method, ready=method)
    return Gateway(handle, Thresholds.load(model_dir), "v", ServeConfig(allow_unauthenticated=True, **cfg))


def test_gateway_maps_backpressure_to_503_and_slowness_to_504(model_dir, monkeypatch):
    import asyncio

    from ray.serve.exceptions import BackPressureError

    from serve.backends import Row
    from serve.errors import ApiError

    monkeypatch.delenv("ECOMREL_SERVE_TOKEN", raising=False)
    row = [Row("QC", "a", "b")]
    full = _Response(error=BackPressureError(num_queued_requests=2, max_queued_requests=2))
    gateway = _gateway_with(full, model_dir, retry_after_s=3)
    with pytest.raises(ApiError) as refused:
        asyncio.run(gateway._score(row))
    assert (refused.value.status, refused.value.reason, refused.value.headers) == (
        503,
        "overloaded",
        {"Retry-After": "3"},
    )
    assert asyncio.run(gateway.health()).model_loaded  # saturated replicas have their model loaded

    slow = _Response(value=[], delay_s=5)
    gateway = _gateway_with(slow, model_dir, request_timeout_s=0.2)
    with pytest.raises(ApiError) as late:
        asyncio.run(gateway._score(row))
    assert (late.value.status, late.value.reason) == (504, "timeout") and slow.cancelled

    monkeypatch.setattr("serve.app.HEALTH_TIMEOUT_S", 0.1)  # no scorer replica answers: 503 on /healthz
    assert not asyncio.run(gateway.health()).model_loaded
