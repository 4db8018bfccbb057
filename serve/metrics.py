"""Service metrics, declared in ecomrel's one metric registry (``ecomrel.telemetry``) under its naming rule.

``METRICS`` is the complete list of what this package emits: dashboards and alert rules reference these names
(as exported, see ``ecomrel.telemetry.exported_series``), and a test checks them against it. Tag values are
bounded (routes, tasks, decisions, reasons, status codes), never user text, so series counts stay small.

Requests that Serve's HTTP proxy itself rejects before they reach the gateway (its own queue limit) appear in
Ray's ``ray_serve_num_http_error_requests_total`` instead.
"""

from __future__ import annotations

import functools
import time

from ecomrel import telemetry
from ecomrel.telemetry import Metric

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
REJECT_REASONS = ("unauthorized", "too_large", "invalid", "unknown_model", "overloaded", "timeout")

METRICS = telemetry.declare(
    {
        "ecomrel_serve_requests_total": Metric("counter", ("route", "code"), "HTTP requests by route and status code."),
        "ecomrel_serve_decisions_total": Metric("counter", ("task", "decision"), "Judged pairs by task and decision."),
        "ecomrel_serve_rejected_total": Metric(
            "counter",
            ("reason",),
            "Requests refused: unauthorized, too_large, invalid, unknown_model, overloaded, timeout.",
        ),
        "ecomrel_serve_request_latency_seconds": Metric(
            "histogram", ("route",), "End-to-end request latency in the gateway.", LATENCY_BUCKETS_S
        ),
        "ecomrel_serve_batch_size": Metric(
            "histogram", (), "Pairs per model call, gathered across requests by @serve.batch.", BATCH_SIZE_BUCKETS
        ),
        "ecomrel_serve_batch_latency_seconds": Metric("histogram", (), "Model time per batch.", LATENCY_BUCKETS_S),
        "ecomrel_serve_model_loaded": Metric("gauge", ("backend",), "1 on a scorer replica whose model is loaded."),
    }
)


class ServeMetrics:
    """The metric objects of one process (gateway or scorer replica)."""

    def __init__(self) -> None:
        make = telemetry.metric
        self.requests = make("ecomrel_serve_requests_total")
        self.decisions = make("ecomrel_serve_decisions_total")
        self.rejected_requests = make("ecomrel_serve_rejected_total")
        self.latency = make("ecomrel_serve_request_latency_seconds")
        self.batch_size = make("ecomrel_serve_batch_size")
        self.batch_latency = make("ecomrel_serve_batch_latency_seconds")
        self.loaded = make("ecomrel_serve_model_loaded")

    def request(self, route: str, code: int, seconds: float) -> None:
        self.requests.inc(tags={"route": route, "code": str(code)})
        self.latency.observe(seconds, tags={"route": route})

    def decision(self, task: str, relevant: bool) -> None:
        self.decisions.inc(tags={"task": task, "decision": "relevant" if relevant else "irrelevant"})

    def rejected(self, reason: str) -> None:
        if reason not in REJECT_REASONS:
            raise ValueError(f"unknown reject reason {reason!r}; known: {REJECT_REASONS}")
        self.rejected_requests.inc(tags={"reason": reason})

    def batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_latency.observe(seconds)

    def model_loaded(self, backend: str) -> None:
        """Set once the model is loaded; the series ends with the replica."""
        self.loaded.set(1.0, tags={"backend": backend})


@functools.cache
def metrics() -> ServeMetrics:
    """This process's metrics, created on first use (inside the replica, where Ray is connected)."""
    return ServeMetrics()


class RequestMetricsMiddleware:
    """ASGI middleware: counts and times every HTTP request, including ones refused before routing (401)."""

    def __init__(self, app, routes: frozenset[str]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = app_path(scope)
        route = path if path in self.routes else "other"
        status = {"code": 500}
        start = time.perf_counter()

        async def send_and_record(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            metrics().request(route, status["code"], time.perf_counter() - start)


def app_path(scope) -> str:
    """The request path inside the application (the Serve route prefix, the ASGI root_path, removed)."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path
