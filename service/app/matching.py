"""Matching over HTTP: the database read into ``matching``'s snapshot, the opportunities of
one request and the allocation plan of many.

``load_snapshot`` is the one place that turns rows into ``matching.network`` objects:

* GAS: households and coordinates; producers: categories, coordinates, and for the
  producers of the requests in scope their record (loans repaid, installments paid more
  than 30 days late, loans written off) and current arrears and outstanding principal by
  lender (an approved loan not yet disbursed counts with its principal);
* lenders: the per-borrower cap is the ``microcredit`` category's maximum principal and
  the share-capital multiple that category's ``share_multiple`` (none configured: no
  share cap, as the service itself enforces none then);
* pools: the balance is the free money; the principal repaid on the pool's loans (up to
  the balance) is the idle part;
* guarantors: every GAS, person or producer with a pledge capacity, free = capacity -
  what its guarantees still pledge (a person with the GAS it belongs to); funds with
  their balances and earmarks; open prepayments with what remains; interests declared
  on the requests in scope.

A request's weight is its assessment score over 10 (``(economic + social) / 20``); one
not assessed yet counts as the middle of the scale (0.5). Its minimum guarantee coverage
is that of the loan category its terms name, else the strictest ``microcredit`` minimum
among the lenders (none configured: no minimum).

Balances are read as they stand now; ``as_of`` (default today) dates relationships,
arrears and the rollover horizon.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, fields
from dataclasses import replace as dc_replace
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import TypeVar, cast

import msgspec
from msgspec import UNSET, UnsetType
from sqlalchemy import Connection, Label, Text, func, select, type_coerce

from ledger.as_of import loan_on
from ledger.chart import account_id
from ledger.requests import assessment_score
from ledger.store import LedgerStore
from matching.allocation import Plan, plan_allocation
from matching.config import MatchingConfig
from matching.network import (
    Fund,
    Gas,
    Guarantor,
    GuarantorKind,
    Instrument,
    Interest,
    Kind,
    Lender,
    MatchRule,
    Network,
    OnExpiry,
    OpenPrepayment,
    Pool,
    Producer,
    Relationship,
    Request,
    Share,
)
from matching.scoring import Opportunity, suggest_opportunities
from service.app import lending
from service.app.auth import Principal
from service.app.clock import today
from service.app.common import check_uuid, path_uuid, query_date
from service.app.context import AppContext
from service.app.errors import Errors
from service.app.funds import fund_states
from service.app.inputs import Input, custom, optional_day
from service.app.lender_scope import (
    OtherLender,
    lender_may_fund,
    lender_scope,
    of_fundable_requests,
)
from service.app.read_cache import Memo, ReadCache
from service.app.requests import latest_assessment, latest_terms, visible_request
from service.app.types import Day, DecimalText, Uuid
from service.app.views import Money, money
from service.db.engine import engine_token
from service.db.records import AnyColumn, Record
from service.db.tables import (
    funding_requests,
    funds,
    guarantees,
    loan_events,
    loans,
    match_rules,
    parties,
    pledge_capacities,
    pools,
    prepayments,
    relationships,
    request_gas,
    request_interests,
    shares,
)

T = TypeVar("T")
R = TypeVar("R")
EUR = "EUR"
# A request not assessed yet counts as the middle of the 0-10 scale.
UNASSESSED_WEIGHT = Decimal("0.5")
# What a plan takes by default: requests the officers are working on, not yet funded.
PLAN_STATUSES = ("under_review", "approved")
MAX_PLAN_REQUESTS = 5000
LATE_DAYS = 30  # an installment paid this many days after its due date is late
GUARANTOR_KINDS: tuple[GuarantorKind, ...] = ("gas", "person", "producer")
# Lenders without a configured share multiple have no share cap (the service has none).
CONFIG = MatchingConfig(share_cap_multiple=None)


@dataclass(frozen=True)
class Snapshot:
    network: Network
    requests: dict[str, Request]  # in the order asked
    names: dict[str, str]  # parties, pools and funds, for people
    fund_gas: dict[str, str | None]  # fund id -> its GAS


# -- loading -------------------------------------------------------------------------------


def _event_ids_by_loan(conn: Connection, loan_ids: list[str]) -> dict[str, tuple[str, ...]]:
    """Each loan's operation ids in recording order (operations are only ever added)."""
    out: dict[str, list[str]] = defaultdict(list)
    wanted = set(loan_ids)
    for r in conn.execute(select(loan_events.c.loan_id, loan_events.c.id)
                          .order_by(loan_events.c.seq)).all():
        if r.loan_id in wanted:
            out[r.loan_id].append(r.id)
    return {k: tuple(v) for k, v in out.items()}


