"""The ground every page stands on: the session cookie, CSRF, rendering, forms.

The session cookie holds the same signed token the API issues (same lifetime, same
revocation check on every request), so **Esci** ends it on the server in every
process. The API never reads this cookie: it wants ``Authorization: Bearer``.

Forms are plain HTML posts. Each carries a CSRF token (an HMAC of a per-browser cookie
under the app's secret) and an operation id, which becomes the command's client id:
a double click or a resubmission runs the operation once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, ParamSpec, TypeAlias, TypeVar
from urllib.parse import quote, urlsplit

import anyio.to_thread
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers import BaseRouteHandler
from litestar.response import Redirect, Template

from reports.italian import refusal
from service.app.audit_note import audit_note, note_id
from service.app.auth import Principal, Session, read_token
from service.app.common import MoneyIn
from service.app.context import AppContext
from service.app.errors import ApiError, Conflict, Invalid, Unauthorized
from service.app.login import check_session, client_address
from service.app.parties import get_party
from service.web.formatting import InputError, parse_amount, parse_decimal, plain
from service.web.labels import field_message

SESSION_COOKIE = "filiera_session"
CSRF_COOKIE = "filiera_csrf"
CSRF_FIELD = "csrf_token"
OP_FIELD = "op_id"

T = TypeVar("T")
P = ParamSpec("P")
# Litestar's request and connection are generic in the user, auth and state types it
# attaches; the pages read none of them typed (the principal comes from ``ctx_of``).
AnyRequest: TypeAlias = Request[Any, Any, Any]
AnyConnection: TypeAlias = ASGIConnection[Any, Any, Any, Any]
# What a page handler answers: the page, or a redirect after a post.
Page: TypeAlias = Template | Redirect


class LoginRequired(Exception):
    """No live session: the page redirects to /accedi and comes back after login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A POST without the form's CSRF token: refused (403), nothing written."""


def ctx_of(request: AnyConnection) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def principal_of(request: AnyConnection) -> Principal:
    principal: Principal = request.state.principal
    return principal


def address_of(request: AnyConnection) -> str:
    ctx = ctx_of(request)
    peer = request.client.host if request.client else ""
    return client_address(peer, request.headers.get("x-forwarded-for"),
                          ctx.settings.trusted_proxies)


def safe_next(value: str | None) -> str:
    """Only a path of this site (one leading ``/``): never another host."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def session_of(request: AnyConnection) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    ctx = ctx_of(request)
    try:
        session = read_token(token, ctx.settings.secret_key)
        check_session(ctx, session)
    except Unauthorized:
        return None
    return session


async def web_session(connection: AnyConnection,
                      handler: BaseRouteHandler) -> None:
    """Guard of every page but the public ones: a live session, else to /accedi."""
    session = session_of(connection)
    connection.state.session = session
    connection.state.principal = session.principal if session else None
    if handler.opt.get("public"):
        return
    if session is None:
        path = connection.url.path
        if connection.url.query:
            path += "?" + connection.url.query
        raise LoginRequired(path if connection.scope.get("method") == "GET" else "/")


def login_redirect(request: AnyRequest, exc: LoginRequired) -> Redirect:
    target = "/accedi"
    if exc.next_path not in ("", "/"):
        target += "?next=" + quote(exc.next_path, safe="")
    return Redirect(target, status_code=303)


# --- CSRF -------------------------------------------------------------------------------

def csrf_seed(request: AnyRequest) -> str:
    """The browser's CSRF seed: its cookie, or a new one the response will set."""
    seed = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not seed:
        seed = secrets.token_urlsafe(24)
        request.state.new_csrf = seed
    return str(seed)


def csrf_token(request: AnyRequest) -> str:
    secret = ctx_of(request).settings.secret_key.encode()
    return hmac.new(secret, b"csrf:" + csrf_seed(request).encode(), hashlib.sha256).hexdigest()


