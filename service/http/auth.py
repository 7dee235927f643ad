"""HTTP authentication: the bearer-token guard, login, ``/api/me`` and ``/health``."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Response, get, post
from litestar.handlers import BaseRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Operation
from litestar.params import JSONBody

from service.app.auth import read_token
from service.app.errors import Unauthorized
from service.app.health import HealthOut, check_health
from service.app.login import (
    MeOut,
    PasswordIn,
    TokenIn,
    TokenOut,
    change_own_password,
    check_session_async,
    client_address,
    login,
    logout,
    whoami,
)
from service.http.params import BODY, Ctx, User, responses
from service.web.core import AnyConnection, AnyRequest


async def authenticated(connection: AnyConnection,
                        _: BaseRouteHandler) -> None:
    """Guard: a valid bearer token or 401 (before any body is read). Async, so Litestar
    runs it on the event loop: checking an HMAC is cheaper than a hop to a thread."""
    header = connection.headers.get("authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <token>' (POST /api/auth/token)")
    ctx = connection.app.state.ctx
    session = read_token(token.strip(), ctx.settings.secret_key)
    # One indexed lookup per request (on SQLite on the loop, cheaper than a thread hop;
    # on PostgreSQL one query for the requests checked together, the loop not waiting):
    # a revocation in any process holds on the next request.
    await check_session_async(ctx, session)
    connection.state.session = session
    connection.state.principal = session.principal


def address_of(connection: AnyConnection) -> str:
    ctx = connection.app.state.ctx
    peer = connection.client.host if connection.client else ""
    return client_address(peer, connection.headers.get("x-forwarded-for"),
                          ctx.settings.trusted_proxies)


@dataclass
class PublicOperation(Operation):
    """An operation that needs no credentials. Litestar drops a handler's empty
    ``security`` list (it then inherits the document's bearer requirement), so the
    operation states ``security: []`` itself."""

    def __post_init__(self) -> None:
        self.security = []


@post("/api/auth/token", sync_to_thread=True, status_code=200, tags=["auth"],
      exclude_from_auth=True, security=[], operation_class=PublicOperation,
      responses=responses(*BODY, 429))
def token(data: JSONBody[TokenIn], ctx: Ctx, request: AnyRequest) -> TokenOut:
    """A bearer token for a username and password (401 if wrong)."""
    return login(ctx, data, address_of(request))


@post("/api/auth/logout", sync_to_thread=True, status_code=204, tags=["auth"],
      responses=responses())
def logout_token(ctx: Ctx, request: AnyRequest) -> None:
    """Revoke the token in use (401 with it afterwards, in every server process)."""
    logout(ctx, request.state.session)


@post("/api/me/password", sync_to_thread=True, status_code=204, tags=["auth"],
      responses=responses(*BODY, 429))
def change_password(data: JSONBody[PasswordIn], ctx: Ctx, principal: User,
                    request: AnyRequest) -> None:
    """A new password for the user itself; ends all its sessions, this one too."""
    change_own_password(ctx, principal, data, address_of(request))


@get("/api/me", sync_to_thread=True, tags=["auth"], responses=responses())
def me(ctx: Ctx, principal: User) -> MeOut:
    return whoami(ctx, principal)


@get("/health", sync_to_thread=True, tags=["health"], security=[],
     operation_class=PublicOperation,
     responses={503: ResponseSpec(data_container=HealthOut, generate_examples=False,
                                  description="The database does not answer")})
def health(ctx: Ctx) -> Response[HealthOut]:
    status, body = check_health(ctx)
    return Response(body, status_code=status)
