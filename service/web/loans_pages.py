"""Loans: ``/prestiti`` (the list, with the officer's filters) and ``/prestiti/{id}``
(schedule, what is owed, repayments, guarantees, the statement) with the officer's forms
**Registra rimborso**, **Escuti garanzie**, **Rinegozia** and **Passa a perdita** (the
last one through a confirmation page).

Every figure comes from the application layer (``read_loan``, ``list_repayments``,
``read_loan_guarantees``); every form runs the same use case the API runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypedDict
from urllib.parse import urlencode

from litestar import get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from sqlalchemy import Connection, select

from service.app import guarantees, lending, loans
from service.app.auth import Principal
from service.app.clock import today
from service.app.common import MoneyIn
from service.app.context import AppContext
from service.app.errors import Conflict, Invalid, NotFound
from service.app.guarantees import CallIn, CallOut, LoanGuaranteesOut
from service.app.lending import LoanOut
from service.app.loans import RepaymentIn, RepaymentItem, RescheduleIn, WriteOffIn
from service.app.views import Money
from service.db.tables import parties
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
    int_of,
    money_in,
    posted,
    principal_of,
    render,
    text_of,
)
from service.web.labels import EARLY_REPAYMENT, FREQUENCIES, LOAN_STATUS, METHODS

PAGE_SIZE = 25
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

INSTALLMENT_STATUS = {"open": "Da pagare", "paid": "Pagata", "overdue": "Scaduta"}

# The forms of a loan's page: (key, button), each with its own id prefix.
FORMS = ("repayment", "call", "reschedule", "write_off")

# What the application says in English about a field, in the officer's words.
_FIELD_MESSAGES = [
    ("before the disbursement", "La data è precedente all'erogazione del prestito."),
    ("no guarantee of the loan was active",
     "In quella data il prestito non aveva garanzie attive."),
    ("give added_grace_periods, new_periods or method",
     "Indica i periodi di preammortamento aggiunti o il nuovo numero di rate."),
]

# A 409 as one sentence that fits the form it answers.
_REFUSALS = {
    ("call", "exceeds_capacity"):
        "L'importo supera quanto resta delle garanzie attive del prestito o quanto il "
        "prestito deve ancora: escuti un importo minore.",
    ("reschedule", "loan_not_active"):
        "Il prestito non è in corso (non ancora erogato, già rimborsato o passato a "
        "perdita): non si può rinegoziare.",
    ("write_off", "loan_not_active"):
        "Il prestito non è in corso (non ancora erogato, già rimborsato o già passato "
        "a perdita): non si può passare a perdita.",
    ("call", "loan_not_active"):
        "Il prestito non è in corso (non ancora erogato o già rimborsato): le garanzie "
        "non si possono escutere.",
}


# --- reading -----------------------------------------------------------------------------

def _dec(money: object) -> Decimal:
    return Decimal(str(getattr(money, "amount", money)))


def money_of(amount: Decimal) -> MoneyIn:
    """The use cases' money input."""
    return money_in(amount)


def names_of(ctx: AppContext, ids: set[str]) -> dict[str, str]:
    """The parties' names, by id (names of parties the page already may show)."""
    if not ids:
        return {}
    return ctx.read(lambda conn: {
        str(r.id): str(r.name) for r in conn.execute(
            select(parties.c.id, parties.c.name).where(parties.c.id.in_(sorted(ids))))})


def early_parts(ctx: AppContext, loan_id: str) -> dict[str, Decimal]:
    """How much of each payment repaid principal early (not towards an installment), as
    the same replay ``list_repayments`` splits them; its ``principal`` includes it.
    Called only after the page has read the loan through the application (visibility)."""

    def read(conn: Connection) -> dict[str, Decimal]:
        row = lending.get_loan(conn, loan_id)
        if row is None:
            return {}
        state = lending.loan_state(row, lending.events_of(conn, row.id),
                                   late_rate=lending.late_rate_of(conn, row))
        return {str(k): Decimal(a.early_principal).quantize(CENT)
                for k, a in state.allocations.items()}

    return ctx.read(read)


@dataclass
class ScheduleRow:
    number: int
    due_date: str
    payment: Decimal
    principal: Decimal
    interest: Decimal
    late: Decimal
    paid: Decimal
    still_due: Decimal
    status: str


