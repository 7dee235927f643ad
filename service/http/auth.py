"""HTTP authentication: the bearer-token guard, login, ``/api/me`` and ``/health``."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get, post
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from sqlalchemy import text

from service.app.auth import Principal, authenticate, issue_token, read_token
from service.app.context import AppContext
from service.app.errors import TooManyRequests, Unauthorized


async def authenticated(connection: ASGIConnection[Any, Any, Any, Any],
                        _: BaseRouteHandler) -> None:
    """Guard: a valid bearer token or 401 (before any body is read). Async, so Litestar
    runs it on the event loop: checking an HMAC is cheaper than a hop to a thread."""
    header = connection.headers.get("authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <token>' (POST /api/auth/token)")
    ctx = connection.app.state.ctx
    connection.state.principal = read_token(token.strip(), ctx.settings.secret_key)


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str


@post("/api/auth/token", sync_to_thread=True, status_code=200, tags=["auth"],
      exclude_from_auth=True)
def token(data: TokenIn, ctx: AppContext) -> dict[str, Any]:
    wait = ctx.limiter.retry_after(data.username)
    if wait:
        raise TooManyRequests(f"too many failed logins for this user; retry in {wait} s",
                              retry_after=wait)
    principal = ctx.read(lambda conn: authenticate(conn, data.username, data.password))
    if principal is None:
        ctx.limiter.failed(data.username)
        raise Unauthorized("wrong username or password")
    ctx.limiter.succeeded(data.username)
    ttl = ctx.settings.token_ttl_seconds
    return {"access_token": issue_token(principal, ctx.settings.secret_key, ttl),
            "token_type": "bearer", "expires_in": ttl}


@get("/api/me", sync_to_thread=False, tags=["auth"])
def me(principal: Principal) -> dict[str, Any]:
    return {"username": principal.username, "role": principal.role,
            "party_id": principal.party_id}


@get("/health", sync_to_thread=True, tags=["health"])
def health(ctx: AppContext) -> Response[Any]:
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # the health check reports, it never raises
        return Response({"status": "error", "database": str(exc)[:200]}, status_code=503)
    return Response({"status": "ok", "database": "ok"}, status_code=200)


