"""Suggestions for one request: who is proposed, how much, in what order, and why."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

from matching.config import MatchingConfig
from matching.geo import haversine_km
from matching.network import (
    Fund,
    Gas,
    Guarantor,
    Interest,
    Lender,
    MatchRule,
    Network,
    OpenPrepayment,
    Pool,
    Producer,
    Relationship,
    Request,
    Share,
)
from matching.scoring import suggest_opportunities

AS_OF = date(2025, 3, 1)
# 0.1 degree of latitude on a sphere of radius 6371.0088 km, by hand: 11.119... km
DEG_KM = math.pi / 180 * 6371.0088


def network(**overrides: object) -> Network:
    base: dict[str, object] = dict(
        as_of=AS_OF,
        gas=(
            Gas("gas-bovisa", "GAS Bovisa", 30, 45.1, 9.0),  # 0.1 deg north: 11 km
            Gas("gas-isola", "GAS Isola", 20, 45.0, 9.0),  # at the farm: 0 km
            Gas("gas-far", "GAS Lontano", 25, 46.0, 9.0),  # 111 km: not nearby
            Gas("gas-verde", "GAS Verde", 24, 45.2, 9.0),  # 22 km, buys cheese elsewhere
        ),
        producers=(
            Producer("farm", "Cascina Rosa", ("cheese",), 45.0, 9.0, loans_repaid=2),
            Producer("dairy", "Latteria", ("cheese",), 45.3, 9.0),
        ),
        relationships=(
            Relationship("gas-bovisa", "farm", date(2014, 5, 1), 480_000, 18),
            Relationship("gas-verde", "dairy", date(2020, 1, 1), 200_000),
        ),
        lenders=(Lender("mag", "Mag2"),),
        pools=(Pool("pool-gen", "mag", "General pool", 5_000_000, None, 1_200_000),),
        shares=(Share("gas-bovisa", "mag", 900_000), Share("farm", "mag", 100_000)),
        guarantors=(
            Guarantor("gas-bovisa", "gas", 320_000, "GAS Bovisa"),
            Guarantor("anna", "person", 150_000, "Anna", gas_ids=("gas-bovisa",)),
            Guarantor("bruno", "person", 90_000, "Bruno", gas_ids=("gas-far",)),
        ),
        funds=(
            Fund("fund-bovisa", "gas-bovisa", "Fondo Bovisa", 200_000, {"farm": 50_000}),
            Fund("fund-verde", "gas-verde", "Fondo Verde", 70_000, {}),
        ),
        prepayments=(
            OpenPrepayment("pp-1", "gas-bovisa", "farm", 80_000, date(2025, 4, 15), "rollover"),
        ),
    )
    base.update(overrides)
    return Network(**base)  # type: ignore[arg-type]


def request(instrument: str = "mixed", amount: int = 1_000_000, **kw: object) -> Request:
    return Request("req-1", "farm", amount, instrument, 24, Decimal("0.8"),  # type: ignore[arg-type]
                   **kw)  # type: ignore[arg-type]


def by_key(opps: list) -> dict:  # type: ignore[type-arg]
    return {(o.kind, o.source_id, o.rule_id): o for o in opps}


def test_existing_buyer_reasons_carry_the_facts() -> None:
    opps = by_key(suggest_opportunities(network(), request(), MatchingConfig()))
    bovisa = opps[("prepayment", "gas-bovisa", None)]
    text = " | ".join(bovisa.reasons)
    # 2014-05-01 to 2025-03-01 is 10 full years; 4,800.00 EUR a year
    assert "since 2014 (10 years), 4,800.00 EUR a year" in text
    assert "18 of its 30 households" in text
    assert f"{round(DEG_KM * 0.1)} km away" in text and "11 km away" in text
    assert "800.00 EUR left on its prepayment expiring 2025-04-15" in text
    # fresh: min(50% of 4,800.00, 18 x 300.00) = 2,400.00, plus the 800.00 rollover
    assert bovisa.suggested_amount_cents == 240_000 + 80_000
    assert bovisa.suggested_amount == Decimal("3200.00")
    assert bovisa.idle_cents == 80_000


def test_nearby_gas_without_relationship_sized_as_newcomer() -> None:
    opps = by_key(suggest_opportunities(network(), request(), MatchingConfig()))
    isola = opps[("prepayment", "gas-isola", None)]
    # 25% of 20 households x 300.00 EUR
    assert isola.suggested_amount_cents == 20 * 30_000 // 4
    assert "0 km away" in isola.reasons
    assert any("demand no one serves" in r for r in isola.reasons)
    verde = opps[("prepayment", "gas-verde", None)]
    assert any("from other producers" in r for r in verde.reasons)
    assert f"{round(2 * DEG_KM * 0.1)} km away" in verde.reasons
    assert ("prepayment", "gas-far", None) not in opps  # 111 km, no tie


def test_loan_pool_caps_and_idle_capital() -> None:
    opps = by_key(suggest_opportunities(network(), request(), MatchingConfig()))
    pool = opps[("loan", "pool-gen", None)]
    # shares of the farm (1,000.00) and its GAS (9,000.00) x 2 = 20,000.00; request 10,000.00
    assert pool.suggested_amount_cents == 1_000_000
    text = " | ".join(pool.reasons)
    assert "has 50,000.00 EUR free to lend" in text
    assert "12,000.00 EUR of it is repaid capital sitting idle" in text
    assert "subscribed 10,000.00 EUR of shares: cap 2 x = 20,000.00 EUR" in text
    assert "per-borrower cap 75,000.00 EUR" in text
    assert "repaid 2 earlier loans" in text


def test_share_cap_and_arrears_bound_the_loan() -> None:
    producers = (
        Producer("farm", "Cascina Rosa", ("cheese",), 45.0, 9.0, arrears_cents=120_000,
                 days_past_due=12, outstanding_cents={"mag": 1_500_000}),
    )
    opps = by_key(suggest_opportunities(network(producers=producers), request(amount=3_000_000),
                                        MatchingConfig()))
    pool = opps[("loan", "pool-gen", None)]
    # 2 x 10,000.00 of shares = 20,000.00, less 15,000.00 outstanding
    assert pool.suggested_amount_cents == 2 * 1_000_000 - 1_500_000
    assert any("12 days past due with 1,200.00 EUR in arrears" in r for r in pool.reasons)
    late = (Producer("farm", "Cascina Rosa", ("cheese",), 45.0, 9.0, days_past_due=45),)
    kinds = {o.kind for o in suggest_opportunities(network(producers=late), request(),
                                                    MatchingConfig())}
    assert "loan" not in kinds  # 45 > max_days_past_due (30)


def test_guarantors_with_ties_and_free_capacity() -> None:
    opps = by_key(suggest_opportunities(network(), request(), MatchingConfig()))
    gas = opps[("guarantee", "gas-bovisa", None)]
    assert "has 3,200.00 EUR free pledge capacity" in gas.reasons
    assert gas.suggested_amount_cents == 320_000  # all of it: 150% of 10,000 is more
    anna = opps[("guarantee", "anna", None)]
    assert anna.suggested_amount_cents == 150_000
    assert any("member of GAS Bovisa" in r for r in anna.reasons)
    assert ("guarantee", "bruno", None) not in opps  # his GAS does not buy from the farm


def test_solidarity_funds_earmarked_and_general() -> None:
    opps = by_key(suggest_opportunities(network(), request(), MatchingConfig()))
    fund = opps[("solidarity", "fund-bovisa", None)]
    assert fund.suggested_amount_cents == 200_000  # 500.00 earmarked + 1,500.00 general
    assert "500.00 EUR is earmarked for this producer" in fund.reasons
    assert ("solidarity", "fund-verde", None) not in opps  # Verde does not buy here


def test_instrument_mix() -> None:
    net = network()
    loan = {o.kind for o in suggest_opportunities(net, request("loan"), MatchingConfig())}
    prepay = {o.kind for o in suggest_opportunities(net, request("prepayment"), MatchingConfig())}
    mixed = {o.kind for o in suggest_opportunities(net, request("mixed"), MatchingConfig())}
    assert loan == {"loan", "guarantee", "solidarity"}
    assert prepay == {"prepayment", "solidarity"}
    assert mixed == {"loan", "guarantee", "solidarity", "prepayment"}


def test_best_score_first_idle_money_first_among_equals() -> None:
    opps = suggest_opportunities(network(), request(), MatchingConfig())
    c = MatchingConfig()
    assert {o.source_id for o in opps if o.idle_cents >= c.idle_first_min_cents} == {
        "pool-gen", "fund-bovisa", "gas-bovisa"}  # 800.00 of rollover is above 100.00
    # The contract's "best first": scores never rise down the list; equal scores put
    # idle money first, then sources by id.
    keys = [(-o.score, 0 if o.idle_cents >= c.idle_first_min_cents else 1, o.source_id)
            for o in opps]
    assert keys == sorted(keys)
    assert all(0.0 <= o.score <= 1.0 for o in opps)


def test_declared_interest_and_match_rule() -> None:
    net = network(
        interests=(Interest("gas-far", "req-1", "prepayment", 150_000),),
        match_rules=(MatchRule("rule-75", "pool-gen", Decimal("0.75"), 300_000),),
    )
    opps = by_key(suggest_opportunities(net, request(), MatchingConfig()))
    far = opps[("prepayment", "gas-far", None)]
    assert far.suggested_amount_cents == 150_000
    assert "declared interest in prepaying 1,500.00 EUR" in far.reasons
    assert f"{round(10 * DEG_KM * 0.1)} km away" in far.reasons
    top = opps[("loan", "pool-gen", "rule-75")]
    # the rest above 75% of 10,000.00 is 2,500.00, below the rule's 3,000.00 cap
    assert top.suggested_amount_cents == 250_000
    assert any("reach 75% of the request (7,500.00 EUR)" in r for r in top.reasons)


def test_same_input_same_output() -> None:
    net = network()
    a = suggest_opportunities(net, request(), MatchingConfig())
    shuffled = network(gas=tuple(reversed(net.gas)), guarantors=tuple(reversed(net.guarantors)))
    b = suggest_opportunities(shuffled, request(), MatchingConfig())
    assert a == b


def test_haversine_against_hand_formula() -> None:
    assert math.isclose(haversine_km(45.0, 9.0, 45.1, 9.0), DEG_KM * 0.1, rel_tol=1e-9)
    # Milan Duomo to Rome Colosseum: about 477 km great-circle
    assert 470 < haversine_km(45.4642, 9.19, 41.8902, 12.4922) < 485
