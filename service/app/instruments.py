"""Guarantees, prepayments, solidarity funds: the database side of the instruments.

Rules come from ``ledger.guarantees``, ``ledger.prepayments`` and ``ledger.funds``; every
operation here writes its rows and one linked batch of transfers in the caller's
transaction, so a refusal leaves nothing behind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from ledger import funds as fund_rules
from ledger import guarantees as g_rules
from ledger import prepayments as p_rules
from ledger.chart import account, account_id, leg_id
from ledger.lending import close_chain
from ledger.shares import share_cap
from ledger.store import LedgerStore
from ledger.transfers import Transfer, TransferFlag, post_pending_of, void_pending_of
from service.app import lending
from service.app.common import money_out, now_utc
from service.app.errors import Conflict, NotFound, invalid
from service.app.events import LoanRepaid, PartyCreated, PrepaymentClosed
from service.app.ledger_ops import ensure_accounts, post
from service.app.lending import record_payment
from service.db.engine import lock_row
from service.db.tables import (
    contributions,
    deliveries,
    funds,
    guarantee_calls,
    guarantees,
    loans,
    parties,
    payouts,
    pledge_capacities,
    prepayments,
    relationships,
    shares,
)

EUR = "EUR"


def store(conn: Connection) -> LedgerStore:
    return LedgerStore(conn.engine)


def _t(op_id: str, leg: str, debit: str, credit: str, amount: int, code: str,
       user_data: str, on: date | None, *, flags: frozenset[TransferFlag] = frozenset(),
       ) -> Transfer:
    return Transfer(id=leg_id(op_id, leg), debit_account_id=debit, credit_account_id=credit,
                    amount=amount, currency=EUR, code=code,
                    flags=flags | {TransferFlag.LINKED}, value_date=on, user_data=user_data,
                    operation_id=op_id)


# -- pledge capacity ----------------------------------------------------------------------

def pledge_specs(party_id: str) -> list[Any]:
    return [account("pledge", party_id, party_id=party_id),
            account("pledge-limit", party_id, party_id=party_id)]


def capacity_of(conn: Connection, party_id: str) -> int:
    row = conn.execute(select(pledge_capacities.c.amount_minor).where(
        pledge_capacities.c.party_id == party_id)).first()
    return int(row.amount_minor) if row else 0


def pledged_by(conn: Connection, party_id: str) -> int:
    """What the party's guarantees still pledge: amount - called of those not released."""
    value = conn.execute(select(func.coalesce(func.sum(
        guarantees.c.amount_minor - guarantees.c.called_minor), 0)).where(
        guarantees.c.guarantor_id == party_id, guarantees.c.status != "released")).scalar_one()
    return int(value)


def set_capacity(conn: Connection, party_id: str, amount: int, username: str,
                 op_id: str) -> None:
    """Move the capacity account by the difference (lowering below what is pledged is
    refused by the account's limit, which counts pending pledges)."""
    lock_row(conn, parties, party_id)  # one capacity change per guarantor at a time
    st = store(conn)
    ensure_accounts(conn, st, pledge_specs(party_id))
    current = capacity_of(conn, party_id)
    delta = amount - current
    if delta:
        limit, pledge = account_id("pledge-limit", party_id), account_id("pledge", party_id)
        debit, credit = (limit, pledge) if delta > 0 else (pledge, limit)
        post(conn, st, close_chain([_t(op_id, "capacity", debit, credit, abs(delta),
                                       "pledge_capacity", f"pledge:{party_id}", None)]),
             {pledge: ("exceeds_capacity",
                       f"the guarantor has pledged {lending.dec(pledged_by(conn, party_id))}"
                       " EUR; the capacity cannot go below that")})
    values = dict(amount_minor=amount, updated_at=now_utc(), updated_by=username)
    if conn.execute(select(pledge_capacities.c.party_id).where(
            pledge_capacities.c.party_id == party_id)).first():
        conn.execute(update(pledge_capacities).where(
            pledge_capacities.c.party_id == party_id).values(**values))
    else:
        conn.execute(insert(pledge_capacities).values(party_id=party_id, **values))


# -- guarantees ---------------------------------------------------------------------------

