"""``/piano``: the allocation plan of the chosen requests, its workbook, and one
request's allocations written into its terms (**Applica alla richiesta**).

Computing a plan writes nothing (a GET form). The plan is ``service.app.matching``'s,
shown through ``service.app.plans``; applying it goes through ``requests.set_terms``.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

from litestar import Response, get, post
from litestar.response import Template

from reports.italian import REFUSALS
from service.app import plans
from service.app.errors import Conflict, Invalid
from service.app.lender_scope import OtherLender
from service.app.plans import PlanView
from service.web.core import (
    AnyRequest,
    Form,
    Page,
    call,
    ctx_of,
    posted,
    principal_of,
    render,
    see_other,
)
from service.web.labels import field_message
from service.web.requests_italian import OTHER_LENDER

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The application's refusals of an applied plan, in Italian.
APPLY_MESSAGES = (
    ("no loan and no prepayment", "Il piano non assegna a questa richiesta né un prestito "
     "né prefinanziamenti: non ci sono condizioni da applicare."),
    ("more than one pool", "Il piano presta da più di un pool e le condizioni prevedono "
     "un solo prestito: componi le condizioni dalla pagina della richiesta."),
    ("not in the plan", "La richiesta non fa parte del piano calcolato."),
    ("a plan takes requests", "Il piano comprende solo richieste in esame o approvate e "
     "non ancora finanziate: ricalcola il piano."),
)
NOT_EDITABLE = ("Le condizioni si fissano solo su una richiesta in esame o approvata: "
                "ricalcola il piano.")


def _ids(values: object) -> list[str]:
    if isinstance(values, list):
        return [str(v) for v in values if str(v).strip()]
    return [str(values)] if isinstance(values, str) and values.strip() else []


def _message(text: str) -> str:
    for needle, italian in APPLY_MESSAGES:
        if needle in text:
            return italian
    return field_message(text)


def _render(request: AnyRequest, *, chosen: list[str] | None,
            view: PlanView | None, form: Form, status: int = 200,
            refused: tuple[str, str] | None = None) -> Template:
    candidates = plans.plan_candidates(ctx_of(request), principal_of(request))
    checked = set(chosen) if chosen is not None else {c.id for c in candidates}
    workbook = None
    if view is not None:
        query = [("richiesta", r.candidate.id) for r in view.requests]
        workbook = "/piano.xlsx?" + urlencode([*query, ("alla_data", view.as_of.isoformat())])
    apply_forms = {r.candidate.id: Form() for r in view.requests} if view else {}
    # A refusal shows beside the request's button, or at the top if it has none.
    refused_top = refused if refused is not None and refused[0] not in apply_forms else None
    return render(request, "officer/piano.html", status=status, title="Piano di allocazione",
                  candidates=candidates, checked=checked, view=view, form=form,
                  workbook=workbook, refused=refused, refused_top=refused_top,
                  apply_forms=apply_forms)


@get("/piano", sync_to_thread=True)
def plan_page(request: AnyRequest) -> Template:
    ctx, principal = ctx_of(request), principal_of(request)
    principal.require("officer")
    form = Form()
    if not request.query_params.get("calcola"):
        return _render(request, chosen=None, view=None, form=form)
    chosen = _ids(request.query_params.getall("richiesta", []))
    if not chosen:
        form.add("richiesta", "Scegli almeno una richiesta.")
        return _render(request, chosen=chosen, view=None, form=form, status=422)
    try:
        view = plans.compute_plan(ctx, principal, chosen)
    except Invalid:
        form.add("richiesta", "Una delle richieste scelte non si può più pianificare "
                 "(è stata finanziata o ha cambiato stato): ricarica la pagina.")
        return _render(request, chosen=chosen, view=None, form=form, status=422)
    except OtherLender:  # a request of another lender named in the address
        form.add("richiesta", OTHER_LENDER["request"])
        return _render(request, chosen=chosen, view=None, form=form, status=403)
    return _render(request, chosen=chosen, view=view, form=form)


@get("/piano.xlsx", sync_to_thread=True)
def plan_workbook(request: AnyRequest) -> Response[bytes]:
    ctx, principal = ctx_of(request), principal_of(request)
    principal.require("officer")
    chosen = _ids(request.query_params.getall("richiesta", [])) or None
    out = io.BytesIO()
    filename = plans.plan_workbook(ctx, principal, chosen,
                                   request.query_params.get("alla_data") or None, out)
    return Response(out.getvalue(), media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@post("/piano/applica", status_code=303, opt={"operation": "PUT /api/requests/{id}/terms"})
async def apply_plan(request: AnyRequest) -> Page:
    form = await posted(request)
    ctx, principal = ctx_of(request), principal_of(request)
    principal.require("officer")
    request_id = str(form.value("request_id"))
    chosen = _ids(form.values.get("richiesta"))
    as_of = str(form.value("as_of")) or None
    try:
        await call(plans.apply_plan, ctx, principal, request_id, chosen or None, as_of)
        return see_other(request, f"/richieste/{request_id}?esito=salvato")
    except Invalid as exc:
        message = "; ".join(dict.fromkeys(_message(e.get("message", "")) for e in exc.errors))
        status = 422
    except Conflict as exc:
        message = NOT_EDITABLE if exc.code == "invalid_transition" else \
            REFUSALS.get(exc.code, exc.code)
        status = 409
    except OtherLender as exc:  # another lender's request: said beside it, as a refusal
        message = OTHER_LENDER[exc.what]
        status = 403
    try:
        view = await call(plans.compute_plan, ctx, principal, chosen or None, as_of)
    except (Invalid, OtherLender):
        view = None
    return await call(_render, request, chosen=chosen or None, view=view, form=Form(),
                      status=status, refused=(request_id, message))


HANDLERS = [plan_page, plan_workbook, apply_plan]
