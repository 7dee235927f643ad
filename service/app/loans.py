"""Loans: granting one within its category's and pool's limits, disbursing it from the
pool, repayments, rescheduling and write-off, and reading a loan as of a date."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import get_args

import msgspec
from sqlalchemy import Connection, func, insert, select, update

from ledger import lending as postings
from ledger.schedules import METHODS, LoanTerms, TermsError, build_schedule, summarize
from service.app import lending
from service.app.auth import Principal
from service.app.books import refuse_closed
from service.app.clock import today
from service.app.commands import command
from service.app.common import (
    MoneyIn,
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
from service.app.coverage import coverage_value, covers, gas_sees_loan, share_cap_for
from service.app.errors import Conflict, Errors, Forbidden, NotFound, invalid
from service.app.inputs import (
    Input,
    an_id,
    client_id,
    count,
    custom,
    day,
    flag,
    minor_units,
    one_of,
    optional_day,
    optional_id,
    optional_one_of,
    optional_whole,
    reason,
    whole,
)
from service.app.ledger_ops import ensure_accounts
from service.app.ledger_ops import post as post_batch
from service.app.lender_scope import hide_other_lender, of_own_lender
from service.app.lending import AllocationOut, LoanOut, LoanStatus, record_payment
from service.app.references import LOAN, next_reference
from service.app.reversals import (
    ReversalIn,
    ReversalOut,
    parse_reversal,
    record_reversal,
    reversal_of,
    reversal_out,
    reversals_of,
)
from service.app.terms import TermsIn, parse_terms
from service.app.types import Day, Timestamp, Uuid
from service.app.views import Money, money

# Funding requests (service.app.requests) read a loan's terms through this module too.
from service.db.engine import lock_row, relock
from service.db.records import Record
from service.db.tables import funding_requests, loan_events, loans, pools

LOAN_STATUSES: tuple[str, ...] = get_args(LoanStatus)


class LoanIn(TermsIn, forbid_unknown_fields=True, kw_only=True):
    borrower_id: str
    lender_id: str
    id: str | None = None
    pool_id: str | None = None
    category: str = lending.DEFAULT_CATEGORY
    request_id: str | None = None


class DisbursementIn(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    id: str | None = None


class RepaymentIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: MoneyIn
    date: str
    id: str | None = None
    early_repayment: str = "term"


class RescheduleIn(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    note: str
    id: str | None = None
    added_grace_periods: int = 0
    new_periods: int | None = None
    method: str | None = None


class WriteOffIn(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    note: str
    id: str | None = None


# -- what the use cases read from those bodies ------------------------------------------


def _terms(value: TermsIn, field: str, errors: Errors) -> LoanTerms | None:
    return parse_terms(value, errors, prefix=field)


@dataclass(frozen=True, kw_only=True)
class NewLoan(Input):
    id: str = client_id()
    borrower_id: str = an_id()
    lender_id: str = an_id()
    pool_id: str | None = optional_id()
    request_id: str | None = optional_id()
    terms: LoanTerms = custom(_terms, source="")


@dataclass(frozen=True, kw_only=True)
class Disbursement(Input):
    id: str = client_id()
    on: date = day("date", past=True)


@dataclass(frozen=True, kw_only=True)
class Repayment(Input):
    id: str = client_id()
    amount: int = minor_units()
    on: date = day("date", past=True)
    early_repayment: str = one_of("term", "shorten_term")


@dataclass(frozen=True, kw_only=True)
class Reschedule(Input):
    id: str = client_id()
    on: date = day("date")
    added_grace_periods: int = whole(at_least=0, message="must not be negative")
    new_periods: int | None = optional_whole(at_least=1, message="must be positive")
    method: str | None = optional_one_of(*METHODS)
    note: str = reason("say why the loan is rescheduled")

    def check(self, errors: Errors) -> None:
        if self.added_grace_periods == 0 and self.new_periods is None and self.method is None:
            errors.add("added_grace_periods", "give added_grace_periods, new_periods or method")


@dataclass(frozen=True, kw_only=True)
class WriteOff(Input):
    id: str = client_id()
    on: date = day("date", past=True)
    note: str = reason("say why the loan is written off")


@dataclass(frozen=True, kw_only=True)
class LoanQuery(Input):
    """What ``GET /api/loans`` filters on, from its query string."""

    on: date | None = optional_day("as_of")
    borrower_id: str | None = optional_id()
    lender_id: str | None = optional_id()
    status: str | None = optional_one_of(*LOAN_STATUSES)
    late_only: bool | None = flag("overdue")
    min_days_past_due: int | None = count()


class LoanPage(msgspec.Struct):
    items: list[LoanOut]
    next_cursor: str | None


class RepaymentRef(msgspec.Struct):
    id: Uuid
    reference: str


class RepaymentOut(msgspec.Struct):
    """How the payment split, and the loan after it."""

    allocation: AllocationOut
    loan: LoanOut
    repayment: RepaymentRef


class RepaymentItem(msgspec.Struct, omit_defaults=True):
    """A recorded repayment, split as the value-date replay of everything recorded
    splits it now (a back-dated payment may change how an earlier one splits); a
    reversed one splits nothing and says who reversed it, when and why."""

    id: Uuid
    reference: str
    date: Day
    amount: Money
    allocation: AllocationOut
    recorded_at: Timestamp
    recorded_by: str | None
    reversed: bool
    reversal: ReversalOut | msgspec.UnsetType = msgspec.UNSET


class RepaymentReversalOut(msgspec.Struct):
    """The reversed repayment and the loan as it now stands."""

    repayment: RepaymentItem
    loan: LoanOut


class RepaymentPage(msgspec.Struct):
    items: list[RepaymentItem]
    next_cursor: str | None


def visible_loan(conn: Connection, principal: Principal, loan_id: str, *,
                 lock: bool = False) -> Record:
    """The loan if the user may see it, else 404; ``lock`` for commands that change it."""
    row = (lock_row(conn, loans, loan_id) if lock
           else conn.execute(select(loans).where(loans.c.id == loan_id)).first())
    if row is None:
        raise NotFound("loan")
    if principal.is_staff:
        hide_other_lender(principal, row.lender_id, "loan")
        return row
    if principal.role == "producer" and row.borrower_id == principal.party_id:
        return row
    if principal.role == "gas" and principal.party_id and gas_sees_loan(
            conn, principal.party_id, row.id):
        return row
    raise NotFound("loan")


def check_category(conn: Connection, terms: LoanTerms, category: lending.Category,
                   pool_row: Record, borrower_id: str, lender_id: str) -> None:
    """Terms outside the category or the pool: 409 with the limit named."""
    principal = lending.cents(terms.principal)
    if principal > category.max_principal:
        raise Conflict("loan_limit_exceeded",
                       f"category {category.name} lends at most "
                       f"{lending.dec(category.max_principal)} EUR")
    if terms.term_months > category.max_term_months:
        raise Conflict("loan_limit_exceeded", f"category {category.name} allows at most "
                       f"{category.max_term_months} months")
    if terms.frequency not in category.frequencies:
        raise Conflict("loan_limit_exceeded", f"category {category.name} allows "
                       f"{', '.join(category.frequencies)} installments")
    if pool_row.max_loan_minor is not None and principal > pool_row.max_loan_minor:
        raise Conflict("loan_limit_exceeded", f"pool {pool_row.name} lends at most "
                       f"{lending.dec(pool_row.max_loan_minor)} EUR to one loan")
    if category.usury_threshold is not None:
        apr = summarize(terms, build_schedule(terms)).apr
        if apr > category.usury_threshold:
            raise Conflict("usury_threshold_exceeded",
                           f"TAEG {apr}% is above the usury threshold "
                           f"{category.usury_threshold}% of category {category.name}")
    if category.share_multiple is not None:
        cap = share_cap_for(conn, borrower_id, lender_id, category.share_multiple)
        if principal > cap:
            raise Conflict("loan_limit_exceeded",
                           f"at most {category.share_multiple} x the share capital of the "
                           f"GAS that buy from this producer: {lending.dec(cap)} EUR")


def create_loan_row(conn: Connection, ctx: AppContext, *, loan_id: str, borrower_id: str,
                    lender_id: str, pool_id: str | None, category_name: str,
                    request_id: str | None, terms: LoanTerms, username: str) -> Record:
    """Grant a loan (``approved``) after checking its parties, pool and category."""
    lending.party_of_kind(conn, borrower_id, "producer", "borrower_id")
    lending.party_of_kind(conn, lender_id, "lender", "lender_id")
    if request_id is not None:
        asked = conn.execute(select(funding_requests.c.producer_id)
                             .where(funding_requests.c.id == request_id)).first()
        if asked is None or asked.producer_id != borrower_id:
            raise invalid("request_id", "no funding request of this borrower with this id")
    pool_id = pool_id or lending.general_pool_id(lender_id)
    pool_row = conn.execute(select(pools).where(pools.c.id == pool_id)).first()
    if pool_row is None or pool_row.lender_id != lender_id:
        raise invalid("pool_id", "no pool of this lender with this id")
    category = lending.get_category(conn, lender_id, category_name)
    if category is None:
        raise invalid("category", f"lender has no loan category {category_name!r}")
    check_category(conn, terms, category, pool_row, borrower_id, lender_id)
    conn.execute(insert(loans).values(
        id=loan_id, borrower_id=borrower_id, lender_id=lender_id, pool_id=pool_id,
        category=category_name, request_id=request_id,
        principal_minor=lending.cents(terms.principal), annual_rate=str(terms.annual_rate),
        term_months=terms.term_months, method=terms.method, frequency=terms.frequency,
        grace_periods=terms.grace_periods, disbursement_date=terms.disbursement_date,
        first_due_date=terms.first_due_date, fees_minor=lending.cents(terms.fees),
        status="approved", restructured=False, reference=next_reference(conn, LOAN),
        created_at=now_utc(), created_by=username))
    row: Record = lending.get_loan(conn, loan_id)
    ensure_accounts(conn, ctx.store, lending.loan_specs(row))
    return row


def disburse_loan(conn: Connection, ctx: AppContext, row: Record, op_id: str, on: date,
                  username: str) -> Record:
    """Pay the principal out of the pool on ``on``: the loan becomes ``active``."""
    row = relock(conn, loans, row.id)
    if row.status != "approved":
        raise Conflict("already_disbursed", f"the loan is already {row.status}")
    if row.first_due_date is not None and row.first_due_date <= on:
        raise invalid("date", "on or after the first due date of the terms")
    refuse_closed(conn, on, "a disbursement")
    category = lending.get_category(conn, row.lender_id, row.category)
    if (category is not None and category.min_coverage is not None
            and not covers(conn, row, category.min_coverage, on)):
        coverage = coverage_value(conn, row, on)
        raise Conflict("coverage_below_minimum",
                       f"guarantees cover {coverage or 0} x the principal; category "
                       f"{category.name} needs at least {category.min_coverage}")
    conn.execute(update(loans).where(loans.c.id == row.id)
                 .values(status="active", disbursed_on=on))
    row = lending.get_loan(conn, row.id)
    lending.record_event(conn, event_id=op_id, loan_id=row.id, kind="disbursement", on=on,
                         amount=row.principal_minor, username=username)
    accounts = lending.accounts_of(row)
    transfers = postings.disbursement(op_id, accounts, row.principal_minor, on,
                                      f"loan:{row.id}")
    post_batch(conn, ctx.store, postings.close_chain(transfers), {
        accounts.pool: ("insufficient_funds",
                        "the pool has not enough money to disburse this loan")})
    events = lending.events_of(conn, row.id)
    lending.save_installments(conn, row, lending.loan_state(row, events), events)
    return row


def book_reschedule(conn: Connection, ctx: AppContext, row: Record, op_id: str, on: date, *,
                    added_grace_periods: int, new_periods: int | None, method: str | None,
                    note: str, username: str) -> Record:
    """From ``on`` the outstanding principal of the (locked, active) loan runs over a new
    schedule; the loan is ``restructured``. The loan row after."""
    if row.status != "active":
        raise Conflict("loan_not_active", f"the loan is {row.status}")
    if on < (row.disbursed_on or row.disbursement_date):
        raise invalid("date", "before the disbursement")
    refuse_closed(conn, on, "a reschedule")
    lending.record_event(
        conn, event_id=op_id, loan_id=row.id, kind="restructuring", on=on,
        params={"added_grace_periods": added_grace_periods, "new_periods": new_periods,
                "method": method},
        note=note, username=username)
    try:
        state = lending.rebook(conn, ctx.store, row, op_id)
    except (TermsError, ValueError) as exc:
        raise invalid("date", str(exc)) from None
    conn.execute(update(loans).where(loans.c.id == row.id).values(restructured=True))
    loan: Record = lending.refresh_status(conn, ctx.events, lending.get_loan(conn, row.id),
                                          state)
    return loan


def book_write_off(conn: Connection, ctx: AppContext, row: Record, op_id: str, on: date,
                   note: str, username: str) -> Record:
    """The outstanding principal of the (locked, active) loan moves to the lender's loss
    account on ``on``. The loan row after."""
    if row.status != "active":
        raise Conflict("loan_not_active", f"the loan is {row.status}")
    if on < (row.disbursed_on or row.disbursement_date):
        raise invalid("date", "before the disbursement")
    refuse_closed(conn, on, "a write-off")
    lending.record_event(conn, event_id=op_id, loan_id=row.id, kind="write_off", on=on,
                         note=note, username=username)
    conn.execute(update(loans).where(loans.c.id == row.id)
                 .values(status="written_off", written_off_on=on))
    row = lending.get_loan(conn, row.id)
    lending.rebook(conn, ctx.store, row, op_id)
    return row


def officer_on_loan(principal: Principal, loan_id: str) -> Callable[[Connection], Record]:
    """``before`` of a command on one loan: the loan, locked, if the caller sees it (else
    404) and is an officer (else 403)."""

    def before(conn: Connection) -> Record:
        row = visible_loan(conn, principal, loan_id, lock=True)
        principal.require("officer")
        return row

    return before


def answer_on(on: date) -> date:
    """A command's answer shows the loan as of its value date, or today if that is later."""
    return max(on, today())


