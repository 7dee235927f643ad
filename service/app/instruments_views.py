"""HTTP for pledge capacities, guarantees, prepayments, contributions and funds."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Connection, select

from service.app import instruments as inst
from service.app import lending
from service.app.auth import Principal
from service.app.common import (
    MoneyIn,
    money_out,
    rfc3339,
)
from service.app.errors import NotFound
from service.app.parties import get_party
from service.db.tables import (
    deliveries,
    funds,
    guarantees,
    prepayments,
)

ON_EXPIRY = ("refund", "rollover", "solidarity")


class CapacityIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: MoneyIn


class GuaranteeIn(msgspec.Struct, forbid_unknown_fields=True):
    loan_id: str
    guarantor_id: str
    amount: MoneyIn
    id: str | None = None


class CommandIn(msgspec.Struct, forbid_unknown_fields=True):
    id: str | None = None
    date: str | None = None
    note: str | None = None


class CallIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: MoneyIn
    date: str
    id: str | None = None


class PrepaymentIn(msgspec.Struct, forbid_unknown_fields=True):
    producer_id: str
    gas_id: str
    amount: MoneyIn
    product: str
    unit: str
    unit_price: MoneyIn
    expires_on: str
    on_expiry: str
    id: str | None = None


class DeliveryIn(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    quantity: str
    id: str | None = None


class CloseIn(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    id: str | None = None
    new_expires_on: str | None = None


class BasisIn(msgspec.Struct, forbid_unknown_fields=True):
    rate: MoneyIn
    quantity: str
    unit: str


class ContributionIn(msgspec.Struct, forbid_unknown_fields=True):
    gas_id: str
    amount: MoneyIn
    date: str
    id: str | None = None
    fund_id: str | None = None
    earmark_producer_id: str | None = None
    note: str | None = None
    basis: BasisIn | None = None


class FundIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    owner_id: str
    id: str | None = None


class PayoutIn(msgspec.Struct, forbid_unknown_fields=True):
    producer_id: str
    amount: MoneyIn
    date: str
    kind: str
    id: str | None = None
    loan_id: str | None = None


def guarantee_json(row: Any, on: inst.GuaranteeOn | None = None) -> dict[str, Any]:
    """``on``: the guarantee as it stood on a date (``inst.guarantees_on``); else now."""
    if on is None:
        on = inst.GuaranteeOn(row.status, row.called_minor, row.amount_minor - row.called_minor)
    return {"id": row.id, "loan_id": row.loan_id, "guarantor_id": row.guarantor_id,
            "amount": money_out(row.amount_minor), "status": on.status,
            "called_amount": money_out(on.called),
            "remaining": money_out(on.remaining),
            "released_on": row.released_on.isoformat() if row.released_on else None,
            "created_at": rfc3339(row.created_at)}


def delivery_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "prepayment_id": row.prepayment_id, "date": row.date.isoformat(),
            "quantity": row.quantity, "value": money_out(row.value_minor),
            "created_at": rfc3339(row.created_at)}


def prepayment_json(conn: Connection, row: Any) -> dict[str, Any]:
    items = conn.execute(select(deliveries).where(deliveries.c.prepayment_id == row.id)
                         .order_by(deliveries.c.seq)).all()
    remaining = 0 if row.status == "closed" else row.amount_minor - row.delivered_minor
    settlement = None
    if row.status == "closed":
        settlement = {"kind": row.settlement_kind, "amount": money_out(row.settlement_minor)}
        if row.new_prepayment_id:
            settlement["new_prepayment_id"] = row.new_prepayment_id
    return {"id": row.id, "producer_id": row.producer_id, "gas_id": row.gas_id,
            "amount": money_out(row.amount_minor), "product": row.product, "unit": row.unit,
            "unit_price": money_out(row.unit_price_minor),
            "expires_on": row.expires_on.isoformat(), "on_expiry": row.on_expiry,
            "paid": money_out(row.amount_minor),
            "delivered_value": money_out(row.delivered_minor),
            "remaining": money_out(remaining), "status": row.status,
            "closed_on": row.closed_on.isoformat() if row.closed_on else None,
            "settlement": settlement, "rolled_from": row.rolled_from,
            "request_id": row.request_id,
            "deliveries": [delivery_json(d) for d in items],
            "created_at": rfc3339(row.created_at)}


def contribution_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "fund_id": row.fund_id, "gas_id": row.gas_id,
            "amount": money_out(row.amount_minor), "date": row.date.isoformat(),
            "earmark_producer_id": row.earmark_producer_id, "note": row.note,
            "basis": row.basis, "source": row.source, "created_at": rfc3339(row.created_at)}


def payout_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "fund_id": row.fund_id, "producer_id": row.producer_id,
            "amount": money_out(row.amount_minor),
            "from_earmark": money_out(row.from_earmark_minor),
            "from_general": money_out(row.from_general_minor), "date": row.date.isoformat(),
            "kind": row.kind, "loan_id": row.loan_id, "created_at": rfc3339(row.created_at)}


def fund_json(conn: Connection, row: Any, principal: Principal) -> dict[str, Any]:
    state = inst.fund_state(conn, row)
    if principal.role == "producer":
        own = state.earmarked.get(principal.party_id or "", 0)
        return {"id": row.id, "name": row.name, "gas_id": row.gas_id,
                "balance": money_out(own),
                "earmarked": {principal.party_id: money_out(own)}}
    return {"id": row.id, "name": row.name, "gas_id": row.gas_id,
            "owner_id": row.owner_id, "balance": money_out(state.balance_cents),
            "unearmarked": money_out(state.unearmarked),
            "earmarked": {p: money_out(c) for p, c in sorted(state.earmarked.items())}}


def visible_guarantee(conn: Connection, principal: Principal, guarantee_id: str) -> Any:
    row = conn.execute(select(guarantees).where(guarantees.c.id == guarantee_id)).first()
    if row is None:
        raise NotFound("guarantee")
    if principal.is_staff or row.guarantor_id == principal.party_id:
        return row
    if principal.role == "producer":
        loan = lending.get_loan(conn, row.loan_id)
        if loan.borrower_id == principal.party_id:
            return row
    raise NotFound("guarantee")


def visible_prepayment(conn: Connection, principal: Principal, prepayment_id: str) -> Any:
    row = conn.execute(select(prepayments).where(prepayments.c.id == prepayment_id)).first()
    if row is None:
        raise NotFound("prepayment")
    if principal.is_staff or principal.party_id in (row.gas_id, row.producer_id):
        return row
    raise NotFound("prepayment")


def visible_fund(conn: Connection, principal: Principal, fund_id: str) -> Any:
    row = conn.execute(select(funds).where(funds.c.id == fund_id)).first()
    if row is None:
        raise NotFound("fund")
    if principal.is_staff or (principal.role == "gas" and row.gas_id == principal.party_id):
        return row
    if principal.role == "producer" and principal.party_id and \
            inst.fund_state(conn, row).earmarked.get(principal.party_id, 0) > 0:
        return row
    raise NotFound("fund")


def _visible_guarantor(conn: Connection, principal: Principal, party_id: str) -> Any:
    party = get_party(conn, party_id)
    if party is None or not (principal.is_staff or principal.party_id == party_id):
        raise NotFound("party")
    return party


def _capacity_json(conn: Connection, party_id: str) -> dict[str, Any]:
    amount = inst.capacity_of(conn, party_id)
    pledged = inst.pledged_by(conn, party_id)
    return {"amount": money_out(amount), "pledged": money_out(pledged),
            "free": money_out(amount - pledged)}