@dataclass
class _Record:
    """A producer's loan history as matching reads it."""

    repaid: int = 0
    late: int = 0
    written_off: int = 0
    arrears_cents: int = 0
    days_past_due: int = 0


def _late_installments(state: lending.LoanState, events: Sequence[Record]) -> int:
    """Installments paid in full more than ``LATE_DAYS`` after their due date."""
    dates = {e.id: e.value_date for e in events}
    paid_on: dict[int, date] = {}
    for event_id, allocation in state.allocations.items():
        day = dates.get(event_id)
        if day is None:
            continue
        for part in allocation.parts:
            if part.total > 0:
                paid_on[part.number] = max(paid_on.get(part.number, day), day)
    return sum(1 for s in state.schedule
               if s.unpaid <= 0 and s.number in paid_on
               and paid_on[s.number] > s.due_date + timedelta(days=LATE_DAYS))


LoanFigures = tuple[dict[str, _Record], dict[str, dict[str, int]], dict[str, int]]
FundFigures = list[tuple[Record, int, dict[str, int]]]
# What the replay of every loan and fund gave, per database and day, while nothing that
# moves money or changes a loan has been recorded since (see _version): scoring one
# request then costs queries, not 3,000 replays. A few entries, replaced oldest first.
_FIGURES: dict[tuple[Hashable, ...], tuple[LoanFigures, FundFigures]] = {}
_FIGURES_KEPT = 4


def _version(conn: Connection, as_of: date) -> tuple[Hashable, ...]:
    """What the loan and fund figures depend on: the loan book's marks (the loan
    operations, as a reschedule moves no money, the journal, the loans and the late
    interest rates: ``lending.loan_book_marks``) and the funds."""
    # A fund opened moves no money: its row is read with the figures.
    fund_rows = conn.execute(select(func.count(), func.max(funds.c.seq))
                             .select_from(funds)).one()
    return (engine_token(conn.engine), as_of, lending.loan_book_marks(conn), tuple(fund_rows))


def _figures(conn: Connection, as_of: date) -> tuple[LoanFigures, FundFigures]:
    key = _version(conn, as_of)
    found = _FIGURES.get(key)
    if found is None:
        fund_rows = conn.execute(select(funds).order_by(funds.c.seq)).all()
        states = fund_states(conn, fund_rows)
        found = (_loans(conn, as_of, None),
                 [(f, states[f.id].balance_cents, dict(states[f.id].earmarked))
                  for f in fund_rows])
        while len(_FIGURES) >= _FIGURES_KEPT:
            _FIGURES.pop(next(iter(_FIGURES)))
        _FIGURES[key] = found
    return found


def _loans(conn: Connection, as_of: date, producer_ids: set[str] | None) -> LoanFigures:
    """Replay the loans: the record of ``producer_ids`` (every borrower's when None),
    every borrower's outstanding principal by lender, and the principal repaid into
    each pool."""
    rows = list(conn.execute(select(loans).where(
        loans.c.status.in_(("approved", "active", "repaid", "written_off")))
        .order_by(loans.c.seq)))
    rates: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        if (row.lender_id, row.category) not in rates:
            rates[row.lender_id, row.category] = lending.late_rate_of(conn, row)
    # Operation ids first: a loan whose row, operations and day were seen before is not
    # replayed again, so only the operations of the others are read in full.
    event_ids = _event_ids_by_loan(conn, [r.id for r in rows])
    db = engine_token(conn.engine)
    keys = {r.id: (db, tuple(r), rates[r.lender_id, r.category], as_of,
                   event_ids.get(r.id, ())) for r in rows}
    events = lending.events_by_loan(conn, [r.id for r in rows if keys[r.id] not in _LOAN_RECORDS])
    records: dict[str, _Record] = {p: _Record() for p in producer_ids or ()}
    outstanding: dict[str, dict[str, int]] = defaultdict(dict)
    repaid_into: dict[str, int] = defaultdict(int)
    for row in rows:
        owed = outstanding[row.borrower_id]
        on = _LOAN_RECORDS.get(keys[row.id], partial(
            _loan_record, conn, row, events.get(row.id), as_of, rates[row.lender_id, row.category]))
        if on is None:  # committed, not yet paid out
            owed[row.lender_id] = owed.get(row.lender_id, 0) + row.principal_minor
            continue
        status, left, written_off, late, overdue, days_past_due = on
        owed[row.lender_id] = owed.get(row.lender_id, 0) + left
        repaid_into[row.pool_id] += row.principal_minor - left - written_off
        record = records.get(row.borrower_id)
        if record is None:
            if producer_ids is not None:
                continue
            record = records[row.borrower_id] = _Record()
        record.late += late
        if status == "repaid":
            record.repaid += 1
        elif status == "written_off":
            record.written_off += 1
        else:
            record.arrears_cents += overdue
            record.days_past_due = max(record.days_past_due, days_past_due)
    return records, outstanding, repaid_into


