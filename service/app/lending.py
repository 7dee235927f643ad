"""Pools, member shares, loan categories and loans: the database side of lending.

The rules live in ``ledger`` (schedules, repayments, postings); this module loads rows,
calls them and writes rows and transfers in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, Literal

import msgspec
from sqlalchemy import ColumnElement, Connection, case, delete, func, insert, select, update

from ledger import lending as postings
from ledger.accounts import Account
from ledger.as_of import PAYMENT_KINDS, REVERSAL, LoanReplay, live_events, loan_on, replay_loan
from ledger.chart import account, account_id, leg_id
from ledger.loan_summary import LoanSummary, summarize_on
from ledger.money import minor_to_decimal, to_minor_decimal
from ledger.repayments import (
    InstallmentState,
    arrears,
    initial_state,
    installment_status,
)
from ledger.schedules import (
    Frequency,
    Installment,
    LoanTerms,
    Method,
    build_schedule,
    summarize,
)
from ledger.store import LedgerStore, ledger_transfers
from ledger.transfers import Transfer
from service.app.books import refuse_closed
from service.app.common import now_utc, rfc3339
from service.app.context import AppContext
from service.app.errors import Conflict, NotFound, invalid
from service.app.events import Events, LoanReopened, LoanRepaid, PartyCreated
from service.app.ledger_ops import ensure_accounts, post
from service.app.parties import party_names
from service.app.read_cache import Memo, ReadCache, appended
from service.app.references import REPAYMENT, next_reference
from service.app.reversals import refuse_shortfall
from service.app.types import Day, DecimalText, Timestamp, Uuid
from service.app.views import Money, money
from service.db.engine import engine_token, relock
from service.db.records import Record
from service.db.tables import (
    loan_categories,
    loan_events,
    loan_installments,
    loans,
    parties,
    pool_deposits,
    pools,
)

EUR = "EUR"
DEFAULT_CATEGORY = "microcredit"


def cents(value: Decimal) -> int:
    return to_minor_decimal(value, EUR)


def dec(minor: int) -> Decimal:
    return minor_to_decimal(minor, EUR)


# -- pools ------------------------------------------------------------------------------

def pool_specs(pool_id: str, lender_id: str) -> list[Account]:
    return [account("pool", pool_id, party_id=lender_id),
            account("pool-funding", pool_id, party_id=lender_id)]


def lender_specs(lender_id: str) -> list[Account]:
    return [account(p, lender_id, party_id=lender_id)
            for p in ("interest", "penalty", "loss", "recovery")]


def create_pool(conn: Connection, store: LedgerStore, *, pool_id: str, lender_id: str,
                name: str, partner_id: str | None, max_loan: int | None, general: bool,
                username: str | None) -> Record:
    ensure_accounts(conn, store, pool_specs(pool_id, lender_id))
    conn.execute(insert(pools).values(
        id=pool_id, lender_id=lender_id, name=name, partner_id=partner_id,
        max_loan_minor=max_loan, is_general=general, created_at=now_utc(),
        created_by=username))
    return conn.execute(select(pools).where(pools.c.id == pool_id)).one()


def general_pool_id(lender_id: str) -> str:
    return str(uuid.uuid5(uuid.UUID(lender_id), "general-pool"))


def open_lender_books(conn: Connection, event: PartyCreated) -> None:
    """Creating a lender party creates its general pool and its income accounts."""
    party, username = event.party, event.username
    if party.kind != "lender":
        return
    store = LedgerStore(conn.engine)
    ensure_accounts(conn, store, lender_specs(party.id))
    create_pool(conn, store, pool_id=general_pool_id(party.id), lender_id=party.id,
                name=f"{party.name} - fondo generale", partner_id=None, max_loan=None,
                general=True, username=username)


def get_pool(conn: Connection, pool_id: str) -> Record:
    row = conn.execute(select(pools).where(pools.c.id == pool_id)).first()
    if row is None:
        raise NotFound("pool")
    return row


def pool_figures(conn: Connection, store: LedgerStore, pool_row: Record) -> tuple[int, int]:
    """(balance, lent): money available, and outstanding principal of its loans."""
    pool_account = store.get_account(conn, account_id("pool", pool_row.id))
    balance = pool_account.balance if pool_account else 0
    loan_ids = [r.id for r in conn.execute(select(loans.c.id).where(
        loans.c.pool_id == pool_row.id, loans.c.status.in_(("active", "repaid"))))]
    lent = store.total_balance(conn, [account_id("loan", i) for i in loan_ids])
    return balance, lent


def deposit(conn: Connection, store: LedgerStore, *, op_id: str, pool_row: Record, amount: int,
            on: date, note: str | None, username: str | None) -> Record:
    refuse_closed(conn, on, "a pool deposit")
    conn.execute(insert(pool_deposits).values(
        id=op_id, pool_id=pool_row.id, amount_minor=amount, date=on, note=note,
        created_at=now_utc(), created_by=username))
    transfer = Transfer(
        id=leg_id(op_id, "deposit"),
        debit_account_id=account_id("pool-funding", pool_row.id),
        credit_account_id=account_id("pool", pool_row.id), amount=amount, currency=EUR,
        code="deposit", value_date=on, user_data=f"pool:{pool_row.id}", operation_id=op_id)
    post(conn, store, [transfer], {})
    return conn.execute(select(pool_deposits).where(pool_deposits.c.id == op_id)).one()


# -- categories -------------------------------------------------------------------------

@dataclass(frozen=True)
class Category:
    name: str
    max_principal: int = 7_500_000
    max_term_months: int = 84
    frequencies: tuple[str, ...] = ("monthly", "quarterly")
    usury_threshold: Decimal | None = None  # a TAEG ceiling, percent
    late_interest_rate: Decimal = Decimal(0)  # percent a year on overdue principal
    min_coverage: Decimal | None = None  # e.g. 1.50 for 150%
    share_multiple: Decimal | None = None  # loan <= multiple x shares of the buying GAS


def get_category(conn: Connection, lender_id: str, name: str) -> Category | None:
    row = conn.execute(select(loan_categories).where(
        loan_categories.c.lender_id == lender_id, loan_categories.c.name == name)).first()
    if row is None:
        return Category(name=DEFAULT_CATEGORY) if name == DEFAULT_CATEGORY else None

    def opt(value: str | None) -> Decimal | None:
        return Decimal(value) if value is not None else None

    return Category(name=row.name, max_principal=row.max_principal_minor,
                    max_term_months=row.max_term_months, frequencies=tuple(row.frequencies),
                    usury_threshold=opt(row.usury_threshold),
                    late_interest_rate=Decimal(row.late_interest_rate or "0"),
                    min_coverage=opt(row.min_coverage), share_multiple=opt(row.share_multiple))


def save_category(conn: Connection, lender_id: str, c: Category, username: str) -> None:
    values = dict(max_principal_minor=c.max_principal, max_term_months=c.max_term_months,
                  frequencies=list(c.frequencies),
                  usury_threshold=None if c.usury_threshold is None else str(c.usury_threshold),
                  late_interest_rate=str(c.late_interest_rate),
                  min_coverage=None if c.min_coverage is None else str(c.min_coverage),
                  share_multiple=None if c.share_multiple is None else str(c.share_multiple),
                  updated_at=now_utc(), updated_by=username)
    exists = conn.execute(select(loan_categories.c.seq).where(
        loan_categories.c.lender_id == lender_id, loan_categories.c.name == c.name)).first()
    if exists:
        conn.execute(update(loan_categories).where(loan_categories.c.seq == exists.seq)
                     .values(**values))
    else:
        conn.execute(insert(loan_categories).values(lender_id=lender_id, name=c.name, **values))


# -- loans ------------------------------------------------------------------------------

def terms_of(row: Record) -> LoanTerms:
    """The terms in force: disbursed on another date, the schedule runs from that date."""
    return LoanTerms(
        principal=dec(row.principal_minor), annual_rate=Decimal(row.annual_rate),
        term_months=row.term_months, method=row.method, frequency=row.frequency,
        grace_periods=row.grace_periods,
        disbursement_date=row.disbursed_on or row.disbursement_date,
        first_due_date=row.first_due_date, fees=dec(row.fees_minor))


def accounts_of(row: Record) -> postings.LoanAccounts:
    return postings.LoanAccounts.of(row.id, row.pool_id, row.lender_id)


def loan_specs(row: Record) -> list[Account]:
    return [account("loan", row.id, party_id=row.borrower_id),
            account("loan-payments", row.id, party_id=row.borrower_id),
            account("loan-covered", row.id, party_id=row.borrower_id)]


def get_loan(conn: Connection, loan_id: str) -> Record:
    row = conn.execute(select(loans).where(loans.c.id == loan_id)).first()
    if row is None:
        raise NotFound("loan")
    return row


def events_of(conn: Connection, loan_id: str) -> list[Record]:
    return list(conn.execute(select(loan_events).where(loan_events.c.loan_id == loan_id)
                             .order_by(loan_events.c.seq)))


# What a replay reads of an operation (ledger.as_of.LoanEvent): a book of thousands of
# loans reads only these columns; a statement reads every column, for its movements.
REPLAYED_COLUMNS = (loan_events.c.loan_id, loan_events.c.id, loan_events.c.seq,
                    loan_events.c.kind, loan_events.c.value_date, loan_events.c.amount_minor,
                    loan_events.c.params)


def events_by_loan(conn: Connection, loan_ids: Sequence[str], *, every_column: bool = False
                   ) -> dict[str, list[Record]]:
    """The operations of many loans, each loan's in recording order, 500 loans a query."""
    out: dict[str, list[Record]] = defaultdict(list)
    columns = (loan_events,) if every_column else REPLAYED_COLUMNS
    for start in range(0, len(loan_ids), 500):
        chunk = loan_ids[start:start + 500]
        for e in conn.execute(select(*columns).where(loan_events.c.loan_id.in_(chunk))
                              .order_by(loan_events.c.seq)).all():
            out[e.loan_id].append(e)
    return out


