"""Solidarity funds: every GAS has one, a DES or a lender may hold a shared one; GAS
contribute (perhaps earmarked for a producer), and a fund pays producers out as grants or
as loss cover on a loan.

Rules come from ``ledger.funds``: a payout takes the producer's earmark first, then money
not earmarked, never another producer's earmark. Balances are the ledger accounts'.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

import msgspec
from sqlalchemy import Connection, case, func, insert, select

from ledger import funds as fund_rules
from ledger.as_of import FundOnDay, fund_on
from ledger.chart import account, account_id
from ledger.funds import surcharge_contribution
from ledger.lending import close_chain
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
    query_date,
    rfc3339,
    where_equal,
)
from service.app.context import AppContext
from service.app.errors import Conflict, Errors, Forbidden, NotFound, invalid
from service.app.events import PartyCreated
from service.app.inputs import (
    Input,
    an_id,
    client_id,
    custom,
    day,
    decimal,
    minor_units,
    one_of,
    optional_id,
    text,
)
from service.app.instrument_legs import leg, store
from service.app.ledger_ops import ensure_accounts, post
from service.app.lender_scope import hide_other_lender
from service.app.lending import LoanOut, loan_with_state, record_payment, reverse_loan_events
from service.app.parties import get_party, name_of, party_names, refuse_acting_for
from service.app.references import CONTRIBUTION, PAYOUT, next_reference
from service.app.reversals import (
    ReversalIn,
    ReversalOut,
    live,
    parse_reversal,
    record_reversal,
    refuse_shortfall,
    reversal_of,
    reversal_out,
    reversals_of,
)
from service.app.types import Day, DecimalText, Timestamp, Uuid
from service.app.views import Money, money
from service.db.engine import lock_row, relock
from service.db.records import Record
from service.db.tables import contributions, funds, loans, payouts

PayoutKind = Literal["grant", "loss_cover"]


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


# -- what the use cases read from those bodies ------------------------------------------


def _as_sent(value: BasisIn, field: str, errors: Errors) -> BasisIn:
    return value


@dataclass(frozen=True, kw_only=True)
class SurchargeBasis(Input):
    rate: int = minor_units()
    quantity: Decimal = decimal(max_decimals=3)
    sent: BasisIn = custom(_as_sent, source="")  # its texts, for the unit and the refusal


def _basis(value: BasisIn | None, field: str, errors: Errors) -> SurchargeBasis | None:
    return None if value is None else SurchargeBasis.read_into(value, errors, f"{field}.")


@dataclass(frozen=True, kw_only=True)
class NewContribution(Input):
    id: str = client_id()
    gas_id: str = an_id()
    fund_id: str | None = optional_id()
    earmark_producer_id: str | None = optional_id()
    amount: int = minor_units()
    on: date = day("date", past=True)
    basis: SurchargeBasis | None = custom(_basis)

    def check(self, errors: Errors) -> None:
        # Compared only when every field was read.
        if self.basis is None or not self.read_fine(*self.readers()):
            return
        expected = surcharge_contribution(self.basis.rate, self.basis.quantity)
        if expected != self.amount:
            sent = self.basis.sent
            errors.add("amount", f"the basis gives {lending.dec(expected)} EUR "
                       f"({sent.rate.amount} x {sent.quantity} {sent.unit})")


@dataclass(frozen=True, kw_only=True)
class SharedFund(Input):
    id: str = client_id()
    owner_id: str = an_id()
    name: str = text(at_most=200, message="1 to 200 characters")


@dataclass(frozen=True, kw_only=True)
class Payout(Input):
    id: str = client_id()
    producer_id: str = an_id()
    loan_id: str | None = optional_id()
    amount: int = minor_units()
    on: date = day("date", past=True)
    kind: str = one_of("grant", "loss_cover")

    def check(self, errors: Errors) -> None:
        if self.kind == "loss_cover" and self.loan_id is None and self.read_fine("loan_id"):
            errors.add("loan_id", "a loss cover names the loan it covers")


class BasisOut(msgspec.Struct):
    """A per-order surcharge the contribution was computed from: rate x quantity."""

    rate: Money
    quantity: DecimalText
    unit: str


class ContributionOut(msgspec.Struct, omit_defaults=True):
    id: Uuid
    reference: str
    fund_id: Uuid
    gas_id: Uuid
    gas_name: str
    amount: Money
    date: Day
    earmark_producer_id: Uuid | None
    earmark_producer_name: str | None
    note: str | None
    basis: BasisOut | None
    source: Literal["gas", "prepayment"]  # a GAS's own, or a prepayment's remainder
    created_at: Timestamp
    reversed: bool
    reversal: ReversalOut | msgspec.UnsetType = msgspec.UNSET  # who, when, why


class ContributionPage(msgspec.Struct):
    items: list[ContributionOut]
    next_cursor: str | None


class EarmarkOut(msgspec.Struct):
    """Money of a fund earmarked for one producer."""

    producer_id: Uuid
    producer_name: str
    amount: Money


class FundOut(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A fund and its money. A producer sees only its own earmark (as ``balance``, in
    ``earmarked`` and in ``earmarks``), without ``owner_id`` or ``unearmarked``."""

    id: Uuid
    name: str
    gas_id: Uuid | None
    gas_name: str | None
    owner_id: Uuid | msgspec.UnsetType = msgspec.UNSET
    owner_name: str | msgspec.UnsetType = msgspec.UNSET
    balance: Money
    unearmarked: Money | msgspec.UnsetType = msgspec.UNSET
    earmarked: dict[Uuid, Money]
    earmarks: list[EarmarkOut]  # the same, as a list with the producers' names