# What matching reads of a loan on a day (None before its disbursement): status,
# outstanding, written off, late installments, overdue, days past due.
_LoanRecord = tuple[str, int, int, int, int, int] | None
# Kept per loan row, late-interest rate, day and operation ids (operations are only ever
# added), so after a write only the loans it touched are replayed again.
_LOAN_RECORDS: Memo[tuple[Hashable, ...], _LoanRecord] = Memo(kept=20_000)


def _loan_record(conn: Connection, row: Record, events: list[Record] | None, as_of: date,
                 late_rate: Decimal) -> _LoanRecord:
    if events is None:  # kept when its operations were read, gone from the memo since
        events = lending.events_by_loan(conn, [row.id]).get(row.id, [])
    # The loan as it stood on ``as_of`` (ledger.as_of): its status then, not now.
    on = loan_on(lending.terms_of(row), events, as_of, disbursed_on=row.disbursed_on,
                 late_rate=late_rate, flagged_restructured=bool(row.restructured))
    if on.replay is None:
        return None
    return (on.status, on.outstanding, on.written_off, _late_installments(on.replay, events),
            on.overdue, on.days_past_due)


def _coordinate(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _min_coverage(conn: Connection, request_id: str) -> Decimal | None:
    """The minimum coverage of the loan category the request's terms name; None without
    terms (then each loan needs what its lender's default category asks)."""
    terms = latest_terms(conn, request_id)
    loan = terms.terms.get("loan") if terms is not None else None
    if loan:
        category = lending.get_category(conn, loan["lender_id"], loan["category"])
        # Named terms fix the loan's category: no minimum there means none at all.
        if category is None:
            return None
        return category.min_coverage or Decimal(0)
    return None


def _weight(conn: Connection, request_id: str) -> Decimal:
    a = latest_assessment(conn, request_id)
    if a is None:
        return UNASSESSED_WEIGHT
    return assessment_score(a.economic_score, a.social_score) / 10


# -- the network's parts, kept by their rows ---------------------------------------------------
#
# After a write the network is read again (a fresh snapshot), but most writes change a
# small part of it (a payment, a pledge) or none (a party's phone). The two large parts,
# parties and relationships, are read as plain rows (no type conversion) and their
# objects built again only when the rows differ from those they were built from; the
# network as a whole (with its lookup tables) is the one built before when every part is
# equal. What is kept is only ever reused for rows equal to those it was built from.

_PART_LOCK = threading.Lock()
_PARTS: OrderedDict[tuple[Hashable, ...], tuple[object, object]] = OrderedDict()  # -> (rows, built)
_PARTS_KEPT = 16


def _kept_part(conn: Connection, name: str, rows: R, build: Callable[[R], T]) -> T:
    """What ``build(rows)`` gives, the one built before when ``rows`` equal its rows."""
    slot = (engine_token(conn.engine), name)
    with _PART_LOCK:
        found = _PARTS.get(slot)
    if found is not None and found[0] == rows:
        built = cast(T, found[1])  # stored by this function for this slot's build
        return built
    built = build(rows)
    with _PART_LOCK:
        _PARTS[slot] = (rows, built)
        _PARTS.move_to_end(slot)
        while len(_PARTS) > _PARTS_KEPT:
            _PARTS.popitem(last=False)
    return built


def _json_list(value: object) -> tuple[str, ...]:
    """A JSON list column as read without conversion: text on SQLite, a list on PostgreSQL."""
    items = json.loads(value) if isinstance(value, str) else value
    return tuple(items) if isinstance(items, list | tuple) else ()


def _day(value: object) -> date:
    """A date column as read without conversion: ISO text on SQLite, a date on PostgreSQL."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _plain(column: AnyColumn) -> Label[str]:
    """``column`` read as the driver gives it (no JSON or date parsing)."""
    return type_coerce(column, Text).label(column.name)


@dataclass(frozen=True)
class _Parties:
    names: dict[str, str]
    kinds: dict[str, str]
    coords: dict[str, tuple[float | None, float | None]]
    member_of: dict[str, tuple[str, ...]]  # person -> the GAS it belongs to
    gas: tuple[Gas, ...]
    producers: tuple[tuple[str, str, tuple[str, ...]], ...]  # id, name, categories
    lenders: tuple[tuple[str, str], ...]  # id, name


# id, kind, name, latitude, longitude, households, categories and member_of as read
# without conversion (``_plain``).
_PartyRow = tuple[str, str, str, Decimal | float | None, Decimal | float | None, int | None,
                  object, object]


def _build_parties(rows: list[_PartyRow]) -> _Parties:
    names: dict[str, str] = {}
    kinds: dict[str, str] = {}
    coords: dict[str, tuple[float | None, float | None]] = {}
    member_of: dict[str, tuple[str, ...]] = {}
    gas: list[Gas] = []
    producers: list[tuple[str, str, tuple[str, ...]]] = []
    lenders: list[tuple[str, str]] = []
    for pid, kind, name, lat, lon, households, categories, member in rows:
        names[pid] = name
        kinds[pid] = kind
        coords[pid] = xy = (_coordinate(lat), _coordinate(lon))
        if kind == "person":
            of = _json_list(member)
            if of:
                member_of[pid] = of
        if kind == "gas":
            gas.append(Gas(pid, name, int(households or 0), *xy))
        elif kind == "producer":
            producers.append((pid, name, _json_list(categories)))
        elif kind == "lender":
            lenders.append((pid, name))
    return _Parties(names, kinds, coords, member_of, tuple(gas), tuple(producers),
                    tuple(lenders))


def _parties(conn: Connection) -> _Parties:
    c = parties.c
    rows = [tuple(r) for r in conn.execute(select(
        c.id, c.kind, c.name, c.latitude, c.longitude, c.households, _plain(c.categories),
        _plain(c.member_of)).order_by(c.seq)).all()]
    return _kept_part(conn, "parties", rows, _build_parties)


def _relationships(conn: Connection) -> tuple[Relationship, ...]:
    c = relationships.c
    rows = [tuple(r) for r in conn.execute(select(
        c.gas_id, c.producer_id, _plain(c.since), c.annual_purchases_minor,
        c.households_buying).order_by(c.seq)).all()]
    return _kept_part(conn, "relationships", rows, lambda rows: tuple(
        Relationship(gas_id, producer_id, _day(since), annual, households)
        for gas_id, producer_id, since, annual, households in rows))


def _producers(conn: Connection, found: _Parties, loan_figures: LoanFigures
               ) -> tuple[Producer, ...]:
    """The producers with their loan record: the same objects while neither the parties
    nor the loan figures were read again (both are kept objects, compared by identity)."""
    records, outstanding, _ = loan_figures

    def build(_key: object) -> tuple[Producer, ...]:
        out = []
        for pid, name, categories in found.producers:
            rec = records.get(pid, _Record())
            out.append(Producer(
                pid, name, categories, *found.coords[pid], loans_repaid=rec.repaid,
                late_repayments=rec.late, loans_written_off=rec.written_off,
                arrears_cents=rec.arrears_cents, days_past_due=rec.days_past_due,
                outstanding_cents=dict(outstanding.get(pid, {}))))
        return tuple(out)
    return _kept_part(conn, "producers", _Same(found, loan_figures), build)


class _Same:
    """Equal to another only when it holds the very same objects."""

    def __init__(self, *objects: object) -> None:
        self.objects = objects

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, _Same) and len(other.objects) == len(self.objects)
                and all(a is b for a, b in zip(self.objects, other.objects, strict=True)))

    __hash__ = None  # type: ignore[assignment]


def _load_network(conn: Connection, as_of: date) -> _Base:
    """The network as it stands on ``as_of``, without declared interests (they belong to
    the requests asked about)."""
    store = LedgerStore(conn.engine)
    found = _parties(conn)
    names = dict(found.names)
    kinds, coords, member_of = found.kinds, found.coords, found.member_of
    gas = found.gas

    loan_figures, fund_figures = _figures(conn, as_of)
    (_records, _outstanding, repaid_into) = loan_figures
    producers = _producers(conn, found, loan_figures)

    lenders = []
    for pid, name in found.lenders:
        category = lending.get_category(conn, pid, lending.DEFAULT_CATEGORY)
        assert category is not None  # the default category always exists
        lenders.append(Lender(pid, name, per_borrower_cap_cents=category.max_principal,
                              share_cap_multiple=category.share_multiple,
                              min_guarantee_coverage=category.min_coverage))

    pool_rows = list(conn.execute(select(pools).order_by(pools.c.seq)))
    balances = store.get_accounts(conn, [account_id("pool", r.id) for r in pool_rows])
    network_pools = []
    for r in pool_rows:
        acct = balances.get(account_id("pool", r.id))
        balance = max(0, acct.balance) if acct is not None else 0
        names[r.id] = r.name
        network_pools.append(Pool(r.id, r.lender_id, r.name, balance, r.max_loan_minor,
                                  idle_cents=min(balance, max(0, repaid_into.get(r.id, 0)))))

    network_shares = [
        Share(r.member_id, r.lender_id, int(r.total))
        for r in conn.execute(select(shares.c.member_id, shares.c.lender_id,
                                     func.sum(shares.c.amount_minor).label("total"))
                              .group_by(shares.c.member_id, shares.c.lender_id)
                              .order_by(shares.c.member_id, shares.c.lender_id))]

    pledged = {r.guarantor_id: int(r.total) for r in conn.execute(
        select(guarantees.c.guarantor_id,
               func.sum(guarantees.c.amount_minor - guarantees.c.called_minor).label("total"))
        .where(guarantees.c.status != "released").group_by(guarantees.c.guarantor_id))}
    guarantors = []
    for r in conn.execute(select(pledge_capacities).order_by(pledge_capacities.c.party_id)):
        kind = kinds.get(r.party_id)
        if kind not in GUARANTOR_KINDS:
            continue
        free = max(0, r.amount_minor - pledged.get(r.party_id, 0))
        lat, lon = coords[r.party_id]
        guarantors.append(Guarantor(r.party_id, _guarantor_kind(kind), free,
                                    names[r.party_id], gas_ids=member_of.get(r.party_id, ()),
                                    lat=lat, lon=lon))

    network_funds = []
    fund_gas: dict[str, str | None] = {}
    for f, balance, earmarked in fund_figures:
        names[f.id] = f.name
        fund_gas[f.id] = f.gas_id
        network_funds.append(Fund(f.id, f.gas_id, f.name, balance, dict(earmarked)))

    open_prepayments = [
        OpenPrepayment(r.id, r.gas_id, r.producer_id, r.amount_minor - r.delivered_minor,
                       r.expires_on, _on_expiry(r.on_expiry))
        for r in conn.execute(select(prepayments).where(prepayments.c.status == "open")
                              .order_by(prepayments.c.seq))
        if r.amount_minor > r.delivered_minor]

    network = Network(
        as_of=as_of, gas=gas, producers=producers, relationships=_relationships(conn),
        lenders=tuple(lenders), pools=tuple(network_pools), shares=tuple(network_shares),
        guarantors=tuple(guarantors), funds=tuple(network_funds),
        prepayments=tuple(open_prepayments),
        match_rules=tuple(
            MatchRule(id=f"match:{r.pool_id}", pool_id=r.pool_id,
                      threshold=Decimal(r.threshold), cap_cents=r.cap_minor,
                      budget_cents=r.budget_minor)
            for r in conn.execute(select(match_rules).order_by(match_rules.c.pool_id))))

    return _Base(network, names, fund_gas)


@dataclass(frozen=True)
class _Base:
    network: Network  # without interests
    names: dict[str, str]
    fund_gas: dict[str, str | None]


# The network read from the database, per database and day, while nothing has been
# written since: scoring a request or planning then reads its requests and interests
# only, not the thousands of parties, relationships and loans of a MAG.
_NETWORKS: ReadCache[_Base] = ReadCache()


# The last network built per database and day: after a write that changed none of its
# parts (a party's phone, a request's note) the network read again is equal to it, and
# it is served with its lookup tables instead of building them again.
_LAST: OrderedDict[tuple[int, date], _Base] = OrderedDict()
_LAST_KEPT = 4


def _same_base(a: _Base, b: _Base) -> bool:
    """Equal networks, names and funds' GAS; parts that are the same objects (kept by
    their rows) are not compared item by item."""
    if a.names != b.names or a.fund_gas != b.fund_gas:
        return False
    return all(x is y or x == y for x, y in (
        (getattr(a.network, f.name), getattr(b.network, f.name))
        for f in fields(Network)))


def _network(conn: Connection, as_of: date) -> _Base:
    def load(fresh: Connection) -> _Base:
        base = _load_network(fresh, as_of)
        slot = (engine_token(fresh.engine), as_of)
        with _PART_LOCK:
            last = _LAST.get(slot)
        if last is not None and _same_base(base, last):
            return last
        base.network.index  # noqa: B018 -- built once, kept with the cached network
        with _PART_LOCK:
            _LAST[slot] = base
            _LAST.move_to_end(slot)
            while len(_LAST) > _LAST_KEPT:
                _LAST.popitem(last=False)
        return base
    return _NETWORKS.get(conn, as_of, load)


def load_snapshot(conn: Connection, request_rows: Sequence[Record], as_of: date) -> Snapshot:
    """The network as it stands, with ``request_rows`` as matching requests."""
    base = _network(conn, as_of)
    ids = [r.id for r in request_rows]
    interests = [
        Interest(r.gas_id, r.request_id, _kind(r.kind), int(r.total))
        for r in conn.execute(
            select(request_interests.c.gas_id, request_interests.c.request_id,
                   request_interests.c.kind,
                   func.sum(request_interests.c.amount_minor).label("total"))
            .where(request_interests.c.request_id.in_(ids or [""]))
            .group_by(request_interests.c.gas_id, request_interests.c.request_id,
                      request_interests.c.kind))]

    network = base.network.with_interests(tuple(interests))
    named = _named_gas(conn, ids)
    requests = {r.id: Request(
        r.id, r.producer_id, r.amount_minor, _instrument(r.instrument), r.term_months,
        weight=_weight(conn, r.id), gas_ids=tuple(named.get(r.id, ())),
        min_guarantee_coverage=_min_coverage(conn, r.id))
        for r in request_rows}
    return Snapshot(network, requests, dict(base.names), base.fund_gas)


def _named_gas(conn: Connection, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    if ids:
        for r in conn.execute(select(request_gas).where(request_gas.c.request_id.in_(ids))
                              .order_by(request_gas.c.request_id, request_gas.c.position)):
            out[r.request_id].append(r.gas_id)
    return out


def _guarantor_kind(kind: str | None) -> GuarantorKind:
    for k in GUARANTOR_KINDS:
        if k == kind:
            return k
    raise ValueError(f"not a guarantor kind: {kind!r}")


def _kind(kind: str) -> Kind:
    for k in ("prepayment", "loan", "guarantee", "solidarity"):
        if k == kind:
            return k
    raise ValueError(f"not a matching kind: {kind!r}")


def _instrument(value: str) -> Instrument:
    for k in ("loan", "prepayment", "mixed"):
        if k == value:
            return k
    raise ValueError(f"not an instrument: {value!r}")


def _on_expiry(value: str) -> OnExpiry:
    for k in ("refund", "rollover", "solidarity"):
        if k == value:
            return k
    raise ValueError(f"not an on_expiry: {value!r}")


# -- opportunities ---------------------------------------------------------------------------


def _gas_may_see(item: Opportunity, gas_id: str, snap: Snapshot) -> bool:
    if item.kind == "solidarity":
        return snap.fund_gas.get(item.source_id) == gas_id
    return item.source_id == gas_id


class OpportunityOut(msgspec.Struct):
    source_id: Uuid
    kind: Kind
    suggested_amount: Money
    score: float  # a ranking, not money
    reasons: list[str]
    source_name: str | None
    idle_amount: Money
    # Only on a pool's match-funding top-up: the pool whose rule suggests it.
    match_rule_pool_id: Uuid | UnsetType = UNSET


class Opportunities(msgspec.Struct):
    items: list[OpportunityOut]  # best first


def opportunity_out(item: Opportunity, snap: Snapshot) -> OpportunityOut:
    return OpportunityOut(
        source_id=item.source_id, kind=item.kind,
        suggested_amount=money(item.suggested_amount_cents), score=item.score,
        reasons=list(item.reasons), source_name=snap.names.get(item.source_id),
        idle_amount=money(item.idle_cents),
        match_rule_pool_id=item.source_id if item.rule_id else UNSET)


def opportunities(conn: Connection, principal: Principal, request_id: str, as_of: date
                  ) -> list[OpportunityOut]:
    """The request's opportunities as the API shows them to ``principal`` (404 for a
    request it may not see), best first."""
    row = visible_request(conn, principal, request_id)
    snap = load_snapshot(conn, [row], as_of)
    items = suggest_opportunities(snap.network, snap.requests[row.id], CONFIG)
    if principal.role == "gas":
        gas_id = principal.party_id or ""
        items = [i for i in items if _gas_may_see(i, gas_id, snap)]
    bound = lender_scope(principal)
    if bound is not None:  # an officer bound to a lender: loans from its lender's pools only
        pools_by_id = snap.network.index.pools_by_id
        items = [i for i in items if i.source_id not in pools_by_id
                 or pools_by_id[i.source_id].lender_id == bound]
    return [opportunity_out(i, snap) for i in items]


# -- plans ---------------------------------------------------------------------------------


def plan_rows(conn: Connection, request_ids: Sequence[str] | None,
              lender_id: str | None = None) -> list[Record]:
    """The requests of a plan: those named (unknown ids or ones in other states -> 422),
    else every request under review or approved and not yet funded. With ``lender_id``
    (an officer bound to a lender) only the requests that lender may fund: by default
    the others are left out, named they are refused (403, as their funding would be)."""
    c = funding_requests.c
    if request_ids is None:
        query = select(funding_requests).where(
            c.status.in_(PLAN_STATUSES), c.funding_id.is_(None))
        return list(conn.execute(of_fundable_requests(query, c.lender_id, lender_id)
                                 .order_by(c.seq)))
    wanted = list(dict.fromkeys(request_ids))
    found = {r.id: r for r in conn.execute(select(funding_requests).where(c.id.in_(wanted)))}
    others = [r.reference for r in found.values()
              if not lender_may_fund(lender_id, r.lender_id)]
    if others:
        raise OtherLender(f"{', '.join(others)}: another lender's request (its officer took "
                          "it under review); a plan of yours takes the requests your "
                          "lender may fund", "request")
    errors = Errors()
    for i, rid in enumerate(request_ids):
        row = found.get(rid)
        if row is None:
            errors.add(f"request_ids.{i}", f"no request {rid}")
        elif row.status not in PLAN_STATUSES or row.funding_id is not None:
            errors.add(f"request_ids.{i}", f"request {rid} is {row.status}; a plan takes "
                       f"requests {' or '.join(PLAN_STATUSES)} and not yet funded")
    errors.raise_if_any()
    return [found[rid] for rid in wanted]


def merged_allocations(plan: Plan) -> list[tuple[str, str, Kind, int, int]]:
    """One row per (request, source, kind): a pool's ordinary loan and its match top-up
    become one loan. (request id, source id, kind, amount, idle) in the plan's order."""
    rows: dict[tuple[str, str, Kind], list[int]] = {}
    for a in plan.allocations:
        cur = rows.setdefault((a.request_id, a.source_id, a.kind), [0, 0])
        cur[0] += a.amount_cents
        cur[1] += a.idle_cents
    return [(rid, sid, kind, amount, idle) for (rid, sid, kind), (amount, idle) in rows.items()]


