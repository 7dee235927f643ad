"""Corrections: **Storna** beside a recorded repayment, guarantee call, delivery,
contribution or payout leads here: the item, a **Motivo**, and **Conferma storno**.
The reversal is the application's (who may: whoever may record the operation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from litestar import get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from service.app import funds, guarantees, loans, prepayments
from service.app.auth import Principal
from service.app.context import AppContext
from service.app.errors import Conflict, Invalid, NotFound
from service.app.reversals import ReversalIn
from service.web.core import (
    AnyRequest,
    Form,
    Page,
    absorb,
    after_post,
    call,
    ctx_of,
    posted,
    principal_of,
    render,
    text_of,
)
from service.web.formatting import day, euro


@dataclass(frozen=True)
class Target:
    """What is being reversed, as the page shows it, and where to go afterwards."""

    what: str
    description: str
    back: str
    reverse: Callable[[ReversalIn], tuple[int, object]]


def _contribution(ctx: AppContext, who: Principal, ids: list[str], rif: str | None) -> Target:
    (cid,) = ids
    items = funds.list_contributions(ctx, who, None, None, 50, None, rif).items if rif else []
    item = next((c for c in items if str(c.id) == cid and not c.reversed), None)
    if item is None:
        raise NotFound("contribution")
    return Target("il contributo", f"{item.reference} del {day(item.date)}, "
                  f"{euro(item.amount)}", "/fondo",
                  lambda data: funds.reverse_contribution(ctx, who, cid, data))


def _payout(ctx: AppContext, who: Principal, ids: list[str], rif: str | None) -> Target:
    fund_id, pid = ids
    items = funds.list_payouts(ctx, who, fund_id, 50, None, rif).items if rif else []
    item = next((p for p in items if str(p.id) == pid and not p.reversed), None)
    if item is None:
        raise NotFound("payout")
    return Target("l'uscita dal fondo", f"{item.reference} del {day(item.date)}, "
                  f"{euro(item.amount)}", "/fondo",
                  lambda data: funds.reverse_payout(ctx, who, fund_id, pid, data))


def _repayment(ctx: AppContext, who: Principal, ids: list[str], rif: str | None) -> Target:
    loan_id, rid = ids
    items = loans.list_repayments(ctx, who, loan_id, rif, 50, None).items if rif else []
    item = next((r for r in items if str(r.id) == rid and not r.reversed), None)
    if item is None:
        raise NotFound("repayment")
    return Target("il rimborso", f"{item.reference} del {day(item.date)}, "
                  f"{euro(item.amount)}", f"/prestiti/{loan_id}",
                  lambda data: loans.reverse_repayment(ctx, who, loan_id, rid, data))


def _call(ctx: AppContext, who: Principal, ids: list[str], rif: str | None) -> Target:
    loan_id, call_id = ids
    page = guarantees.list_calls(ctx, who, loan_id, 500, None)
    item = next((c for c in page.items if str(c.id) == call_id and not c.reversed), None)
    if item is None:
        raise NotFound("guarantee call")
    return Target("l'escussione delle garanzie", f"del {day(item.date)}, "
                  f"{euro(item.amount)}", f"/prestiti/{loan_id}",
                  lambda data: guarantees.reverse_call(ctx, who, loan_id, call_id, data))


def _delivery(ctx: AppContext, who: Principal, ids: list[str], rif: str | None) -> Target:
    prepayment_id, did = ids
    found = prepayments.read_prepayment(ctx, who, prepayment_id)
    item = next((d for d in found.deliveries if str(d.id) == did and not d.reversed), None)
    if item is None:
        raise NotFound("delivery")
    return Target("la consegna", f"del {day(item.date)}, {item.quantity} {found.unit} "
                  f"di {found.product} ({euro(item.value)})",
                  f"/prefinanziamenti/{prepayment_id}",
                  lambda data: prepayments.reverse_delivery(ctx, who, prepayment_id, did,
                                                            data))


TARGETS: dict[str, tuple[int, Callable[..., Target]]] = {
    "contributo": (1, _contribution), "uscita": (2, _payout), "rimborso": (2, _repayment),
    "escussione": (2, _call), "consegna": (2, _delivery)}


def _target(request: AnyRequest, kind: str, rest: str, rif: str | None
            ) -> Target:
    ids = [part for part in rest.split("/") if part]
    if kind not in TARGETS or len(ids) != TARGETS[kind][0]:
        raise NotFound("page")
    return TARGETS[kind][1](ctx_of(request), principal_of(request), ids, rif)


@get("/storni/{kind:str}/{rest:path}", sync_to_thread=True)
def reversal_page(request: AnyRequest, kind: FromPath[str], rest: FromPath[str],
                  rif: FromQuery[str | None] = None) -> Template:
    target = _target(request, kind, rest, rif)
    return render(request, "reversals/storno.html", title="Storno", target=target,
                  form=Form(values={"rif": rif or ""}), action=request.url.path)


@post("/storni/{kind:str}/{rest:path}", status_code=303)
async def reversal_submit(request: AnyRequest, kind: FromPath[str],
                          rest: FromPath[str]) -> Page:
    form = await posted(request)
    rif = form.value("rif") or None
    target = await call(_target, request, kind, rest, rif)
    reason = text_of(form, "reason", required=True, label="il motivo dello storno")
    if reason is not None:
        try:
            status, _ = await call(target.reverse, ReversalIn(reason=reason, id=form.op_id))
            return after_post(request, status, target.back)
        except (Invalid, Conflict) as exc:
            absorb(form, exc, {"reason": "reason"})
    return render(request, "reversals/storno.html", status=422 if form.errors else 409,
                  title="Storno", target=target, form=form, action=request.url.path)


HANDLERS = [reversal_page, reversal_submit]