def check_csrf(request: AnyRequest, form: Mapping[str, object]) -> None:
    seed = request.cookies.get(CSRF_COOKIE)
    sent = form.get(CSRF_FIELD)
    if not seed or not isinstance(sent, str):
        raise CsrfRefused()
    secret = ctx_of(request).settings.secret_key.encode()
    expected = hmac.new(secret, b"csrf:" + seed.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sent):
        raise CsrfRefused()


def cookies_to_set(request: AnyRequest) -> list[Cookie]:
    seed = getattr(request.state, "new_csrf", None)
    if not seed:
        return []
    return [Cookie(key=CSRF_COOKIE, value=seed, httponly=True, samesite="lax", path="/",
                   secure=request.url.scheme == "https")]


def session_cookie(request: AnyRequest, token: str, ttl: int) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=token, httponly=True, samesite="lax", path="/",
                  max_age=ttl, expires=int(time.time()) + ttl,
                  secure=request.url.scheme == "https")


def ended_session_cookie() -> Cookie:
    return Cookie(key=SESSION_COOKIE, value="", httponly=True, samesite="lax", path="/",
                  max_age=0, expires=0)


# --- forms ------------------------------------------------------------------------------

@dataclass
class Form:
    """A form as the page shows it: typed values, errors per field, a refusal sentence
    at its top, and the operation id it will post with."""

    # What was typed: a string, or a list of strings for a repeated field; the pages
    # read each field by name as the kind they expect.
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None
    op_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def value(self, name: str, default: Any = "") -> Any:
        return self.values.get(name, default)

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    @property
    def failed(self) -> bool:
        return bool(self.errors) or self.refusal is not None


async def posted(request: AnyRequest) -> Form:
    """The posted form after its CSRF check, keeping what was typed."""
    data = await request.form()
    values: dict[str, object] = {}
    for key in data:
        items = data.getall(key)
        values[key] = items if len(items) > 1 else items[0]
    check_csrf(request, values)
    op = values.pop(OP_FIELD, None)
    values.pop(CSRF_FIELD, None)
    form = Form(values={k: v for k, v in values.items() if isinstance(v, str | list)})
    if isinstance(op, str):
        with contextlib.suppress(ValueError):
            form.op_id = str(uuid.UUID(op))
    note_id(form.op_id)  # the operation's client id: the audit entry names it
    return form


def text_of(form: Form, name: str, *, required: bool = False, label: str = "") -> str | None:
    raw = form.values.get(name)
    value = raw.strip() if isinstance(raw, str) else ""
    if not value:
        if required:
            form.add(name, f"Indica {label or 'un valore'}.")
        return None
    return value


def amount_of(form: Form, name: str, *, required: bool = True) -> Decimal | None:
    raw = form.values.get(name)
    if not isinstance(raw, str) or not raw.strip():
        if required:
            form.add(name, "Indica l'importo.")
        return None
    try:
        return parse_amount(raw)
    except InputError as exc:
        form.add(name, str(exc))
        return None


def decimal_of(form: Form, name: str, *, required: bool = True, max_decimals: int = 2,
               positive: bool = False, label: str = "un numero") -> Decimal | None:
    raw = form.values.get(name)
    if not isinstance(raw, str) or not raw.strip():
        if required:
            form.add(name, f"Indica {label}.")
        return None
    try:
        value = parse_decimal(raw, max_decimals=max_decimals)
    except InputError as exc:
        form.add(name, str(exc))
        return None
    if positive and value <= 0:
        form.add(name, "Deve essere maggiore di zero.")
        return None
    if value < 0:
        form.add(name, "Non può essere negativo.")
        return None
    return value


def int_of(form: Form, name: str, *, required: bool = True, minimum: int = 0,
           label: str = "un numero") -> int | None:
    raw = form.values.get(name)
    if not isinstance(raw, str) or not raw.strip():
        if required:
            form.add(name, f"Indica {label}.")
        return None
    text = raw.strip()
    if not text.isdigit():
        form.add(name, "Scrivi un numero intero, senza decimali.")
        return None
    value = int(text)
    if value < minimum:
        form.add(name, f"Deve essere almeno {minimum}.")
        return None
    return value