class FundPage(msgspec.Struct):
    items: list[FundOut]
    next_cursor: str | None


class PayoutOut(msgspec.Struct, omit_defaults=True):
    id: Uuid
    reference: str
    fund_id: Uuid
    producer_id: Uuid
    producer_name: str
    amount: Money
    from_earmark: Money
    from_general: Money
    date: Day
    kind: PayoutKind
    loan_id: Uuid | None
    created_at: Timestamp
    reversed: bool
    reversal: ReversalOut | msgspec.UnsetType = msgspec.UNSET  # who, when, why


class ContributionReversalOut(msgspec.Struct):
    """The reversed contribution and its fund as it now stands."""

    contribution: ContributionOut
    fund: FundOut


class PayoutReversalOut(msgspec.Struct, omit_defaults=True):
    """The reversed payout, its fund as it now stands, and for a loss cover the loan."""

    payout: PayoutOut
    fund: FundOut
    loan: LoanOut | msgspec.UnsetType = msgspec.UNSET


class PayoutPage(msgspec.Struct):
    items: list[PayoutOut]
    next_cursor: str | None


def contribution_out(row: Record, names: Mapping[str, str], reversal: Record | None = None
                     ) -> ContributionOut:
    """``names``: the parties' names by id; ``reversal``: its row in the register of
    reversals, if it was reversed."""
    return ContributionOut(
        id=row.id, reference=row.reference, fund_id=row.fund_id, gas_id=row.gas_id,
        gas_name=names.get(row.gas_id, ""), amount=money(row.amount_minor),
        date=row.date.isoformat(), earmark_producer_id=row.earmark_producer_id,
        earmark_producer_name=name_of(names, row.earmark_producer_id), note=row.note,
        basis=None if row.basis is None else msgspec.convert(row.basis, BasisOut),
        source=row.source, created_at=rfc3339(row.created_at) or "",
        reversed=reversal is not None,
        reversal=msgspec.UNSET if reversal is None else reversal_out(reversal))


def payout_out(row: Record, names: Mapping[str, str], reversal: Record | None = None) -> PayoutOut:
    return PayoutOut(
        id=row.id, reference=row.reference, fund_id=row.fund_id, producer_id=row.producer_id,
        producer_name=names.get(row.producer_id, ""),
        amount=money(row.amount_minor), from_earmark=money(row.from_earmark_minor),
        from_general=money(row.from_general_minor), date=row.date.isoformat(),
        kind=row.kind, loan_id=row.loan_id, created_at=rfc3339(row.created_at) or "",
        reversed=reversal is not None,
        reversal=msgspec.UNSET if reversal is None else reversal_out(reversal))