def guarantee_state(row: Any) -> g_rules.GuaranteeState:
    return g_rules.GuaranteeState(id=row.id, amount_cents=row.amount_minor,
                                  called_cents=row.called_minor,
                                  released=row.status == "released", created_seq=row.seq)


def get_guarantee(conn: Connection, guarantee_id: str) -> Any:
    row = conn.execute(select(guarantees).where(guarantees.c.id == guarantee_id)).first()
    if row is None:
        raise NotFound("guarantee")
    return row


def create_guarantee(conn: Connection, ctx: Any, *, guarantee_id: str, loan_id: str,
                     guarantor_id: str, amount: int, username: str) -> Any:
    loan = lock_row(conn, loans, loan_id)
    if loan is None:
        raise invalid("loan_id", "no loan with this id")
    guarantor = lock_row(conn, parties, guarantor_id)
    if guarantor is None or guarantor.kind not in ("gas", "person", "producer"):
        raise invalid("guarantor_id", "no GAS, person or producer with this id")
    if guarantor_id == loan.borrower_id:
        raise invalid("guarantor_id", "a borrower cannot guarantee its own loan")
    if loan.status not in ("approved", "active"):
        raise Conflict("loan_not_active", f"the loan is {loan.status}")
    st = store(conn)
    ensure_accounts(conn, st, [*pledge_specs(guarantor_id),
                               account("guarantee", guarantee_id, party_id=guarantor_id)])
    pending = _t(guarantee_id, "pledge", account_id("pledge", guarantor_id),
                 account_id("guarantee", guarantee_id), amount, "pledge",
                 f"guarantee:{guarantee_id}", None,
                 flags=frozenset({TransferFlag.PENDING}))
    conn.execute(insert(guarantees).values(
        id=guarantee_id, loan_id=loan_id, guarantor_id=guarantor_id, amount_minor=amount,
        called_minor=0, status="active", pending_transfer_id=pending.id,
        created_at=now_utc(), created_by=username))
    free = capacity_of(conn, guarantor_id) - (pledged_by(conn, guarantor_id) - amount)
    post(conn, st, close_chain([pending]), {account_id("pledge", guarantor_id): (
        "exceeds_capacity", f"the guarantor has {lending.dec(max(free, 0))} EUR of free "
        "pledge capacity")})
    return get_guarantee(conn, guarantee_id)


def release_guarantee(conn: Connection, row: Any, op_id: str, on: date) -> Any:
    lock_row(conn, loans, row.loan_id)  # calls and releases of one loan's pledges in turn
    row = get_guarantee(conn, row.id)
    if row.status != "active":
        raise Conflict("already_released", f"the guarantee is {row.status}")
    last_call = conn.execute(select(func.max(guarantee_calls.c.date))
                             .where(guarantee_calls.c.guarantee_id == row.id)).scalar()
    if last_call is not None and on < last_call:
        raise invalid("date", f"before the guarantee's last call ({last_call.isoformat()})")
    st = store(conn)
    pending = st.get_transfer(conn, row.pending_transfer_id)
    assert pending is not None
    void = void_pending_of(pending, id=leg_id(op_id, f"release:{row.id}"), value_date=on,
                           operation_id=op_id, code="release")
    post(conn, st, [void], {})
    conn.execute(update(guarantees).where(guarantees.c.id == row.id)
                 .values(status="released", released_on=on))
    return get_guarantee(conn, row.id)


def release_on_repayment(conn: Connection, event: LoanRepaid) -> None:
    """A loan repaid in full: its active guarantees are released automatically, on the
    value date of the last payment."""
    loan = event.loan
    paid_on = lending.repaid_on(conn, loan)
    for row in conn.execute(select(guarantees).where(guarantees.c.loan_id == loan.id,
                                                     guarantees.c.status == "active")).all():
        release_guarantee(conn, row, str(uuid.uuid5(uuid.UUID(loan.id), "repaid")), paid_on)


def loan_guarantees(conn: Connection, loan_id: str) -> list[Any]:
    return list(conn.execute(select(guarantees).where(guarantees.c.loan_id == loan_id)
                             .order_by(guarantees.c.seq)))


def released_by(row: Any, as_of: date) -> bool:
    """Whether a released guarantee was already released on ``as_of`` (one released
    without a date, before releases were always dated, counts as released)."""
    return row.released_on is None or row.released_on <= as_of


