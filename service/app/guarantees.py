"""Pledge capacity, guarantees, guarantee calls, releases and pledge reductions.

Rules come from ``ledger.guarantees``: a guarantee is a pending transfer from the
guarantor's pledge account, limited by its capacity; a call posts what is called (the rest
is reserved again) and pays the loan; a release voids what remained. Every command writes
its rows and one linked batch of transfers in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import msgspec
from sqlalchemy import Connection, func, insert, select, update

from ledger import guarantees as g_rules
from ledger.accounts import Account
from ledger.as_of import guarantee_on
from ledger.chart import account, account_id, leg_id
from ledger.lending import close_chain
from ledger.transfers import Transfer, TransferFlag, post_pending_of, void_pending_of
from service.app import lending
from service.app.auth import Principal
from service.app.books import refuse_closed
from service.app.clock import today
from service.app.commands import command
from service.app.common import (
    MoneyIn,
    check_filters,
    check_limit,
    decode_cursor,
    encode_cursor,
    now_utc,
    paginate,
    path_uuid,
    query_date,
    rfc3339,
    where_equal,
)
from service.app.context import AppContext
from service.app.coverage import (
    GuaranteeOn,
    GuaranteeStatus,
    coverage_value,
    guarantee_now,
    guarantee_state,
    guarantees_on,
    loan_guarantees,
)
from service.app.errors import Conflict, Forbidden, NotFound, invalid
from service.app.events import LoanReopened, LoanRepaid
from service.app.inputs import Input, an_id, client_id, day, minor_units, optional_day
from service.app.instrument_legs import leg, store
from service.app.ledger_ops import ensure_accounts, post
from service.app.lender_scope import hide_other_lender, lender_scope, of_own_lender
from service.app.lending import LoanOut, loan_with_state, record_payment, reverse_loan_events
from service.app.loans import visible_loan
from service.app.parties import GUARANTOR_KINDS, get_party, party_names, refuse_acting_for
from service.app.references import GUARANTEE, next_reference
from service.app.reversals import (
    ReversalIn,
    ReversalOut,
    live,
    parse_reversal,
    record_reversal,
    reversal_of,
    reversal_out,
    reversals_of,
)
from service.app.types import Day, DecimalText, Timestamp, Uuid
from service.app.views import Money, money
from service.db.engine import lock_row, relock
from service.db.records import Record
from service.db.tables import guarantee_calls, guarantees, loans, parties, pledge_capacities


class CapacityIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: MoneyIn


class GuaranteeIn(msgspec.Struct, forbid_unknown_fields=True):
    loan_id: str
    guarantor_id: str
    amount: MoneyIn
    id: str | None = None
    date: str | None = None  # the day the pledge was signed (default today)


class CommandIn(msgspec.Struct, forbid_unknown_fields=True):
    """A release or a pledge reduction: the client id and the date it takes effect."""

    id: str | None = None
    date: str | None = None
    note: str | None = None


class CallIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: MoneyIn
    date: str
    id: str | None = None


# -- what the use cases read from those bodies ------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Capacity(Input):
    amount: int = minor_units(allow_zero=True)


@dataclass(frozen=True, kw_only=True)
class NewGuarantee(Input):
    id: str = client_id()
    loan_id: str = an_id()
    guarantor_id: str = an_id()
    amount: int = minor_units()
    signed_on: date | None = optional_day("date", past=True)  # None: today


@dataclass(frozen=True, kw_only=True)
class Release(Input):
    id: str = client_id()
    on: date | None = optional_day("date", past=True)  # None: today


@dataclass(frozen=True, kw_only=True)
class GuaranteeCall(Input):
    id: str = client_id()
    amount: int = minor_units()
    on: date = day("date", past=True)


@dataclass(frozen=True, kw_only=True)
class PledgeReduction(Input):
    id: str = client_id()
    on: date = day("date")


class CapacityOut(msgspec.Struct):
    amount: Money
    pledged: Money  # amount - called of the guarantees not released
    free: Money


class GuaranteeOut(msgspec.Struct):
    id: Uuid
    reference: str
    loan_id: Uuid
    guarantor_id: Uuid
    guarantor_name: str
    amount: Money
    date: Day  # the day the pledge was signed: as-of views count it from then
    status: GuaranteeStatus
    called_amount: Money
    remaining: Money
    released_on: Day | None
    created_at: Timestamp


class GuaranteePage(msgspec.Struct):
    items: list[GuaranteeOut]
    next_cursor: str | None


class LoanGuaranteesOut(msgspec.Struct):
    """A loan's guarantees and how far the active ones cover what it owes."""

    items: list[GuaranteeOut]
    coverage: DecimalText | None