def schedule_rows(loan: LoanOut) -> list[ScheduleRow]:
    """The schedule as the page shows it: paid = principal, interest and late interest
    paid; still due = installment (and its late interest) − paid."""
    rows = []
    for i in loan.schedule:
        late = _dec(i.late_interest)
        paid = _dec(i.paid_principal) + _dec(i.paid_interest) + _dec(i.paid_late_interest)
        due = _dec(i.payment) + late
        rows.append(ScheduleRow(i.number, i.due_date, _dec(i.payment), _dec(i.principal),
                                _dec(i.interest), late, paid, due - paid, i.status))
    return rows


@dataclass
class RepaymentRow:
    item: RepaymentItem
    penalty: Decimal
    interest: Decimal
    principal: Decimal  # towards installments
    early: Decimal
    excess: Decimal
    recovery: Decimal


def repayment_rows(items: list[RepaymentItem], early: dict[str, Decimal]
                   ) -> list[RepaymentRow]:
    out = []
    for it in items:
        a = it.allocation
        ahead = early.get(it.id, ZERO)
        recovery = _dec(a.recovery) if isinstance(a.recovery, Money) else ZERO
        out.append(RepaymentRow(it, _dec(a.penalty), _dec(a.interest),
                                _dec(a.principal) - ahead, ahead, _dec(a.excess), recovery))
    return out


def all_repayments(ctx: AppContext, principal: Principal, loan_id: str) -> list[RepaymentItem]:
    items: list[RepaymentItem] = []
    cursor: str | None = None
    while True:
        page = loans.list_repayments(ctx, principal, loan_id, None, 500, cursor)
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items


class LoanContext(TypedDict):
    """What ``loans/loan.html`` shows of a loan (``loan_context``)."""

    calls: list[CallOut]
    loan: LoanOut
    rows: list[ScheduleRow]
    totals: dict[str, Decimal]
    repayments: list[RepaymentRow]
    has_late: bool
    has_recovery: bool
    guarantees: LoanGuaranteesOut
    names: dict[str, str]
    borrower: str
    shown: RepaymentRow | None
    staff: bool
    may_pay: bool
    may_change: bool
    statement: bool
    has_active_guarantee: bool


def loan_context(ctx: AppContext, principal: Principal, loan_id: FromPath[str],
                 shown: str | None = None) -> LoanContext:
    """Everything ``loans/loan.html`` shows (404 if the user may not see the loan)."""
    loan = loans.read_loan(ctx, principal, loan_id, None)
    items = all_repayments(ctx, principal, loan.id)
    # Only a loan with early repayments needs the split (one more replay).
    early = early_parts(ctx, loan.id) if items and (
        _dec(loan.early_repaid_principal) or loan.status == "written_off") else {}
    paid = repayment_rows(items, early)
    g: LoanGuaranteesOut = guarantees.read_loan_guarantees(ctx, principal, loan.id, None)
    names = names_of(ctx, {loan.borrower_id, *(x.guarantor_id for x in g.items)})
    rows = schedule_rows(loan)
    totals = {k: sum((getattr(r, k) for r in rows), ZERO)
              for k in ("payment", "principal", "interest", "late", "paid", "still_due")}
    just = next((r for r in paid if r.item.id == shown), None) if shown else None
    staff = principal.is_staff
    calls = guarantees.list_calls(ctx, principal, loan.id, 500, None).items if staff else []
    return {
        "calls": calls,
        "loan": loan, "rows": rows, "totals": totals, "repayments": paid,
        "has_late": any(r.late for r in rows),
        "has_recovery": any(r.recovery for r in paid),
        "guarantees": g, "names": names, "borrower": names.get(loan.borrower_id, "—"),
        "shown": just, "staff": staff,
        "may_pay": staff,
        "may_change": staff and loan.status in ("approved", "active"),
        "statement": staff or principal.role == "producer",
        "has_active_guarantee": any(x.status == "active" for x in g.items),
    }


def fresh_forms() -> dict[str, Form]:
    now = today().isoformat()
    return {
        "repayment": Form(values={"date": now, "early": "term"}),
        "call": Form(values={"date": now}),
        "reschedule": Form(values={"date": now, "added_grace_periods": "0"}),
        "write_off": Form(values={"date": now}),
    }


def loan_page_template(request: AnyRequest, context: LoanContext,
                       failed: tuple[str, Form] | None = None, status: int = 200
                       ) -> Template:
    forms = fresh_forms()
    if failed is not None:
        forms[failed[0]] = failed[1]
    loan = context["loan"]
    return render(request, "loans/loan.html", status=status, forms=forms,
                  early_options=list(EARLY_REPAYMENT.items()),
                  installment_status=INSTALLMENT_STATUS, frequencies=FREQUENCIES,
                  methods=METHODS,
                  title=f"Prestito {loan.reference}", **context)


# --- pages -------------------------------------------------------------------------------