# A loan's operations replayed: the one computation lives in ledger.as_of.
LoanState = LoanReplay


def loan_state(row: Record, events: Sequence[Record], as_of: date | None = None,
               late_rate: Decimal = Decimal(0)) -> LoanState:
    """Replay the loan's operations in value-date order (optionally up to ``as_of``);
    ``late_rate`` is the category's late interest (percent a year, overdue principal)."""
    return replay_loan(terms_of(row), events, as_of, late_rate,
                       flagged_restructured=bool(row.restructured))


def payer_of(event: Record) -> postings.Payer:
    if event.payer_kind == "borrower":
        return postings.Payer()
    return postings.Payer(account=event.payer_ref)


def target_parts(state: LoanState) -> dict[str, postings.Parts]:
    parts: dict[str, postings.Parts] = {}
    for event_id, a in state.allocations.items():
        parts[event_id] = postings.Parts(penalty=cents(a.penalty), interest=cents(a.interest),
                                         principal=cents(a.principal))
    for event_id, amount in state.recoveries.items():
        parts[event_id] = postings.Parts(recovery=amount)
    if state.write_off_event is not None:
        parts[state.write_off_event] = postings.Parts(write_off=state.written_off)
    return parts


Guard = Callable[[Connection, LedgerStore, Sequence[Transfer]], None]