def fund_out(conn: Connection, row: Record, principal: Principal, day: date | None = None,
             *, state: FundOnDay | None = None, names: Mapping[str, str] | None = None
             ) -> FundOut:
    """The fund as it stood at the end of ``day`` (default today); ``state`` and
    ``names`` when the caller read them already (a page of funds reads them at once)."""
    if state is None:
        state = fund_state_on(conn, row, day or today())
    marks = {p: c for p, c in state.earmarks.items() if c}
    if principal.role == "producer":
        me = principal.party_id or ""
        marks = {me: marks.get(me, 0)}
    if names is None:
        names = party_names(conn, [row.gas_id, row.owner_id, *marks])
    earmarks = [EarmarkOut(p, names.get(p, ""), money(c)) for p, c in sorted(marks.items())]
    if principal.role == "producer":
        own = money(marks[principal.party_id or ""])
        return FundOut(id=row.id, name=row.name, gas_id=row.gas_id,
                       gas_name=name_of(names, row.gas_id), balance=own,
                       earmarked={principal.party_id or "": own}, earmarks=earmarks)
    return FundOut(id=row.id, name=row.name, gas_id=row.gas_id,
                   gas_name=name_of(names, row.gas_id), owner_id=row.owner_id,
                   owner_name=names.get(row.owner_id, ""),
                   balance=money(state.balance), unearmarked=money(state.general),
                   earmarked={p: money(c) for p, c in sorted(marks.items())},
                   earmarks=earmarks)


def gas_fund_id(gas_id: str) -> str:
    return str(uuid.uuid5(uuid.UUID(gas_id), "solidarity-fund"))


def create_fund(conn: Connection, *, fund_id: str, name: str, gas_id: str | None,
                owner_id: str, username: str | None) -> Record:
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


def get_fund(conn: Connection, fund_id: str) -> Record:
    row = conn.execute(select(funds).where(funds.c.id == fund_id)).first()
    if row is None:
        raise NotFound("fund")
    return row


def earmark_account(fund_id: str, producer_id: str) -> str:
    return account_id("earmark", fund_id, producer_id)


_FEW_FUNDS = 100


def fund_state(conn: Connection, fund: Record) -> fund_rules.FundState:
    """The fund's money now: its general account and its earmarks' accounts."""
    return fund_states(conn, [fund])[fund.id]


def fund_states(conn: Connection, fund_rows: Sequence[Record]) -> dict[str, fund_rules.FundState]:
    """``fund_state`` of many funds in two queries (a MAG has a fund per GAS)."""
    producers: dict[str, set[str]] = defaultdict(set)
    earmarked = select(contributions.c.fund_id, contributions.c.earmark_producer_id).where(
        contributions.c.earmark_producer_id.is_not(None)).distinct()
    if len(fund_rows) <= _FEW_FUNDS:  # else every fund's earmarks, in one pass
        earmarked = earmarked.where(contributions.c.fund_id.in_([f.id for f in fund_rows]))
    for r in conn.execute(earmarked).all():
        producers[r.fund_id].add(r.earmark_producer_id)
    ids = [account_id("fund", f.id) for f in fund_rows] + [
        earmark_account(f.id, p) for f in fund_rows for p in sorted(producers.get(f.id, ()))]
    accounts = store(conn).get_accounts(conn, ids)
    out: dict[str, fund_rules.FundState] = {}
    for f in fund_rows:
        general_id = account_id("fund", f.id)
        general = accounts[general_id].balance if general_id in accounts else 0
        marks = {p: accounts[earmark_account(f.id, p)].balance
                 for p in sorted(producers.get(f.id, ()))
                 if earmark_account(f.id, p) in accounts}
        out[f.id] = fund_rules.FundState(general + sum(marks.values()), marks)
    return out


