"""Prepayments: a GAS pays a producer ahead for goods, deliveries draw the prepayment
down, and a close settles what remains (refund, rollover or the GAS's solidarity fund).

Rules come from ``ledger.prepayments``; every command writes its rows and one linked
batch of transfers in the caller's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

import msgspec
from sqlalchemy import Connection, insert, select, update

from ledger import prepayments as p_rules
from ledger.chart import account, account_id
from ledger.lending import close_chain
from ledger.prepayments import ON_EXPIRY, OnExpiry
from ledger.transfers import Transfer
from service.app import lending
from service.app.auth import Principal
from service.app.books import refuse_closed
from service.app.clock import today
from service.app.commands import command
from service.app.common import (
    MoneyIn,
    check_filters,
    now_utc,
    paginate,
    path_uuid,
    rfc3339,
    where_equal,
)
from service.app.context import AppContext
from service.app.errors import Conflict, Errors, Forbidden, NotFound, invalid
from service.app.events import PrepaymentClosed
from service.app.funds import gas_fund_id
from service.app.inputs import (
    Input,
    an_id,
    client_id,
    day,
    decimal,
    minor_units,
    one_of,
    optional_day,
    text,
)
from service.app.instrument_legs import leg, store
from service.app.ledger_ops import ensure_accounts, post
from service.app.parties import party_names, refuse_acting_for
from service.app.references import CONTRIBUTION, PREPAYMENT, next_reference
from service.app.reversals import (
    ReversalIn,
    ReversalOut,
    parse_reversal,
    record_reversal,
    reversal_of,
    reversal_out,
    reversals_of,
)
from service.app.types import Day, DecimalText, Timestamp, Uuid
from service.app.views import Money, money
from service.db.engine import relock
from service.db.records import Record
from service.db.tables import contributions, deliveries, parties, prepayments

PrepaymentStatus = Literal["open", "closed"]


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
    date: str | None = None  # the day the GAS paid (default today)


class DeliveryIn(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    quantity: str
    id: str | None = None


class CloseIn(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    id: str | None = None
    new_expires_on: str | None = None


# -- what the use cases read from those bodies ------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NewPrepayment(Input):
    id: str = client_id()
    producer_id: str = an_id()
    gas_id: str = an_id()
    amount: int = minor_units()
    unit_price: int = minor_units()
    expires_on: date = day()
    paid_on: date | None = optional_day("date", past=True)  # None: today
    on_expiry: str = one_of(*ON_EXPIRY)
    product: str = text(at_most=200, message="1 to 200 characters")
    unit: str = text(at_most=32, message="1 to 32 characters, such as 'kg'")


@dataclass(frozen=True, kw_only=True)
class Delivery(Input):
    id: str = client_id()
    on: date = day("date", past=True)
    quantity: Decimal = decimal(max_decimals=3)


@dataclass(frozen=True, kw_only=True)
class Close(Input):
    id: str = client_id()
    on: date = day("date", past=True)
    new_expires_on: date | None = optional_day()

    def check(self, errors: Errors) -> None:
        if (self.read_fine("on", "new_expires_on") and self.new_expires_on is not None
                and self.new_expires_on <= self.on):
            errors.add("new_expires_on", "after the date of the close: the new prepayment "
                       "must not be born expired")


class DeliveryOut(msgspec.Struct, omit_defaults=True):
    id: Uuid
    prepayment_id: Uuid
    date: Day
    quantity: DecimalText
    value: Money  # quantity x unit price, half-even to the cent
    created_at: Timestamp
    reversed: bool  # a reversed delivery counts as never made
    reversal: ReversalOut | msgspec.UnsetType = msgspec.UNSET  # who, when, why


class SettlementOut(msgspec.Struct, omit_defaults=True):
    """How a close settled the remainder; ``new_prepayment_id`` only for a rollover that
    opened one."""

    kind: OnExpiry
    amount: Money
    new_prepayment_id: Uuid | msgspec.UnsetType = msgspec.UNSET


class PrepaymentOut(msgspec.Struct):
    id: Uuid
    reference: str
    producer_id: Uuid
    producer_name: str
    gas_id: Uuid
    gas_name: str
    amount: Money
    product: str
    unit: str
    unit_price: Money
    date: Day  # the day the GAS paid: as-of views count the prepayment from it
    expires_on: Day
    on_expiry: OnExpiry
    paid: Money
    delivered_value: Money
    remaining: Money  # 0.00 once closed
    status: PrepaymentStatus
    closed_on: Day | None
    settlement: SettlementOut | None
    rolled_from: Uuid | None
    request_id: Uuid | None
    deliveries: list[DeliveryOut]
    created_at: Timestamp


class DeliveredOut(PrepaymentOut):
    """A delivery's answer: the prepayment after it, and the delivery recorded (its id is
    the command's when the client gave one)."""

    delivery: DeliveryOut


