"""Funding requests on the web (UI.md, "Producer", "GAS user", "Officer"):

* ``/richieste/nuova``: a producer files a request (**Invia richiesta**);
* ``/richieste``: the requests the user may see (officers filter by **Stato** and
  **Produttore**), newest first, a page at a time;
* ``/richieste/{id}``: the request, its history and the funding opportunities matching
  finds; the producer answers a request for information or withdraws; a GAS named in it
  declares or withdraws interest; officers move it along the workflow, assess it, set
  its terms (**Condizioni**, with **Usa i suggerimenti**) and fund it (**Eroga**).

Every form posts to a path of its own under the request and, on success, redirects to
the request's page; on an error the page is shown again with the failed form as it was
typed (its errors beside the fields, a refusal as one sentence at its top) and the other
forms fresh. Each page calls the same operations as ``/api/requests`` (visibility,
roles, idempotency are theirs): a request the user may not see answers 404.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar
from urllib.parse import quote

import msgspec
from litestar import get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import select

from ledger.requests import TRANSITION_TARGETS, allowed_targets
from service.app import matching
from service.app import requests as app_requests
from service.app.auth import Principal
from service.app.categories import read_category
from service.app.clock import today
from service.app.context import AppContext
from service.app.errors import ApiError, Conflict, Invalid, NotFound
from service.app.lender_scope import OtherLender, sees_lender
from service.app.lending import DEFAULT_CATEGORY
from service.app.matching import OpportunityOut
from service.app.parties import PartyName, list_party_names, list_relationships, read_party
from service.app.pools import list_pool_names
from service.app.prepayments import list_prepayments
from service.app.requests import (
    AssessmentIn,
    AssessmentOut,
    FundingIn,
    InterestIn,
    RequestIn,
    RequestOut,
    TermsOut,
    TransitionIn,
)
from service.db.tables import loans
from service.web.core import (
    OUTCOMES,
    AnyRequest,
    Form,
    Page,
    amount_of,
    call,
    ctx_of,
    date_of,
    int_of,
    money_in,
    party_name,
    posted,
    principal_of,
    render,
    replayed,
    see_other,
    text_of,
)
from service.web.history_notes import history_note
from service.web.labels import (
    FREQUENCIES,
    INSTRUMENTS,
    INTEREST_KINDS,
    METHODS,
    ON_EXPIRY,
    REQUEST_STATUS,
    catalogue,
)
from service.web.requests_italian import (
    OTHER_LENDER,
    funding_refusal,
    interest_refusal,
    message,
    reason,
    transition_refusal,
)
from service.web.requests_terms import (
    Goods,
    SuggestionContext,
    fieldset_counts,
    parse_terms_form,
    suggested_values,
    terms_values,
)

T = TypeVar("T")
PAGE_SIZE = 25
OPEN = app_requests.OPEN_STATUSES
TERMS_STATUSES = ("under_review", "approved")
# The outcome of filing a request, said on its page: the page's address stays the
# request's own (``/richieste/{id}``), so the outcome travels in a short-lived cookie.
OUTCOME_COOKIE = "filiera_esito_richiesta"

NEW_REQUEST_FIELDS = {"amount": "importo", "purpose": "scopo", "instrument": "strumento",
                      "term_months": "durata", "needed_by": "serve_entro", "gas_ids": "gas"}
ASSESSMENT_FIELDS = {"economic_score": "economico", "social_score": "sociale",
                     "notes": "note", "site_visit_date": "sopralluogo",
                     "decision_date": "delibera", "decision_reference": "verbale"}
# An officer's moves: target -> (button, id prefix of its form's fields).
OFFICER_MOVES = {
    "under_review": ("Prendi in esame", "esame-"),
    "needs_info": ("Chiedi informazioni", "info-"),
    "approved": ("Approva", "approva-"),
    "rejected": ("Respingi", "respingi-"),
    "withdrawn": ("Ritira la richiesta", "ritiro-"),
}


# --- reading ----------------------------------------------------------------------------

def _all_parties(ctx: AppContext, principal: Principal, kind: str) -> list[PartyName]:
    return list_party_names(ctx, principal, [kind])


def _name(ctx: AppContext, party_id: str | None) -> str:
    if not party_id:
        return "—"
    return party_name(ctx, party_id) or party_id


def _latest_rate(ctx: AppContext, lender_id: str, category: str) -> str | None:
    """The rate of the lender's latest loan in the category: what **Usa i
    suggerimenti** proposes when no rate is typed."""
    return ctx.read(lambda conn: conn.execute(
        select(loans.c.annual_rate).where(loans.c.lender_id == lender_id,
                                          loans.c.category == category)
        .order_by(loans.c.seq.desc()).limit(1)).scalar())


@dataclass
class Choices:
    """The options of the officers' selects."""

    lenders: list[tuple[str, str]] = field(default_factory=list)
    pools: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # by lender
    gas: list[tuple[str, str]] = field(default_factory=list)
    guarantors: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    pool_lender: dict[str, str] = field(default_factory=dict)
    default_lender: str | None = None