@get("/prestiti", sync_to_thread=True)
def loans_list(request: AnyRequest, status: FromQuery[str | None] = None,
               late: FromQuery[str | None] = None, cursor: FromQuery[str | None] = None
               ) -> Template:
    ctx, principal = ctx_of(request), principal_of(request)
    filters = Form(values={"status": status or "", "late": late or ""})
    wanted = status or None
    if wanted is not None and wanted not in LOAN_STATUS:
        filters.add("status", "Scegli uno stato dall'elenco.")
        wanted = None
    late_only = "true" if late else None
    if not principal.is_staff:
        wanted, late_only = None, None
    page = loans.list_loans(ctx, principal, None, wanted, None, None, PAGE_SIZE, cursor or None,
                            overdue=late_only)
    names = names_of(ctx, {x.borrower_id for x in page.items})
    next_url = None
    if page.next_cursor:
        query = {k: v for k, v in (("status", wanted), ("late", "1" if late_only else None),
                                   ("cursor", page.next_cursor)) if v}
        next_url = "/prestiti?" + urlencode(query)
    return render(request, "loans/list.html", status=422 if filters.errors else 200,
                  title="Prestiti", loans=page.items, names=names, filters=filters,
                  next_url=next_url, staff=principal.is_staff, filtered=bool(wanted or late_only),
                  status_options=list(LOAN_STATUS.items()))


@get("/prestiti/{loan_id:str}", sync_to_thread=True)
def loan_page(request: AnyRequest, loan_id: FromPath[str],
              rimborso: FromQuery[str | None] = None) -> Template:
    context = loan_context(ctx_of(request), principal_of(request), loan_id, rimborso)
    return loan_page_template(request, context)


# --- the officer's forms -----------------------------------------------------------------

def _officer(request: AnyRequest) -> Principal:
    """Only officers post these forms; anyone else learns nothing: 404."""
    principal = principal_of(request)
    if not principal.is_staff:
        raise NotFound("loan")
    return principal


def _absorb(form: Form, key: str, exc: Invalid | Conflict, fields: dict[str, str]) -> None:
    """The application's refusal on the form, in the words of this page."""
    if isinstance(exc, Conflict) and (key, exc.code) in _REFUSALS:
        form.refusal = _REFUSALS[(key, exc.code)]
        return
    if isinstance(exc, Invalid):
        rest = []
        for item in exc.errors:
            message = item.get("message", "")
            italian = next((it for en, it in _FIELD_MESSAGES if en in message), None)
            target = fields.get(item.get("field", ""))
            if italian and target:
                form.add(target, italian)
            else:
                rest.append(item)
        if not rest:
            return
        exc = Invalid(rest)
    absorb(form, exc, fields)


async def _failed(request: AnyRequest, loan_id: str, key: str, form: Form
                  ) -> Template:
    context = await call(loan_context, ctx_of(request), principal_of(request), loan_id)
    return loan_page_template(request, context, (key, form),
                              status=422 if form.errors else 409)


@post("/prestiti/{loan_id:str}/rimborsi", status_code=303,
      opt={"operation": "POST /api/loans/{id}/repayments"})
async def record_repayment(request: AnyRequest, loan_id: FromPath[str]) -> Page:
    principal = _officer(request)
    form = await posted(request)
    amount = amount_of(form, "amount")
    on = date_of(form, "date")
    early = str(form.value("early", "term"))
    if early not in EARLY_REPAYMENT:
        form.add("early", "Scegli come ridurre il prestito.")
    if not form.errors:
        assert amount is not None and on is not None
        try:
            status, out = await call(loans.record_repayment, ctx_of(request), principal, loan_id,
                                RepaymentIn(id=form.op_id, amount=money_of(amount), date=on,
                                            early_repayment=early))
            where = f"/prestiti/{out.loan.id}?rimborso={out.repayment.id}"
            return after_post(request, status, where, recorded=where)
        except (Invalid, Conflict) as exc:
            _absorb(form, "repayment", exc, {"amount": "amount", "date": "date",
                                             "early_repayment": "early"})
    return await _failed(request, loan_id, "repayment", form)


@post("/prestiti/{loan_id:str}/escussioni", status_code=303,
      opt={"operation": "POST /api/loans/{id}/guarantee-calls"})