@dataclass(frozen=True)
class GuaranteeOn:
    """A guarantee as it stood on a date: calls count by their dates, a release by its."""

    status: str  # active, called, released
    called: int
    remaining: int


def guarantees_on(conn: Connection, loan_id: str, as_of: date | None
                  ) -> list[tuple[Any, GuaranteeOn]]:
    """The loan's guarantees, each with how it stood on ``as_of`` (None: now)."""
    rows = loan_guarantees(conn, loan_id)
    if as_of is None:
        return [(r, GuaranteeOn(r.status, r.called_minor, r.amount_minor - r.called_minor))
                for r in rows]
    called: dict[str, int] = {}
    for c in conn.execute(select(guarantee_calls.c.guarantee_id, guarantee_calls.c.amount_minor)
                          .where(guarantee_calls.c.loan_id == loan_id,
                                 guarantee_calls.c.date <= as_of)):
        called[c.guarantee_id] = called.get(c.guarantee_id, 0) + c.amount_minor
    out = []
    for r in rows:
        paid = called.get(r.id, 0)
        remaining = r.amount_minor - paid
        if r.status == "released" and released_by(r, as_of):
            status = "released"
        else:
            status = "active" if remaining > 0 else "called"
        out.append((r, GuaranteeOn(status, paid, remaining)))
    return out


def coverage_parts(conn: Connection, loan: Any, as_of: date | None) -> tuple[int, int]:
    """(remaining of the guarantees active on ``as_of``, outstanding principal or, before
    disbursement, the principal)."""
    active = sum(on.remaining for _, on in guarantees_on(conn, loan.id, as_of)
                 if on.status == "active")
    if loan.status == "approved":
        return active, loan.principal_minor
    state = lending.loan_state(loan, lending.events_of(conn, loan.id), as_of)
    return active, state.outstanding


def coverage_value(conn: Connection, loan: Any, as_of: date | None) -> Decimal | None:
    return g_rules.coverage_ratio(*coverage_parts(conn, loan, as_of))


def covers(conn: Connection, loan: Any, minimum: Decimal) -> bool:
    """Whether active guarantees cover at least ``minimum`` x the principal, exactly
    (the 2-decimal ratio shown to people would round 1.4999 up to 1.50)."""
    active, base = coverage_parts(conn, loan, None)
    return Decimal(active) >= minimum * base


def call_guarantees(conn: Connection, ctx: Any, loan: Any, call_id: str, amount: int,
                    on: date, username: str) -> list[tuple[str, int]]:
    """Split the call pro rata over the active guarantees and book each part: the pledge
    posts what is called (the rest stays reserved), and the called money pays the loan."""

    if loan.status not in ("active", "written_off"):
        raise Conflict("loan_not_active", f"the loan is {loan.status}")
    rows = loan_guarantees(conn, loan.id)
    try:
        parts = g_rules.split_call([guarantee_state(r) for r in rows], amount)
    except g_rules.ExceedsRemaining as exc:
        raise Conflict("exceeds_capacity", f"the loan's active guarantees have "
                       f"{lending.dec(exc.remaining_cents)} EUR remaining") from None
    st = store(conn)
    by_id = {r.id: r for r in rows}
    for guarantee_id, part in parts:
        row = by_id[guarantee_id]
        pending = st.get_transfer(conn, row.pending_transfer_id)
        assert pending is not None
        remaining = row.amount_minor - row.called_minor - part
        batch = [post_pending_of(pending, part, id=leg_id(call_id, f"post:{guarantee_id}"),
                                 code="call", linked=True, value_date=on,
                                 operation_id=call_id)]
        new_pending_id = None
        if remaining > 0:
            again = _t(call_id, f"repledge:{guarantee_id}", pending.debit_account_id,
                       pending.credit_account_id, remaining, "pledge",
                       f"guarantee:{guarantee_id}", on, flags=frozenset({TransferFlag.PENDING}))
            batch.append(again)
            new_pending_id = again.id
        # What the guarantor paid no longer counts against its capacity.
        batch.append(_t(call_id, f"restore:{guarantee_id}",
                        account_id("pledge-limit", row.guarantor_id),
                        account_id("pledge", row.guarantor_id), part, "pledge_capacity",
                        f"pledge:{row.guarantor_id}", on))
        conn.execute(update(guarantees).where(guarantees.c.id == guarantee_id).values(
            called_minor=row.called_minor + part, pending_transfer_id=new_pending_id,
            status="active" if remaining > 0 else "called"))
        conn.execute(insert(guarantee_calls).values(
            id=call_id, loan_id=loan.id, guarantee_id=guarantee_id, date=on,
            amount_minor=part, created_at=now_utc(), created_by=username))
        event_id = str(uuid.uuid5(uuid.UUID(call_id), guarantee_id))
        allocation, loan = record_payment(
            conn, ctx, loan, event_id, part, on, username, kind="guarantee_call",
            payer_kind="guarantee", payer_ref=account_id("guarantee", guarantee_id),
            prefix=batch)
        if allocation.excess.amount != "0.00":
            raise Conflict("exceeds_capacity", "the call is more than the loan still owes "
                           f"(excess {allocation.excess.amount} EUR)")
    return parts


