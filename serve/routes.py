"""The gateway's FastAPI application, built inside each gateway replica (``__serve_build_asgi_app__``).

This module deliberately has no ``from __future__ import annotations``: FastAPI reads the route signatures at
run time, and the request models are built per deployment (their limits come from the config), so they exist
only as local names here.

Middleware, outermost first: FastAPI's body-size cap (``max_body_size``: a body larger than any valid request can
be is refused with 413 as soon as it is known to be, never held in memory), request metrics (every answer counted
and timed, refusals included), bearer-token auth (before anything reads the body).
"""

import json
from typing import Protocol

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from .api import Error, Health, Limits, ModelList, RelevanceResponse, RequestModels, ScoreResponse
from .auth import BearerAuthMiddleware
from .errors import ApiError
from .metrics import RequestMetricsMiddleware, metrics

_REFUSALS = {
    401: {"model": Error, "description": "Missing or wrong bearer token."},
    413: {"model": Error, "description": "Body larger than any valid request."},
    503: {"model": Error, "description": "Overloaded: the scorer queue is full; see Retry-After."},
    504: {"model": Error, "description": "Not scored within request_timeout_s."},
}


def _json(content, status_code: int, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer that echoes client input safely: ASCII escapes keep lone surrogates (valid in JSON text,
    unencodable as UTF-8) from turning a 422 into a 500."""
    body = json.dumps(jsonable_encoder(content), ensure_ascii=True)
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


class Service(Protocol):
    """What the routes call: ``serve.app.Gateway``, which builds this app in its replica. Its methods raise
    ``ApiError`` or ``RequestValidationError`` to refuse a request."""

    version: str
    token: str | None
    limits: Limits
    models: RequestModels

    async def judge(self, pairs: list[BaseModel]) -> RelevanceResponse: ...

    async def score_texts(self, body: BaseModel) -> ScoreResponse: ...

    async def health(self) -> Health: ...

    def model_list(self) -> ModelList: ...


def make_fastapi(gw: Service) -> FastAPI:
    RelevanceRequest = gw.models.relevance
    ScoreRequest = gw.models.score
    app = FastAPI(
        title="ecomrel relevance",
        version=gw.version,
        description="Calibrated query-category (QC) and query-item (QI) relevance. "
        "Every route but /healthz needs `Authorization: Bearer <token>`.",
        max_body_size=gw.limits.max_body_bytes,
    )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        metrics().rejected("invalid")
        return _json({"detail": exc.errors()}, 422)

    @app.exception_handler(HTTPException)
    async def _http_error(request, exc: HTTPException):
        reason = {400: "invalid", 413: "too_large"}.get(exc.status_code)  # unparseable body / body over the cap
        if reason:
            metrics().rejected(reason)
        return await http_exception_handler(request, exc)

    @app.exception_handler(ApiError)
    async def _refused(request, exc: ApiError):
        metrics().rejected(exc.reason)
        return _json({"detail": exc.detail}, exc.status, exc.headers)

    @app.post("/v1/relevance", response_model=RelevanceResponse, responses=_REFUSALS)
    async def relevance(body: RelevanceRequest) -> RelevanceResponse:
        """P(yes) and the calibrated decision for each (task, query, target) pair."""
        return await gw.judge(body.pairs)

    @app.post("/v1/score", response_model=ScoreResponse, responses=_REFUSALS | {404: {"model": Error}})
    async def score(body: ScoreRequest) -> ScoreResponse:
        """vLLM-compatible score endpoint: ``score`` is P(yes) of (text_1, text_2)."""
        return await gw.score_texts(body)

    @app.get("/v1/models", response_model=ModelList, responses={401: _REFUSALS[401]})
    async def models() -> ModelList:
        return gw.model_list()

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}})
    async def healthz() -> JSONResponse:
        """200 once a scorer replica has loaded the model, else 503. Needs no token."""
        health = await gw.health()
        return JSONResponse(health.model_dump(), status_code=200 if health.model_loaded else 503)

    if gw.token is not None:
        app.add_middleware(BearerAuthMiddleware, token=gw.token)
    app.add_middleware(RequestMetricsMiddleware, routes=frozenset(route.path for route in app.routes))
    return app