def _choices(ctx: AppContext, principal: Principal, producer_id: str) -> Choices:
    every = list_party_names(ctx, principal, ["lender", "gas", "person", "producer"])
    lenders, gas, persons, producers = ([p for p in every if p.kind == kind and
                                         p.id != producer_id]
                                        for kind in ("lender", "gas", "person", "producer"))
    # An officer bound to a lender offers that lender's loans only.
    lenders = [p for p in lenders if sees_lender(principal, p.id)]
    pools = list_pool_names(ctx, principal)
    lender_ids = [p.id for p in lenders]
    default = principal.party_id if principal.party_id in lender_ids else (
        lender_ids[0] if len(lender_ids) == 1 else None)
    return Choices(
        lenders=[(p.id, p.name) for p in lenders],
        pools=[(lender.name, [(q.id, q.name) for q in pools if q.lender_id == lender.id])
               for lender in lenders],
        gas=[(p.id, p.name) for p in gas],
        guarantors=[(label, [(p.id, p.name) for p in group]) for label, group in (
            ("GAS", gas), ("Persone", persons), ("Produttori", producers)) if group],
        pool_lender={q.id: q.lender_id for q in pools}, default_lender=default)


# A prepayment for goods the producer never priced before is a credit of goods worth
# its amount: so many euro of goods, at 1.00 EUR each.
CREDIT_UNIT = "euro di merce"


def _goods(ctx: AppContext, principal: Principal, producer_id: str) -> Goods:
    """What a suggested prepayment buys: the goods of the producer's latest prepayment,
    else a credit of its products (its categories) counted in euro."""
    items = list_prepayments(ctx, principal, producer_id, None, None, None, 500, None).items
    if items:
        last = items[-1]
        return Goods(last.product, last.unit, last.unit_price.amount, credit=False)
    categories = read_party(ctx, principal, producer_id).categories or []
    names = [catalogue("product_category", c) for c in categories]
    product = ", ".join(names) if names else "merce"
    return Goods(product[:1].upper() + product[1:], CREDIT_UNIT, "1.00", credit=True)


@dataclass
class Opportunity:
    """An opportunity as the page shows it (its kind and reasons in Italian)."""

    item: OpportunityOut
    name: str
    kind: str
    reasons: list[str]


def _opportunity(ctx: AppContext, o: OpportunityOut) -> Opportunity:
    kind = catalogue("opportunity_kind", o.kind)
    return Opportunity(o, o.source_name or _name(ctx, o.source_id), kind[:1].upper() + kind[1:],
                       [reason(r) for r in o.reasons])


def _opportunities(ctx: AppContext, principal: Principal, req: RequestOut
                   ) -> list[OpportunityOut]:
    if req.status not in OPEN:
        return []
    return matching.get_opportunities(ctx, principal, req.id, None).items


# --- the request's page -----------------------------------------------------------------

def _history(req: RequestOut) -> list[app_requests.HistoryOut]:
    """The history, the service's own notes in Italian (``history_notes``)."""
    if not isinstance(req.history, list):
        return []
    references: dict[str, str] = {}
    made = req.instruments
    if made is not None:
        if not isinstance(made.loan, msgspec.UnsetType):
            references[made.loan.id] = made.loan.reference
        references.update((p.id, p.reference) for p in made.prepayments)
    return [msgspec.structs.replace(h, note=history_note(h.note, references))
            for h in req.history]


def _insider(value: T | msgspec.UnsetType | None) -> T | None:
    return None if isinstance(value, msgspec.UnsetType) else value