def gas_sees_loan(conn: Connection, gas_id: str, loan_id: str) -> bool:
    return conn.execute(select(guarantees.c.id).where(
        guarantees.c.loan_id == loan_id, guarantees.c.guarantor_id == gas_id)).first() is not None


def share_cap_for(conn: Connection, producer_id: str, lender_id: str,
                  multiple: Decimal) -> int:
    """At most ``multiple`` x the share capital subscribed by the GAS that buy from it."""
    buyers = [r.gas_id for r in conn.execute(select(relationships.c.gas_id).where(
        relationships.c.producer_id == producer_id))]
    subscribed: dict[str, int] = {}
    for row in conn.execute(select(shares.c.member_id, shares.c.amount_minor).where(
            shares.c.lender_id == lender_id, shares.c.member_id.in_(buyers or [""]))):
        subscribed[row.member_id] = subscribed.get(row.member_id, 0) + row.amount_minor
    return share_cap(subscribed, multiple)


# -- prepayments --------------------------------------------------------------------------

def get_prepayment(conn: Connection, prepayment_id: str) -> Any:
    row = conn.execute(select(prepayments).where(prepayments.c.id == prepayment_id)).first()
    if row is None:
        raise NotFound("prepayment")
    return row


def create_prepayment(conn: Connection, ctx: Any, *, prepayment_id: str, producer_id: str,
                      gas_id: str, amount: int, product: str, unit: str, unit_price: int,
                      expires_on: date, on_expiry: str, username: str,
                      request_id: str | None = None, rolled_from: str | None = None,
                      source_account: str | None = None, on: date | None = None) -> Any:
    producer = conn.execute(select(parties).where(parties.c.id == producer_id)).first()
    if producer is None or producer.kind != "producer":
        raise invalid("producer_id", "no producer with this id")
    gas = conn.execute(select(parties).where(parties.c.id == gas_id)).first()
    if gas is None or gas.kind != "gas":
        raise invalid("gas_id", "no GAS with this id")
    st = store(conn)
    ensure_accounts(conn, st, [account("prepayment", prepayment_id, party_id=gas_id),
                               account("gas-external", gas_id, party_id=gas_id),
                               account("producer-goods", producer_id, party_id=producer_id)])
    conn.execute(insert(prepayments).values(
        id=prepayment_id, producer_id=producer_id, gas_id=gas_id, amount_minor=amount,
        product=product, unit=unit, unit_price_minor=unit_price, expires_on=expires_on,
        on_expiry=on_expiry, status="open", delivered_minor=0, rolled_from=rolled_from,
        request_id=request_id, created_at=now_utc(), created_by=username))
    if source_account is None:
        post(conn, st, close_chain([_t(prepayment_id, "paid", account_id("gas-external", gas_id),
                                       account_id("prepayment", prepayment_id), amount,
                                       "prepayment", f"prepayment:{prepayment_id}", on)]), {})
    return get_prepayment(conn, prepayment_id)


