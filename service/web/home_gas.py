"""The home page (``/``) of a gas user: **Il nostro GAS**: the solidarity fund and its
earmarks, the open prepayments with the goods still owed, the guarantees and the free
pledge capacity, and the funding requests that name the GAS."""

from __future__ import annotations

from decimal import Decimal

from litestar.response import Template

from service.app import funds, guarantees, prepayments, requests
from service.web.core import AnyRequest, ctx_of, principal_of, render
from service.web.gas_support import name_of, names_for, owed_text

SHOWN = 20  # the newest requests, the first open prepayments: the rest one click away


def home(request: AnyRequest) -> Template:
    ctx = ctx_of(request)
    principal = principal_of(request)
    gas_id = principal.party_id or ""
    names = names_for(ctx, principal)
    fund = next((f for f in funds.list_funds(ctx, principal, gas_id, None, None).items
                 if f.gas_id == gas_id), None)
    earmarks = sorted(((name_of(ctx, names, pid), value) for pid, value in
                       (fund.earmarked.items() if fund else [])),
                      key=lambda item: item[0].casefold())
    open_page = prepayments.list_prepayments(ctx, principal, None, gas_id, "open", None,
                                             SHOWN, None)
    open_rows = [{"item": p, "producer": name_of(ctx, names, p.producer_id),
                  "owed": owed_text(p)} for p in open_page.items]
    capacity = guarantees.read_pledge_capacity(ctx, principal, gas_id)
    active = guarantees.list_guarantees(ctx, principal, gas_id, None, "active", None, None)
    asked = requests.list_requests(ctx, principal, sort="-created_at", limit=SHOWN)
    request_rows = [{"item": r, "producer": name_of(ctx, names, r.producer_id)}
                    for r in asked.items]
    return render(request, "home_gas.html", title="Il nostro GAS", fund=fund,
                  earmarks=earmarks, open_rows=open_rows, open_totals=open_page.totals,
                  open_more=open_page.next_cursor is not None, capacity=capacity,
                  active_count=len(active.items),
                  active_remaining=sum((Decimal(g.remaining.amount) for g in active.items),
                                       Decimal("0.00")),
                  active_more=active.next_cursor is not None,
                  request_rows=request_rows, requests_more=asked.next_cursor is not None)
