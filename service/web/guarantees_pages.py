"""``/garanzie``: the guarantees a GAS has given on producers' loans and its pledge
capacity (**Aggiorna capacità**: officers or the GAS's own user may set it, as the
application allows; this page is the GAS user's)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from litestar import get, post
from litestar.params import FromQuery
from litestar.response import Template

from service.app import guarantees, loans
from service.app.auth import Principal
from service.app.errors import Conflict, Invalid, NotFound
from service.app.guarantees import CapacityIn
from service.app.lending import LoanOut
from service.web.core import (
    AnyRequest,
    Form,
    Page,
    absorb,
    call,
    ctx_of,
    decimal_of,
    money_in,
    posted,
    principal_of,
    render,
    see_other,
)
from service.web.formatting import euro, number
from service.web.gas_support import name_of, names_for


def gas_user(request: AnyRequest) -> Principal:
    principal = principal_of(request)
    if principal.role != "gas" or not principal.party_id:
        raise NotFound("page")
    return principal


def guarantees_page(request: AnyRequest, form: Form | None = None, *,
                    status: int = 200, cursor: str | None = None) -> Template:
    ctx = ctx_of(request)
    principal = gas_user(request)
    gas_id = principal.party_id or ""
    capacity = guarantees.read_pledge_capacity(ctx, principal, gas_id)
    page = guarantees.list_guarantees(ctx, principal, gas_id, None, None, None, cursor)
    names = names_for(ctx, principal)
    loans_seen: dict[str, LoanOut] = {}
    rows = []
    for item in page.items:
        if item.loan_id not in loans_seen:
            loans_seen[item.loan_id] = loans.read_loan(ctx, principal, item.loan_id, None)
        loan = loans_seen[item.loan_id]
        rows.append({"item": item, "loan": loan.reference,
                     "producer": name_of(ctx, names, loan.borrower_id)})
    if form is None:
        form = Form(values={"capacity": number(Decimal(capacity.amount.amount), 2)})
    next_url = f"/garanzie?pagina={page.next_cursor}" if page.next_cursor else None
    return render(request, "gas/garanzie.html", status=status, title="Garanzie",
                  capacity=capacity, rows=rows, form=form, next_url=next_url)


@get("/garanzie", sync_to_thread=True)
def guarantees_view(request: AnyRequest, pagina: FromQuery[str | None] = None
                    ) -> Template:
    return guarantees_page(request, cursor=pagina)


@post("/garanzie", status_code=303, opt={"operation": "PUT /api/parties/{id}/pledge-capacity"})
async def capacity_update(request: AnyRequest) -> Page:
    form = await posted(request)
    principal = gas_user(request)
    ctx = ctx_of(request)
    amount = decimal_of(form, "capacity", max_decimals=2, label="la capacità di garanzia")
    if not form.errors and amount is not None:
        body = msgspec.convert({"amount": money_in(amount.quantize(Decimal("0.01")))},
                               CapacityIn)
        try:
            # No operation id: setting the same capacity twice leaves it as once.
            await call(guarantees.set_pledge_capacity, ctx, principal,
                       principal.party_id or "", body)
            return see_other(request, "/garanzie?esito=salvato")
        except (Invalid, Conflict) as exc:
            if isinstance(exc, Conflict) and exc.code == "exceeds_capacity":
                now = await call(guarantees.read_pledge_capacity, ctx, principal,
                                 principal.party_id or "")
                form.refusal = ("La capacità di garanzia non può scendere sotto quanto il "
                                f"GAS ha già impegnato nelle garanzie ({euro(now.pledged)}): "
                                "non è stata cambiata.")
            else:
                absorb(form, exc, {"amount": "capacity"})
    return await call(guarantees_page, request, form,
                      status=422 if form.errors else 409)


HANDLERS = [guarantees_view, capacity_update]