def rebook(conn: Connection, store: LedgerStore, row: Record, op_id: str,
           prefix: Sequence[Transfer] = (), *, guard: Guard | None = None) -> LoanState:
    """Bring the journal in line with the loan's operations (the new one included):
    book the new operation's split and correct any earlier split it changed.
    ``guard`` sees the corrections before they are booked (and may refuse them)."""
    events = events_of(conn, row.id)
    state = loan_state(row, events, late_rate=late_rate_of(conn, row))
    accounts = accounts_of(row)
    user_data = f"loan:{row.id}"
    journal = store.find_entries(conn, user_data=user_data)
    already = postings.booked(journal, accounts)
    payers = {e.id: payer_of(e) for e in events}
    dates = {e.id: e.value_date for e in events}
    transfers = postings.compensations(op_id, accounts, target_parts(state), payers, already,
                                       dates, user_data)
    if guard is not None:
        guard(conn, store, transfers)
    # Corrections in an order the pool's and the loan's balance limits allow step by step
    # (a back-dated payment around a write-off both refills and draws on them).
    touched = {t.debit_account_id for t in transfers} | {t.credit_account_id
                                                        for t in transfers}
    limited = {a.id: a for a in store.get_accounts(conn, touched).values()
               if a.debits_must_not_exceed_credits or a.credits_must_not_exceed_debits}
    ordered = postings.feasible_order(transfers, limited, before=prefix) if limited else None
    batch = postings.chained([*prefix, *(transfers if ordered is None else ordered)])
    post(conn, store, batch, {accounts.pool: ("insufficient_funds",
                                              "the pool has not enough money for this")})
    save_installments(conn, row, state, events)
    return state


def save_installments(conn: Connection, row: Record, state: LoanState,
                      events: Sequence[Record]) -> None:
    """Keep the replayed schedule beside the journal (derived data: rewritten whole)."""
    through = replayed_through(row, events)
    wanted = {s.number: _ROWS.get((row.id, s, through), partial(_row_values, row.id, s,
                                                                  through))
              for s in state.schedule}
    kept = {r.number: tuple(r) for r in conn.execute(
        select(loan_installments).where(loan_installments.c.loan_id == row.id))}
    changed = [n for n, values in wanted.items() if n in kept and kept[n] != values]
    if len(changed) > _FEW_CHANGED:  # a reschedule, a new date: rewritten whole
        conn.execute(delete(loan_installments).where(loan_installments.c.loan_id == row.id))
        conn.execute(insert(loan_installments),
                     [dict(zip(_COLUMNS, values, strict=True)) for values in wanted.values()])
        return
    # A payment changes the installments it paid: only those rows are written.
    gone = [n for n in kept if n not in wanted]
    if gone:
        conn.execute(delete(loan_installments).where(
            loan_installments.c.loan_id == row.id, loan_installments.c.number.in_(gone)))
    for n in changed:
        conn.execute(update(loan_installments).where(
            loan_installments.c.loan_id == row.id, loan_installments.c.number == n)
            .values({k: v for k, v in zip(_COLUMNS, wanted[n], strict=True)
                     if k not in ("loan_id", "number")}))
    new = [dict(zip(_COLUMNS, values, strict=True)) for n, values in wanted.items()
           if n not in kept]
    if new:
        conn.execute(insert(loan_installments), new)


# More changed rows than this: the loan's kept schedule is deleted and written again.
_FEW_CHANGED = 8
_COLUMNS = tuple(c.name for c in loan_installments.columns)
# A kept row's values (in the table's column order) by loan, installment state and
# date replayed through: all they are computed from.
_ROWS: Memo[tuple[str, InstallmentState, date], tuple[object, ...]] = Memo(kept=10_000)