def _fund_entries(conn: Connection, fund: Record, day: date | None = None
                  ) -> tuple[list[tuple[date, str | None, int]],
                             list[tuple[date, str, int, int]]]:
    """The fund's contributions and payouts as ``ledger.as_of.fund_on`` takes them."""
    c_query = select(contributions).where(contributions.c.fund_id == fund.id,
                                          live(contributions, "contribution"))
    p_query = select(payouts).where(payouts.c.fund_id == fund.id, live(payouts, "payout"))
    if day is not None:
        c_query = c_query.where(contributions.c.date <= day)
        p_query = p_query.where(payouts.c.date <= day)
    return ([(c.date, c.earmark_producer_id, c.amount_minor) for c in conn.execute(c_query)],
            [(p.date, p.producer_id, p.from_general_minor, p.from_earmark_minor)
             for p in conn.execute(p_query)])


def fund_state_on(conn: Connection, fund: Record, day: date) -> FundOnDay:
    """The fund's money at the end of ``day``: its contributions and payouts by their
    dates (``ledger.as_of.fund_on``), whenever they were recorded (reversed ones never).
    Shown as it is, even
    if a payout recorded before payouts were checked by date took money ahead of it."""
    return fund_states_on(conn, [fund], day)[fund.id]


def fund_states_on(conn: Connection, fund_rows: Sequence[Record], day: date
                   ) -> dict[str, FundOnDay]:
    """``fund_state_on`` of many funds in two queries a 500 funds, summed by the database:
    ``fund_on`` of each fund's entries summed per earmark (its sums are all it keeps)."""
    given: dict[str, list[tuple[date, str | None, int]]] = {f.id: [] for f in fund_rows}
    paid: dict[str, list[tuple[date, str, int, int]]] = {f.id: [] for f in fund_rows}
    ids = list(given)
    from_earmark = payouts.c.from_earmark_minor
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for c in conn.execute(
                select(contributions.c.fund_id, contributions.c.earmark_producer_id,
                       func.sum(contributions.c.amount_minor).label("amount"))
                .where(contributions.c.fund_id.in_(chunk), contributions.c.date <= day,
                       live(contributions, "contribution"))
                .group_by(contributions.c.fund_id, contributions.c.earmark_producer_id)):
            given[c.fund_id].append((day, c.earmark_producer_id, int(c.amount)))
        for p in conn.execute(
                select(payouts.c.fund_id, payouts.c.producer_id,
                       func.sum(payouts.c.from_general_minor).label("general"),
                       # What payouts took from an earmark, and whether any did (a
                       # payout taking nothing from it leaves the earmark unnamed).
                       func.sum(case((from_earmark != 0, from_earmark), else_=0))
                       .label("earmark"),
                       func.count(case((from_earmark != 0, 1))).label("from_earmark"))
                .where(payouts.c.fund_id.in_(chunk), payouts.c.date <= day,
                       live(payouts, "payout"))
                .group_by(payouts.c.fund_id, payouts.c.producer_id)):
            paid[p.fund_id].append((day, p.producer_id, int(p.general), 0))
            if p.from_earmark:
                paid[p.fund_id].append((day, p.producer_id, 0, int(p.earmark)))
    return {f: fund_on(given[f], paid[f], day) for f in ids}


def available_from(conn: Connection, fund: Record, producer_id: str, day: date
                   ) -> fund_rules.FundState:
    """What a payout dated ``day`` may take: the least the fund held, not earmarked and
    earmarked for the producer, on that day and on every later day with an entry, so a
    back-dated payout never spends money that came in after its date or that a later
    payout already spent."""
    given, paid = _fund_entries(conn, fund)
    days = sorted({day, *(d for d, *_ in given if d > day), *(d for d, *_ in paid if d > day)})
    states = [fund_on(given, paid, d) for d in days]
    general = max(0, min(s.general for s in states))
    own = max(0, min(s.earmarks.get(producer_id, 0) for s in states))
    return fund_rules.FundState(general + own, {producer_id: own} if own else {})


def visible_fund(conn: Connection, principal: Principal, fund_id: str) -> Record:
    """Officers see every fund, a GAS user its GAS's, a producer those earmarking money
    for it."""
    row = conn.execute(select(funds).where(funds.c.id == fund_id)).first()
    if row is None:
        raise NotFound("fund")
    if principal.is_staff or (principal.role == "gas" and row.gas_id == principal.party_id):
        return row
    if principal.role == "producer" and principal.party_id and \
            fund_state(conn, row).earmarked.get(principal.party_id, 0) > 0:
        return row
    raise NotFound("fund")