@dataclass(frozen=True)
class PlanResult:
    snapshot: Snapshot
    plan: Plan
    as_of: date


def own_pools_only(snap: Snapshot, lender_id: str | None) -> Snapshot:
    """``snap`` with only ``lender_id``'s pools (and their match rules) as loan sources,
    when a lender is named: a copy; the kept network is not changed."""
    if lender_id is None:
        return snap
    kept = tuple(p for p in snap.network.pools if p.lender_id == lender_id)
    ids = {p.id for p in kept}
    network = dc_replace(snap.network, pools=kept, match_rules=tuple(
        r for r in snap.network.match_rules if r.pool_id in ids))
    return dc_replace(snap, network=network)


def make_plan(conn: Connection, request_ids: Sequence[str] | None, as_of: date,
              lender_id: str | None = None) -> PlanResult:
    """The plan of ``request_ids`` (default: every request waiting for one); with
    ``lender_id`` (an officer bound to a lender) only the requests that lender may fund
    (another lender's named: 403), and only its pools lend."""
    rows = plan_rows(conn, request_ids, lender_id)
    snap = own_pools_only(load_snapshot(conn, rows, as_of), lender_id)
    plan = plan_allocation(snap.network, list(snap.requests.values()), CONFIG)
    return PlanResult(snap, plan, as_of)