# -- use cases ------------------------------------------------------------------------------


def create_loan(ctx: AppContext, principal: Principal, data: LoanIn) -> tuple[int, LoanOut]:
    """Grant a loan (officers): 201 with the loan ``approved`` and its schedule."""
    new = NewLoan.read(data)
    principal.require("officer")

    def before(conn: Connection) -> None:
        hide_other_lender(principal, new.lender_id, "lender")

    def run(conn: Connection, _: None) -> tuple[int, LoanOut]:
        row = create_loan_row(conn, ctx, loan_id=new.id, borrower_id=new.borrower_id,
                              lender_id=new.lender_id, pool_id=new.pool_id,
                              category_name=data.category, request_id=new.request_id,
                              terms=new.terms, username=principal.username)
        return 201, lending.loan_with_state(conn, row, today())

    return command(ctx, principal, "POST /api/loans", data, run, before, returns=LoanOut)


# Loans whose arrears a filtered list reads at once (few queries, little wasted when the
# page fills early).
_FILTER_CHUNK = 250


def list_loans(ctx: AppContext, principal: Principal, borrower_id: str | None,
               status: str | None, lender_id: str | None, as_of: str | None,
               limit: int | None, cursor: str | None, *, reference: str | None = None,
               overdue: str | None = None, min_days_past_due: str | None = None
               ) -> LoanPage:
    """Loans as of ``as_of`` (default today): staff see all (an officer bound to a lender,
    that lender's), a producer its own; GAS
    users see loans through their guarantees only. ``overdue`` and
    ``min_days_past_due`` keep the loans whose arrears, as of that day, match."""
    asked = LoanQuery.read({"as_of": as_of, "borrower_id": borrower_id,
                            "lender_id": lender_id, "status": status, "overdue": overdue,
                            "min_days_past_due": min_days_past_due})
    day = asked.on or today()
    late_only, min_dpd = asked.late_only, asked.min_days_past_due

    def keep(overdue: int, days_past_due: int) -> bool:
        if late_only is not None and (overdue != 0) != late_only:
            return False
        return min_dpd is None or days_past_due >= min_dpd

    if principal.role == "gas":
        raise Forbidden("GAS users see loans through their guarantees")

    def read(conn: Connection) -> LoanPage:
        filtered = late_only is not None or min_dpd is not None
        # Before any row is read (lending.arrears_seen): the figures kept since the last
        # write.
        seen = lending.arrears_seen(conn, day) if filtered else {}
        query = where_equal(select(loans), loans, borrower_id=asked.borrower_id,
                            lender_id=asked.lender_id, status=status, reference=reference)
        query = of_own_lender(query, loans.c.lender_id, principal)
        if asked.on is not None:  # a loan is absent before its date, its disbursement's
            query = query.where(func.coalesce(loans.c.disbursed_on,
                                              loans.c.disbursement_date) <= day)
        if not principal.is_staff:
            query = query.where(loans.c.borrower_id == (principal.party_id or ""))
        if not filtered:
            rows, nxt = paginate(conn, query, loans.c.seq, limit, cursor)
            return LoanPage(lending.loans_on(conn, rows, day), nxt)
        # Arrears are a replay as of the day, not a column: filter while paging, a chunk
        # of loans at a time, on their figures (lending.arrears_by_loan, the same replay
        # loan_with_state makes; kept per loan, and the day's kept until a write); only
        # the page's loans are then read in full.
        size = check_limit(limit)
        after = decode_cursor(cursor)
        if after is not None:
            query = query.where(loans.c.seq > after)
        candidates = conn.execute(query.with_only_columns(loans.c.seq, loans.c.id)
                                  .order_by(loans.c.seq)).all()
        kept: list[Record] = []
        for start in range(0, len(candidates), _FILTER_CHUNK):
            chunk = candidates[start:start + _FILTER_CHUNK]
            missing = [c.id for c in chunk if c.id not in seen]
            if missing:
                seen.update(lending.arrears_by_loan(conn, conn.execute(
                    select(loans).where(loans.c.id.in_(missing))).all(), day))
            kept += [c for c in chunk if keep(*seen[c.id])]
            if len(kept) > size:
                break
        nxt = encode_cursor(kept[size - 1].seq) if len(kept) > size else None
        page = conn.execute(select(loans).where(loans.c.id.in_([c.id for c in kept[:size]]))
                            .order_by(loans.c.seq)).all()
        return LoanPage(lending.loans_on(conn, page, day), nxt)

    return ctx.read(read)


