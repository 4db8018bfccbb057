"""Bearer-token authentication of the HTTP API.

Ray's own token authentication guards the cluster (GCS, dashboard, job and Serve CLIs) but not Serve's HTTP
proxy, so the API carries its own token. It is checked by an ASGI middleware, before routing and body parsing:
an unauthenticated caller learns nothing about the API, not even whether its body would validate. Only
``/healthz`` is open, for load balancers and Kubernetes probes.

The token is resolved in the gateway replica (a mounted secret file, else an environment variable) so it never
travels through deployment arguments or the Serve config, which the dashboard displays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from pathlib import Path

from .metrics import app_path, metrics

log = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 16
OPEN_PATHS = frozenset({"/healthz"})
UNAUTHENTICATED_WARNING = (
    "ecomrel serve runs WITHOUT authentication (allow_unauthenticated: true): anyone who can reach the port "
    "can use the model"
)


class AuthConfigError(RuntimeError):
    """No usable token and no explicit permission to run without one."""


def resolve_token(token_env: str, token_file: str | None, allow_unauthenticated: bool) -> str | None:
    """The bearer token, or None when running open was explicitly allowed and no token is configured."""
    if token_file:
        path = Path(token_file)
        if not path.is_file():
            raise AuthConfigError(f"auth_token_file {path}: no such file")
        token, origin = path.read_text().strip(), f"file {path}"
    else:
        token, origin = os.environ.get(token_env, "").strip(), f"environment variable {token_env}"
    if token:
        if len(token) < MIN_TOKEN_CHARS:
            raise AuthConfigError(f"the token in {origin} is {len(token)} characters; use at least {MIN_TOKEN_CHARS}")
        return token
    if allow_unauthenticated:
        log.warning(UNAUTHENTICATED_WARNING)
        return None
    raise AuthConfigError(
        f"no API token: set {token_env} in the gateway's environment or auth_token_file, "
        "or set allow_unauthenticated: true to serve without one"
    )


class BearerAuthMiddleware:
    """Answers 401 unless ``Authorization: Bearer <token>`` matches; the comparison is constant-time."""

    def __init__(self, app, token: str) -> None:
        self.app = app
        self._digest = hashlib.sha256(token.encode()).digest()

    def _authorized(self, headers: list[tuple[bytes, bytes]]) -> bool:
        values = [v for k, v in headers if k.lower() == b"authorization"]
        if len(values) != 1:
            return False
        scheme, _, given = values[0].partition(b" ")
        # Comparing digests keeps the time independent of the token's length as well as its content.
        return scheme.lower() == b"bearer" and hmac.compare_digest(hashlib.sha256(given.strip()).digest(), self._digest)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or app_path(scope) in OPEN_PATHS or self._authorized(scope["headers"]):
            await self.app(scope, receive, send)
            return
        metrics().rejected("unauthorized")
        body = json.dumps({"detail": "missing or invalid bearer token"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="ecomrel"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