class DeliveryReversalOut(msgspec.Struct):
    """The reversed delivery and its prepayment as it now stands."""

    delivery: DeliveryOut
    prepayment: PrepaymentOut


class PrepaymentTotals(msgspec.Struct):
    """The campaign view: what every listed agreement adds up to (all pages)."""

    paid: Money
    delivered_value: Money
    remaining: Money
    count: int


class PrepaymentPage(msgspec.Struct):
    items: list[PrepaymentOut]
    next_cursor: str | None
    totals: PrepaymentTotals


def delivery_out(row: Record, reversal: Record | None = None) -> DeliveryOut:
    return DeliveryOut(id=row.id, prepayment_id=row.prepayment_id, date=row.date.isoformat(),
                       quantity=row.quantity, value=money(row.value_minor),
                       created_at=rfc3339(row.created_at) or "",
                       reversed=reversal is not None,
                       reversal=msgspec.UNSET if reversal is None else reversal_out(reversal))


def remaining_of(row: Record) -> int:
    return 0 if row.status == "closed" else int(row.amount_minor - row.delivered_minor)


def prepayment_out(conn: Connection, row: Record) -> PrepaymentOut:
    items = conn.execute(select(deliveries).where(deliveries.c.prepayment_id == row.id)
                         .order_by(deliveries.c.seq)).all()
    undone = reversals_of(conn, "delivery", [d.id for d in items])
    names = party_names(conn, (row.producer_id, row.gas_id))
    settlement = None
    if row.status == "closed":
        settlement = SettlementOut(kind=row.settlement_kind, amount=money(row.settlement_minor),
                                   new_prepayment_id=row.new_prepayment_id or msgspec.UNSET)
    return PrepaymentOut(
        id=row.id, reference=row.reference, producer_id=row.producer_id,
        producer_name=names.get(row.producer_id, ""), gas_id=row.gas_id,
        gas_name=names.get(row.gas_id, ""),
        amount=money(row.amount_minor), product=row.product, unit=row.unit,
        unit_price=money(row.unit_price_minor), date=row.date.isoformat(),
        expires_on=row.expires_on.isoformat(),
        on_expiry=row.on_expiry, paid=money(row.amount_minor),
        delivered_value=money(row.delivered_minor), remaining=money(remaining_of(row)),
        status=row.status, closed_on=row.closed_on.isoformat() if row.closed_on else None,
        settlement=settlement, rolled_from=row.rolled_from, request_id=row.request_id,
        deliveries=[delivery_out(d, undone.get(d.id)) for d in items],
        created_at=rfc3339(row.created_at) or "")


def get_prepayment(conn: Connection, prepayment_id: str) -> Record:
    row = conn.execute(select(prepayments).where(prepayments.c.id == prepayment_id)).first()
    if row is None:
        raise NotFound("prepayment")
    return row


def visible_prepayment(conn: Connection, principal: Principal, prepayment_id: str) -> Record:
    """Staff see every prepayment; the GAS and the producer theirs."""
    row = get_prepayment(conn, prepayment_id)
    if principal.is_staff or principal.party_id in (row.gas_id, row.producer_id):
        return row
    raise NotFound("prepayment")