def _row_values(loan_id: str, s: InstallmentState, through: date) -> tuple[object, ...]:
    values = installment_row(loan_id, s, through)
    return tuple(values[c] for c in _COLUMNS)


REPLAYED_KINDS = (*PAYMENT_KINDS, "restructuring", "write_off", "disbursement")


def replayed_through(row: Record, events: Sequence[Record]) -> date:
    """The latest value date among the operations that shape the schedule (reversed ones
    do not)."""
    latest: date = max((e.value_date for e in live_events(events)
                        if e.kind in REPLAYED_KINDS),
                       default=row.disbursed_on or row.disbursement_date)
    return latest


def installment_row(loan_id: str, s: InstallmentState, through: date) -> dict[str, object]:
    return {"loan_id": loan_id, "number": s.number, "due_date": s.due_date,
            "principal_minor": cents(s.principal), "interest_minor": cents(s.interest),
            "paid_principal_minor": cents(s.paid_principal),
            "paid_interest_minor": cents(s.paid_interest),
            "penalty_minor": cents(s.penalty), "paid_penalty_minor": cents(s.paid_penalty),
            "through": through}


def portfolio_arrears(conn: Connection, as_of: date) -> dict[str, tuple[int, int]]:
    """(overdue cents, days past due) of every active loan as of ``as_of``.

    One aggregate query over the kept schedules answers for the loans whose operations
    all have value dates on or before ``as_of`` and whose category charges no late
    interest (which accrues by the day); the others are replayed from their operations.
    """
    unpaid = (loan_installments.c.principal_minor + loan_installments.c.interest_minor
              + loan_installments.c.penalty_minor - loan_installments.c.paid_principal_minor
              - loan_installments.c.paid_interest_minor
              - loan_installments.c.paid_penalty_minor)
    late = (loan_installments.c.due_date < as_of) & (unpaid > 0)
    query = (select(loan_installments.c.loan_id,
                    func.sum(case((late, unpaid), else_=0)).label("overdue"),
                    func.min(case((late, loan_installments.c.due_date))).label("oldest"),
                    func.max(loan_installments.c.through).label("through"))
             .join(loans, loans.c.id == loan_installments.c.loan_id)
             .where(loans.c.status == "active")
             .group_by(loan_installments.c.loan_id))
    kept = {r.loan_id: r for r in conn.execute(query).all()}
    charging = {(r.lender_id, r.name) for r in conn.execute(
        select(loan_categories.c.lender_id, loan_categories.c.name,
               loan_categories.c.late_interest_rate))
        if Decimal(r.late_interest_rate or "0") != 0}
    out: dict[str, tuple[int, int]] = {}
    replayed: list[str] = []
    for row in conn.execute(select(loans.c.id, loans.c.lender_id, loans.c.category)
                            .where(loans.c.status == "active")).all():
        agg = kept.get(row.id)
        if (agg is not None and agg.through <= as_of
                and (row.lender_id, row.category) not in charging):
            oldest = agg.oldest
            out[row.id] = (int(agg.overdue or 0), (as_of - oldest).days if oldest else 0)
        else:
            replayed.append(row.id)
    for start in range(0, len(replayed), 500):
        for row in conn.execute(select(loans).where(
                loans.c.id.in_(replayed[start:start + 500]))).all():
            rate = late_rate_of(conn, row)
            state = loan_state(row, events_of(conn, row.id), as_of, rate)
            a = arrears(state.schedule, as_of, late_rate=rate)
            out[row.id] = (cents(a.overdue_amount), a.days_past_due)
    return out


def record_event(conn: Connection, *, event_id: str, loan_id: str, kind: str, on: date,
                 amount: int = 0, payer_kind: str = "borrower", payer_ref: str | None = None,
                 params: Mapping[str, object] | None = None, note: str | None = None,
                 username: str | None) -> None:
    # Repayments (recoveries included) are numbered; other operations are not.
    reference = next_reference(conn, REPAYMENT) if kind == "repayment" else None
    conn.execute(insert(loan_events).values(
        id=event_id, loan_id=loan_id, kind=kind, value_date=on, amount_minor=amount,
        payer_kind=payer_kind, payer_ref=payer_ref, params=params, note=note,
        reference=reference, recorded_at=now_utc(), recorded_by=username))


def repaid_on(conn: Connection, row: Record) -> date:
    """The value date of the last payment of a repaid loan (the day it was repaid)."""
    last: date = max((e.value_date for e in live_events(events_of(conn, row.id))
                      if e.kind in PAYMENT_KINDS),
                     default=row.disbursed_on or row.disbursement_date)
    return last


def reopenings(conn: Connection, loan_id: str) -> int:
    """How many times a correction made the repaid loan owe again."""
    return int(conn.execute(select(func.count()).select_from(loan_events).where(
        loan_events.c.loan_id == loan_id, loan_events.c.kind == "reopening")).scalar_one())


