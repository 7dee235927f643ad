"""``/fondo``: the GAS's solidarity fund, its contributions and payouts, and the form
**Registra contributo** (with the helper for per-order surcharges)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from litestar import get, post
from litestar.params import FromQuery
from litestar.response import Template

from ledger.funds import surcharge_contribution
from service.app import funds
from service.app.auth import Principal
from service.app.clock import today
from service.app.errors import Conflict, Invalid, NotFound
from service.app.funds import ContributionIn, FundOut
from service.web.core import (
    AnyRequest,
    Form,
    Page,
    absorb,
    after_post,
    amount_of,
    call,
    ctx_of,
    date_of,
    decimal_of,
    money_in,
    posted,
    principal_of,
    render,
    text_of,
)
from service.web.formatting import euro, plain
from service.web.gas_support import name_of, names_of, run_once, suppliers

CENT = Decimal("0.01")
HELPER = ("quantity", "unit", "rate")


def gas_user(request: AnyRequest) -> Principal:
    """The fund pages are a GAS user's: anyone else finds nothing here."""
    principal = principal_of(request)
    if principal.role != "gas" or not principal.party_id:
        raise NotFound("page")
    return principal


def own_fund(request: AnyRequest, principal: Principal) -> FundOut:
    page = funds.list_funds(ctx_of(request), principal, principal.party_id, None, None)
    for item in page.items:
        if item.gas_id == principal.party_id:
            return item
    raise NotFound("fund")


def fund_page(request: AnyRequest, form: Form, *, status: int = 200,
              cursor: str | None = None, reference: str | None = None) -> Template:
    ctx = ctx_of(request)
    principal = gas_user(request)
    fund = own_fund(request, principal)
    names = names_of(ctx, principal, "producer")
    earmarks = sorted(((name_of(ctx, names, pid), value) for pid, value in
                       fund.earmarked.items()), key=lambda item: item[0].casefold())
    given = funds.list_contributions(ctx, principal, principal.party_id, fund.id, None,
                                     cursor, reference)
    paid = funds.list_payouts(ctx, principal, fund.id, None, None)
    contributions = [{"item": c, "earmark": name_of(ctx, names, c.earmark_producer_id)
                      if c.earmark_producer_id else None} for c in given.items]
    payouts = [{"item": p, "producer": name_of(ctx, names, p.producer_id)}
               for p in paid.items]
    next_url = f"/fondo?pagina={given.next_cursor}" if given.next_cursor else None
    return render(request, "gas/fondo.html", status=status, title="Fondo di solidarietà",
                  fund=fund, earmarks=earmarks,
                  earmarked_total=sum((Decimal(v.amount) for v in fund.earmarked.values()),
                                      Decimal("0.00")), contributions=contributions,
                  payouts=payouts, payouts_more=paid.next_cursor is not None,
                  next_url=next_url, reference=reference, form=form,
                  producers=suppliers(ctx, principal), today=today().isoformat())


@get("/fondo", sync_to_thread=True)
def fund_view(request: AnyRequest, pagina: FromQuery[str | None] = None,
              riferimento: FromQuery[str | None] = None) -> Template:
    return fund_page(request, Form(), cursor=pagina, reference=riferimento)


def read_basis(form: Form, amount: Decimal | None) -> tuple[Decimal | None,
                                                             dict[str, object] | None]:
    """The per-order helper: quantity x contribution per unit. With no amount typed the
    amount is their product; with both, they must agree. ``(amount, basis)``."""
    if not any(text_of(form, name) for name in HELPER):
        if amount is None and "amount" not in form.errors:
            form.add("amount", "Indica l'importo, oppure quantità e contributo per unità.")
        return amount, None
    quantity = decimal_of(form, "quantity", max_decimals=3, positive=True,
                          label="la quantità")
    unit = text_of(form, "unit", required=True, label="l'unità, per esempio kg")
    rate = decimal_of(form, "rate", max_decimals=2, positive=True,
                      label="il contributo per unità")
    if quantity is None or rate is None or unit is None:
        return amount, None
    product = (Decimal(surcharge_contribution(int(rate * 100), quantity)) * CENT
               ).quantize(CENT)
    if amount is None and "amount" not in form.errors:
        if product <= 0:
            form.add("quantity", "Quantità per contributo per unità fa 0,00 €: "
                                 "non c'è nulla da registrare.")
            return None, None
        amount = product
    elif amount is not None and amount != product:
        form.add("amount", "L'importo non corrisponde a quantità per contributo per "
                           f"unità ({euro(product)}): correggi uno dei due o lascia "
                           "vuoto l'importo.")
    return amount, {"rate": money_in(rate.quantize(CENT)), "quantity": plain(quantity),
                    "unit": unit}


@post("/fondo", status_code=303, opt={"operation": "POST /api/contributions"})
async def record_contribution(request: AnyRequest) -> Page:
    form = await posted(request)
    principal = gas_user(request)
    ctx = ctx_of(request)
    amount = amount_of(form, "amount", required=False)
    on = date_of(form, "date")
    note = text_of(form, "note")
    earmark = text_of(form, "earmark")
    amount, basis = read_basis(form, amount)
    if earmark is not None:
        allowed = {pid for pid, _ in await call(suppliers, ctx, principal)}
        if earmark not in allowed:
            form.add("earmark", "Scegli un produttore dall'elenco.")
    if not form.errors and amount is not None:
        body = msgspec.convert({
            "id": form.op_id, "gas_id": principal.party_id, "amount": money_in(amount),
            "date": on, "earmark_producer_id": earmark, "note": note, "basis": basis},
            ContributionIn)
        try:
            status, out = await run_once(request, form.op_id, funds.contribute_to_fund,
                                         ctx, principal, body)
            return after_post(request, status, "/fondo",
                              recorded=f"/fondo?riferimento={out.reference}#c-{out.id}")
        except (Invalid, Conflict) as exc:
            absorb(form, exc, {"amount": "amount", "date": "date",
                               "earmark_producer_id": "earmark", "note": "note",
                               "basis.quantity": "quantity", "basis.rate.amount": "rate",
                               "basis.unit": "unit", "basis": "quantity"})
    return await call(fund_page, request, form, status=422 if form.errors else 409)


HANDLERS = [fund_view, record_contribution]
