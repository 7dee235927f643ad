"""The matching input: a frozen snapshot of the network as of one date.

Ids are strings (UUIDs in the service). Money is integer cents (EUR). The service loads
these from the database; nothing here touches it. ``Network.index`` builds the lookup
tables once per snapshot (kept on the instance), so many requests share them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

Kind = Literal["prepayment", "loan", "guarantee", "solidarity"]
Instrument = Literal["loan", "prepayment", "mixed"]
GuarantorKind = Literal["gas", "person", "producer"]
OnExpiry = Literal["refund", "rollover", "solidarity"]

K = TypeVar("K")
V = TypeVar("V")

KINDS: tuple[Kind, ...] = ("prepayment", "loan", "guarantee", "solidarity")


@dataclass(frozen=True)
class Gas:
    id: str
    name: str
    households: int
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Producer:
    id: str
    name: str
    categories: tuple[str, ...] = ()
    lat: float | None = None
    lon: float | None = None
    loans_repaid: int = 0  # earlier loans repaid in full
    late_repayments: int = 0  # installments ever paid more than 30 days late
    loans_written_off: int = 0
    arrears_cents: int = 0  # overdue now (all loans)
    days_past_due: int = 0  # now, worst loan
    outstanding_cents: Mapping[str, int] = field(default_factory=dict)  # by lender id


@dataclass(frozen=True)
class Relationship:
    """A GAS buys from a producer (what ``POST /api/relationships`` records)."""

    gas_id: str
    producer_id: str
    since: date
    annual_purchases_cents: int
    households_buying: int | None = None  # None: unknown, the GAS's households are used
    categories: tuple[str, ...] = ()  # what it buys there; empty: the producer's categories


@dataclass(frozen=True)
class Lender:
    id: str
    name: str
    per_borrower_cap_cents: int | None = None  # None: MatchingConfig.per_borrower_cap_cents
    share_cap_multiple: Decimal | None = None  # None: MatchingConfig.share_cap_multiple
    # Guarantees its loans need before disbursement (1.5: 150%); None: none.
    min_guarantee_coverage: Decimal | None = None


@dataclass(frozen=True)
class Pool:
    id: str
    lender_id: str
    name: str
    free_cents: int  # balance available to lend now
    max_loan_cents: int | None = None
    idle_cents: int = 0  # part of free_cents that is repaid capital waiting to be lent again


@dataclass(frozen=True)
class Share:
    """Share capital subscribed by a member (person, GAS or producer) with a lender."""

    member_id: str
    lender_id: str
    amount_cents: int


@dataclass(frozen=True)
class Guarantor:
    party_id: str
    kind: GuarantorKind
    free_capacity_cents: int  # pledge capacity minus what is pledged
    name: str = ""
    gas_ids: tuple[str, ...] = ()  # person: the GAS it belongs to
    producer_ids: tuple[str, ...] = ()  # explicit ties (e.g. producers of the same DES)
    lat: float | None = None  # persons; GAS and producers use their own coordinates
    lon: float | None = None


@dataclass(frozen=True)
class Fund:
    id: str
    gas_id: str | None
    name: str
    balance_cents: int
    earmarked: Mapping[str, int] = field(default_factory=dict)  # producer id -> cents


@dataclass(frozen=True)
class OpenPrepayment:
    """What is still owed in goods on an open prepayment."""

    id: str
    gas_id: str
    producer_id: str
    remaining_cents: int
    expires_on: date
    on_expiry: OnExpiry


@dataclass(frozen=True)
class Interest:
    """A GAS declared interest in contributing to a request."""

    gas_id: str
    request_id: str
    kind: Kind
    amount_cents: int


@dataclass(frozen=True)
class MatchRule:
    """Match funding: once GAS prepayments reach ``threshold`` of a request, the pool tops
    up the rest as a loan, at most ``cap_cents`` per request (and ``budget_cents`` in all)."""

    id: str
    pool_id: str
    threshold: Decimal = Decimal("0.75")
    cap_cents: int = 2_500_000
    budget_cents: int | None = None


@dataclass(frozen=True)
class Request:
    id: str
    producer_id: str
    amount_cents: int
    instrument: Instrument
    term_months: int
    weight: Decimal = Decimal(1)  # from the assessment, e.g. (economic + social) / 20
    gas_ids: tuple[str, ...] = ()  # GAS the producer named
    # The coverage every loan to this request needs (its terms name the category), e.g.
    # Decimal("1.5"); None: each loan needs what its lender asks (``loan_coverage``).
    min_guarantee_coverage: Decimal | None = None
    category: str | None = None  # product category; None: the producer's categories


@dataclass(frozen=True)
class NetworkIndex:
    gas: Mapping[str, Gas]
    producers: Mapping[str, Producer]
    lenders: Mapping[str, Lender]
    pools: tuple[Pool, ...]  # sorted by id
    pools_by_id: Mapping[str, Pool]
    guarantors: Mapping[str, Guarantor]
    funds: Mapping[str, Fund]
    rel_by_producer: Mapping[str, tuple[Relationship, ...]]  # sorted by gas id
    rel_by_gas: Mapping[str, tuple[Relationship, ...]]  # sorted by producer id
    rel: Mapping[tuple[str, str], Relationship]  # (gas id, producer id)
    categories_by_gas: Mapping[str, frozenset[str]]
    shares: Mapping[tuple[str, str], int]  # (member id, lender id) -> cents
    open_prepaid_by_gas: Mapping[str, int]  # remaining on all open prepayments
    prepayments_by_pair: Mapping[tuple[str, str], tuple[OpenPrepayment, ...]]
    persons_by_gas: Mapping[str, tuple[Guarantor, ...]]
    guarantors_by_tie: Mapping[str, tuple[Guarantor, ...]]  # producer id -> explicit ties
    funds_by_gas: Mapping[str, tuple[Fund, ...]]
    funds_by_earmark: Mapping[str, tuple[Fund, ...]]
    interests: Mapping[str, tuple[Interest, ...]]  # by request id
    match_rules: tuple[MatchRule, ...]
    gas_ids: tuple[str, ...]  # order of the coordinate arrays
    gas_pos: Mapping[str, int]
    gas_lat: npt.NDArray[np.float64]
    gas_lon: npt.NDArray[np.float64]


def _group(items: list[tuple[K, V]]) -> dict[K, tuple[V, ...]]:
    out: dict[K, list[V]] = {}
    for key, value in items:
        out.setdefault(key, []).append(value)
    return {k: tuple(v) for k, v in out.items()}


@dataclass(frozen=True)
class Network:
    as_of: date
    gas: tuple[Gas, ...] = ()
    producers: tuple[Producer, ...] = ()
    relationships: tuple[Relationship, ...] = ()
    lenders: tuple[Lender, ...] = ()
    pools: tuple[Pool, ...] = ()
    shares: tuple[Share, ...] = ()
    guarantors: tuple[Guarantor, ...] = ()
    funds: tuple[Fund, ...] = ()
    prepayments: tuple[OpenPrepayment, ...] = ()
    interests: tuple[Interest, ...] = ()
    match_rules: tuple[MatchRule, ...] = ()

    @cached_property
    def index(self) -> NetworkIndex:
        """Lookup tables, built on first use and kept with this snapshot."""
        gas = {g.id: g for g in self.gas}
        producers = {p.id: p for p in self.producers}
        rels = sorted(self.relationships, key=lambda r: (r.producer_id, r.gas_id))
        categories: dict[str, set[str]] = {}
        for r in rels:
            bought = r.categories or (
                producers[r.producer_id].categories if r.producer_id in producers else ()
            )
            categories.setdefault(r.gas_id, set()).update(bought)
        shares: dict[tuple[str, str], int] = {}
        for s in self.shares:
            key = (s.member_id, s.lender_id)
            shares[key] = shares.get(key, 0) + s.amount_cents
        open_prepaid: dict[str, int] = {}
        for pp in self.prepayments:
            open_prepaid[pp.gas_id] = open_prepaid.get(pp.gas_id, 0) + pp.remaining_cents
        guarantors = sorted(self.guarantors, key=lambda q: q.party_id)
        funds = sorted(self.funds, key=lambda f: f.id)
        gas_sorted = sorted(self.gas, key=lambda g: g.id)
        nan = float("nan")
        return NetworkIndex(
            gas=gas,
            producers=producers,
            lenders={lender.id: lender for lender in self.lenders},
            pools=tuple(sorted(self.pools, key=lambda p: p.id)),
            pools_by_id={p.id: p for p in self.pools},
            guarantors={q.party_id: q for q in guarantors},
            funds={f.id: f for f in funds},
            rel_by_producer=_group([(r.producer_id, r) for r in rels]),
            rel_by_gas=_group(
                [(r.gas_id, r) for r in sorted(rels, key=lambda r: (r.gas_id, r.producer_id))]
            ),
            rel={(r.gas_id, r.producer_id): r for r in rels},
            categories_by_gas={k: frozenset(v) for k, v in categories.items()},
            shares=shares,
            open_prepaid_by_gas=open_prepaid,
            prepayments_by_pair=_group(
                [((pp.gas_id, pp.producer_id), pp)
                 for pp in sorted(self.prepayments, key=lambda pp: pp.id)]
            ),
            persons_by_gas=_group(
                [(g, q) for q in guarantors if q.kind == "person" for g in q.gas_ids]
            ),
            guarantors_by_tie=_group(
                [(p, q) for q in guarantors for p in sorted(set(q.producer_ids))]
            ),
            funds_by_gas=_group([(f.gas_id, f) for f in funds if f.gas_id is not None]),
            funds_by_earmark=_group(
                [(p, f) for f in funds for p, c in sorted(f.earmarked.items()) if c > 0]
            ),
            interests=_interests_by_request(self.interests),
            match_rules=tuple(sorted(self.match_rules, key=lambda m: m.id)),
            gas_ids=tuple(g.id for g in gas_sorted),
            gas_pos={g.id: i for i, g in enumerate(gas_sorted)},
            gas_lat=np.array([nan if g.lat is None else g.lat for g in gas_sorted], dtype=float),
            gas_lon=np.array([nan if g.lon is None else g.lon for g in gas_sorted], dtype=float),
        )

    def with_interests(self, interests: tuple[Interest, ...]) -> Network:
        """The same network with these declared interests instead of its own; lookup
        tables already built are kept (only the interests' are rebuilt), so a network
        read once can serve every request's interests."""
        out = replace(self, interests=interests)
        built = self.__dict__.get("index")
        if built is not None:
            out.__dict__["index"] = replace(built, interests=_interests_by_request(interests))
        return out


def _interests_by_request(interests: tuple[Interest, ...]) -> dict[str, tuple[Interest, ...]]:
    return _group([(i.request_id, i)
                   for i in sorted(interests, key=lambda i: (i.gas_id, i.kind))])


def loan_coverage(request: Request, lender: Lender) -> Decimal | None:
    """The guarantee coverage a loan from ``lender`` to ``request`` needs (None: none)."""
    if request.min_guarantee_coverage is not None:
        return request.min_guarantee_coverage
    return lender.min_guarantee_coverage