def list_repayments(ctx: AppContext, principal: Principal, loan_id: str,
                    reference: str | None, limit: int | None, cursor: str | None
                    ) -> RepaymentPage:
    """A loan's repayments (recoveries included), oldest value date first (same date:
    recording order), each split as the replay of every operation recorded splits it."""
    lid = path_uuid(loan_id, "loan")
    size = check_limit(limit)
    start = decode_cursor(cursor) or 0  # a position in the ordered list

    def read(conn: Connection) -> RepaymentPage:
        row = visible_loan(conn, principal, lid)
        events = lending.events_of(conn, row.id)
        state = lending.loan_state(row, events, late_rate=lending.late_rate_of(conn, row))
        paid = sorted((e for e in events if e.kind == "repayment"),
                      key=lambda e: (e.value_date, e.seq))
        undone = reversals_of(conn, "repayment", [e.id for e in paid])
        items = [repayment_item(e, state, undone.get(e.id)) for e in paid
                 if reference is None or e.reference == reference]
        window = items[start:start + size]
        nxt = encode_cursor(start + size) if len(items) > start + size else None
        return RepaymentPage(window, nxt)

    return ctx.read(read)


NOTHING = lending.AllocationOut(penalty=money(0), interest=money(0), principal=money(0),
                                excess=money(0))


