"""Signing in and out, the user's own password, and the home page of each role."""

from __future__ import annotations

from litestar import get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from service.app.audit_note import note_actor
from service.app.auth import authenticate, issue_token
from service.app.demo import demo_users_present
from service.app.errors import Invalid, TooManyRequests
from service.app.login import PasswordIn, change_own_password, logout
from service.web import homes
from service.web.core import (
    AnyRequest,
    Form,
    Page,
    address_of,
    call,
    ctx_of,
    ended_session_cookie,
    posted,
    principal_of,
    render,
    safe_next,
    see_other,
    session_cookie,
)

PUBLIC = {"public": True}
WRONG = "Nome utente o password non validi"


@get("/accedi", sync_to_thread=True, opt=PUBLIC)
def login_page(request: AnyRequest, next: FromQuery[str | None] = None,
               cambiata: FromQuery[str | None] = None) -> Page:
    if request.state.principal is not None:
        return see_other(request, safe_next(next))
    form = Form(values={"next": safe_next(next)})
    done = "Password cambiata: accedi con la nuova password." if cambiata else None
    return _login(request, form, flash=done)


def _login(request: AnyRequest, form: Form, status: int = 200,
           flash: str | None = None) -> Template:
    demo = demo_users_present(ctx_of(request))
    return render(request, "accedi.html", status=status, form=form, demo=demo,
                  title="Accedi", user=None, flash=flash)


@post("/accedi", opt=PUBLIC, status_code=303)
async def login_submit(request: AnyRequest) -> Page:
    form = await posted(request)
    username = str(form.value("username")).strip()
    password = str(form.value("password"))
    note_actor(username)
    ctx = ctx_of(request)
    address = address_of(request)
    # The counters live in the database (shared by every process): off the event loop.
    wait = await call(ctx.limiter.retry_after, username, address)
    if wait:
        form.refusal = (f"Troppi tentativi non riusciti: riprova tra {wait} secondi.")
        form.values.pop("password", None)
        page = _login(request, form, 429)
        page.headers["Retry-After"] = str(wait)  # as the API's 429 says it
        return page
    found = await call(lambda: ctx.read(lambda conn: authenticate(conn, username, password))) \
        if username and password else None
    if found is None:
        await call(ctx.limiter.failed, username, address)
        form.refusal = WRONG
        form.values.pop("password", None)
        return _login(request, form, 401)
    await call(ctx.limiter.succeeded, username, address)
    ttl = ctx.settings.token_ttl_seconds
    token = issue_token(found, ctx.settings.secret_key, ttl)
    response = see_other(request, safe_next(str(form.value("next", "/"))))
    response.set_cookie(session_cookie(request, token, ttl))
    return response


@post("/esci", status_code=303)
async def logout_submit(request: AnyRequest) -> Redirect:
    await posted(request)
    session = request.state.session
    ctx = ctx_of(request)
    await call(logout, ctx, session)
    response = Redirect("/accedi", status_code=303)
    response.set_cookie(ended_session_cookie())
    return response


@get("/password", sync_to_thread=True)
def password_page(request: AnyRequest) -> Template:
    return render(request, "password.html", form=Form(), title="Cambia password")


@post("/password", status_code=303)
async def password_submit(request: AnyRequest) -> Page:
    form = await posted(request)
    current = str(form.value("current"))
    new = str(form.value("new"))
    if not current:
        form.add("current", "Indica la password attuale.")
    if not new:
        form.add("new", "Indica la nuova password.")
    if not form.errors:
        try:
            await call(change_own_password, ctx_of(request), principal_of(request),
                       PasswordIn(current=current, new=new), address_of(request))
        except Invalid as exc:
            for item in exc.errors:
                if item["field"] == "current":
                    form.add("current", "La password attuale non è corretta.")
                else:
                    form.add("new", "La nuova password deve avere almeno 12 caratteri.")
        except TooManyRequests:
            form.refusal = "Troppi tentativi non riusciti: aspetta un minuto e riprova."
    if form.failed:
        form.values = {}
        return render(request, "password.html", status=422, form=form,
                      title="Cambia password")
    # Every session of the user ended with the change: sign in again.
    response = Redirect("/accedi?cambiata=1", status_code=303)
    response.set_cookie(ended_session_cookie())
    return response


@get("/", sync_to_thread=True)
def home(request: AnyRequest) -> Template:
    return homes.home(request)


HANDLERS = [login_page, login_submit, logout_submit, password_page, password_submit, home]