def payoff_id(conn: Connection, loan_id: str) -> str:
    """The id of what the loan's current payoff did (its guarantees' releases): each
    payoff after a reopening has its own, so its transfers are new ones."""
    n = reopenings(conn, loan_id)
    return str(uuid.uuid5(uuid.UUID(loan_id), "repaid" if n == 0 else f"repaid:{n}"))


def refresh_status(conn: Connection, events: Events, row: Record, state: LoanState, *,
                   op_id: str | None = None, username: str | None = None) -> Record:
    """Active loans whose whole debt is paid become ``repaid`` (and release guarantees);
    a repaid loan that owes again after a correction (``op_id``, by ``username``) is
    active again (or written off, if it was), and what its payoff released follows."""
    was = status = row.status
    if status == "active" and state.debt_left == 0 and state.outstanding == 0:
        status = "repaid"
    elif status == "written_off" and state.written_off == 0 and state.debt_left == 0:
        status = "repaid"  # a back-dated payment had repaid it all before the write-off
    elif status == "repaid" and (state.debt_left > 0 or state.outstanding > 0
                                 or state.written_off > 0):
        # A correction reopened it.
        status = "written_off" if state.written_off > 0 else "active"
    values: dict[str, object] = {}
    if status != row.status:
        values["status"] = status
    if state.restructured and not row.restructured:
        values["restructured"] = True
    if values:
        released_by = payoff_id(conn, row.id)
        conn.execute(update(loans).where(loans.c.id == row.id).values(**values))
        row = get_loan(conn, row.id)
        if values.get("status") == "repaid":
            events.emit(conn, LoanRepaid(row))
        elif was == "repaid" and "status" in values:
            cause = op_id or str(uuid.uuid4())
            # On the loan's record (it also counts the payoffs: see ``payoff_id``).
            record_event(conn, event_id=str(uuid.uuid5(uuid.UUID(cause), "reopening")),
                         loan_id=row.id, kind="reopening",
                         on=row.disbursed_on or row.disbursement_date,
                         params={"by": cause, "payoff": released_by}, username=username)
            events.emit(conn, LoanReopened(row, cause, released_by, username))
    return row


LoanStatus = Literal["approved", "active", "repaid", "written_off"]
InstallmentStatus = Literal["open", "paid", "overdue"]


class InstallmentOut(msgspec.Struct, frozen=True):
    number: int
    due_date: Day
    principal: Money
    interest: Money
    payment: Money
    balance_after: Money
    paid_principal: Money
    paid_interest: Money
    late_interest: Money
    paid_late_interest: Money
    status: InstallmentStatus


class NextInstallmentOut(msgspec.Struct):
    number: int
    due_date: Day
    amount_due: Money  # what is still unpaid of it


class LoanOut(msgspec.Struct):
    """A loan as of a date: its terms, schedule and what is owed."""

    id: Uuid
    reference: str
    borrower_id: Uuid
    borrower_name: str
    lender_id: Uuid
    lender_name: str
    pool_id: Uuid
    category: str
    request_id: Uuid | None
    status: LoanStatus
    principal: Money
    annual_rate: DecimalText
    term_months: int
    method: Method
    frequency: Frequency
    grace_periods: int
    disbursement_date: Day
    first_due_date: Day | None
    fees: Money
    disbursed_on: Day | None
    written_off_on: Day | None
    restructured: bool
    schedule: list[InstallmentOut]
    total_interest: Money
    total_payment: Money
    total_fees: Money
    apr: DecimalText
    outstanding_principal: Money
    # Early repayments lower the balance without belonging to one installment.
    early_repaid_principal: Money
    written_off_principal: Money
    overdue_amount: Money
    days_past_due: int
    next_installment: NextInstallmentOut | None
    due_now: Money
    paid_total: Money
    as_of: Day
    created_at: Timestamp


class AllocationOut(msgspec.Struct, omit_defaults=True):
    """How one payment split; ``recovery`` only after a write-off."""

    penalty: Money
    interest: Money
    principal: Money
    excess: Money
    recovery: Money | msgspec.UnsetType = msgspec.UNSET


# An installment as answered, kept by its state and status (all it is computed from:
# frozen, so answers share it). A payment changes one or two installments of a loan's
# schedule; its answer and the reads after it format only those again.
_INSTALLMENTS: Memo[tuple[InstallmentState, str], InstallmentOut] = Memo(kept=10_000)


def installment_out(s: InstallmentState, status: InstallmentStatus) -> InstallmentOut:
    return _INSTALLMENTS.get((s, status), partial(_installment_out, s, status))


def _installment_out(s: InstallmentState, status: InstallmentStatus) -> InstallmentOut:
    return InstallmentOut(
        number=s.number, due_date=s.due_date.isoformat(),
        principal=money(cents(s.principal)), interest=money(cents(s.interest)),
        payment=money(cents(s.principal + s.interest)),
        balance_after=money(cents(s.balance_after)),
        paid_principal=money(cents(s.paid_principal)),
        paid_interest=money(cents(s.paid_interest)),
        late_interest=money(cents(s.penalty)), paid_late_interest=money(cents(s.paid_penalty)),
        status=status)