def _transition_forms(principal: Principal, req: RequestOut) -> list[tuple[str, str, str]]:
    """(target, button, prefix) of the moves the user may make now."""
    allowed = allowed_targets(req.status)
    if principal.role == "producer":
        return [(t, b, p) for t, b, p in (("submitted", "Rispondi e reinvia", "risposta-"),
                                          ("withdrawn", "Ritira la richiesta", "ritiro-"))
                if t in allowed]
    if principal.is_staff:
        return [(t, *OFFICER_MOVES[t]) for t in allowed if t in OFFICER_MOVES]
    return []


def detail_page(request: AnyRequest, request_id: str, *,
                forms: Mapping[str, Form] | None = None, status: int = 200,
                notes: list[str] | None = None, flash: str | None = None) -> Template:
    """The request's page; ``forms`` replaces the fresh forms by key (a failed post)."""
    ctx = ctx_of(request)
    principal = principal_of(request)
    req = app_requests.read_request(ctx, principal, request_id)
    forms = dict(forms or {})
    opportunities = _opportunities(ctx, principal, req)
    interests = app_requests.list_interests(ctx, principal, req.id, 100, None).items
    moves = _transition_forms(principal, req)
    for target, _, _ in moves:
        forms.setdefault(f"stato:{target}", Form())
    assessment, terms = _insider(req.assessment), _insider(req.terms)
    context: dict[str, object] = {
        "req": req, "producer": _name(ctx, req.producer_id),
        "gas_named": [_name(ctx, gid) for gid in req.gas_ids],
        "history": _history(req), "moves": moves, "forms": forms,
        "opportunities": [_opportunity(ctx, o) for o in opportunities],
        "interests": [(i, i.gas_name or _name(ctx, i.gas_id)) for i in interests],
        "is_open": req.status in OPEN, "notes": notes or [],
        "assessment": assessment, "terms": terms,
        "INSTRUMENTS": INSTRUMENTS, "INTEREST_KINDS": INTEREST_KINDS, "ON_EXPIRY": ON_EXPIRY,
        "FREQUENCIES": FREQUENCIES, "METHODS": METHODS,
        "frequencies": list(FREQUENCIES.items()), "methods": list(METHODS.items()),
        "on_expiry": list(ON_EXPIRY.items()), "interest_kinds": list(INTEREST_KINDS.items()),
        "names": lambda pid: _name(ctx, pid),
    }
    if principal.role == "gas":
        forms.setdefault("interesse", Form(values={"tipo": "prepayment"}))
        for kind in INTEREST_KINDS:
            forms.setdefault(f"ritiro-interesse:{kind}", Form())
    if principal.is_staff:
        _officer_context(ctx, principal, req, forms, context, assessment, terms)
    if flash is None:
        outcome = request.cookies.get(OUTCOME_COOKIE)
        if outcome in OUTCOMES and "esito" not in request.query_params:
            flash = OUTCOMES[outcome]
    if flash is not None:
        context["flash"] = flash
    page = render(request, "requests/richiesta.html", status=status,
                  title=f"Richiesta {req.reference}", **context)
    if request.cookies.get(OUTCOME_COOKIE):
        page.delete_cookie(OUTCOME_COOKIE, path="/richieste")
    return page


def _officer_context(ctx: AppContext, principal: Principal, req: RequestOut,
                     forms: dict[str, Form], context: dict[str, object],
                     assessment: AssessmentOut | None, terms: TermsOut | None) -> None:
    choices = _choices(ctx, principal, req.producer_id)
    if "valutazione" not in forms:
        values: dict[str, str] = {}
        if assessment is not None:
            values = {"economico": str(assessment.economic_score),
                      "sociale": str(assessment.social_score), "note": assessment.notes,
                      "sopralluogo": assessment.site_visit_date or "",
                      "delibera": assessment.decision_date or "",
                      "verbale": assessment.decision_reference or ""}
        forms["valutazione"] = Form(values=values)
    if "condizioni" not in forms:
        forms["condizioni"] = Form(values=terms_values(terms, req,
                                                       choices.default_lender))
    forms.setdefault("erogazione", Form(values={"data": today().isoformat()}))
    n_pp, n_g = fieldset_counts(forms["condizioni"].values)
    context.update(choices=choices, n_prepayments=n_pp, n_guarantees=n_g,
                   terms_open=req.status in TERMS_STATUSES,
                   can_fund=req.status == "approved" and terms is not None)