class CallPartOut(msgspec.Struct):
    guarantee_id: Uuid
    amount: Money


class CallOut(msgspec.Struct, omit_defaults=True):
    """A guarantee call: how it split over the guarantees. ``id`` and ``call_id`` are
    the same: the call's id (the command's, when the client gave one)."""

    id: Uuid
    call_id: Uuid
    loan_id: Uuid
    date: Day
    amount: Money
    calls: list[CallPartOut]
    reversed: bool
    reversal: ReversalOut | msgspec.UnsetType = msgspec.UNSET  # who, when, why


class CallPage(msgspec.Struct):
    items: list[CallOut]
    next_cursor: str | None


class CallReversalOut(msgspec.Struct):
    """The reversed call and the loan as it now stands."""

    call: CallOut
    loan: LoanOut


def guarantee_out(row: Record, names: Mapping[str, str], on: GuaranteeOn | None = None
                  ) -> GuaranteeOut:
    """``on``: the guarantee as it stood on a date (``guarantees_on``); else now.
    ``names``: the parties' names by id."""
    on = on or guarantee_now(row)
    return GuaranteeOut(
        id=row.id, reference=row.reference, loan_id=row.loan_id,
        guarantor_id=row.guarantor_id, guarantor_name=names.get(row.guarantor_id, ""),
        amount=money(row.amount_minor),
        date=row.date.isoformat(), status=on.status,
        called_amount=money(on.called), remaining=money(on.remaining),
        released_on=row.released_on.isoformat() if row.released_on else None,
        created_at=rfc3339(row.created_at) or "")


def coverage_text(conn: Connection, loan: Record, on: date) -> str | None:
    coverage = coverage_value(conn, loan, on)
    return None if coverage is None else str(coverage)


# -- pledge capacity ----------------------------------------------------------------------

def pledge_specs(party_id: str) -> list[Account]:
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


