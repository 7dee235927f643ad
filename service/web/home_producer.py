"""The home page (``/``) of a producer user: **La mia azienda**: the next installment
and what is due now, arrears, the goods still owed on prepayments, the requests and
their status, and money the GAS set aside for the producer."""

from __future__ import annotations

from decimal import Decimal

from litestar.response import Template

from service.app import funds, loans, prepayments, requests
from service.app.auth import Principal
from service.app.context import AppContext
from service.app.errors import NotFound
from service.app.funds import FundOut
from service.web.core import AnyRequest, ctx_of, principal_of, render
from service.web.gas_support import PAGE_ALL, name_of, names_for, owed_text

SHOWN = 20
ZERO = Decimal("0.00")


def earmarking_funds(ctx: AppContext, principal: Principal) -> list[FundOut]:
    """The funds holding money earmarked for the producer, found through its earmarked
    contributions (``list_funds`` weighs every fund of the network for a producer)."""
    fund_ids: set[str] = set()
    cursor: str | None = None
    while True:
        page = funds.list_contributions(ctx, principal, None, None, PAGE_ALL, cursor)
        fund_ids |= {c.fund_id for c in page.items}
        cursor = page.next_cursor
        if cursor is None:
            break
    found = []
    for fund_id in sorted(fund_ids):
        try:
            found.append(funds.read_fund(ctx, principal, fund_id))
        except NotFound:  # all of it paid out: nothing earmarked any more
            continue
    return sorted(found, key=lambda f: f.name.casefold())


def home(request: AnyRequest) -> Template:
    ctx = ctx_of(request)
    principal = principal_of(request)
    producer_id = principal.party_id or ""
    names = names_for(ctx, principal)
    loan_page = loans.list_loans(ctx, principal, producer_id, None, None, None, SHOWN, None)
    live = [loan for loan in loan_page.items if loan.status == "active"]
    upcoming = sorted((loan for loan in live if loan.next_installment is not None),
                      key=lambda loan: loan.next_installment.due_date  # type: ignore[union-attr]
                      )
    next_loan = upcoming[0] if upcoming else None
    due_now = sum((Decimal(loan.due_now.amount) for loan in live), ZERO)
    overdue = sum((Decimal(loan.overdue_amount.amount) for loan in live), ZERO)
    days_late = max((loan.days_past_due for loan in live), default=0)
    open_page = prepayments.list_prepayments(ctx, principal, producer_id, None, "open",
                                             None, SHOWN, None)
    open_rows = [{"item": p, "gas": name_of(ctx, names, p.gas_id), "owed": owed_text(p)}
                 for p in open_page.items]
    asked = requests.list_requests(ctx, principal, sort="-created_at", limit=SHOWN)
    set_aside = [{"fund": f, "amount": f.balance} for f in earmarking_funds(ctx, principal)]
    return render(request, "home_producer.html", title="La mia azienda",
                  loans=loan_page.items, loans_more=loan_page.next_cursor is not None,
                  next_loan=next_loan, due_now=due_now, overdue=overdue,
                  days_late=days_late, open_rows=open_rows, open_totals=open_page.totals,
                  open_more=open_page.next_cursor is not None, requests=asked.items,
                  requests_more=asked.next_cursor is not None, set_aside=set_aside)