def date_of(form: Form, name: str, *, required: bool = True) -> str | None:
    """An ``<input type="date">`` value (ISO), checked; the app checks the calendar."""
    raw = form.values.get(name)
    value = raw.strip() if isinstance(raw, str) else ""
    if not value:
        if required:
            form.add(name, "Indica la data.")
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        form.add(name, "Scrivi la data come gg/mm/aaaa.")
        return None


def money_in(value: Decimal) -> MoneyIn:
    """What the application layer takes for an amount in euro."""
    return MoneyIn(amount=plain(value), currency="EUR")


# --- running operations -----------------------------------------------------------------

async def call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an application operation (synchronous, it talks to the database) on a worker
    thread, as the API's handlers do."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))


def absorb(form: Form, exc: ApiError, fields: Mapping[str, str]) -> None:
    """Put the application's refusal on the form: each 422 error beside the field it
    names (``fields`` maps the API's field to the form's), a 409 as one sentence."""
    if isinstance(exc, Invalid):
        for item in exc.errors:
            api_field = item.get("field", "")
            target = fields.get(api_field) or fields.get(api_field.split(".")[0])
            message = field_message(item.get("message", ""))
            if target:
                form.add(target, message)
            else:
                form.refusal = form.refusal or message
        if not form.errors and form.refusal is None:
            form.refusal = "I dati inviati non sono validi."
    elif isinstance(exc, Conflict):
        if exc.code == "idempotency_conflict":
            form.refusal = "Operazione già registrata."
        else:
            form.refusal = refusal(exc.code)
    else:
        raise exc


# --- rendering --------------------------------------------------------------------------

def render(request: AnyRequest, template: str, *, status: int = 200,
           **context: Any) -> Template:  # the template's context: Jinja reads it untyped
    context.setdefault("user", principal_of(request) if request.state.principal else None)
    context["csrf_token"] = csrf_token(request)
    outcome = request.query_params.get("esito")
    if outcome and "flash" not in context:
        context["flash"] = OUTCOMES.get(outcome)
        link = request.query_params.get("vedi")
        context["flash_link"] = safe_next(link) if link else None
    context["path"] = request.url.path
    principal = request.state.principal
    context.setdefault("party_name", party_name(ctx_of(request), principal.party_id)
                       if principal is not None and principal.party_id else None)
    return Template(template_name=template, context=context, status_code=status,
                    media_type="text/html",  # Litestar adds "; charset=utf-8"
                    cookies=cookies_to_set(request))


_PARTY_NAMES: dict[tuple[int, str], str] = {}


def party_name(ctx: AppContext, party_id: str) -> str | None:
    """A party's name for the page header (names are not edited once set: cached)."""
    key = (id(ctx.engine), party_id)
    if key not in _PARTY_NAMES:
        row = ctx.read(lambda conn: get_party(conn, party_id))
        if row is None:
            return None
        _PARTY_NAMES[key] = str(row.name)
    return _PARTY_NAMES[key]


# What a page says after the redirect that follows a post (``?esito=...``).
OUTCOMES = {"registrata": "Operazione registrata.",
            "gia-registrata": "Operazione già registrata",
            "salvato": "Modifiche salvate."}


def replayed() -> bool:
    """Whether the command this request just ran was a replay of its operation id (the
    idempotency record answered; a replay has the first run's status, so the status
    cannot tell)."""
    note = audit_note.get()
    return note is not None and note.replayed


def after_post(request: AnyRequest, status: int, location: str,
               recorded: str | None = None) -> Redirect:
    """The 303 after a successful post: ``?esito=registrata`` the first time; a replay
    of the same operation id (the form posted twice: the command answered from its
    record) says **Operazione già registrata** with a link to what was recorded."""
    outcome = "gia-registrata" if replayed() else "registrata"
    sep = "&" if "?" in location else "?"
    target = f"{location}{sep}esito={outcome}"
    if recorded:
        target += "&vedi=" + quote(recorded, safe="")
    return see_other(request, target)


def see_other(request: AnyRequest, location: str) -> Redirect:
    return Redirect(location, status_code=303, cookies=cookies_to_set(request))
