"""The Litestar application: ``create_app(settings)`` builds it; nothing runs at import."""

from __future__ import annotations

import gc
from importlib.metadata import version

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import NotFoundException
from litestar.response import Template
from litestar.routes import HTTPRoute
from litestar.types import ControllerRouterHandler, Message, Receive, Scope, Send
from sqlalchemy import Engine

from service.app.auth import Principal
from service.app.context import AppContext
from service.bootstrap import build_context, start_services, stop_services
from service.http import (
    books,
    funds,
    gdxp,
    guarantees,
    ledger,
    loans,
    matching,
    parties,
    prepayments,
    reports,
    requests,
)
from service.http.audit import audit, audit_middleware
from service.http.auth import authenticated, change_password, health, logout_token, me, token
from service.http.logs import configure_logging, request_log_middleware
from service.http.openapi import DocumentedStrings, docs_assets, openapi_config
from service.http.problems import EXCEPTION_HANDLERS, ProblemResponse, handle_http
from service.http.strict_body import (
    StrictBodyRequest,
    check_request,
    query_parameters,
    refuse_after_bad_body,
)
from service.settings import Settings
from service.web.core import AnyRequest
from service.web.routes import not_found, static_router, template_config, web_router


def provide_ctx(request: AnyRequest) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def provide_principal(request: AnyRequest) -> Principal:
    principal: Principal = request.state.principal
    return principal


def not_found_anywhere(request: AnyRequest, exc: NotFoundException
                       ) -> ProblemResponse | Template:
    """A path nothing serves: a problem document under /api, an Italian page elsewhere."""
    if request.url.path.startswith(("/api", "/schema", "/health", "/static")):
        return handle_http(request, exc)
    return not_found(request, exc)


def api_handlers() -> list[ControllerRouterHandler]:
    return [me, logout_token, change_password, audit, *parties.HANDLERS, *ledger.HANDLERS,
            *loans.HANDLERS, *guarantees.HANDLERS,
            *prepayments.HANDLERS, *funds.HANDLERS, *requests.HANDLERS, *matching.HANDLERS,
            *reports.HANDLERS, *gdxp.HANDLERS, *books.HANDLERS]


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    ctx = build_context(settings, engine)

    protected = Router(path="/", route_handlers=api_handlers(), guards=[authenticated])

    def on_startup(app: Litestar) -> None:
        start_services(ctx)
        # Everything built at start-up lives as long as the app: keep it out of the
        # cyclic collector's scans, which otherwise stall requests for tens of ms.
        gc.freeze()

    def on_shutdown(app: Litestar) -> None:
        stop_services(ctx)

    app = Litestar(
        route_handlers=[token, health, protected, docs_assets(), web_router(),
                        static_router()],
        template_config=template_config(),
        state=State({"ctx": ctx}),
        dependencies={"ctx": Provide(provide_ctx, sync_to_thread=False),
                      "principal": Provide(provide_principal, sync_to_thread=False)},
        exception_handlers={**EXCEPTION_HANDLERS,  # type: ignore[dict-item]
                            NotFoundException: not_found_anywhere},
        request_class=StrictBodyRequest,
        before_request=check_request,
        after_request=refuse_after_bad_body,
        middleware=[request_log_middleware, audit_middleware],
        request_max_body_size=settings.max_body_bytes,
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        openapi_config=openapi_config(version("filiera")),
        plugins=[DocumentedStrings()],
        debug=False,
    )
    _options_name_every_method(app)
    app.state.query_parameters = query_parameters(app)
    return app



def _options_name_every_method(app: Litestar) -> None:
    """Litestar gives each route of a path its own OPTIONS answer, listing only the
    methods that route knew when it was made: answer every path's OPTIONS with all its
    methods, as a 405's ``Allow`` does."""
    allowed: dict[str, str] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            methods = set(allowed.get(route.path_format, "").split(", ")) - {""}
            allowed[route.path_format] = ", ".join(sorted(methods | route.methods))
    inner = app.asgi_handler

    async def options(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") != "OPTIONS":
            await inner(scope, receive, send)
            return

        async def send_allow(message: Message) -> None:
            template = scope.get("path_template")
            if message["type"] == "http.response.start" and template in allowed:
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"allow"]
                headers.append((b"allow", allowed[template].encode()))
                message = {**message, "headers": headers}
            await send(message)

        await inner(scope, receive, send_allow)

    app.asgi_handler = options