def capacity_out(conn: Connection, party_id: str) -> CapacityOut:
    amount, pledged = capacity_of(conn, party_id), pledged_by(conn, party_id)
    return CapacityOut(money(amount), money(pledged), money(amount - pledged))


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
        post(conn, st, close_chain([leg(op_id, "capacity", debit, credit, abs(delta),
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


def visible_guarantor(conn: Connection, principal: Principal, party_id: str) -> Record:
    """The party whose capacity is asked: staff see any, a user only its own party."""
    party = get_party(conn, party_id)
    if party is None or not (principal.is_staff or principal.party_id == party_id):
        raise NotFound("party")
    return party


# -- guarantees ---------------------------------------------------------------------------

def get_guarantee(conn: Connection, guarantee_id: str) -> Record:
    row = conn.execute(select(guarantees).where(guarantees.c.id == guarantee_id)).first()
    if row is None:
        raise NotFound("guarantee")
    return row


def visible_guarantee(conn: Connection, principal: Principal, guarantee_id: str) -> Record:
    """Staff see every guarantee, a guarantor its own, a borrower those on its loans."""
    row = get_guarantee(conn, guarantee_id)
    if principal.is_staff and lender_scope(principal) is not None:
        lender = conn.execute(select(loans.c.lender_id).where(
            loans.c.id == row.loan_id)).scalar_one()
        hide_other_lender(principal, lender, "guarantee")  # another lender's loan's
        return row
    if principal.is_staff or row.guarantor_id == principal.party_id:
        return row
    if principal.role == "producer":
        loan = lending.get_loan(conn, row.loan_id)
        if loan.borrower_id == principal.party_id:
            return row
    raise NotFound("guarantee")


def create_guarantee(conn: Connection, ctx: AppContext, *, guarantee_id: str, loan_id: str,
                     guarantor_id: str, amount: int, username: str,
                     on: date | None = None) -> Record:
    loan = lock_row(conn, loans, loan_id)
    if loan is None:
        raise invalid("loan_id", "no loan with this id")
    guarantor = lock_row(conn, parties, guarantor_id)
    if guarantor is None or guarantor.kind not in GUARANTOR_KINDS:
        raise invalid("guarantor_id", "no GAS, person or producer with this id")
    if guarantor_id == loan.borrower_id:
        raise invalid("guarantor_id", "a borrower cannot guarantee its own loan")
    if loan.status not in ("approved", "active"):
        raise Conflict("loan_not_active", f"the loan is {loan.status}")
    st = store(conn)
    ensure_accounts(conn, st, [*pledge_specs(guarantor_id),
                               account("guarantee", guarantee_id, party_id=guarantor_id)])
    pending = leg(guarantee_id, "pledge", account_id("pledge", guarantor_id),
                  account_id("guarantee", guarantee_id), amount, "pledge",
                  f"guarantee:{guarantee_id}", None,
                  flags=frozenset({TransferFlag.PENDING}))
    conn.execute(insert(guarantees).values(
        id=guarantee_id, loan_id=loan_id, guarantor_id=guarantor_id, amount_minor=amount,
        called_minor=0, status="active", pending_transfer_id=pending.id,
        date=on or today(), reference=next_reference(conn, GUARANTEE),
        created_at=now_utc(), created_by=username))
    free = capacity_of(conn, guarantor_id) - (pledged_by(conn, guarantor_id) - amount)
    post(conn, st, close_chain([pending]), {account_id("pledge", guarantor_id): (
        "exceeds_capacity", f"the guarantor has {lending.dec(max(free, 0))} EUR of free "
        "pledge capacity")})
    return get_guarantee(conn, guarantee_id)


def release_pledge(conn: Connection, row: Record, op_id: str, on: date) -> Record:
    """Void what the guarantee still reserves; the row as released on ``on``."""
    lock_row(conn, loans, row.loan_id)  # calls and releases of one loan's pledges in turn
    row = get_guarantee(conn, row.id)
    if on < row.date:
        raise invalid("date", f"before the guarantee's date ({row.date.isoformat()})")
    if row.status != "active":
        raise Conflict("already_released", f"the guarantee is {row.status}")
    last_call = conn.execute(select(func.max(guarantee_calls.c.date)).where(
        guarantee_calls.c.guarantee_id == row.id, live(guarantee_calls, "call"))).scalar()
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
    payoff = lending.payoff_id(conn, loan.id)
    for row in conn.execute(select(guarantees).where(guarantees.c.loan_id == loan.id,
                                                     guarantees.c.status == "active")).all():
        # A guarantee signed after the last payment's value date is released on its date.
        release_pledge(conn, row, payoff, max(paid_on, row.date))


def repledge_on_reopening(conn: Connection, event: LoanReopened) -> None:
    """A repaid loan owes again: the guarantees its payoff released pledge again what
    remained of them (409 ``exceeds_capacity`` when a guarantor's capacity has gone
    meanwhile, and the correction changes nothing)."""
    st = store(conn)
    for row in conn.execute(select(guarantees).where(guarantees.c.loan_id == event.loan.id,
                                                     guarantees.c.status == "released")
                            .order_by(guarantees.c.seq)).all():
        resolution = (st.get_resolution(conn, row.pending_transfer_id)
                      if row.pending_transfer_id else None)
        if resolution is None or resolution.operation_id != event.payoff:
            continue  # released by an officer, not by the payoff: it stays released
        remaining = row.amount_minor - row.called_minor
        pending = leg(event.cause, f"repledge:{row.id}", account_id("pledge", row.guarantor_id),
                      account_id("guarantee", row.id), remaining, "pledge",
                      f"guarantee:{row.id}", None, flags=frozenset({TransferFlag.PENDING}))
        post(conn, st, close_chain([pending]), {account_id("pledge", row.guarantor_id): (
            "exceeds_capacity", f"guarantor {row.guarantor_id} no longer has the capacity "
            f"to pledge again the {lending.dec(remaining)} EUR its guarantee "
            f"{row.reference} pledged before the payoff")})
        conn.execute(update(guarantees).where(guarantees.c.id == row.id).values(
            status="active", released_on=None, pending_transfer_id=pending.id))


def book_call(conn: Connection, ctx: AppContext, loan: Record, call_id: str, amount: int,
              on: date, username: str) -> list[tuple[str, int]]:
    """Split the call pro rata over the active guarantees and book each part: the pledge
    posts what is called (the rest stays reserved), and the called money pays the loan."""
    if loan.status not in ("active", "written_off"):
        raise Conflict("loan_not_active", f"the loan is {loan.status}")
    if on < (loan.disbursed_on or loan.disbursement_date):
        raise invalid("date", "before the disbursement")
    # The guarantees active on the call's date: signed by then and not released by then.
    rows = [r for r in loan_guarantees(conn, loan.id) if r.date <= on and not guarantee_on(
        r.amount_minor, (), on, released=r.status == "released",
        released_on=r.released_on).released]
    if not rows:
        raise invalid("date", f"no guarantee of the loan was active on {on.isoformat()}")
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
            again = leg(call_id, f"repledge:{guarantee_id}", pending.debit_account_id,
                        pending.credit_account_id, remaining, "pledge",
                        f"guarantee:{guarantee_id}", on, flags=frozenset({TransferFlag.PENDING}))
            batch.append(again)
            new_pending_id = again.id
        # What the guarantor paid no longer counts against its capacity.
        batch.append(leg(call_id, f"restore:{guarantee_id}",
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


def book_reduction(conn: Connection, loan: Record, op_id: str, on: date, username: str
                   ) -> list[Record]:
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
            again = leg(op_id, f"pledge:{row.id}", pending.debit_account_id,
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


# -- use cases ------------------------------------------------------------------------------


def set_pledge_capacity(ctx: AppContext, principal: Principal, party_id: str, data: CapacityIn
                        ) -> CapacityOut:
    pid = path_uuid(party_id, "party")
    amount = Capacity.read(data).amount

    def before(conn: Connection) -> Record:
        party = visible_guarantor(conn, principal, pid)
        if not (principal.is_staff or (principal.role == "gas" and principal.party_id == pid)):
            raise Forbidden("officers, or a GAS user for its own GAS")
        return party

    def run(conn: Connection, party: Record) -> tuple[int, CapacityOut]:
        if party.kind not in GUARANTOR_KINDS:
            raise invalid("party_id", "only a GAS, a person or a producer guarantees")
        set_capacity(conn, pid, amount, principal.username, str(uuid.uuid4()))
        return 200, capacity_out(conn, pid)

    # No client id: setting a capacity twice leaves it as once.
    return command(ctx, principal, f"PUT /api/parties/{pid}/pledge-capacity", data, run,
                   before, returns=CapacityOut)[1]


def read_pledge_capacity(ctx: AppContext, principal: Principal, party_id: str) -> CapacityOut:
    pid = path_uuid(party_id, "party")

    def read(conn: Connection) -> CapacityOut:
        visible_guarantor(conn, principal, pid)
        return capacity_out(conn, pid)

    return ctx.read(read)


def sign_guarantee(ctx: AppContext, principal: Principal, data: GuaranteeIn
                   ) -> tuple[int, GuaranteeOut]:
    """A guarantor pledges part of its capacity on a loan: officers, or a GAS user with
    its own GAS as guarantor."""
    new = NewGuarantee.read(data)
    signed_on = new.signed_on or today()

    def before(conn: Connection) -> None:
        if principal.is_staff:
            lender = conn.execute(select(loans.c.lender_id).where(
                loans.c.id == new.loan_id)).scalar_one_or_none()
            if lender is not None:  # a loan that does not exist: 422 from the run
                hide_other_lender(principal, lender, "loan")
            return
        if not (principal.role == "gas" and principal.party_id == new.guarantor_id):
            refuse_acting_for(conn, principal, new.guarantor_id,
                              "officers, or a GAS user for its own GAS as guarantor")
        # A GAS user sees no loan (only its own guarantees): a loan it could not pledge
        # on is "not found" for it, so its status does not leak.
        loan = conn.execute(select(loans.c.status).where(loans.c.id == new.loan_id)).first()
        if loan is None or loan.status not in ("approved", "active"):
            raise NotFound("loan")

    def run(conn: Connection, _: None) -> tuple[int, GuaranteeOut]:
        row = create_guarantee(conn, ctx, guarantee_id=new.id, loan_id=new.loan_id,
                               guarantor_id=new.guarantor_id, amount=new.amount,
                               username=principal.username, on=signed_on)
        refuse_closed(conn, signed_on, "a guarantee")
        return 201, guarantee_out(row, party_names(conn, [row.guarantor_id]))

    return command(ctx, principal, "POST /api/guarantees", data, run, before,
                   returns=GuaranteeOut)


def list_guarantees(ctx: AppContext, principal: Principal, guarantor_id: str | None,
                    loan_id: str | None, status: str | None, limit: int | None,
                    cursor: str | None, reference: str | None = None) -> GuaranteePage:
    guarantor_id, loan_id = check_filters(
        {"guarantor_id": guarantor_id, "loan_id": loan_id},
        {"status": (status, ("active", "released", "called"))})

    def read(conn: Connection) -> GuaranteePage:
        query = where_equal(select(guarantees), guarantees, guarantor_id=guarantor_id,
                            loan_id=loan_id, status=status, reference=reference)
        if principal.role == "gas":
            query = query.where(guarantees.c.guarantor_id == principal.party_id)
        elif lender_scope(principal) is not None:  # its lender's loans' guarantees
            query = query.where(guarantees.c.loan_id.in_(of_own_lender(
                select(loans.c.id), loans.c.lender_id, principal)))
        elif principal.role == "producer":
            own = select(loans.c.id).where(loans.c.borrower_id == principal.party_id)
            query = query.where(guarantees.c.loan_id.in_(own))
        rows, nxt = paginate(conn, query, guarantees.c.seq, limit, cursor)
        names = party_names(conn, [r.guarantor_id for r in rows])
        return GuaranteePage([guarantee_out(r, names) for r in rows], nxt)

    return ctx.read(read)


def read_guarantee(ctx: AppContext, principal: Principal, guarantee_id: str) -> GuaranteeOut:
    gid = path_uuid(guarantee_id, "guarantee")
    def read(conn: Connection) -> GuaranteeOut:
        row = visible_guarantee(conn, principal, gid)
        return guarantee_out(row, party_names(conn, [row.guarantor_id]))

    return ctx.read(read)


def release_guarantee(ctx: AppContext, principal: Principal, guarantee_id: str,
                      data: CommandIn | None) -> tuple[int, GuaranteeOut]:
    """Officers release what a guarantee still pledges (on ``date``, default today)."""
    gid = path_uuid(guarantee_id, "guarantee")
    body = data or CommandIn()
    release = Release.read(body)
    released_on = release.on or today()  # a release always has its date (reports use it)

    def before(conn: Connection) -> Record:
        row = visible_guarantee(conn, principal, gid)
        principal.require("officer")
        return row

    def run(conn: Connection, row: Record) -> tuple[int, GuaranteeOut]:
        released = release_pledge(conn, row, release.id, released_on)
        refuse_closed(conn, released_on, "a release")
        return 200, guarantee_out(released, party_names(conn, [released.guarantor_id]))

    return command(ctx, principal, f"POST /api/guarantees/{gid}/release", body, run, before,
                   returns=GuaranteeOut)


def call_guarantees(ctx: AppContext, principal: Principal, loan_id: str, data: CallIn
                    ) -> tuple[int, CallOut]:
    """Officers call the loan's active guarantees for ``amount``, split pro rata."""
    lid = path_uuid(loan_id, "loan")
    call = GuaranteeCall.read(data)

    def before(conn: Connection) -> Record:
        loan = visible_loan(conn, principal, lid, lock=True)
        principal.require("officer")
        return loan

    def run(conn: Connection, loan: Record) -> tuple[int, CallOut]:
        parts = book_call(conn, ctx, loan, call.id, call.amount, call.on, principal.username)
        return 200, CallOut(id=call.id, call_id=call.id, loan_id=lid,
                            date=call.on.isoformat(), amount=money(call.amount),
                            calls=[CallPartOut(g, money(c)) for g, c in parts],
                            reversed=False)

    return command(ctx, principal, f"POST /api/loans/{lid}/guarantee-calls", data, run,
                   before, returns=CallOut)


def reduce_pledges(ctx: AppContext, principal: Principal, loan_id: str, data: CommandIn
                   ) -> tuple[int, LoanGuaranteesOut]:
    """Officers shrink the loan's active pledges in proportion to the principal repaid."""
    lid = path_uuid(loan_id, "loan")
    reduction = PledgeReduction.read(data)
    on = reduction.on

    def before(conn: Connection) -> Record:
        loan = visible_loan(conn, principal, lid, lock=True)
        principal.require("officer")
        return loan

    def run(conn: Connection, loan: Record) -> tuple[int, LoanGuaranteesOut]:
        rows = book_reduction(conn, loan, reduction.id, on, principal.username)
        refuse_closed(conn, on, "a pledge reduction")
        names = party_names(conn, [r.guarantor_id for r in rows])
        return 200, LoanGuaranteesOut([guarantee_out(r, names) for r in rows],
                                      coverage_text(conn, loan, on))

    return command(ctx, principal, f"POST /api/loans/{lid}/guarantees/reduction", data, run,
                   before, returns=LoanGuaranteesOut)


def read_loan_guarantees(ctx: AppContext, principal: Principal, loan_id: str,
                         as_of: str | None) -> LoanGuaranteesOut:
    """The loan's guarantees as they stood on ``as_of`` (default: now) and the coverage
    then; a GAS user sees only its own."""
    lid = path_uuid(loan_id, "loan")
    day = query_date(as_of, "as_of") or today()

    def read(conn: Connection) -> LoanGuaranteesOut:
        loan = visible_loan(conn, principal, lid)
        standing = guarantees_on(conn, lid, day if as_of else None)
        if principal.role == "gas":
            standing = [(r, on) for r, on in standing if r.guarantor_id == principal.party_id]
        names = party_names(conn, [r.guarantor_id for r, _ in standing])
        return LoanGuaranteesOut([guarantee_out(r, names, on) for r, on in standing],
                                 coverage_text(conn, loan, day))

    return ctx.read(read)


# -- guarantee calls as recorded, and their reversal ------------------------------------------


def calls_of(conn: Connection, loan_id: str, call_id: str | None = None,
             guarantor_id: str | None = None) -> list[CallOut]:
    """The loan's calls in the order they were recorded, each with its parts
    (``guarantor_id``: only the parts of that guarantor's guarantees)."""
    query = select(guarantee_calls, guarantees.c.guarantor_id).join(
        guarantees, guarantees.c.id == guarantee_calls.c.guarantee_id).where(
        guarantee_calls.c.loan_id == loan_id)
    if call_id is not None:
        query = query.where(guarantee_calls.c.id == call_id)
    if guarantor_id is not None:
        query = query.where(guarantees.c.guarantor_id == guarantor_id)
    rows = conn.execute(query.order_by(guarantee_calls.c.seq)).all()
    grouped: dict[str, list[Record]] = {}
    for r in rows:
        grouped.setdefault(r.id, []).append(r)
    undone = reversals_of(conn, "call", grouped)
    out = []
    for cid, parts in grouped.items():
        reversal = undone.get(cid)
        out.append(CallOut(
            id=cid, call_id=cid, loan_id=loan_id, date=parts[0].date.isoformat(),
            amount=money(sum(p.amount_minor for p in parts)),
            calls=[CallPartOut(p.guarantee_id, money(p.amount_minor)) for p in parts],
            reversed=reversal is not None,
            reversal=msgspec.UNSET if reversal is None else reversal_out(reversal)))
    return out


def list_calls(ctx: AppContext, principal: Principal, loan_id: str, limit: int | None,
               cursor: str | None) -> CallPage:
    """``GET /api/loans/{id}/guarantee-calls``: whoever sees the loan; a GAS user only the
    parts of its own guarantees."""
    lid = path_uuid(loan_id, "loan")
    size = check_limit(limit)
    start = decode_cursor(cursor) or 0  # a position in the list

    def read(conn: Connection) -> CallPage:
        visible_loan(conn, principal, lid)
        mine = principal.party_id if principal.role == "gas" else None
        items = calls_of(conn, lid, guarantor_id=mine)
        nxt = encode_cursor(start + size) if len(items) > start + size else None
        return CallPage(items[start:start + size], nxt)

    return ctx.read(read)


def unbook_call(conn: Connection, rev_id: str, rows: list[Record]) -> None:
    """What a call did to its guarantees, undone: the money the call took comes back to
    each guarantor (it was paid back into the guarantee's account by the loan's
    corrections), and what it had called is pledged again (409 ``exceeds_capacity`` when
    the guarantor's capacity has gone meanwhile). A guarantee released since stays
    released, with less called."""
    st = store(conn)
    for part in rows:
        g = relock(conn, guarantees, part.guarantee_id)
        pledge, limit = account_id("pledge", g.guarantor_id), account_id("pledge-limit",
                                                                          g.guarantor_id)
        mine = account_id("guarantee", g.id)
        amount = part.amount_minor
        batch = [leg(rev_id, f"uncall:{g.id}", mine, pledge, amount, "call_reversal",
                     f"guarantee:{g.id}", part.date),
                 leg(rev_id, f"unrestore:{g.id}", pledge, limit, amount, "pledge_capacity",
                     f"pledge:{g.guarantor_id}", part.date)]
        called = g.called_minor - amount
        values: dict[str, object] = {"called_minor": called}
        if g.status != "released":
            if g.pending_transfer_id is not None:
                pending = st.get_transfer(conn, g.pending_transfer_id)
                assert pending is not None
                batch.append(void_pending_of(pending, id=leg_id(rev_id, f"void:{g.id}"),
                                             linked=True, value_date=part.date,
                                             operation_id=rev_id, code="repledge"))
            again = leg(rev_id, f"repledge:{g.id}", pledge, mine, g.amount_minor - called,
                        "pledge", f"guarantee:{g.id}", part.date,
                        flags=frozenset({TransferFlag.PENDING}))
            batch.append(again)
            values.update(status="active", pending_transfer_id=again.id)
        post(conn, st, close_chain(batch), {pledge: (
            "exceeds_capacity", f"guarantor {g.guarantor_id} no longer has the capacity to "
            f"pledge again the {lending.dec(amount)} EUR this call took")})
        conn.execute(update(guarantees).where(guarantees.c.id == g.id).values(**values))


def reverse_call(ctx: AppContext, principal: Principal, loan_id: str, call_id: str,
                 data: ReversalIn) -> tuple[int, CallReversalOut]:
    """The call counts as never made: the loan owes again what it paid (as of its date),
    the guarantors get their money back and pledge again what it called. Officers."""
    lid = path_uuid(loan_id, "loan")
    cid = path_uuid(call_id, "call")
    rev_id, reason = parse_reversal(data)

    def before(conn: Connection) -> Record:
        loan = visible_loan(conn, principal, lid, lock=True)
        if not calls_of(conn, lid, cid):
            raise NotFound("guarantee call")
        principal.require("officer")
        return loan

    def run(conn: Connection, loan: Record) -> tuple[int, CallReversalOut]:
        rows = list(conn.execute(select(guarantee_calls).where(
            guarantee_calls.c.loan_id == lid, guarantee_calls.c.id == cid)
            .order_by(guarantee_calls.c.seq)))
        if reversal_of(conn, "call", cid) is not None:
            raise Conflict("already_reversed", "this guarantee call was already reversed")
        record_reversal(conn, rev_id=rev_id, kind="call", target_id=cid, value_date=rows[0].date,
                        reason=reason, username=principal.username)
        events = [str(uuid.uuid5(uuid.UUID(cid), r.guarantee_id)) for r in rows]
        loan = reverse_loan_events(conn, ctx, loan, rev_id, events, reason,
                                   principal.username, then=lambda _: unbook_call(
                                       conn, rev_id, rows))
        (call,) = calls_of(conn, lid, cid)
        return 200, CallReversalOut(call, loan_with_state(conn, loan, today()))

    return command(ctx, principal, f"POST /api/loans/{lid}/guarantee-calls/{cid}/reversal",
                   data, run, before, returns=CallReversalOut)