def loan_json(row: Record, state: LoanState | None, as_of: date, today_view: LoanSummary,
              late_rate: Decimal = Decimal(0), status: str | None = None,
              restructured: bool | None = None, *, names: Mapping[str, str]) -> LoanOut:
    """``names``: the parties' names by id (the borrower's and the lender's)."""
    status = status or row.status
    terms = terms_of(row)
    schedule_states: Sequence[InstallmentState]
    if state is None:
        planned: Sequence[Installment] = build_schedule(terms)
        schedule_states = initial_state(terms, planned)
    else:
        planned, schedule_states = state.planned, state.schedule
    summary = summarize(terms, planned)
    installments = [installment_out(
        s, installment_status(s, as_of) if status != "approved" else "open")
        for s in schedule_states]
    overdue = Decimal(0)
    dpd = 0
    if state is not None and status in ("active", "written_off"):
        a = arrears(state.schedule, as_of, late_rate=late_rate)
        overdue, dpd = a.overdue_amount, a.days_past_due
    outstanding = state.outstanding if state is not None else 0  # nothing lent yet
    nxt = today_view.next_installment
    return LoanOut(
        id=row.id, reference=row.reference, borrower_id=row.borrower_id,
        borrower_name=names.get(row.borrower_id, ""), lender_id=row.lender_id,
        lender_name=names.get(row.lender_id, ""), pool_id=row.pool_id,
        category=row.category, request_id=row.request_id, status=status,  # type: ignore[arg-type]
        principal=money(row.principal_minor), annual_rate=row.annual_rate,
        term_months=row.term_months, method=row.method, frequency=row.frequency,
        grace_periods=row.grace_periods,
        disbursement_date=(row.disbursed_on or row.disbursement_date).isoformat(),
        first_due_date=row.first_due_date.isoformat() if row.first_due_date else None,
        fees=money(row.fees_minor),
        disbursed_on=row.disbursed_on.isoformat() if row.disbursed_on else None,
        written_off_on=row.written_off_on.isoformat() if row.written_off_on else None,
        restructured=(restructured if restructured is not None
                      else bool(row.restructured or (state and state.restructured))),
        schedule=installments,
        total_interest=money(cents(summary.total_interest)),
        total_payment=money(cents(summary.total_payment)),
        total_fees=money(cents(summary.total_fees)),
        apr=str(summary.apr),
        outstanding_principal=money(outstanding),
        early_repaid_principal=money(
            sum(cents(a.early_principal) for a in state.allocations.values()) if state else 0),
        written_off_principal=money(state.written_off if state else 0),
        overdue_amount=money(cents(overdue)), days_past_due=dpd,
        next_installment=None if nxt is None else NextInstallmentOut(
            nxt.number, nxt.due_date.isoformat(), money(nxt.amount_due)),
        due_now=money(today_view.due_now), paid_total=money(today_view.paid_total),
        as_of=as_of.isoformat(), created_at=rfc3339(row.created_at) or "")


def late_rate_of(conn: Connection, row: Record) -> Decimal:
    category = get_category(conn, row.lender_id, row.category)
    return category.late_interest_rate if category else Decimal(0)


def loan_book_marks(conn: Connection, *more: ColumnElement[Any]) -> tuple[Hashable, ...]:
    """Marks, read in a few aggregate queries, that move with what figures replayed from
    the loans are computed from: the loan operations (every repayment, reschedule,
    write-off or correction records one, and the kept schedules are only rewritten with
    one), the journal (every money movement, reversals too), the loans (their number and
    last ``seq``, then the aggregates ``more`` over their rows) and the categories' late
    interest rates. The versions of ``arrears`` and ``matching`` build on them."""
    operations = appended(conn, loan_events.c.seq)
    journal = appended(conn, ledger_transfers.c.seq)
    book = conn.execute(select(func.count(), func.max(loans.c.seq), *more)
                        .select_from(loans)).one()
    rates = tuple(tuple(r) for r in conn.execute(select(
        loan_categories.c.lender_id, loan_categories.c.name,
        loan_categories.c.late_interest_rate).order_by(loan_categories.c.lender_id,
                                                       loan_categories.c.name)).all())
    return operations, journal, tuple(book), rates


# A loan's (overdue cents, days past due) at the end of a day, as ``loan_with_state``
# answers them (a written-off debt's too). Kept per loan row, late-interest rate, day and
# operation ids: operations are only ever added (a reversal is one more), so a key never
# names other figures, and after a write only the loans it touched are replayed again.
_ARREARS: Memo[tuple[Hashable, ...], tuple[int, int]] = Memo(kept=20_000)