@get("/richieste/{request_id:str}", sync_to_thread=True)
def request_page(request: AnyRequest, request_id: FromPath[str]) -> Template:
    return detail_page(request, request_id)


async def _again(request: AnyRequest, request_id: str, key: str, form: Form,
                 status: int = 422) -> Template:
    """The page again with the failed form: 422 for invalid input (errors beside the
    fields), 409 for a refusal (one sentence at its top)."""
    return await call(detail_page, request, request_id, forms={key: form}, status=status)


def _absorb(form: Form, exc: ApiError, fields: Mapping[str, str],
            refuse: Callable[[Conflict], str]) -> int:
    """The application's refusal on the form: each 422 error beside its field (in
    Italian), a 409 as one sentence at the top. Returns the page's status."""
    if isinstance(exc, Invalid):
        for item in exc.errors:
            name = item.get("field", "")
            target = fields.get(name) or fields.get(name.split(".")[0])
            text = message(item.get("message", ""))
            if target:
                form.add(target, text)
            else:
                form.refusal = form.refusal or text
        if not form.failed:
            form.refusal = "I dati inviati non sono validi."
        return 422
    if isinstance(exc, OtherLender):
        form.refusal = OTHER_LENDER[exc.what]
        return 403
    if isinstance(exc, Conflict):
        if exc.code == "idempotency_conflict":
            # The form was sent before with other values (back, edit, send again).
            form.refusal = ("Operazione già registrata: questo modulo era già stato "
                            "inviato. Ricarica la pagina per una nuova operazione.")
        else:
            form.refusal = refuse(exc)
        return 409
    raise exc


def _canonical(request_id: FromPath[str]) -> str:
    """The request's id as its page's address spells it (a valid id: the operation
    answered for it)."""
    return str(uuid.UUID(request_id))


def _request_link(request_id: str, section: str = "") -> str:
    return f"/richieste/{request_id}" + (f"#{section}" if section else "")


def _back(request: AnyRequest, request_id: str, outcome: str,
          section: str) -> Redirect:
    """The 303 to the request's page after a post: the outcome said at its top (with a
    link to what was recorded on a replay). The forms post to an address with their
    section's fragment, so that a page shown again with errors opens there; the
    redirect names ``#top`` (the top of the document, as HTML defines it) so that the
    browser does not keep that fragment and the outcome is in view."""
    target = f"/richieste/{request_id}?esito={outcome}"
    if outcome == "gia-registrata":
        target += "&vedi=" + quote(_request_link(request_id, section), safe="")
    return see_other(request, target + "#top")


def _done(request: AnyRequest, seen: bool, request_id: str,
          section: str) -> Redirect:
    """After an operation with an operation id: recorded now, or already (a replay)."""
    return _back(request, request_id, "gia-registrata" if seen else "registrata", section)


@post("/richieste/{request_id:str}/stato", status_code=303,
      opt={"operation": "POST /api/requests/{id}/transitions"})
async def post_transition(request: AnyRequest, request_id: FromPath[str]) -> Page:
    form = await posted(request)
    ctx = ctx_of(request)
    principal = principal_of(request)
    target = str(form.value("to"))
    if target not in TRANSITION_TARGETS:
        raise NotFound("transition")
    note_field = "risposta" if target == "submitted" else "nota"
    note = text_of(form, note_field, required=target == "submitted", label="la risposta")
    if principal.is_staff and target == "withdrawn" and not note:
        form.add("nota", "Scrivi il motivo del ritiro: lo leggerà il produttore.")
    status = 422
    if not form.errors:
        try:
            _, out = await call(app_requests.move_request, ctx, principal, request_id,
                                TransitionIn(to=target, note=note or "", id=form.op_id))
            return _done(request, replayed(), out.id, "storia")
        except (Invalid, Conflict, OtherLender) as exc:
            status = _absorb(form, exc, {"note": note_field},
                             lambda c: transition_refusal(c.code, c.detail))
    return await _again(request, request_id, f"stato:{target}", form, status)


@post("/richieste/{request_id:str}/valutazione", status_code=303,
      opt={"operation": "PUT /api/requests/{id}/assessment"})