def repayment_item(event: Record, state: lending.LoanState, reversal: Record | None
                   ) -> RepaymentItem:
    """A repayment as the replay ``state`` splits it (nothing, once reversed)."""
    return RepaymentItem(
        id=event.id, reference=event.reference, date=event.value_date.isoformat(),
        amount=money(event.amount_minor),
        allocation=(NOTHING if reversal is not None
                    else lending.allocation_of(state, event.id, event.amount_minor)),
        recorded_at=rfc3339(event.recorded_at) or "", recorded_by=event.recorded_by,
        reversed=reversal is not None,
        reversal=msgspec.UNSET if reversal is None else reversal_out(reversal))


def read_loan(ctx: AppContext, principal: Principal, loan_id: str, as_of: str | None
              ) -> LoanOut:
    """The loan as it was on ``as_of`` (default today)."""
    lid = path_uuid(loan_id, "loan")
    day = query_date(as_of, "as_of") or today()
    return ctx.read(lambda conn: lending.loan_with_state(
        conn, visible_loan(conn, principal, lid), day, historical=True))


def record_disbursement(ctx: AppContext, principal: Principal, loan_id: str,
                        data: DisbursementIn) -> tuple[int, LoanOut]:
    lid = path_uuid(loan_id, "loan")
    asked = Disbursement.read(data)

    def run(conn: Connection, row: Record) -> tuple[int, LoanOut]:
        row = disburse_loan(conn, ctx, row, asked.id, asked.on, principal.username)
        return 200, lending.loan_with_state(conn, row, answer_on(asked.on))

    return command(ctx, principal, f"POST /api/loans/{lid}/disbursement", data, run,
                   officer_on_loan(principal, lid), returns=LoanOut)


