"""Funding opportunities for one request: who could put money in, how much, and why.

Every source gets the same weighted sum of six features in [0, 1] (weights in
``MatchingConfig``):

* ``coverage``: suggested amount / request amount (guarantees: / the pledge needed);
* ``tie``: the source's tie to the producer. A GAS buying from it:
  0.5 x min(years / relationship_full_years, 1) + 0.3 x min(yearly purchases /
  purchases_reference, 1) + 0.2 x households buying / households; a GAS named in the
  request 0.3, one buying the category from other producers 0.2, from no one 0.1.
  A pool: min(1, the share capital of the producer and its GAS with that lender x the
  share multiple / request). A match top-up: how close the suggested prepayments come
  to the threshold. A person guarantor 0.6 x the best tie of its GAS that buy from the
  producer (0.2 if only named), a producer guarantor 0.5 for an explicit tie, 0.3 for a
  shared customer GAS. A fund: 1 for money earmarked for the producer, else its GAS's tie;
* ``proximity``: 1 - km / nearby_km (0 beyond), 0.5 where it does not apply (pools) or
  a coordinate is unknown;
* ``idle``: idle money (pool capital repaid and waiting, prepayment remainders due for
  rollover, fund balances) / suggested amount;
* ``interest``: 1 when the GAS declared interest in this request for this kind;
* ``record``: the producer's repayment record (1 + repaid) / (1 + repaid + late +
  3 x written off), halved while it has arrears.

Suggestions drawing at least ``idle_first_min_cents`` of idle money come first (by
score), then the others (by score); ties by source id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal

import numpy as np

from ledger.money import minor_to_decimal

from .config import MatchingConfig
from .geo import haversine_km, haversine_km_many
from .network import (
    Fund,
    Gas,
    Guarantor,
    Kind,
    Lender,
    MatchRule,
    Network,
    NetworkIndex,
    OpenPrepayment,
    Pool,
    Producer,
    Relationship,
    Request,
)

Role = Literal["gas", "pool", "match", "guarantor", "fund"]
Demand = Literal["buyer", "others", "none"]
_ROLE_KIND: dict[Role, Kind] = {
    "gas": "prepayment",
    "pool": "loan",
    "match": "loan",
    "guarantor": "guarantee",
    "fund": "solidarity",
}


def eur(cents: int) -> str:
    """``480000`` -> ``"4,800.00 EUR"`` (for reasons; amounts stay exact)."""
    return f"{minor_to_decimal(cents, 'EUR'):,} EUR"


def floor_cents(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def ceil_cents(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def _pct(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}%"


@dataclass(frozen=True)
class Opportunity:
    source_id: str
    kind: Kind
    suggested_amount_cents: int
    score: float
    reasons: tuple[str, ...]
    idle_cents: int = 0  # part of the suggestion that is idle money
    rule_id: str | None = None  # the match-funding rule of a top-up suggestion

    @property
    def suggested_amount(self) -> Decimal:
        """The suggestion in EUR (2 decimals)."""
        return minor_to_decimal(self.suggested_amount_cents, "EUR")


@dataclass(frozen=True)
class Features:
    coverage: float
    tie: float
    proximity: float
    idle: float
    interest: float
    record: float

    def score(self, c: MatchingConfig) -> float:
        total = c.w_coverage + c.w_tie + c.w_proximity + c.w_idle + c.w_interest + c.w_record
        s = (
            c.w_coverage * self.coverage + c.w_tie * self.tie + c.w_proximity * self.proximity
            + c.w_idle * self.idle + c.w_interest * self.interest + c.w_record * self.record
        ) / total
        return round(min(1.0, max(0.0, s)), 4)


@dataclass(frozen=True)
class Candidate:
    """A source eligible for a request, sized for that request alone.

    ``cap_cents`` is this source's own per-request limit on fresh money (a GAS's
    plausible prepayment, a pool's maximum loan, a guarantor's free capacity, a fund's
    usable money, a rule's cap); limits shared between requests (pool balance, GAS
    budget, per-borrower caps) are applied by ``suggested_cents`` here and by rows of the
    plan's model there.
    """

    request_id: str
    source_id: str
    role: Role
    cap_cents: int
    idle_cents: int
    suggested_cents: int
    features: Features
    score: float
    km: float | None = None
    relationship: Relationship | None = None
    demand: Demand = "none"
    named: bool = False
    interest_cents: int = 0
    rollovers: tuple[OpenPrepayment, ...] = ()
    rule: MatchRule | None = None
    earmarked_cents: int = 0  # fund: earmarked for the producer
    general_cents: int = 0  # fund: usable money not earmarked
    tie_note: str = ""
    basis: Basis = "newcomer"  # how a GAS prepayment was sized
    budget_cents: int | None = None  # set when a GAS's budget cut the fresh money
    fair_cents: int | None = None  # set when the fairness share cut the suggestion
    need_cents: int = 0  # guarantee: pledge wanted (coverage x amount)

    @property
    def kind(self) -> Kind:
        return _ROLE_KIND[self.role]


# --- limits shared by suggestions, plans and checks -------------------------------------


def years_between(since: date, as_of: date) -> int:
    years = as_of.year - since.year - ((as_of.month, as_of.day) < (since.month, since.day))
    return max(0, years)


def relationship_tie(rel: Relationship, gas: Gas, as_of: date, c: MatchingConfig) -> float:
    years = years_between(rel.since, as_of)
    households = rel.households_buying if rel.households_buying is not None else gas.households
    hh_share = min(1.0, households / gas.households) if gas.households > 0 else 0.0
    return (
        0.5 * min(1.0, years / c.relationship_full_years)
        + 0.3 * min(1.0, rel.annual_purchases_cents / c.purchases_reference_cents)
        + 0.2 * hh_share
    )


def gas_budget_cents(index: NetworkIndex, gas: Gas, c: MatchingConfig) -> int:
    """Fresh money a GAS can prepay in all: households x ceiling minus open prepayments."""
    total = gas.households * c.per_household_ceiling_cents
    return max(0, total - index.open_prepaid_by_gas.get(gas.id, 0))


def rollovers(
    index: NetworkIndex, gas_id: str, producer_id: str, as_of: date, c: MatchingConfig
) -> tuple[OpenPrepayment, ...]:
    """Open prepayments set to roll over and expiring within the horizon: idle money."""
    pps = index.prepayments_by_pair.get((gas_id, producer_id))
    if not pps:
        return ()
    horizon = as_of + timedelta(days=c.rollover_horizon_days)
    return tuple(
        pp for pp in pps
        if pp.on_expiry == "rollover" and pp.expires_on <= horizon and pp.remaining_cents > 0
    )


Basis = Literal["declared", "purchases", "households", "newcomer"]


def gas_prepay_cap_cents(
    gas: Gas, rel: Relationship | None, interest_cents: int, c: MatchingConfig
) -> tuple[int, Basis]:
    """What a GAS can plausibly prepay this producer (fresh money), and on what basis.

    A declared amount wins (up to households x ceiling); else a share of its yearly
    purchases from the producer or its buying households x ceiling, whichever is lower;
    else, for a GAS not buying there yet, ``newcomer_share`` of households x ceiling.
    """
    ceiling = gas.households * c.per_household_ceiling_cents
    if interest_cents > 0:
        return min(interest_cents, ceiling), "declared"
    if rel is not None:
        by_purchases = floor_cents(c.prepay_share_of_purchases * rel.annual_purchases_cents)
        households = rel.households_buying if rel.households_buying is not None else gas.households
        by_households = households * c.per_household_ceiling_cents
        if by_purchases <= by_households:
            return by_purchases, "purchases"
        return by_households, "households"
    return floor_cents(c.newcomer_share * ceiling), "newcomer"


def sizing_sentence(
    gas: Gas, rel: Relationship | None, cap: int, basis: Basis, c: MatchingConfig
) -> str:
    if basis == "declared":
        return f"sized at its declared {eur(cap)}"
    if basis == "purchases":
        return (f"sized at {_pct(c.prepay_share_of_purchases)} of its yearly purchases from "
                f"this producer: {eur(cap)}")
    if basis == "households":
        households = gas.households if rel is None or rel.households_buying is None \
            else rel.households_buying
        return (f"sized at {households} households x {eur(c.per_household_ceiling_cents)} "
                f"per household: {eur(cap)}")
    return (f"sized at {_pct(c.newcomer_share)} of {gas.households} households x "
            f"{eur(c.per_household_ceiling_cents)}, as it does not buy from this producer yet: "
            f"{eur(cap)}")


def fair_share_cents(request: Request, c: MatchingConfig) -> int:
    return floor_cents(c.max_gas_share * request.amount_cents)


def producer_gas_ids(index: NetworkIndex, request: Request) -> tuple[str, ...]:
    """GAS buying from the producer, plus those named in the request (sorted, unique)."""
    ids = {r.gas_id for r in index.rel_by_producer.get(request.producer_id, ())}
    ids.update(g for g in request.gas_ids if g in index.gas)
    return tuple(sorted(ids))


@dataclass(frozen=True)
class LoanHeadroom:
    """How much more a lender may lend a producer, in all its pools together."""

    borrower_room_cents: int  # per-borrower cap minus what is outstanding (every loan)
    share_room_cents: int | None  # multiple x shares minus outstanding (not match top-ups)
    borrower_cap_cents: int
    outstanding_cents: int
    share_base_cents: int  # shares of the producer and its GAS with the lender
    share_multiple: Decimal | None

    @property
    def cents(self) -> int:
        """Room for an ordinary loan: the tighter of the two caps."""
        if self.share_room_cents is None:
            return self.borrower_room_cents
        return min(self.borrower_room_cents, self.share_room_cents)


def loan_headroom(
    index: NetworkIndex, producer: Producer, lender_id: str, gas_ids: Sequence[str],
    c: MatchingConfig,
) -> LoanHeadroom:
    """Caps on new loans to ``producer`` from ``lender_id``.

    The per-borrower cap (microcredit limit) binds every loan. The share-capital cap
    (``multiple`` x the shares subscribed with the lender by the producer and its GAS)
    binds ordinary loans; a match-funding top-up rests on the GAS prepayments instead.
    """
    lender: Lender | None = index.lenders.get(lender_id)
    cap = c.per_borrower_cap_cents
    multiple = c.share_cap_multiple
    if lender is not None:
        if lender.per_borrower_cap_cents is not None:
            cap = lender.per_borrower_cap_cents
        if lender.share_cap_multiple is not None:
            multiple = lender.share_cap_multiple
    outstanding = producer.outstanding_cents.get(lender_id, 0)
    base = index.shares.get((producer.id, lender_id), 0) + sum(
        index.shares.get((g, lender_id), 0) for g in gas_ids
    )
    by_cap = max(0, cap - outstanding)
    by_shares = None if multiple is None else max(0, floor_cents(multiple * base) - outstanding)
    return LoanHeadroom(by_cap, by_shares, cap, outstanding, base, multiple)


def loans_blocked(producer: Producer, c: MatchingConfig) -> bool:
    return producer.days_past_due > c.max_days_past_due


def fund_general_cents(fund: Fund) -> int:
    return max(0, fund.balance_cents - sum(fund.earmarked.values()))


def match_threshold_cents(rule: MatchRule, request: Request) -> int:
    return ceil_cents(rule.threshold * request.amount_cents)


def record_score(producer: Producer) -> float:
    base = (1 + producer.loans_repaid) / (
        1 + producer.loans_repaid + producer.late_repayments + 3 * producer.loans_written_off
    )
    return base / 2 if producer.arrears_cents > 0 or producer.days_past_due > 0 else base


def allows(request: Request, kind: Kind) -> bool:
    """Instrument mix: a loan request gets no prepayments, a prepayment request no loans
    (nor guarantees of loans); a mixed one everything; solidarity fits all."""
    if kind == "prepayment":
        return request.instrument != "loan"
    if kind in ("loan", "guarantee"):
        return request.instrument != "prepayment"
    return True


# --- candidates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pair:
    """What a GAS brings to a producer whatever the request (no declared interest)."""

    cap_cents: int
    basis: Basis
    budget_cents: int
    rollovers: tuple[OpenPrepayment, ...]
    rolled_cents: int
    tie: float  # of its buying relationship (0 without one)
    km: float | None


@dataclass
class CandidateMemo:
    """Facts that the requests of one producer share, kept while one plan is built.

    Only what does not depend on the request: the distances from the producer to the
    GAS within reach (nearest first) and, per GAS and producer, the undeclared plausible
    prepayment, the GAS's budget, its rollovers, tie and distance. Valid for one
    snapshot, one date and one config (``candidates`` checks).
    """

    network: Network
    when: date
    config: MatchingConfig
    near: dict[str, tuple[dict[str, float], tuple[str, ...]]] = field(default_factory=dict)
    pairs: dict[tuple[str, str], _Pair] = field(default_factory=dict)
    heads: dict[tuple[str, str, tuple[str, ...]], LoanHeadroom] = field(default_factory=dict)
    ties: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, float, str, float | None], ...]] = \
        field(default_factory=dict)


def headroom(
    index: NetworkIndex, producer: Producer, lender_id: str, buyers: tuple[str, ...],
    c: MatchingConfig, memo: CandidateMemo | None = None,
) -> LoanHeadroom:
    """``loan_headroom``, kept in ``memo`` by producer, lender and buying GAS."""
    if memo is None:
        return loan_headroom(index, producer, lender_id, buyers, c)
    key = (producer.id, lender_id, buyers)
    head = memo.heads.get(key)
    if head is None:
        head = memo.heads[key] = loan_headroom(index, producer, lender_id, buyers, c)
    return head


def _near(
    index: NetworkIndex, producer: Producer, c: MatchingConfig,
) -> tuple[dict[str, float], tuple[str, ...]]:
    """Distances to the GAS within ``nearby_km`` of the producer, and those GAS nearest
    first (ties by position)."""
    distances: dict[str, float] = {}
    order_ids: list[str] = []
    if producer.lat is not None and producer.lon is not None and index.gas_ids:
        kms = haversine_km_many(producer.lat, producer.lon, index.gas_lat, index.gas_lon)
        close = np.flatnonzero(kms <= c.nearby_km)  # NaN compares False: unknown is not near
        order = close[np.lexsort((close, kms[close]))]
        ids = index.gas_ids
        for pos, km in zip(order.tolist(), kms[order].tolist(), strict=True):
            distances[ids[pos]] = km
            order_ids.append(ids[pos])
    return distances, tuple(order_ids)


def _pair(
    index: NetworkIndex, gas: Gas, rel: Relationship | None, producer: Producer,
    km: float | None, when: date, c: MatchingConfig,
) -> _Pair:
    cap, basis = gas_prepay_cap_cents(gas, rel, 0, c)
    rolls = rollovers(index, gas.id, producer.id, when, c)
    return _Pair(
        cap, basis, gas_budget_cents(index, gas, c), rolls,
        sum(pp.remaining_cents for pp in rolls),
        relationship_tie(rel, gas, when, c) if rel is not None else 0.0, km,
    )


def _proximity(km: float | None, c: MatchingConfig) -> float:
    if km is None:
        return 0.5
    return max(0.0, 1.0 - km / c.nearby_km)


def _km(producer: Producer, lat: float | None, lon: float | None) -> float | None:
    if producer.lat is None or producer.lon is None or lat is None or lon is None:
        return None
    return haversine_km(producer.lat, producer.lon, lat, lon)


def _guarantor_ties(
    index: NetworkIndex, producer: Producer, rels: dict[str, Relationship],
    buyers: tuple[str, ...], dist: Callable[[str], float | None], when: date, c: MatchingConfig,
) -> tuple[tuple[str, float, str, float | None], ...]:
    """Guarantors tied to the producer, by id: the strongest tie, its note, the distance."""
    ties: dict[str, tuple[float, str]] = {}

    def tie_to(q: Guarantor, strength: float, note: str) -> None:
        if q.party_id == producer.id or q.free_capacity_cents <= 0:
            return
        if q.party_id not in ties or ties[q.party_id][0] < strength:
            ties[q.party_id] = (strength, note)

    for gid in buyers:
        gas = index.gas[gid]
        rel = rels.get(gid)
        strength = relationship_tie(rel, gas, when, c) if rel else 0.3
        q = index.guarantors.get(gid)
        if q is not None and q.kind == "gas":
            tie_to(q, strength, "gas")
        for person in index.persons_by_gas.get(gid, ()):
            tie_to(person, 0.6 * strength if rel else 0.2, f"member:{gid}")
        if rel is not None:
            for other in index.rel_by_gas.get(gid, ()):
                q2 = index.guarantors.get(other.producer_id)
                if q2 is not None and q2.kind == "producer":
                    tie_to(q2, 0.3, f"customer:{gid}")
    for q in index.guarantors_by_tie.get(producer.id, ()):
        tie_to(q, 0.5, "explicit")
    out: list[tuple[str, float, str, float | None]] = []
    for qid in sorted(ties):
        q = index.guarantors[qid]
        strength, note = ties[qid]
        km: float | None
        if q.kind == "gas":
            km = dist(qid) if qid in index.gas else None
        elif q.kind == "producer" and qid in index.producers:
            p2 = index.producers[qid]
            km = _km(producer, p2.lat, p2.lon)
        else:
            km = _km(producer, q.lat, q.lon)
        out.append((qid, strength, note, km))
    return tuple(out)


def candidates(
    network: Network, request: Request, config: MatchingConfig, as_of: date | None = None,
    memo: CandidateMemo | None = None,
) -> list[Candidate]:
    """Every eligible source for ``request`` with its per-request cap and score, unsorted.

    Candidates whose suggestion is zero (e.g. a pool already lent out) are kept: a plan
    still names the limit that stops them. ``memo`` keeps what requests of the same
    producer share (a plan passes one for all its requests); the result is the same.
    """
    index = network.index
    c = config
    when = network.as_of if as_of is None else as_of
    if memo is not None and (memo.network is not network or memo.when != when
                             or (memo.config is not config and memo.config != config)):
        raise ValueError("the candidate memo belongs to another snapshot, date or config")
    producer = index.producers.get(request.producer_id)
    if producer is None:
        raise KeyError(f"unknown producer {request.producer_id!r} in request {request.id!r}")
    amount = request.amount_cents
    record = record_score(producer)
    out: list[Candidate] = []
    rels = {r.gas_id: r for r in index.rel_by_producer.get(producer.id, ())}
    named = {g for g in request.gas_ids if g in index.gas}
    interests = index.interests.get(request.id, ())
    declared: dict[tuple[str, Kind], int] = {}
    for i in interests:
        declared[(i.gas_id, i.kind)] = declared.get((i.gas_id, i.kind), 0) + i.amount_cents
    buyers = producer_gas_ids(index, request)

    near = memo.near.get(producer.id) if memo is not None else None
    if near is None:
        near = _near(index, producer, c)
        if memo is not None:
            memo.near[producer.id] = near
    distances, close = near
    nearby: list[str] = []
    for gid in close:
        if len(nearby) >= c.max_nearby_gas:
            break
        if gid not in rels and gid not in named:
            nearby.append(gid)

    def dist(gid: str) -> float | None:
        if gid in distances:
            return distances[gid]
        g = index.gas[gid]
        return _km(producer, g.lat, g.lon)

    # GAS prepayments
    prepaid_by_gas: int = 0
    if allows(request, "prepayment"):
        cats = {request.category} if request.category else set(producer.categories)
        interested = {g for (g, k) in declared if k == "prepayment" and g in index.gas}
        fair = fair_share_cents(request, c)
        for gid in sorted(set(rels) | named | interested | set(nearby)):
            gas = index.gas[gid]
            rel = rels.get(gid)
            interest = declared.get((gid, "prepayment"), 0)
            pair = memo.pairs.get((gid, producer.id)) if memo is not None else None
            if pair is None:
                pair = _pair(index, gas, rel, producer, dist(gid), when, c)
                if memo is not None:
                    memo.pairs[(gid, producer.id)] = pair
            if interest:
                cap, basis = gas_prepay_cap_cents(gas, rel, interest, c)
            else:
                cap, basis = pair.cap_cents, pair.basis
            budget = pair.budget_cents
            fresh = min(cap, budget)
            rolls = pair.rollovers
            rolled = pair.rolled_cents
            suggested = min(fresh + rolled, fair, amount)
            idle = min(rolled, suggested)
            demand: Demand = "buyer"
            if rel is not None:
                tie = pair.tie
            else:
                demand = "others" if index.categories_by_gas.get(gid, frozenset()) & cats \
                    else "none"
                tie = 0.2 if demand == "others" else 0.1
                if gid in named:
                    tie = 0.3
            km = pair.km
            feats = Features(
                coverage=min(1.0, suggested / amount) if amount else 0.0, tie=tie,
                proximity=_proximity(km, c), idle=idle / suggested if suggested else 0.0,
                interest=1.0 if interest else 0.0, record=record,
            )
            prepaid_by_gas += suggested
            out.append(Candidate(
                request.id, gid, "gas", cap_cents=cap, idle_cents=rolled,
                suggested_cents=suggested, features=feats, score=feats.score(c), km=km,
                relationship=rel, demand=demand, named=gid in named, interest_cents=interest,
                rollovers=rolls, basis=basis,
                budget_cents=budget if fresh < cap else None,
                fair_cents=fair if suggested == fair and fresh + rolled > fair else None,
            ))

    # MAG loans and match funding
    if allows(request, "loan") and not loans_blocked(producer, c):
        heads: dict[str, LoanHeadroom] = {}
        for pool in index.pools:
            if pool.lender_id not in heads:
                heads[pool.lender_id] = headroom(index, producer, pool.lender_id, buyers, c, memo)
            head = heads[pool.lender_id]
            cap = amount if pool.max_loan_cents is None else min(amount, pool.max_loan_cents)
            suggested = max(0, min(cap, pool.free_cents, head.cents))
            idle = min(pool.idle_cents, suggested)
            mult = head.share_multiple
            tie = 0.0
            if amount and mult is not None:
                tie = min(1.0, float(mult * head.share_base_cents) / amount)
            elif amount:
                tie = min(1.0, head.share_base_cents / amount)
            feats = Features(
                coverage=suggested / amount if amount else 0.0, tie=tie, proximity=0.5,
                idle=idle / suggested if suggested else 0.0, interest=0.0, record=record,
            )
            out.append(Candidate(
                request.id, pool.id, "pool", cap_cents=cap, idle_cents=pool.idle_cents,
                suggested_cents=suggested, features=feats, score=feats.score(c),
            ))
        if request.instrument == "mixed" and allows(request, "prepayment"):
            for rule in index.match_rules:
                mpool = index.pools_by_id.get(rule.pool_id)
                if mpool is None:
                    continue
                if mpool.lender_id not in heads:
                    heads[mpool.lender_id] = headroom(
                        index, producer, mpool.lender_id, buyers, c, memo)
                head = heads[mpool.lender_id]
                threshold = match_threshold_cents(rule, request)
                cap = min(rule.cap_cents, amount - threshold)
                if rule.budget_cents is not None:
                    cap = min(cap, rule.budget_cents)
                if mpool.max_loan_cents is not None:
                    cap = min(cap, mpool.max_loan_cents)
                suggested = max(0, min(cap, mpool.free_cents, head.borrower_room_cents))
                tie = min(1.0, prepaid_by_gas / threshold) if threshold else 1.0
                feats = Features(
                    coverage=suggested / amount if amount else 0.0, tie=tie, proximity=0.5,
                    idle=0.0, interest=0.0, record=record,
                )
                out.append(Candidate(
                    request.id, mpool.id, "match", cap_cents=max(0, cap), idle_cents=0,
                    suggested_cents=suggested, features=feats, score=feats.score(c),
                    rule=rule, interest_cents=prepaid_by_gas,
                ))

    # guarantees
    if allows(request, "guarantee"):
        coverage = request.min_guarantee_coverage or c.guarantee_coverage
        need = ceil_cents(coverage * amount)
        tied = memo.ties.get((producer.id, buyers)) if memo is not None else None
        if tied is None:
            tied = _guarantor_ties(index, producer, rels, buyers, dist, when, c)
            if memo is not None:
                memo.ties[(producer.id, buyers)] = tied
        for qid, strength, note, km in tied:
            q = index.guarantors[qid]
            suggested = min(q.free_capacity_cents, need)
            interest = declared.get((qid, "guarantee"), 0)
            feats = Features(
                coverage=suggested / need if need else 0.0, tie=strength,
                proximity=_proximity(km, c), idle=0.0, interest=1.0 if interest else 0.0,
                record=record,
            )
            out.append(Candidate(
                request.id, qid, "guarantor", cap_cents=q.free_capacity_cents, idle_cents=0,
                suggested_cents=suggested, features=feats, score=feats.score(c), km=km,
                relationship=rels.get(qid) if q.kind == "gas" else None,
                interest_cents=interest, tie_note=note, named=qid in named,
                need_cents=need,
            ))

    # solidarity funds
    fund_ids: dict[str, Fund] = {f.id: f for f in index.funds_by_earmark.get(producer.id, ())}
    for gid in sorted(rels):
        for f in index.funds_by_gas.get(gid, ()):
            fund_ids[f.id] = f
    for fid in sorted(fund_ids):
        f = fund_ids[fid]
        earmarked = f.earmarked.get(producer.id, 0)
        general = fund_general_cents(f) if f.gas_id in rels else 0
        usable = min(f.balance_cents, earmarked + general)
        suggested = min(usable, amount)
        rel = rels.get(f.gas_id) if f.gas_id is not None else None
        gas_f = index.gas.get(f.gas_id) if f.gas_id is not None else None
        if earmarked > 0:
            tie = 1.0
        elif rel is not None and gas_f is not None:
            tie = relationship_tie(rel, gas_f, when, c)
        else:
            tie = 0.0
        km = dist(f.gas_id) if gas_f is not None and f.gas_id is not None else None
        interest = declared.get((f.gas_id, "solidarity"), 0) if f.gas_id else 0
        feats = Features(
            coverage=suggested / amount if amount else 0.0, tie=tie, proximity=_proximity(km, c),
            idle=1.0 if suggested else 0.0, interest=1.0 if interest else 0.0, record=record,
        )
        out.append(Candidate(
            request.id, fid, "fund", cap_cents=usable, idle_cents=usable,
            suggested_cents=suggested, features=feats, score=feats.score(c), km=km,
            relationship=rel, interest_cents=interest, earmarked_cents=earmarked,
            general_cents=general,
        ))
    return out


# --- reasons ----------------------------------------------------------------------------


def _relationship_sentences(rel: Relationship, gas: Gas, as_of: date) -> list[str]:
    years = years_between(rel.since, as_of)
    out = [
        f"buys from this producer since {rel.since.year} ({years} years), "
        f"{eur(rel.annual_purchases_cents)} a year"
    ]
    if rel.households_buying is not None:
        out.append(f"{rel.households_buying} of its {gas.households} households buy from it")
    return out


def _record_sentence(producer: Producer) -> str:
    if producer.arrears_cents > 0 or producer.days_past_due > 0:
        return (
            f"the producer is {producer.days_past_due} days past due with "
            f"{eur(producer.arrears_cents)} in arrears"
        )
    if producer.loans_repaid or producer.late_repayments or producer.loans_written_off:
        return (
            f"the producer repaid {producer.loans_repaid} earlier loans, "
            f"{producer.late_repayments} late installments, "
            f"{producer.loans_written_off} written off"
        )
    return "the producer has no loan history and no arrears"


def reasons(
    network: Network, request: Request, cand: Candidate, config: MatchingConfig,
    as_of: date | None = None,
) -> tuple[str, ...]:
    """Plain English sentences with the facts behind a candidate's amount and score."""
    index = network.index
    c = config
    when = network.as_of if as_of is None else as_of
    producer = index.producers[request.producer_id]
    out: list[str] = []
    km_text = f"{cand.km:.0f} km away" if cand.km is not None else None
    if cand.role == "gas":
        gas = index.gas[cand.source_id]
        for pp in cand.rollovers:
            out.append(
                f"{eur(pp.remaining_cents)} left on its prepayment expiring "
                f"{pp.expires_on.isoformat()} is set to roll over: idle money, proposed first"
            )
        if cand.relationship is not None:
            out += _relationship_sentences(cand.relationship, gas, when)
        elif cand.demand == "others":
            out.append("buys this producer's category from other producers")
        else:
            out.append("buys nothing of this category yet: demand no one serves")
        if cand.named:
            out.append("named by the producer in the request")
        if cand.interest_cents:
            out.append(f"declared interest in prepaying {eur(cand.interest_cents)}")
        if km_text:
            out.append(km_text)
        out.append(f"{gas.households} households")
        out.append(sizing_sentence(gas, cand.relationship, cand.cap_cents, cand.basis, c))
        if cand.budget_cents is not None:
            out.append(f"its GAS-wide budget leaves {eur(cand.budget_cents)} of fresh money")
        if cand.fair_cents is not None:
            out.append(
                f"capped at {_pct(c.max_gas_share)} of the request ({eur(cand.fair_cents)}) so "
                "no single GAS carries it"
            )
    elif cand.role in ("pool", "match"):
        pool: Pool = index.pools_by_id[cand.source_id]
        head = loan_headroom(
            index, producer, pool.lender_id, producer_gas_ids(index, request), c)
        if cand.role == "match" and cand.rule is not None:
            rule = cand.rule
            out.append(
                f"match funding: when GAS prepayments reach {_pct(rule.threshold)} of the "
                f"request ({eur(match_threshold_cents(rule, request))}), this pool tops up "
                f"the rest up to {eur(rule.cap_cents)}"
            )
            out.append(
                f"the GAS suggested here could prepay {eur(cand.interest_cents)} together"
            )
        out.append(f"has {eur(pool.free_cents)} free to lend")
        if cand.role == "pool" and pool.idle_cents > 0:
            out.append(
                f"{eur(pool.idle_cents)} of it is repaid capital sitting idle: proposed first"
            )
        if pool.max_loan_cents is not None:
            out.append(f"lends at most {eur(pool.max_loan_cents)} per loan")
        out.append(
            f"per-borrower cap {eur(head.borrower_cap_cents)}, "
            f"{eur(head.outstanding_cents)} already outstanding with this lender"
        )
        if cand.role == "match":
            out.append("a top-up rests on the GAS prepayments, not on share capital")
        elif head.share_multiple is not None:
            out.append(
                f"the producer and its GAS subscribed {eur(head.share_base_cents)} of shares: "
                f"cap {head.share_multiple.normalize():f} x = "
                f"{eur(floor_cents(head.share_multiple * head.share_base_cents))}"
            )
        out.append(_record_sentence(producer))
    elif cand.role == "guarantor":
        q = index.guarantors[cand.source_id]
        out.append(f"has {eur(q.free_capacity_cents)} free pledge capacity")
        if cand.tie_note == "gas":
            if cand.relationship is not None:
                out += _relationship_sentences(cand.relationship, index.gas[q.party_id], when)
            else:
                out.append("named by the producer in the request")
        elif cand.tie_note.startswith("member:"):
            gid = cand.tie_note.split(":", 1)[1]
            out.append(f"member of {index.gas[gid].name}, which buys from this producer")
        elif cand.tie_note.startswith("customer:"):
            gid = cand.tie_note.split(":", 1)[1]
            out.append(f"a producer that also sells to {index.gas[gid].name}")
        else:
            out.append("has a declared tie to this producer")
        if cand.interest_cents:
            out.append(f"declared interest in guaranteeing {eur(cand.interest_cents)}")
        if km_text:
            out.append(km_text)
        coverage = request.min_guarantee_coverage or c.guarantee_coverage
        out.append(f"sized at {_pct(coverage)} of the request: {eur(cand.need_cents)}")
        out.append(_record_sentence(producer))
    else:
        f = index.funds[cand.source_id]
        out.append(f"fund balance {eur(f.balance_cents)} sits idle: proposed first")
        if cand.earmarked_cents:
            out.append(f"{eur(cand.earmarked_cents)} is earmarked for this producer")
        if cand.general_cents and cand.relationship is not None and f.gas_id is not None:
            gas = index.gas[f.gas_id]
            out.append(f"{eur(cand.general_cents)} is not earmarked and {gas.name} buys here")
            out += _relationship_sentences(cand.relationship, gas, when)
        if km_text:
            out.append(km_text)
    return tuple(out)