def contribute(conn: Connection, *, contribution_id: str, fund: Record, gas_id: str, amount: int,
               on: date, earmark_producer_id: str | None, note: str | None,
               basis: Mapping[str, object] | None, username: str) -> Record:
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
        reference=next_reference(conn, CONTRIBUTION), created_at=now_utc(),
        created_by=username))
    post(conn, st, close_chain([leg(contribution_id, "contribution",
                                    account_id("gas-external", gas_id), target, amount,
                                    "contribution", f"fund:{fund.id}", on)]), {})
    return conn.execute(select(contributions).where(contributions.c.id == contribution_id)).one()


def payout(conn: Connection, ctx: AppContext, *, payout_id: str, fund: Record, producer_id: str,
           amount: int, on: date, kind: str, loan: Record | None, username: str) -> Record:
    """Earmarked money for that producer first, then money not earmarked; never money
    earmarked for another producer."""
    lock_row(conn, funds, fund.id)  # the payout plan is made from the balances it reads
    if loan is not None:
        loan = lock_row(conn, loans, loan.id)
    state = available_from(conn, fund, producer_id, on)
    try:
        plan = fund_rules.plan_payout(state, producer_id, amount)
    except fund_rules.InsufficientFunds as exc:
        raise Conflict("insufficient_funds", f"the fund has {lending.dec(exc.available_cents)}"
                       " EUR available for this producer") from None
    conn.execute(insert(payouts).values(
        id=payout_id, fund_id=fund.id, producer_id=producer_id, amount_minor=amount,
        from_earmark_minor=plan.from_earmark_cents, from_general_minor=plan.from_general_cents,
        date=on, kind=kind, loan_id=loan.id if loan is not None else None,
        reference=next_reference(conn, PAYOUT), created_at=now_utc(), created_by=username))
    sources = [(earmark_account(fund.id, producer_id), plan.from_earmark_cents, "earmark"),
               (account_id("fund", fund.id), plan.from_general_cents, "general")]
    st = store(conn)
    if kind == "grant":
        ensure_accounts(conn, st, [account("producer-grants", producer_id,
                                           party_id=producer_id)])
        post(conn, st, close_chain([
            leg(payout_id, f"grant:{label}", src, account_id("producer-grants", producer_id),
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


# -- use cases ------------------------------------------------------------------------------


def contribute_to_fund(ctx: AppContext, principal: Principal, data: ContributionIn
                       ) -> tuple[int, ContributionOut]:
    """A GAS puts money into a fund (its own by default): officers, or the GAS's user."""
    new = NewContribution.read(data)
    gas_id, earmark = new.gas_id, new.earmark_producer_id
    basis: dict[str, object] | None = None
    if new.basis is not None:
        basis = msgspec.to_builtins(BasisOut(money(new.basis.rate), str(new.basis.quantity),
                                             new.basis.sent.unit))

    def before(conn: Connection) -> None:
        if not (principal.is_staff or (principal.role == "gas"
                                       and principal.party_id == gas_id)):
            refuse_acting_for(conn, principal, gas_id, "officers, or a GAS user for its own GAS")

    def run(conn: Connection, _: None) -> tuple[int, ContributionOut]:
        gas = get_party(conn, gas_id)
        if gas is None or gas.kind != "gas":
            raise invalid("gas_id", "no GAS with this id")
        fund = conn.execute(select(funds).where(
            funds.c.id == (new.fund_id or gas_fund_id(gas_id)))).first()
        if fund is None:
            raise invalid("fund_id", "no fund with this id")
        if not principal.is_staff and fund.gas_id != principal.party_id:
            raise NotFound("fund")  # a GAS user sees only its own GAS's fund
        if earmark:
            producer = get_party(conn, earmark)
            if producer is None or producer.kind != "producer":
                raise invalid("earmark_producer_id", "no producer with this id")
        refuse_closed(conn, new.on, "a contribution")
        row = contribute(conn, contribution_id=new.id, fund=fund, gas_id=gas_id,
                         amount=new.amount, on=new.on, earmark_producer_id=earmark,
                         note=data.note, basis=basis, username=principal.username)
        return 201, contribution_out(row, party_names(conn, (gas_id, earmark)))

    return command(ctx, principal, "POST /api/contributions", data, run, before,
                   returns=ContributionOut)


def list_contributions(ctx: AppContext, principal: Principal, gas_id: str | None,
                       fund_id: str | None, limit: int | None, cursor: str | None,
                       reference: str | None = None) -> ContributionPage:
    gas_id, fund_id = check_filters({"gas_id": gas_id, "fund_id": fund_id})

    def read(conn: Connection) -> ContributionPage:
        query = where_equal(select(contributions), contributions, gas_id=gas_id,
                            fund_id=fund_id, reference=reference)
        if principal.role == "gas":
            query = query.where(contributions.c.gas_id == principal.party_id)
        elif principal.role == "producer":
            query = query.where(contributions.c.earmark_producer_id == principal.party_id)
        rows, nxt = paginate(conn, query, contributions.c.seq, limit, cursor)
        undone = reversals_of(conn, "contribution", [r.id for r in rows])
        names = party_names(conn, [i for r in rows for i in (r.gas_id,
                                                             r.earmark_producer_id)])
        return ContributionPage([contribution_out(r, names, undone.get(r.id)) for r in rows],
                                nxt)

    return ctx.read(read)


def list_funds(ctx: AppContext, principal: Principal, gas_id: str | None, limit: int | None,
               cursor: str | None, as_of: str | None = None) -> FundPage:
    """The funds with their money as of ``as_of`` (default today)."""
    (gas_id,) = check_filters({"gas_id": gas_id})
    day = query_date(as_of, "as_of") or today()

    def read(conn: Connection) -> FundPage:
        query = where_equal(select(funds), funds, gas_id=gas_id)
        if principal.role == "gas":
            query = query.where(funds.c.gas_id == principal.party_id)
        if principal.role == "producer":
            # Only the funds earmarking money for it: few, so one page.
            rows = [r for r in conn.execute(query.order_by(funds.c.seq)).all()
                    if fund_state(conn, r).earmarked.get(principal.party_id or "", 0)]
            return FundPage([fund_out(conn, r, principal, day) for r in rows], None)
        rows, nxt = paginate(conn, query, funds.c.seq, limit, cursor)
        states = fund_states_on(conn, rows, day)
        names = party_names(conn, [i for r in rows for i in (
            r.gas_id, r.owner_id, *states[r.id].earmarks)])
        return FundPage([fund_out(conn, r, principal, day, state=states[r.id], names=names)
                         for r in rows], nxt)

    return ctx.read(read)


def funds_earmarking(ctx: AppContext, principal: Principal, producer_id: str
                     ) -> list[tuple[FundOut, Money]]:
    """The funds holding money earmarked for the producer today, each with that money
    (officers): only funds that ever took a contribution earmarked for it can."""
    principal.require("officer")
    day = today()

    def read(conn: Connection) -> list[tuple[FundOut, Money]]:
        ids = select(contributions.c.fund_id).where(
            contributions.c.earmark_producer_id == producer_id).distinct()
        out = []
        for row in conn.execute(select(funds).where(funds.c.id.in_(ids))
                                .order_by(funds.c.seq)).all():
            fund = fund_out(conn, row, principal, day)
            if producer_id in fund.earmarked:
                out.append((fund, fund.earmarked[producer_id]))
        return out

    return ctx.read(read)


def open_shared_fund(ctx: AppContext, principal: Principal, data: FundIn
                     ) -> tuple[int, FundOut]:
    """Officers open a fund held by a DES, a lender or a GAS, shared by many GAS."""
    new = SharedFund.read(data)
    principal.require("officer")

    def run(conn: Connection, _: None) -> tuple[int, FundOut]:
        party = get_party(conn, new.owner_id)
        if party is None or party.kind not in ("des", "lender", "gas"):
            raise invalid("owner_id", "a DES, a lender or a GAS holds a shared fund")
        row = create_fund(conn, fund_id=new.id, name=new.name, gas_id=None,
                          owner_id=new.owner_id, username=principal.username)
        return 201, fund_out(conn, row, principal)

    return command(ctx, principal, "POST /api/funds", data, run, returns=FundOut)


def read_fund(ctx: AppContext, principal: Principal, fund_id: str) -> FundOut:
    fid = path_uuid(fund_id, "fund")
    return ctx.read(lambda conn: fund_out(conn, visible_fund(conn, principal, fid), principal))


def pay_out(ctx: AppContext, principal: Principal, fund_id: str, data: PayoutIn
            ) -> tuple[int, PayoutOut]:
    """Officers pay a producer from the fund: a grant, or loss cover on one of its loans."""
    fid = path_uuid(fund_id, "fund")
    paid = Payout.read(data)

    def before(conn: Connection) -> Record:
        fund = visible_fund(conn, principal, fid)
        principal.require("officer")
        # Loss cover on another lender's loan: 404 for an officer bound to a lender.
        if paid.loan_id is not None:
            lender = conn.execute(select(loans.c.lender_id).where(
                loans.c.id == paid.loan_id)).scalar_one_or_none()
            if lender is not None:
                hide_other_lender(principal, lender, "loan")
        return fund

    def run(conn: Connection, fund: Record) -> tuple[int, PayoutOut]:
        producer = get_party(conn, paid.producer_id)
        if producer is None or producer.kind != "producer":
            raise invalid("producer_id", "no producer with this id")
        loan = None
        if paid.kind == "loss_cover":
            loan = conn.execute(select(loans).where(loans.c.id == paid.loan_id)).first()
            if loan is None or loan.borrower_id != paid.producer_id:
                raise invalid("loan_id", "no loan of this producer with this id")
        refuse_closed(conn, paid.on, "a payout")
        row = payout(conn, ctx, payout_id=paid.id, fund=fund, producer_id=paid.producer_id,
                     amount=paid.amount, on=paid.on, kind=paid.kind, loan=loan,
                     username=principal.username)
        return 201, payout_out(row, {producer.id: producer.name})

    return command(ctx, principal, f"POST /api/funds/{fid}/payouts", data, run, before,
                   returns=PayoutOut)


def list_payouts(ctx: AppContext, principal: Principal, fund_id: str, limit: int | None,
                 cursor: str | None, reference: str | None = None) -> PayoutPage:
    fid = path_uuid(fund_id, "fund")

    def read(conn: Connection) -> PayoutPage:
        visible_fund(conn, principal, fid)
        query = select(payouts).where(payouts.c.fund_id == fid)
        if principal.role == "producer":
            query = query.where(payouts.c.producer_id == principal.party_id)
        query = where_equal(query, payouts, reference=reference)
        rows, nxt = paginate(conn, query, payouts.c.seq, limit, cursor)
        undone = reversals_of(conn, "payout", [r.id for r in rows])
        names = party_names(conn, [r.producer_id for r in rows])
        return PayoutPage([payout_out(r, names, undone.get(r.id)) for r in rows], nxt)

    return ctx.read(read)


# -- corrections ----------------------------------------------------------------------------


def payout_event_ids(row: Record) -> list[str]:
    """The loan operations a loss cover recorded: one per part (earmark, general)."""
    parts = (("earmark", row.from_earmark_minor), ("general", row.from_general_minor))
    return [str(uuid.uuid5(uuid.UUID(row.id), label)) for label, part in parts if part > 0]


def reverse_contribution(ctx: AppContext, principal: Principal, contribution_id: str,
                         data: ReversalIn) -> tuple[int, ContributionReversalOut]:
    """The contribution counts as never made: its money leaves the fund (or the earmark)
    on its date, back to the GAS. Officers, or the GAS's own user."""
    cid = path_uuid(contribution_id, "contribution")
    rev_id, reason = parse_reversal(data)

    def before(conn: Connection) -> Record:
        row = conn.execute(select(contributions).where(contributions.c.id == cid)).first()
        if row is None:
            raise NotFound("contribution")
        if principal.is_staff or (principal.role == "gas" and row.gas_id == principal.party_id):
            return row
        if principal.role == "producer" and row.earmark_producer_id == principal.party_id:
            raise Forbidden("officers, or the contributing GAS's user, reverse a contribution")
        raise NotFound("contribution")

    def run(conn: Connection, row: Record) -> tuple[int, ContributionReversalOut]:
        fund = relock(conn, funds, row.fund_id)
        if reversal_of(conn, "contribution", row.id) is not None:
            raise Conflict("already_reversed", "this contribution was already reversed")
        if row.source != "gas":
            raise Conflict("closed", "this contribution is the remainder of a closed "
                           "prepayment: it is settled by that close, not reversed alone")
        # A closed period refuses before the shortfall replay is worked out.
        refuse_closed(conn, row.date, "a reversal of a contribution")
        target = (earmark_account(fund.id, row.earmark_producer_id)
                  if row.earmark_producer_id else account_id("fund", fund.id))
        batch = close_chain([leg(rev_id, "reversal", target,
                                 account_id("gas-external", row.gas_id), row.amount_minor,
                                 "contribution_reversal", f"fund:{fund.id}", row.date)])
        st = store(conn)
        refuse_shortfall(conn, st, batch)
        reversal = record_reversal(conn, rev_id=rev_id, kind="contribution", target_id=row.id,
                                   value_date=row.date, reason=reason,
                                   username=principal.username)
        post(conn, st, batch, {target: ("insufficient_funds",
                                        "the fund no longer holds this money")})
        names = party_names(conn, (row.gas_id, row.earmark_producer_id))
        return 200, ContributionReversalOut(contribution_out(row, names, reversal),
                                            fund_out(conn, fund, principal))

    return command(ctx, principal, f"POST /api/contributions/{cid}/reversal", data, run,
                   before, returns=ContributionReversalOut)


def reverse_payout(ctx: AppContext, principal: Principal, fund_id: str, payout_id: str,
                   data: ReversalIn) -> tuple[int, PayoutReversalOut]:
    """The payout counts as never made: a grant's money comes back from the producer, a
    loss cover's from the loan (which owes it again). Officers."""
    fid = path_uuid(fund_id, "fund")
    pid = path_uuid(payout_id, "payout")
    rev_id, reason = parse_reversal(data)

    def before(conn: Connection) -> tuple[Record, Record]:
        fund = visible_fund(conn, principal, fid)
        row = conn.execute(select(payouts).where(payouts.c.id == pid,
                                                 payouts.c.fund_id == fid)).first()
        if row is None or (principal.role == "producer"
                           and row.producer_id != principal.party_id):
            raise NotFound("payout")
        principal.require("officer")
        return fund, row

    def run(conn: Connection, target: tuple[Record, Record]) -> tuple[int, PayoutReversalOut]:
        fund, row = target
        lock_row(conn, funds, fund.id)
        loan = lock_row(conn, loans, row.loan_id) if row.loan_id is not None else None
        if reversal_of(conn, "payout", row.id) is not None:
            raise Conflict("already_reversed", "this payout was already reversed")
        reversal = record_reversal(conn, rev_id=rev_id, kind="payout", target_id=row.id,
                                   value_date=row.date, reason=reason,
                                   username=principal.username)
        st = store(conn)
        loan_out: LoanOut | msgspec.UnsetType = msgspec.UNSET
        if row.kind == "grant":
            grants = account_id("producer-grants", row.producer_id)
            batch = close_chain([
                leg(rev_id, f"grant:{label}", grants, dest, part, "grant_reversal",
                    f"fund:{fund.id}", row.date)
                for dest, part, label in (
                    (earmark_account(fund.id, row.producer_id), row.from_earmark_minor,
                     "earmark"),
                    (account_id("fund", fund.id), row.from_general_minor, "general"))
                if part > 0])
            post(conn, st, batch, {})
        else:
            assert loan is not None
            loan = reverse_loan_events(conn, ctx, loan, rev_id, payout_event_ids(row),
                                       reason, principal.username)
            loan_out = loan_with_state(conn, loan, today())
        names = party_names(conn, [row.producer_id])
        return 200, PayoutReversalOut(payout_out(row, names, reversal),
                                      fund_out(conn, fund, principal), loan_out)

    return command(ctx, principal, f"POST /api/funds/{fid}/payouts/{pid}/reversal", data,
                   run, before, returns=PayoutReversalOut)