def arrears_by_loan(conn: Connection, rows: Sequence[Record], day: date
                    ) -> dict[str, tuple[int, int]]:
    """(overdue cents, days past due) of each loan row on ``day``, in a few queries:
    operation ids first, then the operations of the loans not kept since (what the
    ``overdue`` and ``min_days_past_due`` filters of the loan list read)."""
    ids = [r.id for r in rows]
    event_ids: dict[str, list[str]] = {}
    for start in range(0, len(ids), 500):
        for e in conn.execute(select(loan_events.c.loan_id, loan_events.c.id)
                              .where(loan_events.c.loan_id.in_(ids[start:start + 500]))
                              .order_by(loan_events.c.seq)):
            event_ids.setdefault(e.loan_id, []).append(e.id)
    db = engine_token(conn.engine)
    rates: dict[tuple[str, str], Decimal] = {}
    keys: dict[str, tuple[Hashable, ...]] = {}
    for r in rows:
        if (r.lender_id, r.category) not in rates:
            rates[r.lender_id, r.category] = late_rate_of(conn, r)
        keys[r.id] = (db, tuple(r), rates[r.lender_id, r.category], day,
                      tuple(event_ids.get(r.id, ())))
    missing = [r.id for r in rows if keys[r.id] not in _ARREARS]
    events: dict[str, list[Record]] = {i: [] for i in missing}
    for start in range(0, len(missing), 500):
        for e in conn.execute(select(loan_events)
                              .where(loan_events.c.loan_id.in_(missing[start:start + 500]))
                              .order_by(loan_events.c.seq)):
            events[e.loan_id].append(e)

    def replay(row: Record) -> tuple[int, int]:
        # Read again if it was kept when looked for and dropped since.
        found = events[row.id] if row.id in events else events_of(conn, row.id)
        on = loan_on(terms_of(row), found, day, disbursed_on=row.disbursed_on,
                     late_rate=rates[row.lender_id, row.category],
                     flagged_restructured=bool(row.restructured))
        return on.overdue, on.days_past_due

    return {r.id: _ARREARS.get(keys[r.id], partial(replay, r)) for r in rows}


# The day's arrears of the loans a filtered list has looked at since the last write, per
# database, write generation and day (``arrears_seen``).
_SEEN: ReadCache[dict[str, tuple[int, int]]] = ReadCache(kept=8)


def arrears_seen(conn: Connection, day: date) -> dict[str, tuple[int, int]]:
    """(overdue cents, days past due) on ``day`` of the loans looked at since the last
    write, as ``arrears_by_loan`` answers them: a dict that the caller fills with the
    figures it computes, kept while nothing is written (each write generation has its
    own). Call it before ``conn`` reads any row: the generation is read first, so the
    snapshot the figures are computed on is never older than it."""
    return _SEEN.get(conn, ("arrears", day), lambda _: {})


# A loan as a reader sees it on a day (``loan_with_state(historical=True)``), kept per
# loan row, late-interest rate, day, operation ids and the names of its borrower and
# lender: everything it is computed from (operations are only ever added). After a
# write only the loans it touched are built again. About 50 KB each at MAG scale (25
# installments on average): a few pages of 50.
_ON_DAY: Memo[tuple[Hashable, ...], LoanOut] = Memo(kept=250)


def loans_on(conn: Connection, rows: Sequence[Record], day: date) -> list[LoanOut]:
    """``loan_with_state(conn, row, day, historical=True)`` of each row, in a few
    queries (operations, names, categories), the loans seen since they last changed
    kept. Callers must not change what they get."""
    events = events_by_loan(conn, [r.id for r in rows])
    names = party_names(conn, [i for r in rows for i in (r.borrower_id, r.lender_id)])
    db = engine_token(conn.engine)
    rates: dict[tuple[str, str], Decimal] = {}
    out: list[LoanOut] = []
    for r in rows:
        if (r.lender_id, r.category) not in rates:
            rates[r.lender_id, r.category] = late_rate_of(conn, r)
        late = rates[r.lender_id, r.category]
        found = events.get(r.id, [])
        key = (db, tuple(r), late, day, tuple(e.id for e in found),
               names.get(r.borrower_id), names.get(r.lender_id))
        out.append(_ON_DAY.get(key, partial(_loan_on_day, r, found, day, late, names)))
    return out


def _loan_on_day(row: Record, events: Sequence[Record], day: date, late: Decimal,
                 names: Mapping[str, str]) -> LoanOut:
    on = loan_on(terms_of(row), events, day, disbursed_on=row.disbursed_on,
                 late_rate=late, flagged_restructured=bool(row.restructured))
    return loan_json(row, on.replay, day, summarize_on(on), late, status=on.status,
                     restructured=on.restructured, names=names)