def create_prepayment(conn: Connection, ctx: AppContext, *, prepayment_id: str, producer_id: str,
                      gas_id: str, amount: int, product: str, unit: str, unit_price: int,
                      expires_on: date, on_expiry: str, username: str,
                      request_id: str | None = None, rolled_from: str | None = None,
                      source_account: str | None = None, on: date | None = None) -> Record:
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
        request_id=request_id, date=on or today(),
        reference=next_reference(conn, PREPAYMENT), created_at=now_utc(),
        created_by=username))
    if source_account is None:
        post(conn, st, close_chain([leg(prepayment_id, "paid",
                                        account_id("gas-external", gas_id),
                                        account_id("prepayment", prepayment_id), amount,
                                        "prepayment", f"prepayment:{prepayment_id}", on)]), {})
    return get_prepayment(conn, prepayment_id)


def refuse_before_paid(row: Record, on: date) -> None:
    """Nothing is delivered against, or settled from, a prepayment not yet paid."""
    if on < row.date:
        raise invalid("date", f"before the prepayment's date ({row.date.isoformat()})")


def record_delivery(conn: Connection, row: Record, delivery_id: str, on: date,
                    quantity: Decimal, username: str) -> Record:
    row = relock(conn, prepayments, row.id)
    errors = Errors()  # the date and the quantity, both named when both are wrong
    if on < row.date:
        errors.add("date", f"before the prepayment's date ({row.date.isoformat()})")
    value = 0
    try:
        value = p_rules.delivery_value(quantity, row.unit_price_minor)
    except p_rules.DeliveryTooLarge:  # worth more than any amount kept
        errors.add("quantity", f"{quantity} is worth more than any prepayment")
    else:
        if value <= 0:
            errors.add("quantity", f"{quantity} x {lending.dec(row.unit_price_minor)} EUR "
                       "is worth 0.00 EUR: nothing to record")
    errors.raise_if_any()
    state = p_rules.PrepaymentState(row.amount_minor, row.delivered_minor,
                                    closed=row.status == "closed")
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
        post(conn, store(conn), close_chain([leg(
            delivery_id, "delivery", account_id("prepayment", row.id),
            account_id("producer-goods", row.producer_id), value, "delivery",
            f"prepayment:{row.id}", on)]),
            {account_id("prepayment", row.id): ("exceeds_prepayment",
                                                "the delivery is worth more than remains")})
    return get_prepayment(conn, row.id)


def settle_prepayment(conn: Connection, ctx: AppContext, row: Record, op_id: str, on: date,
                      new_expires_on: date | None, username: str) -> Record:
    """Close the prepayment and settle its remainder as its ``on_expiry`` says; the row
    as closed (its ``settlement_*`` columns say how)."""
    row = relock(conn, prepayments, row.id)
    refuse_before_paid(row, on)
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
        transfers.append(leg(op_id, "refund", source, account_id("gas-external", row.gas_id),
                             amount, "refund", f"prepayment:{row.id}", on))
    elif amount > 0 and settlement.kind == "rollover":
        new_id = str(uuid.uuid5(uuid.UUID(op_id), "rollover"))
        assert settlement.new_expires_on is not None
        create_prepayment(conn, ctx, prepayment_id=new_id, producer_id=row.producer_id,
                          gas_id=row.gas_id, amount=amount, product=row.product,
                          unit=row.unit, unit_price=row.unit_price_minor,
                          expires_on=settlement.new_expires_on, on_expiry=row.on_expiry,
                          username=username, request_id=row.request_id, rolled_from=row.id,
                          source_account=source, on=on)
        transfers.append(leg(op_id, "rollover", source, account_id("prepayment", new_id),
                             amount, "rollover", f"prepayment:{new_id}", on))
    elif amount > 0 and settlement.kind == "solidarity":
        fund_id = gas_fund_id(row.gas_id)
        conn.execute(insert(contributions).values(
            id=str(uuid.uuid5(uuid.UUID(op_id), "solidarity")), fund_id=fund_id,
            gas_id=row.gas_id, amount_minor=amount, date=on, earmark_producer_id=None,
            note=f"remainder of prepayment {row.id}", basis=None, source="prepayment",
            reference=next_reference(conn, CONTRIBUTION), created_at=now_utc(),
            created_by=username))
        transfers.append(leg(op_id, "solidarity", source, account_id("fund", fund_id), amount,
                             "contribution", f"fund:{fund_id}", on))
    post(conn, st, close_chain(transfers), {})
    conn.execute(update(prepayments).where(prepayments.c.id == row.id).values(
        status="closed", closed_on=on, settlement_kind=settlement.kind,
        settlement_minor=amount, new_prepayment_id=new_id))
    closed = get_prepayment(conn, row.id)
    ctx.events.emit(conn, PrepaymentClosed(closed))
    return closed