async def post_assessment(request: AnyRequest, request_id: FromPath[str]) -> Page:
    form = await posted(request)
    ctx = ctx_of(request)
    principal = principal_of(request)
    economic = int_of(form, "economico", label="il punteggio economico, da 0 a 10")
    social = int_of(form, "sociale", label="il punteggio sociale, da 0 a 10")
    for name, score in (("economico", economic), ("sociale", social)):
        if score is not None and score > 10:
            form.add(name, "Un numero intero da 0 a 10.")
    visit = date_of(form, "sopralluogo", required=False)
    decision = date_of(form, "delibera", required=False)
    status = 422
    if not form.errors:
        assert economic is not None and social is not None
        try:
            before = await call(app_requests.read_request, ctx, principal, request_id)
            out = await call(app_requests.assess_request, ctx, principal, request_id,
                             AssessmentIn(economic_score=economic, social_score=social,
                                          notes=str(form.value("note")).strip(),
                                          site_visit_date=visit, decision_date=decision,
                                          decision_reference=text_of(form, "verbale")))
            old = _insider(before.assessment)
            unchanged = old is not None and old.assessed_at == out.assessed_at
            return _saved(request, before.id, unchanged, "valutazione")
        except (Invalid, Conflict, OtherLender) as exc:
            status = _absorb(form, exc, ASSESSMENT_FIELDS,
                             lambda c: transition_refusal(c.code, c.detail))
    return await _again(request, request_id, "valutazione", form, status)


def _saved(request: AnyRequest, request_id: str, unchanged: bool,
           section: str) -> Redirect:
    """After **Salva valutazione** or **Salva condizioni**: saved, or the same as the
    version in force (nothing new recorded: a resubmission)."""
    return _back(request, request_id, "gia-registrata" if unchanged else "salvato", section)


def _suggestion_context(ctx: AppContext, principal: Principal, req: RequestOut,
                        pool_lender: dict[str, str], lender_id: str | None, category: str
                        ) -> SuggestionContext:
    rate, coverage = None, matching.CONFIG.guarantee_coverage
    if lender_id:
        rate = _latest_rate(ctx, lender_id, category)
        with contextlib.suppress(NotFound):
            minimum = read_category(ctx, principal, lender_id, category).min_coverage
            coverage = Decimal(minimum) if minimum is not None else coverage
    return SuggestionContext(pool_lender=pool_lender,
                             goods=_goods(ctx, principal, req.producer_id), rate=rate,
                             coverage=coverage, today=today())


def _suggest(request: AnyRequest, request_id: str, form: Form) -> Template:
    """**Usa i suggerimenti**: the Condizioni form filled from the opportunities, shown
    for the officer to check and save; nothing is saved."""
    ctx = ctx_of(request)
    principal = principal_of(request)
    principal.require("officer")
    req = app_requests.read_request(ctx, principal, request_id)
    opportunities = _opportunities(ctx, principal, req)
    pools = {q.id: q.lender_id for q in list_pool_names(ctx, principal)}
    best_pool = next((o.source_id for o in opportunities if o.kind == "loan"), None)
    lender = pools.get(best_pool or "") or str(form.value("finanziatore")) or None
    category = str(form.value("categoria")).strip() or DEFAULT_CATEGORY
    values, notes = suggested_values(
        form.values, req, opportunities,
        _suggestion_context(ctx, principal, req, pools, lender, category))
    suggested = Form(values=values, op_id=form.op_id)
    notes.insert(0, "Condizioni compilate con i suggerimenti: controllale e salvale con "
                    "Salva condizioni. Nulla è stato ancora salvato.")
    return detail_page(request, request_id, forms={"condizioni": suggested}, notes=notes)


@post("/richieste/{request_id:str}/condizioni", status_code=303,
      opt={"operation": "PUT /api/requests/{id}/terms"})