class AllocationOut(msgspec.Struct):
    request_id: Uuid
    source_id: Uuid
    kind: Kind
    amount: Money
    idle_amount: Money
    source_name: str | None


class BindingOut(msgspec.Struct):
    """A limit that stops a request's unfunded remainder."""

    code: str
    source_id: Uuid | None
    detail: str
    source_name: str | None = None  # the source's name beside its id (null without one)


class PlanOut(msgspec.Struct):
    allocations: list[AllocationOut]
    funded: dict[Uuid, Money]  # by request id
    unfunded: dict[Uuid, Money]
    objective: str
    weights: dict[Uuid, DecimalText]  # the request's assessment weight, 0 to 1
    binding: dict[Uuid, list[BindingOut]]  # only requests not fully funded
    as_of: Day


def plan_out(result: PlanResult) -> PlanOut:
    snap, plan = result.snapshot, result.plan
    ids = list(snap.requests)
    return PlanOut(
        allocations=[
            AllocationOut(request_id=rid, source_id=sid, kind=kind, amount=money(amount),
                          idle_amount=money(idle), source_name=snap.names.get(sid))
            for rid, sid, kind, amount, idle in merged_allocations(plan)],
        funded={rid: money(plan.funded_cents.get(rid, 0)) for rid in ids},
        unfunded={rid: money(plan.unfunded_cents.get(rid, 0)) for rid in ids},
        objective=plan.objective,
        weights={rid: str(snap.requests[rid].weight) for rid in ids},
        binding={rid: [BindingOut(lim.code, lim.source_id, lim.text,
                                  snap.names.get(lim.source_id) if lim.source_id else None)
                       for lim in plan.binding.get(rid, ())]
                 for rid in ids if plan.unfunded_cents.get(rid, 0) > 0},
        as_of=result.as_of.isoformat())