# -- use cases ------------------------------------------------------------------------------


def open_prepayment(ctx: AppContext, principal: Principal, data: PrepaymentIn
                    ) -> tuple[int, PrepaymentOut]:
    """A GAS pays a producer ahead: officers, or the GAS's own user."""
    new = NewPrepayment.read(data)
    paid_on = new.paid_on or today()

    def before(conn: Connection) -> None:
        if not (principal.is_staff or (principal.role == "gas"
                                       and principal.party_id == new.gas_id)):
            refuse_acting_for(conn, principal, new.gas_id,
                              "officers, or a GAS user for its own GAS")

    def run(conn: Connection, _: None) -> tuple[int, PrepaymentOut]:
        row = create_prepayment(
            conn, ctx, prepayment_id=new.id, producer_id=new.producer_id, gas_id=new.gas_id,
            amount=new.amount, product=new.product, unit=new.unit,
            unit_price=new.unit_price, expires_on=new.expires_on, on_expiry=new.on_expiry,
            username=principal.username, on=paid_on)
        refuse_closed(conn, paid_on, "a prepayment")
        return 201, prepayment_out(conn, row)

    return command(ctx, principal, "POST /api/prepayments", data, run, before,
                   returns=PrepaymentOut)


def list_prepayments(ctx: AppContext, principal: Principal, producer_id: str | None,
                     gas_id: str | None, status: str | None, product: str | None,
                     limit: int | None, cursor: str | None, reference: str | None = None
                     ) -> PrepaymentPage:
    producer_id, gas_id = check_filters(
        {"producer_id": producer_id, "gas_id": gas_id},
        {"status": (status, ("open", "closed"))})

    def read(conn: Connection) -> PrepaymentPage:
        query = select(prepayments)
        query = where_equal(query, prepayments, producer_id=producer_id, gas_id=gas_id,
                            status=status, product=product or None, reference=reference)
        if not principal.is_staff:
            pid = principal.party_id or ""
            query = query.where((prepayments.c.gas_id == pid)
                                | (prepayments.c.producer_id == pid))
        rows, nxt = paginate(conn, query, prepayments.c.seq, limit, cursor)
        every = conn.execute(query).all()
        totals = PrepaymentTotals(
            paid=money(sum(r.amount_minor for r in every)),
            delivered_value=money(sum(r.delivered_minor for r in every)),
            remaining=money(sum(remaining_of(r) for r in every)), count=len(every))
        return PrepaymentPage([prepayment_out(conn, r) for r in rows], nxt, totals)

    return ctx.read(read)


def read_prepayment(ctx: AppContext, principal: Principal, prepayment_id: str
                    ) -> PrepaymentOut:
    pid = path_uuid(prepayment_id, "prepayment")
    return ctx.read(lambda conn: prepayment_out(conn, visible_prepayment(conn, principal, pid)))