def sort_key(cand: Candidate, c: MatchingConfig) -> tuple[float, int, str, str, str]:
    """Best score first (the contract's order; idle money already weighs in the score),
    idle money first among equal scores, then by source."""
    idle = min(cand.idle_cents, cand.suggested_cents)
    first = 0 if idle >= c.idle_first_min_cents else 1
    rule = cand.rule.id if cand.rule is not None else ""
    return (-cand.score, first, cand.source_id, cand.kind, rule)


def suggest_opportunities(
    network: Network, request: Request, config: MatchingConfig | None = None,
    as_of: date | None = None,
) -> list[Opportunity]:
    """Ranked opportunities for one request, best score first."""
    c = config or MatchingConfig()
    cands = [k for k in candidates(network, request, c, as_of) if k.suggested_cents > 0]
    cands.sort(key=lambda k: sort_key(k, c))
    return [
        Opportunity(
            source_id=k.source_id, kind=k.kind, suggested_amount_cents=k.suggested_cents,
            score=k.score, reasons=reasons(network, request, k, c, as_of),
            idle_cents=min(k.idle_cents, k.suggested_cents),
            rule_id=k.rule.id if k.rule is not None else None,
        )
        for k in cands
    ]


__all__ = [
    "Candidate",
    "CandidateMemo",
    "Features",
    "Opportunity",
    "candidates",
    "eur",
    "reasons",
    "suggest_opportunities",
]