def record_delivery(conn: Connection, row: Any, delivery_id: str, on: date,
                    quantity: Decimal, username: str) -> Any:
    row = lock_row(conn, prepayments, row.id)
    state = p_rules.PrepaymentState(row.amount_minor, row.delivered_minor,
                                    closed=row.status == "closed")
    try:
        value = p_rules.delivery_value(quantity, row.unit_price_minor)
    except p_rules.DeliveryTooLarge:  # worth more than any amount kept
        raise invalid("quantity", f"{quantity} is worth more than any prepayment") from None
    if value <= 0:
        raise invalid("quantity", f"{quantity} x {lending.dec(row.unit_price_minor)} EUR "
                      "is worth 0.00 EUR: nothing to record")
    try:
        p_rules.apply_delivery(state, value)
    except p_rules.PrepaymentClosed:
        raise Conflict("closed", "the prepayment is closed") from None
    except p_rules.ExceedsPrepayment as exc:
        raise Conflict("exceeds_prepayment",
                       f"the delivery is worth {lending.dec(value)} EUR; only "
                       f"{lending.dec(exc.remaining_cents)} EUR remain prepaid") from None
    conn.execute(insert(deliveries).values(
        id=delivery_id, prepayment_id=row.id, date=on, quantity=str(quantity),
        value_minor=value, created_at=now_utc(), created_by=username))
    conn.execute(update(prepayments).where(prepayments.c.id == row.id)
                 .values(delivered_minor=row.delivered_minor + value))
    if value:
        post(conn, store(conn), close_chain([_t(
            delivery_id, "delivery", account_id("prepayment", row.id),
            account_id("producer-goods", row.producer_id), value, "delivery",
            f"prepayment:{row.id}", on)]),
            {account_id("prepayment", row.id): ("exceeds_prepayment",
                                                "the delivery is worth more than remains")})
    return get_prepayment(conn, row.id)


def close_prepayment(conn: Connection, ctx: Any, row: Any, op_id: str, on: date,
                     new_expires_on: date | None, username: str) -> dict[str, Any]:
    row = lock_row(conn, prepayments, row.id)
    state = p_rules.PrepaymentState(row.amount_minor, row.delivered_minor,
                                    closed=row.status == "closed")
    try:
        settlement = p_rules.close(state, row.on_expiry, expires_on=row.expires_on,
                                   new_expires_on=new_expires_on)
    except p_rules.PrepaymentClosed:
        raise Conflict("closed", "the prepayment is already closed") from None
    amount = settlement.amount_cents
    source = account_id("prepayment", row.id)
    new_id = None
    st = store(conn)
    transfers: list[Transfer] = []
    if amount > 0 and settlement.kind == "refund":
        transfers.append(_t(op_id, "refund", source, account_id("gas-external", row.gas_id),
                            amount, "refund", f"prepayment:{row.id}", on))
    elif amount > 0 and settlement.kind == "rollover":
        new_id = str(uuid.uuid5(uuid.UUID(op_id), "rollover"))
        assert settlement.new_expires_on is not None
        create_prepayment(conn, ctx, prepayment_id=new_id, producer_id=row.producer_id,
                          gas_id=row.gas_id, amount=amount, product=row.product,
                          unit=row.unit, unit_price=row.unit_price_minor,
                          expires_on=settlement.new_expires_on, on_expiry=row.on_expiry,
                          username=username, request_id=row.request_id, rolled_from=row.id,
                          source_account=source)
        transfers.append(_t(op_id, "rollover", source, account_id("prepayment", new_id),
                            amount, "rollover", f"prepayment:{new_id}", on))
    elif amount > 0 and settlement.kind == "solidarity":
        fund_id = gas_fund_id(row.gas_id)
        conn.execute(insert(contributions).values(
            id=str(uuid.uuid5(uuid.UUID(op_id), "solidarity")), fund_id=fund_id,
            gas_id=row.gas_id, amount_minor=amount, date=on, earmark_producer_id=None,
            note=f"remainder of prepayment {row.id}", basis=None, source="prepayment",
            created_at=now_utc(), created_by=username))
        transfers.append(_t(op_id, "solidarity", source, account_id("fund", fund_id), amount,
                            "contribution", f"fund:{fund_id}", on))
    post(conn, st, close_chain(transfers), {})
    conn.execute(update(prepayments).where(prepayments.c.id == row.id).values(
        status="closed", closed_on=on, settlement_kind=settlement.kind,
        settlement_minor=amount, new_prepayment_id=new_id))
    ctx.events.emit(conn, PrepaymentClosed(get_prepayment(conn, row.id)))
    settlement_json: dict[str, Any] = {"kind": settlement.kind,
                                       "amount": money_out(amount)}
    if new_id:
        settlement_json["new_prepayment_id"] = new_id
    return settlement_json