def deliver(ctx: AppContext, principal: Principal, prepayment_id: str, data: DeliveryIn
            ) -> tuple[int, DeliveredOut]:
    """Goods delivered against the prepayment: anyone who sees it records them (staff,
    the GAS, the producer)."""
    pid = path_uuid(prepayment_id, "prepayment")
    asked = Delivery.read(data)

    def run(conn: Connection, row: Record) -> tuple[int, DeliveredOut]:
        updated = record_delivery(conn, row, asked.id, asked.on, asked.quantity,
                                  principal.username)
        refuse_closed(conn, asked.on, "a delivery")
        delivery = conn.execute(select(deliveries).where(deliveries.c.id == asked.id)).one()
        return 200, DeliveredOut(**msgspec.structs.asdict(prepayment_out(conn, updated)),
                                 delivery=delivery_out(delivery))

    return command(ctx, principal, f"POST /api/prepayments/{pid}/deliveries", data, run,
                   lambda conn: visible_prepayment(conn, principal, pid),
                   returns=DeliveredOut)


def close_prepayment(ctx: AppContext, principal: Principal, prepayment_id: str, data: CloseIn
                     ) -> tuple[int, PrepaymentOut]:
    """Officers or the prepaying GAS's user close it; the answer carries its
    ``settlement``."""
    pid = path_uuid(prepayment_id, "prepayment")
    close = Close.read(data)
    on = close.on

    def before(conn: Connection) -> Record:
        row = visible_prepayment(conn, principal, pid)
        if not (principal.is_staff or principal.party_id == row.gas_id):
            raise Forbidden("officers, or the prepaying GAS's user, close a prepayment")
        return row

    def run(conn: Connection, row: Record) -> tuple[int, PrepaymentOut]:
        settle_prepayment(conn, ctx, row, close.id, on, close.new_expires_on,
                          principal.username)
        refuse_closed(conn, on, "a close")
        # Read again: what followed the close (its event's handlers) is in the answer too.
        return 200, prepayment_out(conn, get_prepayment(conn, pid))

    return command(ctx, principal, f"POST /api/prepayments/{pid}/close", data, run, before,
                   returns=PrepaymentOut)


def reverse_delivery(ctx: AppContext, principal: Principal, prepayment_id: str,
                     delivery_id: str, data: ReversalIn) -> tuple[int, DeliveryReversalOut]:
    """The delivery counts as never made: its value is owed in goods again, from its
    date. Whoever may record a delivery (staff, the GAS's and the producer's users);
    not on a closed prepayment (409 ``closed``)."""
    pid = path_uuid(prepayment_id, "prepayment")
    did = path_uuid(delivery_id, "delivery")
    rev_id, reason = parse_reversal(data)

    def before(conn: Connection) -> tuple[Record, Record]:
        row = visible_prepayment(conn, principal, pid)
        delivery = conn.execute(select(deliveries).where(
            deliveries.c.id == did, deliveries.c.prepayment_id == pid)).first()
        if delivery is None:
            raise NotFound("delivery")
        return row, delivery

    def run(conn: Connection, target: tuple[Record, Record]) -> tuple[int, DeliveryReversalOut]:
        row, delivery = target
        row = relock(conn, prepayments, row.id)
        if reversal_of(conn, "delivery", delivery.id) is not None:
            raise Conflict("already_reversed", "this delivery was already reversed")
        if row.status == "closed":
            raise Conflict("closed", "the prepayment is closed: its settlement counted "
                           "this delivery")
        reversal = record_reversal(conn, rev_id=rev_id, kind="delivery", target_id=delivery.id,
                                   value_date=delivery.date, reason=reason,
                                   username=principal.username)
        conn.execute(update(prepayments).where(prepayments.c.id == row.id)
                     .values(delivered_minor=row.delivered_minor - delivery.value_minor))
        post(conn, store(conn), close_chain([leg(
            rev_id, "reversal", account_id("producer-goods", row.producer_id),
            account_id("prepayment", row.id), delivery.value_minor, "delivery_reversal",
            f"prepayment:{row.id}", delivery.date)]), {})
        return 200, DeliveryReversalOut(delivery_out(delivery, reversal),
                                        prepayment_out(conn, get_prepayment(conn, row.id)))

    return command(ctx, principal,
                   f"POST /api/prepayments/{pid}/deliveries/{did}/reversal", data, run, before,
                   returns=DeliveryReversalOut)
