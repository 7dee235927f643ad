"""``/soggetti`` and ``/soggetti/{id}``: the parties of the network (officers and admins).

A party's page shows its network (who buys from whom, since when, how much), its loans,
guarantees, prepayments, fund and pledge capacity, each read through the application
function the API's handler calls, and its contacts.

Contacts are edited with **Salva contatti** through ``service.app.parties.update_party``
(``PATCH /api/parties/{id}``). Until that function exists the page shows the contacts
read-only and no form: nothing is offered that cannot be recorded.
"""

from __future__ import annotations

from typing import Required, TypedDict
from urllib.parse import urlencode

from litestar import get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from service.app import desk, funds, guarantees, loans, parties, prepayments
from service.app.errors import Conflict, Invalid
from service.app.funds import FundOut
from service.app.guarantees import CapacityOut, GuaranteeOut
from service.app.loans import LoanPage
from service.app.parties import PARTY_KINDS, PartyOut, RelationshipOut
from service.app.prepayments import PrepaymentPage
from service.app.views import Money
from service.web.core import (
    AnyRequest,
    Form,
    Page,
    absorb,
    call,
    ctx_of,
    party_name,
    posted,
    principal_of,
    render,
    see_other,
    text_of,
)

PAGE_SIZE = 50
LIST_LIMIT = 100  # items per section of a party's page
KINDS = {"gas": "GAS", "producer": "Produttore", "lender": "Finanziatore", "des": "DES",
         "person": "Persona"}
GUARANTORS = ("gas", "person", "producer")
# The contact fields of API.md ("Books a MAG can keep"), with their labels.
CONTACTS = (("email", "Email", "email"), ("pec", "PEC", "email"), ("phone", "Telefono", "tel"),
            ("address", "Indirizzo", "text"), ("postal_code", "CAP", "text"))


def contacts_of(party: PartyOut) -> list[tuple[str, str, str | None]]:
    """(field, label, value) of each contact the party carries (None: not given)."""
    return [(name, text, getattr(party, name, None)) for name, text, _ in CONTACTS]


@get("/soggetti", sync_to_thread=True)
def parties_page(request: AnyRequest, tipo: FromQuery[str | None] = None,
                 cursore: FromQuery[str | None] = None) -> Template:
    ctx, principal = ctx_of(request), principal_of(request)
    principal.require("officer")
    kind = tipo if tipo in PARTY_KINDS else None
    page = parties.list_parties(ctx, principal, kind, PAGE_SIZE, cursore or None)
    next_url = None
    if page.next_cursor:
        next_url = "/soggetti?" + urlencode({k: v for k, v in (
            ("tipo", kind), ("cursore", page.next_cursor)) if v})
    form = Form(values={"tipo": kind or ""})
    return render(request, "officer/soggetti.html", title="Soggetti", items=page.items,
                  form=form, kinds=KINDS, next_url=next_url, first_page=cursore is None)


class PartyContext(TypedDict, total=False):
    """What the party's page shows: the parts its kind has."""

    party: Required[PartyOut]
    kind: Required[str]
    relationships: list[RelationshipOut]
    prepayments: PrepaymentPage
    funds: list[FundOut]
    loans: LoanPage
    loan_guarantees: list[GuaranteeOut]
    earmarks: list[tuple[FundOut, Money]]
    guarantees: list[GuaranteeOut]
    capacity: CapacityOut
    loan_labels: dict[str, tuple[str, str]]
    member_of: list[str]


def _party_context(request: AnyRequest, party_id: str) -> PartyContext:
    """Everything the party's page shows, each part read as the API reads it."""
    ctx, principal = ctx_of(request), principal_of(request)
    principal.require("officer")
    party = parties.read_party(ctx, principal, party_id)
    pid = party.id
    out: PartyContext = {"party": party, "kind": KINDS.get(party.kind, party.kind)}
    if party.kind == "gas":
        out["relationships"] = parties.list_relationships(
            ctx, principal, pid, None, LIST_LIMIT, None).items
        out["prepayments"] = prepayments.list_prepayments(
            ctx, principal, None, pid, None, None, LIST_LIMIT, None)
        out["funds"] = funds.list_funds(ctx, principal, pid, LIST_LIMIT, None).items
    elif party.kind == "producer":
        out["relationships"] = parties.list_relationships(
            ctx, principal, None, pid, LIST_LIMIT, None).items
        out["prepayments"] = prepayments.list_prepayments(
            ctx, principal, pid, None, None, None, LIST_LIMIT, None)
        out["loans"] = loans.list_loans(ctx, principal, pid, None, None, None, LIST_LIMIT,
                                        None)
        out["loan_guarantees"] = [
            g for loan in out["loans"].items for g in guarantees.list_guarantees(
                ctx, principal, None, loan.id, None, LIST_LIMIT, None).items]
        # The funds holding money earmarked for the producer.
        out["earmarks"] = funds.funds_earmarking(ctx, principal, pid)
    elif party.kind == "lender":
        out["loans"] = loans.list_loans(ctx, principal, None, None, pid, None, LIST_LIMIT,
                                        None)
    if party.kind in GUARANTORS:
        out["guarantees"] = guarantees.list_guarantees(
            ctx, principal, pid, None, None, LIST_LIMIT, None).items
        out["capacity"] = guarantees.read_pledge_capacity(ctx, principal, pid)
        out["loan_labels"] = desk.loan_labels(ctx, principal,
                                              [g.loan_id for g in out["guarantees"]])
    if party.gas_ids:
        out["member_of"] = party.gas_ids
    return out


def _render_party(request: AnyRequest, party_id: str, form: Form | None = None,
                  status: int = 200) -> Template:
    context = _party_context(request, party_id)
    party = context["party"]
    if form is None:
        form = Form(values={name: value or "" for name, _, value in contacts_of(party)})
    ctx = ctx_of(request)

    def name(pid: str) -> str:
        return party_name(ctx, pid) or pid

    return render(request, "officer/soggetto.html", status=status, title=party.name,
                  contacts=contacts_of(party), editable=principal_of(request).is_staff,
                  contact_fields=CONTACTS, form=form, name=name, **context)


@get("/soggetti/{party_id:str}", sync_to_thread=True)
def party_page(request: AnyRequest, party_id: FromPath[str]) -> Template:
    return _render_party(request, party_id)


@post("/soggetti/{party_id:str}/contatti", status_code=303,
      opt={"operation": "PATCH /api/parties/{id}"})
async def save_contacts(request: AnyRequest, party_id: FromPath[str]) -> Page:
    form = await posted(request)
    ctx, principal = ctx_of(request), principal_of(request)
    principal.require("officer")
    party = await call(parties.read_party, ctx, principal, party_id)
    # A JSON merge patch of the contacts: an emptied field clears it; unchanged ones are
    # left out, so saving an untouched form records nothing.
    patch: dict[str, object] = {}
    for field, _, _ in CONTACTS:
        value = text_of(form, field)
        if value != getattr(party, field, None):
            patch[field] = value
    if patch:
        try:
            await call(parties.update_party, ctx, principal, party.id, patch)
        except (Invalid, Conflict) as exc:
            absorb(form, exc, {f: f for f, _, _ in CONTACTS})
            return await call(_render_party, request, party.id, form,
                              422 if isinstance(exc, Invalid) else 409)
    return see_other(request, f"/soggetti/{party.id}?esito=salvato#contatti")


HANDLERS = [parties_page, party_page, save_contacts]