def record_repayment(ctx: AppContext, principal: Principal, loan_id: str, data: RepaymentIn
                     ) -> tuple[int, RepaymentOut]:
    lid = path_uuid(loan_id, "loan")
    paid = Repayment.read(data)

    def run(conn: Connection, row: Record) -> tuple[int, RepaymentOut]:
        allocation, row = record_payment(
            conn, ctx, row, paid.id, paid.amount, paid.on, principal.username,
            kind="repayment", params={"early_repayment": paid.early_repayment})
        reference = conn.execute(select(loan_events.c.reference)
                                 .where(loan_events.c.id == paid.id)).scalar_one()
        return 200, RepaymentOut(allocation,
                                 lending.loan_with_state(conn, row, answer_on(paid.on)),
                                 RepaymentRef(paid.id, reference))

    return command(ctx, principal, f"POST /api/loans/{lid}/repayments", data, run,
                   officer_on_loan(principal, lid), returns=RepaymentOut)


def reschedule_loan(ctx: AppContext, principal: Principal, loan_id: str, data: RescheduleIn
                    ) -> tuple[int, LoanOut]:
    """From ``date`` the outstanding principal runs over a new schedule; the loan is
    ``restructured`` from then on."""
    lid = path_uuid(loan_id, "loan")
    change = Reschedule.read(data)

    def run(conn: Connection, row: Record) -> tuple[int, LoanOut]:
        row = book_reschedule(conn, ctx, row, change.id, change.on,
                              added_grace_periods=change.added_grace_periods,
                              new_periods=change.new_periods, method=change.method,
                              note=change.note, username=principal.username)
        return 200, lending.loan_with_state(conn, row, answer_on(change.on))

    return command(ctx, principal, f"POST /api/loans/{lid}/reschedule", data, run,
                   officer_on_loan(principal, lid), returns=LoanOut)