# -- use cases ---------------------------------------------------------------------------


class PlanIn(msgspec.Struct, forbid_unknown_fields=True):
    request_ids: list[str] | None = None
    as_of: str | None = None


def _request_ids(values: Sequence[str] | None, field: str, errors: Errors
                 ) -> list[str] | None:
    """The requests a plan is asked for, at most ``MAX_PLAN_REQUESTS``, each named by its
    index; None: every one waiting for a plan."""
    if values is None:
        return None
    if len(values) > MAX_PLAN_REQUESTS:
        errors.add(field, f"at most {MAX_PLAN_REQUESTS}")
    return [check_uuid(r, f"{field}.{i}", errors) or "" for i, r in enumerate(values)]


@dataclass(frozen=True, kw_only=True)
class PlanChoice(Input):
    """What a plan is asked for (``PlanIn``; the plan pages give the same values)."""

    request_ids: list[str] | None = custom(_request_ids)
    as_of: date | None = optional_day()


def _as_of(value: str | None, field: str) -> date:
    return query_date(value, field) or today()


def get_opportunities(ctx: AppContext, principal: Principal, request_id: str,
                      as_of: str | None) -> Opportunities:
    """Who could fund the request, how much and why, best first (idle money first).
    Officers and the requesting producer see every item; a GAS user the items whose
    source is its own GAS or its GAS's fund. ``as_of`` (default today) dates
    relationships and arrears; balances are current."""
    rid = path_uuid(request_id, "request")
    day = _as_of(as_of, "as_of")
    return Opportunities(ctx.read(lambda conn: opportunities(conn, principal, rid, day)))


def post_plan(ctx: AppContext, principal: Principal, data: PlanIn | None) -> PlanOut:
    """The allocation that maximizes the assessment-weighted funding of the requests
    (default: every request under review or approved and not yet funded; for an
    officer bound to a lender, those its lender may fund) within every limit; officers
    only."""
    choice = PlanChoice.read(data or PlanIn())
    principal.require("officer")
    day = choice.as_of or today()
    return ctx.read(lambda conn: plan_out(
        make_plan(conn, choice.request_ids, day, lender_scope(principal))))
