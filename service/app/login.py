"""Logging in and out: a bearer token for a username and password, who the caller is,
a user changing its own password, and the client address that failed logins count by.

Failed logins are counted per username and client address, and per client address
(``LoginLimiter``): past either limit even the right password waits, so guessing costs
time whatever the guess.
"""

from __future__ import annotations

import ipaddress
from typing import Literal, cast

import msgspec

from service.app.audit_note import note_actor
from service.app.auth import (
    Principal,
    Session,
    UserError,
    authenticate,
    check_password,
    issue_token,
    revoke_token,
    set_password,
)
from service.app.context import AppContext
from service.app.errors import Errors, TooManyRequests, Unauthorized
from service.app.live_sessions import LiveSessions
from service.app.parties import party_names
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
    party_name: str | None


class PasswordIn(msgspec.Struct, forbid_unknown_fields=True):
    current: str
    new: str


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[str, ...]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy; then the
    nearest address in ``X-Forwarded-For`` that is not a trusted proxy (addresses to its
    left were written by the client and prove nothing)."""
    networks = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in networks)

    if not forwarded_for or not is_trusted(peer):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            return hop
    return hops[0] if hops else peer


def _throttle(ctx: AppContext, username: str, address: str) -> None:
    wait = ctx.limiter.retry_after(username, address)
    if wait:
        raise TooManyRequests(f"too many failed logins; retry in {wait} s", retry_after=wait)


def login(ctx: AppContext, data: TokenIn, address: str = "") -> TokenOut:
    """A token for the user, 401 for a wrong username or password (or a disabled user),
    429 (with the seconds to wait) after too many failures."""
    note_actor(data.username)
    _throttle(ctx, data.username, address)
    found = ctx.read(lambda conn: authenticate(conn, data.username, data.password))
    if found is None:
        ctx.limiter.failed(data.username, address)
        raise Unauthorized("wrong username or password")
    ctx.limiter.succeeded(data.username, address)
    ttl = ctx.settings.token_ttl_seconds
    return TokenOut(issue_token(found, ctx.settings.secret_key, ttl), "bearer", ttl)


def check_session(ctx: AppContext, session: Session) -> None:
    """401 unless the token is still live in the database (not logged out, its user not
    disabled nor changed since): checked on every request, so a revocation holds on the
    next request in every process."""
    if ctx.live_sessions is None:
        ctx.live_sessions = LiveSessions(ctx.engine)
    if not ctx.live_sessions.is_live(session):
        raise Unauthorized("the token was revoked; log in again")


async def check_session_async(ctx: AppContext, session: Session) -> None:
    """``check_session`` from the event loop, which on PostgreSQL does not wait for the
    database meanwhile (``LiveSessions.is_live_async``)."""
    if ctx.live_sessions is None:
        ctx.live_sessions = LiveSessions(ctx.engine)
    if not await ctx.live_sessions.is_live_async(session):
        raise Unauthorized("the token was revoked; log in again")


def logout(ctx: AppContext, session: Session) -> None:
    ctx.write(lambda conn: revoke_token(conn, session))


def change_own_password(ctx: AppContext, principal: Principal, data: PasswordIn,
                        address: str = "") -> None:
    """The user's new password (ends all its sessions, this one too). A wrong current
    password counts as a failed login: this is no way around the limiter."""
    _throttle(ctx, principal.username, address)
    errors = Errors()
    try:
        check_password(data.new)
    except UserError as exc:
        errors.add("new", str(exc))
    errors.raise_if_any()
    if ctx.read(lambda conn: authenticate(conn, principal.username, data.current)) is None:
        ctx.limiter.failed(principal.username, address)
        errors.add("current", "is not the user's password")
        errors.raise_if_any()
    ctx.write(lambda conn: set_password(conn, principal.username, data.new))


def whoami(ctx: AppContext, principal: Principal) -> MeOut:
    # A principal's role was checked against ROLES when its token was read.
    party = principal.party_id
    name = ctx.read(lambda conn: party_names(conn, [party]).get(party)) if party else None
    return MeOut(principal.username, cast(Role, principal.role), party, name)
