"""Logging in: a bearer token for a username and password, and who the caller is.

Failed logins are counted per username (``LoginLimiter``): past the limit even the right
password waits, so guessing costs time whatever the guess.
"""

from __future__ import annotations

from typing import Literal, cast

import msgspec

from service.app.auth import Principal, authenticate, issue_token
from service.app.context import AppContext
from service.app.errors import TooManyRequests, Unauthorized
from service.app.types import Uuid

Role = Literal["admin", "officer", "producer", "gas"]


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str


class TokenOut(msgspec.Struct):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int  # seconds


class MeOut(msgspec.Struct):
    username: str
    role: Role
    party_id: Uuid | None


def login(ctx: AppContext, data: TokenIn) -> TokenOut:
    """A token for the user, 401 for a wrong username or password, 429 (with the seconds
    to wait) after too many failures for this username."""
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
    return TokenOut(issue_token(principal, ctx.settings.secret_key, ttl), "bearer", ttl)


def whoami(principal: Principal) -> MeOut:
    # A principal's role was checked against ROLES when its token was read.
    return MeOut(principal.username, cast(Role, principal.role), principal.party_id)
