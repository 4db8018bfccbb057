"""Refusals the gateway raises and the routes answer: shared by ``serve.app`` and ``serve.routes``."""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError


class ApiError(Exception):
    """A refusal with an HTTP status and a metrics reason; the routes turn it into ``{"detail": ...}``."""

    def __init__(self, status: int, reason: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail, self.headers = status, reason, detail, headers


def invalid(loc: tuple[str | int, ...], msg: str, value: Any = None) -> RequestValidationError:
    """A 422 in FastAPI's own error shape, for checks that need the loaded model (e.g. which tasks it serves)."""
    return RequestValidationError([{"type": "value_error", "loc": ("body", *loc), "msg": msg, "input": value}])