async def post_terms(request: AnyRequest, request_id: FromPath[str]) -> Page:
    form = await posted(request)
    ctx = ctx_of(request)
    principal = principal_of(request)
    action = form.values.pop("azione", "salva")
    if action == "suggerimenti":
        return await call(_suggest, request, request_id, form)
    status = 422
    parsed = parse_terms_form(form, today())
    if parsed is not None:
        try:
            before = await call(app_requests.read_request, ctx, principal, request_id)
            out = await call(app_requests.set_terms, ctx, principal, request_id, parsed.data)
            old = _insider(before.terms)
            return _saved(request, before.id, old is not None and old.set_at == out.set_at,
                          "condizioni")
        except (Invalid, Conflict, OtherLender) as exc:
            status = _absorb(form, exc, parsed.fields, lambda c: (
                "Le condizioni si fissano mentre la richiesta è in esame o approvata."
                if c.code == "invalid_transition" else funding_refusal(c.code)))
    return await _again(request, request_id, "condizioni", form, status)


@post("/richieste/{request_id:str}/erogazione", status_code=303,
      opt={"operation": "POST /api/requests/{id}/funding"})
async def post_funding(request: AnyRequest, request_id: FromPath[str]) -> Page:
    form = await posted(request)
    ctx = ctx_of(request)
    principal = principal_of(request)
    on = date_of(form, "data")
    status = 422
    if on is not None:
        try:
            _, out = await call(app_requests.fund_request, ctx, principal, request_id,
                                FundingIn(date=on, id=form.op_id))
            return _done(request, replayed(), out.id, "erogazione")
        except (Invalid, Conflict, OtherLender) as exc:
            status = _absorb(form, exc, {"date": "data"}, lambda c: funding_refusal(c.code))
    return await _again(request, request_id, "erogazione", form, status)


@post("/richieste/{request_id:str}/interesse", status_code=303,
      opt={"operation": "POST /api/requests/{id}/interests"})
async def post_interest(request: AnyRequest, request_id: FromPath[str]) -> Page:
    form = await posted(request)
    ctx = ctx_of(request)
    principal = principal_of(request)
    if principal.role != "gas":
        raise NotFound("interest form")
    kind = str(form.value("tipo"))
    if kind not in INTEREST_KINDS:
        form.add("tipo", "Scegli un valore dall'elenco.")
    amount = amount_of(form, "importo")
    status = 422
    if not form.errors:
        assert amount is not None
        try:
            await call(app_requests.declare_interest, ctx, principal, request_id,
                       InterestIn(kind=kind, amount=money_in(amount), id=form.op_id,
                                  note=text_of(form, "nota")))
            return _done(request, replayed(), _canonical(request_id), "interessi")
        except (Invalid, Conflict) as exc:
            status = _absorb(form, exc, {"kind": "tipo", "amount": "importo", "note": "nota"},
                             lambda c: interest_refusal(c.code))
    return await _again(request, request_id, "interesse", form, status)


@post("/richieste/{request_id:str}/interesse/ritiro", status_code=303,
      opt={"operation": "DELETE /api/requests/{id}/interests/{kind}"})
async def post_interest_withdrawal(request: AnyRequest,
                                   request_id: FromPath[str]) -> Page:
    form = await posted(request)
    ctx = ctx_of(request)
    principal = principal_of(request)
    kind = str(form.value("tipo"))
    if kind not in INTEREST_KINDS or principal.role != "gas":
        raise NotFound("interest")
    try:
        await call(app_requests.withdraw_interest, ctx, principal, request_id, kind)
    except NotFound:
        # Withdrawn already (a second click): the page says so, if the user sees it.
        req = await call(app_requests.read_request, ctx, principal, request_id)
        return _back(request, req.id, "gia-registrata", "interessi")
    except Conflict as exc:
        form.refusal = interest_refusal(exc.code)
        return await _again(request, request_id, f"ritiro-interesse:{kind}", form, 409)
    return _back(request, _canonical(request_id), "registrata", "interessi")


# --- a new request ----------------------------------------------------------------------

def _producer_only(principal: Principal) -> str:
    if principal.role != "producer" or not principal.party_id:
        raise NotFound("page")
    return principal.party_id


