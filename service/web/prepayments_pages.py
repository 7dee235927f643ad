"""``/prefinanziamenti``: prepayments a producer received or a GAS paid, the goods still
owed, deliveries (**Registra consegna**, by either side), and a GAS's new prepayment
(**Registra prefinanziamento**)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from litestar import get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from ledger.prepayments import value_at_price
from service.app import prepayments
from service.app.auth import Principal
from service.app.clock import today
from service.app.context import AppContext
from service.app.errors import Conflict, Invalid, NotFound
from service.app.prepayments import DeliveryIn, PrepaymentIn, PrepaymentOut
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
from service.web.formatting import euro, number, plain
from service.web.gas_support import name_of, names_for, owed, owed_text, run_once, suppliers
from service.web.labels import ON_EXPIRY

STATUS_FILTERS = {"aperti": "open", "chiusi": "closed"}


def gas_user(request: AnyRequest) -> Principal:
    principal = principal_of(request)
    if principal.role != "gas" or not principal.party_id:
        raise NotFound("page")
    return principal


def row_of(ctx: AppContext, names: dict[str, str], item: PrepaymentOut) -> dict[str, object]:
    return {"item": item, "producer": name_of(ctx, names, item.producer_id),
            "gas": name_of(ctx, names, item.gas_id), "owed": owed_text(item)}


# --- the list ---------------------------------------------------------------------------

@get("/prefinanziamenti", sync_to_thread=True)
def prepayment_list(request: AnyRequest, stato: FromQuery[str | None] = None,
                    pagina: FromQuery[str | None] = None) -> Template:
    ctx = ctx_of(request)
    principal = principal_of(request)
    status = STATUS_FILTERS.get(stato or "")
    page = prepayments.list_prepayments(ctx, principal, None, None, status, None, None,
                                        pagina)
    names = names_for(ctx, principal)
    rows = [row_of(ctx, names, item) for item in page.items]
    query = f"stato={stato}&" if status else ""
    next_url = f"/prefinanziamenti?{query}pagina={page.next_cursor}" \
        if page.next_cursor else None
    return render(request, "prepayments/elenco.html", title="Prefinanziamenti",
                  rows=rows, totals=page.totals, next_url=next_url,
                  stato=stato if status else None, role=principal.role)


# --- a new prepayment (GAS) -------------------------------------------------------------

def new_page(request: AnyRequest, form: Form, status: int = 200) -> Template:
    principal = gas_user(request)
    return render(request, "prepayments/nuovo.html", status=status,
                  title="Nuovo prefinanziamento", form=form,
                  producers=suppliers(ctx_of(request), principal),
                  on_expiry=list(ON_EXPIRY.items()), today=today().isoformat())


@get("/prefinanziamenti/nuovo", sync_to_thread=True)
def prepayment_new(request: AnyRequest) -> Template:
    return new_page(request, Form())


@post("/prefinanziamenti/nuovo", status_code=303, opt={"operation": "POST /api/prepayments"})
async def prepayment_create(request: AnyRequest) -> Page:
    form = await posted(request)
    principal = gas_user(request)
    ctx = ctx_of(request)
    producer = text_of(form, "producer")
    if producer is None:
        form.add("producer", "Scegli il produttore.")
    elif producer not in {pid for pid, _ in await call(suppliers, ctx, principal)}:
        form.add("producer", "Scegli un produttore dall'elenco.")
    amount = amount_of(form, "amount")
    product = text_of(form, "product", required=True, label="il prodotto")
    unit = text_of(form, "unit", required=True, label="l'unità, per esempio kg")
    unit_price = amount_of(form, "unit_price")
    if "unit_price" in form.errors and form.errors["unit_price"] == "Indica l'importo.":
        form.errors["unit_price"] = "Indica il prezzo unitario."
    paid_on = date_of(form, "date")
    expires_on = date_of(form, "expires_on")
    on_expiry = text_of(form, "on_expiry")
    if on_expiry not in ON_EXPIRY:
        form.add("on_expiry", "Scegli cosa succede alla scadenza.")
    if not form.errors and amount is not None and unit_price is not None:
        body = msgspec.convert({
            "id": form.op_id, "producer_id": producer, "gas_id": principal.party_id,
            "amount": money_in(amount), "product": product, "unit": unit,
            "unit_price": money_in(unit_price), "expires_on": expires_on,
            "on_expiry": on_expiry, "date": paid_on}, PrepaymentIn)
        try:
            status, out = await run_once(request, form.op_id, prepayments.open_prepayment,
                                         ctx, principal, body)
            return after_post(request, status, f"/prefinanziamenti/{out.id}")
        except (Invalid, Conflict) as exc:
            absorb(form, exc, {"producer_id": "producer", "amount": "amount",
                               "product": "product", "unit": "unit",
                               "unit_price": "unit_price", "date": "date",
                               "expires_on": "expires_on", "on_expiry": "on_expiry"})
    return await call(new_page, request, form, 422 if form.errors else 409)


# --- one prepayment ---------------------------------------------------------------------

def detail_page(request: AnyRequest, prepayment_id: str, form: Form,
                status: int = 200) -> Template:
    ctx = ctx_of(request)
    principal = principal_of(request)
    item = prepayments.read_prepayment(ctx, principal, prepayment_id)
    names = names_for(ctx, principal)
    quantity, exact = owed(item)
    return render(request, "prepayments/dettaglio.html", status=status,
                  title=f"Prefinanziamento {item.reference}", p=item,
                  producer=name_of(ctx, names, item.producer_id),
                  gas=name_of(ctx, names, item.gas_id), owed=owed_text(item),
                  owed_quantity=quantity, owed_exact=exact, form=form,
                  today=today().isoformat(), role=principal.role,
                  on_expiry_labels=ON_EXPIRY)


@get("/prefinanziamenti/{prepayment_id:str}", sync_to_thread=True)
def prepayment_detail(request: AnyRequest, prepayment_id: FromPath[str]
                      ) -> Template:
    return detail_page(request, prepayment_id, Form())


def exceeds_sentence(item: PrepaymentOut, quantity: Decimal) -> str:
    value = Decimal(value_at_price(quantity, int(Decimal(item.unit_price.amount) * 100)))
    return (f"La consegna di {number(quantity)} {item.unit} vale {euro(value / 100)}, più "
            f"di quanto resta del prefinanziamento ({euro(item.remaining)}, cioè "
            f"{owed_text(item)}): non è stata registrata.")


@post("/prefinanziamenti/{prepayment_id:str}/consegne", status_code=303,
      opt={"operation": "POST /api/prepayments/{id}/deliveries"})
async def delivery_record(request: AnyRequest, prepayment_id: FromPath[str]
                          ) -> Page:
    form = await posted(request)
    ctx = ctx_of(request)
    principal = principal_of(request)
    # Not the user's (or no such prepayment): 404 before anything else.
    item = await call(prepayments.read_prepayment, ctx, principal, prepayment_id)
    on = date_of(form, "date")
    quantity = decimal_of(form, "quantity", max_decimals=3, positive=True,
                          label="la quantità consegnata")
    if not form.errors and quantity is not None:
        body = DeliveryIn(id=form.op_id, date=str(on), quantity=plain(quantity))
        try:
            status, _ = await run_once(request, form.op_id, prepayments.deliver, ctx,
                                       principal, item.id, body)
            return after_post(request, status, f"/prefinanziamenti/{item.id}",
                              recorded=f"/prefinanziamenti/{item.id}#d-{form.op_id}")
        except (Invalid, Conflict) as exc:
            if isinstance(exc, Conflict) and exc.code == "exceeds_prepayment":
                item = await call(prepayments.read_prepayment, ctx, principal, item.id)
                form.refusal = exceeds_sentence(item, quantity)
            else:
                absorb(form, exc, {"date": "date", "quantity": "quantity"})
    return await call(detail_page, request, item.id, form, 422 if form.errors else 409)


HANDLERS = [prepayment_list, prepayment_new, prepayment_create, prepayment_detail,
            delivery_record]
