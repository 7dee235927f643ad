"""The Litestar application: ``create_app(settings)`` builds it; nothing runs at import."""

from __future__ import annotations

import gc
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from sqlalchemy import text

from service.auth import (
    LoginLimiter,
    Principal,
    authenticate,
    authenticated,
    issue_token,
)
from service.context import AppContext
from service.db import make_engine
from service.errors import EXCEPTION_HANDLERS, TooManyRequests, Unauthorized
from service.logs import configure_logging, request_log_middleware
from service.settings import Settings
from service.strict_body import StrictBodyRequest


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str


def provide_ctx(request: Request[Any, Any, Any]) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal: Principal = request.state.principal
    return principal


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


def api_handlers() -> list[Any]:
    from service import (
        instruments_api,
        ledger_api,
        loans_api,
        matching_api,
        reports_api,
        requests_api,
    )
    from service.parties import PartyController, RelationshipController

    return [me, PartyController, RelationshipController, *ledger_api.HANDLERS,
            *loans_api.HANDLERS, *instruments_api.HANDLERS, *requests_api.HANDLERS,
            *matching_api.HANDLERS, *reports_api.HANDLERS]


def create_app(settings: Settings | None = None, *, engine: Any = None) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    engine = engine or make_engine(settings.database_url)
    ctx = AppContext(settings=settings, engine=engine,
                     limiter=LoginLimiter(settings.login_attempts_per_minute))
    from service.services import start_services, stop_services

    protected = Router(path="/", route_handlers=api_handlers(), guards=[authenticated])

    def on_startup(app: Litestar) -> None:
        start_services(ctx)
        # Everything built at start-up lives as long as the app: keep it out of the
        # cyclic collector's scans, which otherwise stall requests for tens of ms.
        gc.freeze()

    def on_shutdown(app: Litestar) -> None:
        stop_services(ctx)

    return Litestar(
        route_handlers=[token, health, protected],
        state=State({"ctx": ctx}),
        dependencies={"ctx": Provide(provide_ctx, sync_to_thread=False),
                      "principal": Provide(provide_principal, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_class=StrictBodyRequest,
        middleware=[request_log_middleware],
        request_max_body_size=settings.max_body_bytes,
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        openapi_config=OpenAPIConfig(
            title="Filiera API",
            version="0.1.0",
            description="Ethical finance for short supply chains. See API.md for the contract.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(path="/"), SwaggerRenderPlugin(path="/swagger")],
            components=Components(security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}),
            security=[{"bearer": []}],
        ),
        debug=False,
    )