# -- funds --------------------------------------------------------------------------------

def gas_fund_id(gas_id: str) -> str:
    return str(uuid.uuid5(uuid.UUID(gas_id), "solidarity-fund"))


def create_fund(conn: Connection, *, fund_id: str, name: str, gas_id: str | None,
                owner_id: str, username: str | None) -> Any:
    ensure_accounts(conn, store(conn), [account("fund", fund_id, party_id=owner_id)])
    conn.execute(insert(funds).values(id=fund_id, name=name, gas_id=gas_id, owner_id=owner_id,
                                      created_at=now_utc(), created_by=username))
    return conn.execute(select(funds).where(funds.c.id == fund_id)).one()


def open_gas_fund(conn: Connection, event: PartyCreated) -> None:
    """Every GAS has a solidarity fund, created with it."""
    party, username = event.party, event.username
    if party.kind == "gas":
        create_fund(conn, fund_id=gas_fund_id(party.id),
                    name=f"Fondo di solidarietà {party.name}", gas_id=party.id,
                    owner_id=party.id, username=username)


def get_fund(conn: Connection, fund_id: str) -> Any:
    row = conn.execute(select(funds).where(funds.c.id == fund_id)).first()
    if row is None:
        raise NotFound("fund")
    return row


def earmark_account(fund_id: str, producer_id: str) -> str:
    return account_id("earmark", fund_id, producer_id)


def fund_state(conn: Connection, fund: Any) -> fund_rules.FundState:
    st = store(conn)
    producers = sorted({r.earmark_producer_id for r in conn.execute(
        select(contributions.c.earmark_producer_id).where(
            contributions.c.fund_id == fund.id,
            contributions.c.earmark_producer_id.is_not(None)))})
    ids = [account_id("fund", fund.id), *(earmark_account(fund.id, p) for p in producers)]
    accounts = st.get_accounts(conn, ids)
    general = accounts[ids[0]].balance if ids[0] in accounts else 0
    marks = {p: accounts[earmark_account(fund.id, p)].balance for p in producers
             if earmark_account(fund.id, p) in accounts}
    return fund_rules.FundState(general + sum(marks.values()), marks)


def contribute(conn: Connection, *, contribution_id: str, fund: Any, gas_id: str, amount: int,
               on: date, earmark_producer_id: str | None, note: str | None,
               basis: dict[str, Any] | None, username: str) -> Any:
    lock_row(conn, funds, fund.id)
    st = store(conn)
    target = account_id("fund", fund.id)
    specs = [account("gas-external", gas_id, party_id=gas_id)]
    if earmark_producer_id:
        target = earmark_account(fund.id, earmark_producer_id)
        specs.append(account("earmark", fund.id, earmark_producer_id, party_id=fund.owner_id))
    ensure_accounts(conn, st, specs)
    conn.execute(insert(contributions).values(
        id=contribution_id, fund_id=fund.id, gas_id=gas_id, amount_minor=amount, date=on,
        earmark_producer_id=earmark_producer_id, note=note, basis=basis, source="gas",
        created_at=now_utc(), created_by=username))
    post(conn, st, close_chain([_t(contribution_id, "contribution",
                                   account_id("gas-external", gas_id), target, amount,
                                   "contribution", f"fund:{fund.id}", on)]), {})
    return conn.execute(select(contributions).where(contributions.c.id == contribution_id)).one()