def write_off_loan(ctx: AppContext, principal: Principal, loan_id: str, data: WriteOffIn
                   ) -> tuple[int, LoanOut]:
    """The outstanding principal moves to the lender's loss account; money received
    afterwards is recovery."""
    lid = path_uuid(loan_id, "loan")
    off = WriteOff.read(data)

    def run(conn: Connection, row: Record) -> tuple[int, LoanOut]:
        row = book_write_off(conn, ctx, row, off.id, off.on, off.note, principal.username)
        return 200, lending.loan_with_state(conn, row, answer_on(off.on))

    return command(ctx, principal, f"POST /api/loans/{lid}/write-off", data, run,
                   officer_on_loan(principal, lid), returns=LoanOut)


def reverse_repayment(ctx: AppContext, principal: Principal, loan_id: str, repayment_id: str,
                      data: ReversalIn) -> tuple[int, RepaymentReversalOut]:
    """The repayment counts as never recorded, from its value date: the loan owes again
    what it paid (a repaid loan is active again), later payments split as if it had never
    been, and the pool gives its principal back (409 ``insufficient_funds`` if it was lent
    again meanwhile). Officers, as for recording one."""
    lid = path_uuid(loan_id, "loan")
    rid = path_uuid(repayment_id, "repayment")
    rev_id, reason = parse_reversal(data)

    def before(conn: Connection) -> tuple[Record, Record]:
        row = visible_loan(conn, principal, lid, lock=True)
        event = conn.execute(select(loan_events).where(
            loan_events.c.id == rid, loan_events.c.loan_id == lid,
            loan_events.c.kind == "repayment")).first()
        if event is None:
            raise NotFound("repayment")
        principal.require("officer")
        return row, event

    def run(conn: Connection, target: tuple[Record, Record]) -> tuple[int, RepaymentReversalOut]:
        row, event = target
        if reversal_of(conn, "repayment", event.id) is not None:
            raise Conflict("already_reversed", "this repayment was already reversed")
        reversal = record_reversal(conn, rev_id=rev_id, kind="repayment", target_id=event.id,
                                   value_date=event.value_date, reason=reason,
                                   username=principal.username)
        row = lending.reverse_loan_events(conn, ctx, row, rev_id, [event.id], reason,
                                          principal.username)
        state = lending.loan_state(row, lending.events_of(conn, row.id),
                                   late_rate=lending.late_rate_of(conn, row))
        return 200, RepaymentReversalOut(repayment_item(event, state, reversal),
                                         lending.loan_with_state(conn, row, today()))

    return command(ctx, principal, f"POST /api/loans/{lid}/repayments/{rid}/reversal", data,
                   run, before, returns=RepaymentReversalOut)