async def call_guarantees(request: AnyRequest, loan_id: FromPath[str]) -> Page:
    principal = _officer(request)
    form = await posted(request)
    amount = amount_of(form, "amount")
    on = date_of(form, "date")
    if not form.errors:
        assert amount is not None and on is not None
        try:
            status, out = await call(guarantees.call_guarantees, ctx_of(request), principal,
                                loan_id, CallIn(id=form.op_id, amount=money_of(amount),
                                                date=on))
            where = f"/prestiti/{out.loan_id}"
            return after_post(request, status, where,
                              recorded=where + "#garanzie")
        except (Invalid, Conflict) as exc:
            _absorb(form, "call", exc, {"amount": "amount", "date": "date"})
    return await _failed(request, loan_id, "call", form)


@post("/prestiti/{loan_id:str}/rinegoziazione", status_code=303,
      opt={"operation": "POST /api/loans/{id}/reschedule"})
async def reschedule(request: AnyRequest, loan_id: FromPath[str]) -> Page:
    principal = _officer(request)
    form = await posted(request)
    on = date_of(form, "date")
    grace = int_of(form, "added_grace_periods", required=False)
    periods = int_of(form, "new_periods", required=False, minimum=1)
    note = text_of(form, "note", required=True, label="il motivo")
    if "added_grace_periods" not in form.errors and "new_periods" not in form.errors \
            and not grace and periods is None:
        form.add("added_grace_periods",
                 "Indica i periodi di preammortamento aggiunti o il nuovo numero di rate.")
    if not form.errors:
        assert on is not None and note is not None
        try:
            status, out = await call(loans.reschedule_loan, ctx_of(request), principal, loan_id,
                                RescheduleIn(id=form.op_id, date=on, note=note,
                                             added_grace_periods=grace or 0,
                                             new_periods=periods))
            where = f"/prestiti/{out.id}"
            return after_post(request, status, where,
                              recorded=where + "#piano")
        except (Invalid, Conflict) as exc:
            _absorb(form, "reschedule", exc, {
                "date": "date", "note": "note", "added_grace_periods": "added_grace_periods",
                "new_periods": "new_periods"})
    return await _failed(request, loan_id, "reschedule", form)


def _write_off_checks(form: Form, loan: LoanOut) -> None:
    """What the page can tell before asking for confirmation (the use case checks it all
    again when the officer confirms)."""
    on = date_of(form, "date")
    text_of(form, "note", required=True, label="il motivo")
    if on is not None:
        day = date.fromisoformat(on)
        if day > today():
            form.add("date", "La data non può essere successiva a oggi.")
        elif day < date.fromisoformat(loan.disbursed_on or loan.disbursement_date):
            form.add("date", "La data è precedente all'erogazione del prestito.")
    if not form.errors and loan.status != "active":
        form.refusal = _REFUSALS[("write_off", "loan_not_active")]


@post("/prestiti/{loan_id:str}/perdita", status_code=200)
async def write_off_preview(request: AnyRequest, loan_id: FromPath[str]) -> Page:
    """**Passa a perdita**: nothing is written yet; the page says what will happen and
    asks for **Conferma passaggio a perdita** (the same operation id carried along)."""
    principal = _officer(request)
    form = await posted(request)
    context = await call(loan_context, ctx_of(request), principal, loan_id)
    loan: LoanOut = context["loan"]
    _write_off_checks(form, loan)
    if form.failed:
        return loan_page_template(request, context, ("write_off", form),
                                  status=422 if form.errors else 409)
    on = str(form.value("date"))
    then: LoanOut = await call(loans.read_loan, ctx_of(request), principal, loan_id, on)
    return render(request, "loans/write_off.html", form=form, loan=loan, then=then,
                  on=on, note=text_of(form, "note"), borrower=context["borrower"],
                  guarantees=context["guarantees"], names=context["names"],
                  title="Conferma passaggio a perdita")


@post("/prestiti/{loan_id:str}/perdita/conferma", status_code=303,
      opt={"operation": "POST /api/loans/{id}/write-off"})
async def write_off(request: AnyRequest, loan_id: FromPath[str]) -> Page:
    principal = _officer(request)
    form = await posted(request)
    on = date_of(form, "date")
    note = text_of(form, "note", required=True, label="il motivo")
    if not form.errors:
        assert on is not None and note is not None
        try:
            status, out = await call(loans.write_off_loan, ctx_of(request), principal, loan_id,
                                WriteOffIn(id=form.op_id, date=on, note=note))
            where = f"/prestiti/{out.id}"
            return after_post(request, status, where, recorded=where)
        except (Invalid, Conflict) as exc:
            _absorb(form, "write_off", exc, {"date": "date", "note": "note"})
    return await _failed(request, loan_id, "write_off", form)


HANDLERS = [loans_list, loan_page, record_repayment, call_guarantees, reschedule,
            write_off_preview, write_off]