def payout(conn: Connection, ctx: Any, *, payout_id: str, fund: Any, producer_id: str,
           amount: int, on: date, kind: str, loan: Any | None, username: str) -> Any:
    """Earmarked money for that producer first, then money not earmarked; never money
    earmarked for another producer."""

    lock_row(conn, funds, fund.id)  # the payout plan is made from the balances it reads
    if loan is not None:
        loan = lock_row(conn, loans, loan.id)
    state = fund_state(conn, fund)
    try:
        plan = fund_rules.plan_payout(state, producer_id, amount)
    except fund_rules.InsufficientFunds as exc:
        raise Conflict("insufficient_funds", f"the fund has {lending.dec(exc.available_cents)}"
                       " EUR available for this producer") from None
    conn.execute(insert(payouts).values(
        id=payout_id, fund_id=fund.id, producer_id=producer_id, amount_minor=amount,
        from_earmark_minor=plan.from_earmark_cents, from_general_minor=plan.from_general_cents,
        date=on, kind=kind, loan_id=loan.id if loan is not None else None,
        created_at=now_utc(), created_by=username))
    sources = [(earmark_account(fund.id, producer_id), plan.from_earmark_cents, "earmark"),
               (account_id("fund", fund.id), plan.from_general_cents, "general")]
    st = store(conn)
    if kind == "grant":
        ensure_accounts(conn, st, [account("producer-grants", producer_id,
                                           party_id=producer_id)])
        post(conn, st, close_chain([
            _t(payout_id, f"grant:{label}", src, account_id("producer-grants", producer_id),
               part, "grant", f"fund:{fund.id}", on)
            for src, part, label in sources if part > 0]), {})
        return conn.execute(select(payouts).where(payouts.c.id == payout_id)).one()
    assert loan is not None
    for src, part, label in sources:
        if part <= 0:
            continue
        event_id = str(uuid.uuid5(uuid.UUID(payout_id), label))
        allocation, loan = record_payment(conn, ctx, loan, event_id, part, on, username,
                                          kind="loss_cover", payer_kind="fund", payer_ref=src)
        if allocation.excess.amount != "0.00":
            raise Conflict("insufficient_funds", "the loss cover is more than the loan "
                           f"still owes (excess {allocation.excess.amount} EUR)")
    return conn.execute(select(payouts).where(payouts.c.id == payout_id)).one()


def reduce_pledges(conn: Connection, loan: Any, op_id: str, on: date, username: str
                   ) -> list[Any]:
    """Shrink the active pledges in proportion to the principal repaid since the last
    reduction (or since disbursement): each is voided and reserved again for its new
    amount in one linked batch. A lender applies this when its rule says so."""
    if loan.status != "active":
        raise Conflict("loan_not_active", f"the loan is {loan.status}")
    events = lending.events_of(conn, loan.id)
    last = [e for e in events if e.kind == "pledge_reduction"]
    basis = int(last[-1].params["outstanding"]) if last else loan.principal_minor
    outstanding = lending.loan_state(loan, events, on).outstanding
    if outstanding >= basis:
        return loan_guarantees(conn, loan.id)
    rows = loan_guarantees(conn, loan.id)
    new_amounts = dict(g_rules.reduce_pledges_proportionally(
        [guarantee_state(r) for r in rows], basis, outstanding))
    st = store(conn)
    batch: list[Transfer] = []
    for row in rows:
        new_amount = new_amounts[row.id]
        if row.status != "active" or new_amount == row.amount_minor:
            continue
        pending = st.get_transfer(conn, row.pending_transfer_id)
        assert pending is not None
        batch.append(void_pending_of(pending, id=leg_id(op_id, f"void:{row.id}"),
                                     linked=True, value_date=on, operation_id=op_id,
                                     code="pledge_reduction"))
        remaining = new_amount - row.called_minor
        new_pending = None
        if remaining > 0:
            again = _t(op_id, f"pledge:{row.id}", pending.debit_account_id,
                       pending.credit_account_id, remaining, "pledge",
                       f"guarantee:{row.id}", on, flags=frozenset({TransferFlag.PENDING}))
            batch.append(again)
            new_pending = again.id
        conn.execute(update(guarantees).where(guarantees.c.id == row.id).values(
            amount_minor=new_amount, pending_transfer_id=new_pending,
            status="active" if remaining > 0 else "called"))
    post(conn, st, close_chain(batch), {})
    lending.record_event(conn, event_id=op_id, loan_id=loan.id, kind="pledge_reduction",
                         on=on, params={"outstanding": outstanding}, username=username)
    return loan_guarantees(conn, loan.id)