def loan_with_state(conn: Connection, row: Record, as_of: date, *, historical: bool = False
                    ) -> LoanOut:
    """The loan as of ``as_of``. ``historical`` (what a reader asks, as of a date or
    today): everything, status and restructuring included, as it stood that day
    (``ledger.as_of.loan_on``); otherwise (a command's answer) the status is the one the
    command left."""
    late = late_rate_of(conn, row)
    events = events_of(conn, row.id)
    names = party_names(conn, (row.borrower_id, row.lender_id))
    if historical:
        return _loan_on_day(row, events, as_of, late, names)
    # The summary (next installment, due now, paid) is always the as-of view of the day.
    on = loan_on(terms_of(row), events, as_of, disbursed_on=row.disbursed_on,
                 late_rate=late, flagged_restructured=bool(row.restructured))
    summary = summarize_on(on)
    if row.status == "approved":
        return loan_json(row, None, as_of, summary, late, status="approved", names=names)
    # The same replay ``loan_on`` made (the same terms, operations, day, rate and flag).
    state = on.replay if on.replay is not None else loan_state(row, events, as_of, late)
    return loan_json(row, state, as_of, summary, late, status=row.status, names=names)


def borrower_total(conn: Connection, borrower_id: str) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(loans.c.principal_minor), 0)).where(
        loans.c.borrower_id == borrower_id, loans.c.status.in_(("approved", "active")))
    ).scalar_one())


def party_row(conn: Connection, party_id: str) -> Record | None:
    return conn.execute(select(parties).where(parties.c.id == party_id)).first()


def party_of_kind(conn: Connection, party_id: str | None, kind: str | tuple[str, ...],
                  field: str) -> Record:
    """The party a body names in ``field``: 422 unless it is one of ``kind``."""
    kinds = (kind,) if isinstance(kind, str) else kind
    row = party_row(conn, party_id) if party_id else None
    if row is None or row.kind not in kinds:
        raise invalid(field, f"no {' or '.join(kinds)} with this id")
    return row


def record_payment(conn: Connection, ctx: AppContext, row: Record, op_id: str, amount: int,
                   on: date, username: str, *, kind: str, payer_kind: str = "borrower",
                   payer_ref: str | None = None, params: Mapping[str, object] | None = None,
                   prefix: list[Transfer] | None = None, note: str | None = None
                   ) -> tuple[AllocationOut, Record]:
    """Record a payment towards the loan and book it (and any correction it causes).

    The loan's row is locked first: the booking is computed from every operation and
    transfer of the loan, which a concurrent payment must not change meanwhile."""
    row = relock(conn, loans, row.id)
    # A written-off loan still takes money: it is booked as recovery. A repaid loan
    # takes a payment dated before it was repaid (it was active then): the order in
    # which payments are entered must not change the result.
    if row.status not in ("active", "written_off") and not (
            row.status == "repaid" and on <= repaid_on(conn, row)):
        raise Conflict("loan_not_active", f"the loan is {row.status}")
    if on < (row.disbursed_on or row.disbursement_date):
        raise invalid("date", "before the disbursement")
    refuse_closed(conn, on, "a payment")
    record_event(conn, event_id=op_id, loan_id=row.id, kind=kind, on=on,
                 amount=amount, payer_kind=payer_kind, payer_ref=payer_ref,
                 params=params, note=note, username=username)
    state = rebook(conn, ctx.store, row, op_id, prefix or ())
    row = refresh_status(conn, ctx.events, row, state)
    return allocation_of(state, op_id, amount), row


def allocation_of(state: LoanState, op_id: str, amount: int) -> AllocationOut:
    """How payment ``op_id`` of ``amount`` cents splits in the replay ``state``."""
    a = state.allocations.get(op_id)
    if a is None:  # after the write-off: recovery, up to the debt then; the rest excess
        recovery = state.recoveries.get(op_id, 0)
        return AllocationOut(penalty=money(0), interest=money(0), principal=money(0),
                             excess=money(amount - recovery), recovery=money(recovery))
    return AllocationOut(penalty=money(cents(a.penalty)), interest=money(cents(a.interest)),
                         principal=money(cents(a.principal)), excess=money(cents(a.excess)))


def reverse_loan_events(conn: Connection, ctx: AppContext, row: Record, rev_id: str,
                        event_ids: Sequence[str], reason: str, username: str, *,
                        then: Callable[[Record], None] | None = None) -> Record:
    """Reverse the loan's operations ``event_ids`` (payments): each counts as never
    recorded from its own value date. The journal is brought in line by compensating
    transfers (refused with 409 ``insufficient_funds`` when the pool would be short on
    any day); ``then(row)`` runs after the booking and before the status is refreshed
    (a repaid loan owing again is active again). The loan row after."""
    row = relock(conn, loans, row.id)
    dates = {e.id: e.value_date for e in events_of(conn, row.id)}
    for event_id in event_ids:
        record_event(conn, event_id=str(uuid.uuid5(uuid.UUID(rev_id), event_id)),
                     loan_id=row.id, kind=REVERSAL, on=dates[event_id],
                     params={"of": event_id}, note=reason, username=username)
    state = rebook(conn, ctx.store, row, rev_id, guard=refuse_shortfall)
    if then is not None:
        then(row)
    return refresh_status(conn, ctx.events, row, state, op_id=rev_id, username=username)
