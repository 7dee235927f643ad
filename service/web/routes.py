"""The web router: pages, their guard, headers and error pages; the templates' setup."""

from __future__ import annotations

import time
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Router
from litestar.enums import ScopeType
from litestar.exceptions import NotFoundException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.app.audit import AuditEntry, AuditNote, audit_note, kind_of, record_entry
from service.app.audit_note import request_id_var
from service.app.auth import Principal
from service.app.errors import ApiError
from service.web import account, pages
from service.web.core import (
    AnyRequest,
    CsrfRefused,
    LoginRequired,
    Page,
    csrf_token,
    login_redirect,
    web_session,
)
from service.web.formatting import FILTERS
from service.web.labels import (
    GUARANTEE_STATUS,
    LOAN_STATUS,
    PREPAYMENT_STATUS,
    REQUEST_STATUS,
    ROLES,
    catalogue,
    label,
)

HERE = Path(__file__).parent

# What a page may load: only this site's own files; no inline script, no framing.
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]


# The API operation each page post performs, for the audit log (pages whose handler
# names none in its ``opt["operation"]``).
WEB_OPERATIONS = {"/accedi": "POST /api/auth/token", "/esci": "POST /api/auth/logout",
                  "/password": "POST /api/me/password"}


def page_headers(app: ASGIApp) -> ASGIApp:
    """Security headers on every page, its server time (``Server-Timing``), and the
    audit entry of a post that changed something (or a login attempt)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        note = AuditNote()
        token = audit_note.set(note)
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if scope.get("method") == "POST":
                    await _audit(scope, status, note)
                took = (time.perf_counter() - started) * 1000
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in {h for h, _ in SECURITY_HEADERS}]
                headers += SECURITY_HEADERS
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_with_headers)
        finally:
            audit_note.reset(token)

    return middleware


async def _audit(scope: Scope, status: int, note: AuditNote) -> None:
    """A page post's entry: a change that went through (the 303 after it, not a
    replay), or any login attempt."""
    template = scope.get("path_template") or scope.get("path", "")
    handler = scope.get("route_handler")
    named = handler.opt.get("operation") if handler is not None else None
    operation = named or WEB_OPERATIONS.get(template) or f"POST {template}"
    login = template == "/accedi"
    if not login and (status != 303 or note.replayed or note.changed_nothing):
        return
    state = scope.get("state") or {}
    principal = state.get("principal")
    route = operation.partition(" ")[2]
    ctx = scope["app"].state.ctx
    params = scope.get("path_params") or {}
    ids = [*note.ids, *(v for v in params.values() if isinstance(v, str))]
    await record_entry(ctx, AuditEntry(
        actor=note.actor or (principal.username if principal is not None else None),
        channel="web", operation=operation,
        kind=kind_of(route) if route.startswith("/api/") else route.strip("/").split("/")[0],
        ids=ids, outcome=status, http_request_id=request_id_var.get()))


def nav_links(user: Principal) -> list[tuple[str, str]]:
    common = [("/simulatore", "Simulatore"), ("/password", "Password")]
    if user.role == "producer":
        return [("/", "La mia azienda"), ("/richieste", "Richieste"),
                ("/prestiti", "Prestiti"), ("/prefinanziamenti", "Prefinanziamenti"),
                *common]
    if user.role == "gas":
        return [("/", "Il nostro GAS"), ("/fondo", "Fondo"),
                ("/prefinanziamenti", "Prefinanziamenti"), ("/garanzie", "Garanzie"),
                ("/richieste", "Richieste"), *common]
    return [("/", "Scrivania"), ("/richieste", "Richieste"), ("/prestiti", "Prestiti"),
            ("/portafoglio", "Portafoglio"), ("/piano", "Piano"), ("/report", "Report"),
            ("/soggetti", "Soggetti"), *common]


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True), trim_blocks=True,
                      lstrip_blocks=True, auto_reload=False)
    env.filters.update(FILTERS)
    env.globals.update(
        nav_links=nav_links, label=label, catalogue=catalogue,
        REQUEST_STATUS=REQUEST_STATUS, LOAN_STATUS=LOAN_STATUS, ROLES=ROLES,
        GUARANTEE_STATUS=GUARANTEE_STATUS, PREPAYMENT_STATUS=PREPAYMENT_STATUS)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def _error_page(request: AnyRequest, status: int, title: str, text: str
                ) -> Template:
    principal = getattr(request.state, "principal", None)
    return Template(template_name="error.html", status_code=status,
                    media_type="text/html", context={  # Litestar adds the charset
        "title": title, "text": text, "user": principal, "path": request.url.path,
        "csrf_token": csrf_token(request),
        "party_name": getattr(request.state, "party_name", None)})


def not_found(request: AnyRequest, exc: Exception) -> Template:
    return _error_page(request, 404, "Pagina non trovata",
                       "La pagina che cerchi non esiste o non è tra quelle che puoi vedere.")


def csrf_refused(request: AnyRequest, exc: CsrfRefused) -> Template:
    return _error_page(request, 403, "Modulo scaduto",
                       "Il modulo non è stato inviato da questa pagina o è scaduto: "
                       "nessuna operazione è stata registrata. Torna indietro, ricarica "
                       "la pagina e riprova.")


def app_refused(request: AnyRequest, exc: ApiError) -> Page:
    if exc.status in (403, 404):
        return not_found(request, exc)
    if exc.status == 401:
        return login_redirect(request, LoginRequired(request.url.path))
    if exc.status == 503:
        page = _error_page(request, 503, "Servizio momentaneamente non disponibile",
                           "Il database non ha risposto per un momento. Torna indietro "
                           "e invia di nuovo il modulo tra qualche secondo: "
                           "un'operazione già registrata non viene registrata due volte.")
        page.headers["Retry-After"] = str(exc.extra.get("retry_after", 1))
        return page
    if exc.status == 429:
        return _error_page(request, 429, "Troppi tentativi",
                           "Troppi tentativi non riusciti: aspetta un minuto e riprova.")
    return _error_page(request, 400, "Richiesta non valida",
                       "I dati della richiesta non sono validi.")


def web_router() -> Router:

    return Router(
        path="/", route_handlers=[*account.HANDLERS, *pages.HANDLERS],
        guards=[web_session], middleware=[page_headers], include_in_schema=False,
        exception_handlers={LoginRequired: login_redirect,
                            CsrfRefused: csrf_refused,
                            ApiError: app_refused,
                            NotFoundException: not_found})


def static_router() -> Router:
    return create_static_files_router(path="/static", directories=[HERE / "static"],
                                      include_in_schema=False, send_as_attachment=False)