def _buying_gas(ctx: AppContext, principal: Principal, producer_id: str
                ) -> list[tuple[str, str]]:
    """(id, name) of the GAS that buy from the producer, by name."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = list_relationships(ctx, principal, None, producer_id, 500, cursor)
        ids += [r.gas_id for r in page.items if r.gas_id not in ids]
        cursor = page.next_cursor
        if cursor is None:
            break
    return sorted(((gid, _name(ctx, gid)) for gid in ids), key=lambda g: g[1].casefold())


def _new_page(request: AnyRequest, form: Form, status: int = 200) -> Template:
    ctx = ctx_of(request)
    principal = principal_of(request)
    producer_id = _producer_only(principal)
    chosen = form.values.get("gas", [])
    return render(request, "requests/nuova.html", status=status,
                  title="Nuova richiesta di finanziamento", form=form,
                  instruments=list(INSTRUMENTS.items()),
                  gas=_buying_gas(ctx, principal, producer_id),
                  chosen=[chosen] if isinstance(chosen, str) else list(chosen))


@get("/richieste/nuova", sync_to_thread=True)
def new_request_page(request: AnyRequest) -> Template:
    return _new_page(request, Form(values={"strumento": "loan"}))


@post("/richieste/nuova", status_code=303, opt={"operation": "POST /api/requests"})
async def post_new_request(request: AnyRequest) -> Page:
    form = await posted(request)
    ctx = ctx_of(request)
    principal = principal_of(request)
    producer_id = _producer_only(principal)
    amount = amount_of(form, "importo")
    instrument = str(form.value("strumento"))
    if instrument not in INSTRUMENTS:
        form.add("strumento", "Scegli un valore dall'elenco.")
    purpose = text_of(form, "scopo", required=True, label="lo scopo del finanziamento")
    months = int_of(form, "durata", minimum=1, label="la durata in mesi")
    if months is not None and months > 600:
        form.add("durata", "Da 1 a 600 mesi.")
    needed_by = date_of(form, "serve_entro", required=False)
    chosen = form.values.get("gas", [])
    gas_ids = [chosen] if isinstance(chosen, str) else list(chosen)
    status = 422
    if not form.errors:
        assert amount is not None and purpose is not None and months is not None
        try:
            _, out = await call(app_requests.submit_request, ctx, principal, RequestIn(
                producer_id=producer_id, amount=money_in(amount), purpose=purpose,
                instrument=instrument, term_months=months, id=form.op_id,
                needed_by=needed_by, gas_ids=gas_ids))
            seen = replayed()
            redirect = see_other(request, f"/richieste/{out.id}")
            redirect.set_cookie(Cookie(
                key=OUTCOME_COOKIE, value="gia-registrata" if seen else "registrata",
                path="/richieste", max_age=60, httponly=True, samesite="lax",
                secure=request.url.scheme == "https"))
            return redirect
        except (Invalid, Conflict) as exc:
            status = _absorb(form, exc, NEW_REQUEST_FIELDS,
                             lambda c: transition_refusal(c.code, c.detail))
    return await call(_new_page, request, form, status)


# --- the list ---------------------------------------------------------------------------

def _uuid_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


@get("/richieste", sync_to_thread=True)
def requests_list(request: AnyRequest, stato: FromQuery[str | None] = None,
                  produttore: FromQuery[str | None] = None,
                  pagina: FromQuery[str | None] = None) -> Template:
    ctx = ctx_of(request)
    principal = principal_of(request)
    staff = principal.is_staff
    status = stato if staff and stato in REQUEST_STATUS else None
    producer = _uuid_or_none(produttore) if staff else None
    page = app_requests.list_requests(ctx, principal, status=status, producer_id=producer,
                                      sort="-created_at", limit=PAGE_SIZE, cursor=pagina)
    query = "&".join(f"{k}={v}" for k, v in (("stato", status), ("produttore", producer))
                     if v)
    next_url = None
    if page.next_cursor:
        next_url = "/richieste?" + (query + "&" if query else "") + "pagina=" + page.next_cursor
    producers: list[tuple[str, str]] = []
    if staff:
        producers = [(p.id, p.name) for p in _all_parties(ctx, principal, "producer")]
    filters = Form(values={"stato": status or "", "produttore": producer or ""})
    return render(request, "requests/elenco.html", title="Richieste di finanziamento",
                  items=[(r, _name(ctx, r.producer_id)) for r in page.items],
                  next_url=next_url, filters=filters, producers=producers,
                  statuses=list(REQUEST_STATUS.items()), filtered=bool(query),
                  INSTRUMENTS=INSTRUMENTS)


HANDLERS = [new_request_page, post_new_request, requests_list, request_page, post_transition,
            post_assessment, post_terms, post_funding, post_interest,
            post_interest_withdrawal]
