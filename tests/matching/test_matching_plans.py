"""Plans for many requests: hand-solved optima, limits, exact sums, determinism, LP vs greedy."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from matching.allocation import (
    OBJECTIVE,
    Allocation,
    Plan,
    build_model,
    finish_plan,
    plan_allocation,
    solve_model,
)
from matching.checks import PlanViolation, check_plan
from matching.config import MatchingConfig
from matching.greedy import plan_greedy
from matching.model import TOPUP, LimitModel
from matching.network import (
    Fund,
    Gas,
    Guarantor,
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
from matching.scoring import CandidateMemo, candidates

AS_OF = date(2025, 3, 1)
NO_SHARE_CAP = MatchingConfig(share_cap_multiple=None)


def allocs(plan: Plan) -> set[tuple[str, str, str, int]]:
    return {(a.request_id, a.kind, a.source_id, a.amount_cents) for a in plan.allocations}


def weighted(plan: Plan, requests: list[Request]) -> Decimal:
    """The objective by hand: sum of weight x funded cents (guarantees excluded)."""
    got: dict[str, int] = defaultdict(int)
    for a in plan.allocations:
        if a.kind != "guarantee":
            got[a.request_id] += a.amount_cents
    return sum((r.weight * got[r.id] for r in requests), Decimal(0))


def test_scarce_pool_goes_to_the_better_assessed_request() -> None:
    net = Network(
        as_of=AS_OF,
        producers=(Producer("p-a", "A"), Producer("p-b", "B")),
        lenders=(Lender("mag", "Mag2"),),
        pools=(Pool("pool", "mag", "General", 1_000_000),),
    )
    reqs = [Request("r-a", "p-a", 800_000, "loan", 24, Decimal("0.9")),
            Request("r-b", "p-b", 600_000, "loan", 24, Decimal("0.5"))]
    plan = plan_allocation(net, reqs, NO_SHARE_CAP)
    assert allocs(plan) == {("r-a", "loan", "pool", 800_000), ("r-b", "loan", "pool", 200_000)}
    assert plan.funded_cents == {"r-a": 800_000, "r-b": 200_000}
    assert plan.unfunded_cents == {"r-a": 0, "r-b": 400_000}
    assert [lim.code for lim in plan.binding["r-b"]] == ["pool_free"]
    assert plan.objective == OBJECTIVE
    assert plan.objective_value == Decimal("0.9") * 800_000 + Decimal("0.5") * 200_000


def test_lp_beats_greedy_on_a_shared_fund() -> None:
    # One fund (its GAS buys from both farms) and one pool. The greedy gives the first
    # request the idle fund money first and starves the second, which only the fund can
    # serve (a prepayment request takes no loan). The optimum: loan to r1, fund to r2.
    net = Network(
        as_of=AS_OF,
        gas=(Gas("g", "GAS", 0),),
        producers=(Producer("p1", "One"), Producer("p2", "Two")),
        relationships=(Relationship("g", "p1", date(2020, 1, 1), 100_000),
                       Relationship("g", "p2", date(2020, 1, 1), 100_000)),
        lenders=(Lender("mag", "Mag2"),),
        pools=(Pool("pool", "mag", "General", 1_000_000),),
        funds=(Fund("fund", "g", "Fondo", 500_000),),
    )
    reqs = [Request("r1", "p1", 1_000_000, "loan", 24, Decimal("0.9")),
            Request("r2", "p2", 500_000, "prepayment", 12, Decimal("0.8"))]
    lp = plan_allocation(net, reqs, NO_SHARE_CAP)
    greedy = plan_greedy(net, reqs, NO_SHARE_CAP)
    assert allocs(lp) == {("r1", "loan", "pool", 1_000_000), ("r2", "solidarity", "fund", 500_000)}
    assert allocs(greedy) == {("r1", "solidarity", "fund", 500_000),
                              ("r1", "loan", "pool", 500_000)}
    assert weighted(lp, reqs) == Decimal("0.9") * 1_000_000 + Decimal("0.8") * 500_000
    assert lp.objective_value == weighted(lp, reqs) > greedy.objective_value
    assert greedy.unfunded_cents["r2"] == 500_000
    # the fund is spent, and the GAS (no households) can prepay nothing
    assert {lim.code for lim in greedy.binding["r2"]} == {"fund_general", "fund_balance",
                                                          "source_cap"}


def _match_network(second_gas: bool) -> Network:
    gas = [Gas("g1", "GAS Uno", 40, 45.0, 9.0)]
    rels = [Relationship("g1", "p", date(2015, 1, 1), 2_000_000, 40)]
    if second_gas:
        gas.append(Gas("g2", "GAS Due", 20, 45.0, 9.0))
        rels.append(Relationship("g2", "p", date(2018, 1, 1), 600_000, 20))
    return Network(
        as_of=AS_OF,
        gas=tuple(gas),
        producers=(Producer("p", "Caseificio", ("cheese",), 45.0, 9.0),),
        relationships=tuple(rels),
        lenders=(Lender("mag", "Mag2"),),
        pools=(Pool("pool", "mag", "General", 5_000_000),),
        match_rules=(MatchRule("rule", "pool", Decimal("0.75"), 300_000),),
    )


def test_match_funding_tops_up_once_gas_reach_the_threshold() -> None:
    # No shares: no ordinary loan. g1 plausibly prepays 50% of 20,000 = 10,000, capped
    # by fairness at 50% of 10,000 = 5,000; g2 50% of 6,000 = 3,000. Together 8,000 >=
    # 7,500 (75%), so the pool tops up the last 2,000 (cap 3,000).
    req = Request("r", "p", 1_000_000, "mixed", 36, Decimal("0.7"))
    plan = plan_allocation(_match_network(True), [req])
    assert allocs(plan) == {("r", "prepayment", "g1", 500_000), ("r", "prepayment", "g2", 300_000),
                            ("r", "loan", "pool", 200_000)}
    top = next(a for a in plan.allocations if a.kind == "loan")
    assert top.rule_id == "rule"
    assert plan.unfunded_cents == {"r": 0}


def test_match_funding_withheld_below_the_threshold() -> None:
    req = Request("r", "p", 1_000_000, "mixed", 36, Decimal("0.7"))
    for plan in (plan_allocation(_match_network(False), [req]),
                 plan_greedy(_match_network(False), [req])):
        assert allocs(plan) == {("r", "prepayment", "g1", 500_000)}
        assert plan.unfunded_cents == {"r": 500_000}
        codes = {lim.code for lim in plan.binding["r"]}
        assert codes == {"fairness", "share_cap", "match_threshold"}


def test_minimum_guarantee_coverage_limits_the_loan() -> None:
    # 150% cover; guarantors tied to the farm can pledge 6,000 + 3,000 = 9,000, so the
    # loan stops at 9,000 / 1.5 = 6,000 and the pledges are exactly 9,000.
    net = Network(
        as_of=AS_OF,
        gas=(Gas("g", "GAS", 30),),
        producers=(Producer("p", "Farm"),),
        relationships=(Relationship("g", "p", date(2019, 1, 1), 100_000),),
        lenders=(Lender("mag", "Mag2"),),
        pools=(Pool("pool", "mag", "General", 5_000_000),),
        guarantors=(Guarantor("g", "gas", 600_000, "GAS"),
                    Guarantor("anna", "person", 300_000, "Anna", gas_ids=("g",)),
                    Guarantor("zed", "person", 900_000, "Zed")),  # no tie: never used
    )
    req = Request("r", "p", 1_000_000, "loan", 24, Decimal("1"),
                  min_guarantee_coverage=Decimal("1.5"))
    for plan in (plan_allocation(net, [req], NO_SHARE_CAP), plan_greedy(net, [req], NO_SHARE_CAP)):
        assert allocs(plan) == {("r", "loan", "pool", 600_000), ("r", "guarantee", "g", 600_000),
                                ("r", "guarantee", "anna", 300_000)}
        assert plan.funded_cents == {"r": 600_000}  # guarantees do not count as funding
        assert plan.unfunded_cents == {"r": 400_000}
        assert {lim.code for lim in plan.binding["r"]} == {"guarantee_coverage"}


def test_each_loan_needs_only_its_own_lenders_coverage() -> None:
    # Mag2 asks no guarantees and has money; Mag bis asks 150% and has more money. No
    # guarantor can pledge: the plan lends from Mag2 alone and pledges nothing.
    net = Network(
        as_of=AS_OF,
        gas=(Gas("g", "GAS", 30),),
        producers=(Producer("p", "Farm"),),
        relationships=(Relationship("g", "p", date(2019, 1, 1), 100_000),),
        lenders=(Lender("mag", "Mag2"),
                 Lender("bis", "Mag bis", min_guarantee_coverage=Decimal("1.5"))),
        pools=(Pool("pool", "mag", "General", 800_000),
               Pool("big", "bis", "General", 5_000_000)),
        guarantors=(Guarantor("g", "gas", 0, "GAS"),),
    )
    req = Request("r", "p", 1_000_000, "loan", 24, Decimal("1"))
    for plan in (plan_allocation(net, [req], NO_SHARE_CAP),
                 plan_greedy(net, [req], NO_SHARE_CAP)):
        assert allocs(plan) == {("r", "loan", "pool", 800_000)}
        assert plan.unfunded_cents == {"r": 200_000}
    # With a guarantor able to pledge 150,000, Mag bis lends 100,000 more (150%).
    richer = replace(net, guarantors=(Guarantor("g", "gas", 150_000, "GAS"),))
    for plan in (plan_allocation(richer, [req], NO_SHARE_CAP),
                 plan_greedy(richer, [req], NO_SHARE_CAP)):
        assert allocs(plan) == {("r", "loan", "pool", 800_000), ("r", "loan", "big", 100_000),
                                ("r", "guarantee", "g", 150_000)}
        check_plan(richer, [req], plan, NO_SHARE_CAP)


def test_earmarks_serve_only_their_producer() -> None:
    # Fund of g: 2,000.00, of which 1,000.00 earmarked for p1 and 500.00 for p2; g buys
    # from p1 only, so p1 may also take the 500.00 not earmarked, p2 only its earmark.
    net = Network(
        as_of=AS_OF,
        gas=(Gas("g", "GAS", 0),),
        producers=(Producer("p1", "One"), Producer("p2", "Two")),
        relationships=(Relationship("g", "p1", date(2020, 1, 1), 100_000),),
        funds=(Fund("f", "g", "Fondo", 200_000, {"p1": 100_000, "p2": 50_000}),),
    )
    reqs = [Request("r1", "p1", 300_000, "loan", 12, Decimal("0.5")),
            Request("r2", "p2", 300_000, "loan", 12, Decimal("0.9"))]
    plan = plan_allocation(net, reqs)
    assert allocs(plan) == {("r1", "solidarity", "f", 150_000), ("r2", "solidarity", "f", 50_000)}
    assert plan.unfunded_cents == {"r1": 150_000, "r2": 250_000}


def test_idle_rollover_and_capital_are_used_first() -> None:
    # The GAS could prepay fresh money or roll over 400.00; the plan takes the idle part.
    net = Network(
        as_of=AS_OF,
        gas=(Gas("g", "GAS", 30),),
        producers=(Producer("p", "Farm"),),
        relationships=(Relationship("g", "p", date(2016, 1, 1), 1_000_000, 30),),
        prepayments=(OpenPrepayment("pp", "g", "p", 40_000, date(2025, 3, 20), "rollover"),),
    )
    req = Request("r", "p", 100_000, "prepayment", 12)
    plan = plan_allocation(net, [req])
    assert plan.allocations == (Allocation("r", "g", "prepayment", 50_000, 40_000),)


def test_post_check_catches_a_broken_plan() -> None:
    net = Network(as_of=AS_OF, producers=(Producer("p", "P"),), lenders=(Lender("m", "M"),),
                  pools=(Pool("pool", "m", "General", 100_000),))
    req = Request("r", "p", 500_000, "loan", 12)
    plan = plan_allocation(net, [req], NO_SHARE_CAP)
    assert plan.funded_cents == {"r": 100_000}
    bad = replace(plan, allocations=(Allocation("r", "pool", "loan", 150_000),),
                  funded_cents={"r": 150_000}, unfunded_cents={"r": 350_000})
    with pytest.raises(PlanViolation, match="free"):
        check_plan(net, [req], bad, NO_SHARE_CAP)
    bad_sums = replace(plan, allocations=(Allocation("r", "pool", "loan", 100_000),),
                         unfunded_cents={"r": 300_000})
    with pytest.raises(PlanViolation, match="funded \\+ unfunded"):
        check_plan(net, [req], bad_sums, NO_SHARE_CAP)


# --- random networks ------------------------------------------------------------------------


def random_network(seed: int) -> tuple[Network, list[Request]]:
    rnd = random.Random(seed)
    n_gas, n_prod = rnd.randint(1, 6), rnd.randint(1, 4)
    gas = tuple(Gas(f"g{i}", f"GAS {i}", rnd.randint(0, 40), 45 + rnd.random() / 3,
                    9 + rnd.random() / 3) for i in range(n_gas))
    producers = tuple(
        Producer(f"p{i}", f"Farm {i}", (rnd.choice(["cheese", "bread"]),),
                 45 + rnd.random() / 3, 9 + rnd.random() / 3,
                 loans_repaid=rnd.randint(0, 2), days_past_due=rnd.choice([0, 0, 0, 40]),
                 outstanding_cents={"m1": rnd.choice([0, 500_000])})
        for i in range(n_prod))
    rels = tuple(
        Relationship(g.id, p.id, date(rnd.randint(2005, 2024), 1, 1),
                     rnd.randint(1, 20) * 50_000, rnd.randint(1, max(1, g.households)))
        for g in gas for p in producers if rnd.random() < 0.5)
    lenders = (Lender("m1", "Mag", per_borrower_cap_cents=rnd.choice([None, 1_000_000])),
               Lender("m2", "Mag bis",
                      min_guarantee_coverage=rnd.choice([None, Decimal("1.25")])))
    pools = tuple(Pool(f"pool{i}", rnd.choice(["m1", "m2"]), f"Pool {i}",
                       rnd.randint(0, 30) * 100_000, rnd.choice([None, 800_000]),
                       rnd.choice([0, 200_000])) for i in range(rnd.randint(0, 3)))
    pools = tuple(replace(p, idle_cents=min(p.idle_cents, p.free_cents)) for p in pools)
    shares = tuple(Share(g.id, rnd.choice(["m1", "m2"]), rnd.randint(1, 10) * 20_000)
                   for g in gas if rnd.random() < 0.6)
    guarantors = tuple(
        Guarantor(f"q{i}", "person", rnd.randint(0, 10) * 50_000, f"Q{i}",
                  gas_ids=(rnd.choice(gas).id,)) for i in range(rnd.randint(0, 3))
    ) + tuple(Guarantor(g.id, "gas", rnd.randint(1, 8) * 50_000) for g in gas
              if rnd.random() < 0.4)
    funds = tuple(
        Fund(f"f{g.id}", g.id, f"Fund {g.id}", bal,
             {p.id: rnd.randint(0, bal // 2) for p in producers if rnd.random() < 0.3})
        for g in gas for bal in [rnd.randint(0, 6) * 50_000] if rnd.random() < 0.6)
    prepayments = tuple(
        OpenPrepayment(f"pp{i}", r.gas_id, r.producer_id, rnd.randint(1, 5) * 20_000,
                       date(2025, 4, 1), rnd.choice(["rollover", "refund"]))
        for i, r in enumerate(rels) if rnd.random() < 0.3)
    rules = tuple(MatchRule("rule", p.id, Decimal("0.75"), rnd.randint(1, 5) * 100_000,
                            rnd.choice([None, 300_000])) for p in pools[:1] if rnd.random() < 0.6)
    net = Network(AS_OF, gas, producers, rels, lenders, pools, shares, guarantors, funds,
                  prepayments, (), rules)
    reqs = [
        Request(f"r{i}", rnd.choice(producers).id, rnd.randint(1, 40) * 50_000 + rnd.randint(0, 99),
                rnd.choice(["loan", "prepayment", "mixed"]), 24,
                Decimal(rnd.randint(1, 20)) / 20,
                gas_ids=tuple(g.id for g in gas if rnd.random() < 0.2),
                min_guarantee_coverage=rnd.choice([None, None, Decimal("1.5"), Decimal("0.5")]))
        for i in range(rnd.randint(1, 5))
    ]
    return net, reqs


def independent_limits(net: Network, reqs: list[Request], plan: Plan) -> None:
    """A few limits recomputed here, from the fixture alone."""
    amount = {r.id: r.amount_cents for r in reqs}
    got: dict[str, int] = defaultdict(int)
    by_pool: dict[str, int] = defaultdict(int)
    by_guarantor: dict[str, int] = defaultdict(int)
    by_fund: dict[str, int] = defaultdict(int)
    for a in plan.allocations:
        assert a.amount_cents > 0
        if a.kind != "guarantee":
            got[a.request_id] += a.amount_cents
        if a.kind == "loan":
            by_pool[a.source_id] += a.amount_cents
        if a.kind == "guarantee":
            by_guarantor[a.source_id] += a.amount_cents
        if a.kind == "solidarity":
            by_fund[a.source_id] += a.amount_cents
    for rid, total in amount.items():
        assert plan.funded_cents[rid] == got[rid]
        assert plan.funded_cents[rid] + plan.unfunded_cents[rid] == total
        assert (plan.unfunded_cents[rid] > 0) == (rid in plan.binding)
    for p in net.pools:
        assert by_pool[p.id] <= p.free_cents
    for q in net.guarantors:
        assert by_guarantor[q.party_id] <= q.free_capacity_cents
    for f in net.funds:
        assert by_fund[f.id] <= f.balance_cents
    # Pledges cover each loan as its lender (or the request's terms) asks.
    lender_of = {p.id: p.lender_id for p in net.pools}
    lenders = {lender.id: lender for lender in net.lenders}
    by_req = {r.id: r for r in reqs}
    need: dict[str, Decimal] = defaultdict(Decimal)
    pledged: dict[str, int] = defaultdict(int)
    for a in plan.allocations:
        r = by_req[a.request_id]
        if a.kind == "loan":
            cov = r.min_guarantee_coverage
            if cov is None:
                cov = lenders[lender_of[a.source_id]].min_guarantee_coverage
            need[r.id] += (cov or 0) * a.amount_cents
        if a.kind == "guarantee":
            pledged[r.id] += a.amount_cents
    for rid in amount:
        assert pledged[rid] >= need[rid]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10**9))
def test_random_plans_respect_limits_and_beat_greedy(seed: int) -> None:
    net, reqs = random_network(seed)
    lp = plan_allocation(net, reqs)
    greedy = plan_greedy(net, reqs)
    for plan in (lp, greedy):
        independent_limits(net, reqs, plan)
        check_plan(net, reqs, plan, MatchingConfig())
        assert plan.objective_value == weighted(plan, reqs)
    # The LP optimum rounded to cents may lose < 1 cent per allocation against a greedy
    # that happens to be optimal; never more.
    slack = Decimal(len(lp.allocations) + len(reqs))
    assert lp.objective_value >= greedy.objective_value - slack
    # same input, same output; the order of inputs does not matter either
    shuffled = replace(net, gas=tuple(reversed(net.gas)), pools=tuple(reversed(net.pools)),
                       relationships=tuple(reversed(net.relationships)))
    assert plan_allocation(shuffled, list(reversed(reqs))) == lp


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10**9))
@example(1052)  # prepayments rounded down below a match threshold once cost a top-up
def test_lp_plan_reaches_the_lp_optimum_in_cents(seed: int) -> None:
    net, reqs = random_network(seed)
    c = MatchingConfig()
    model, var_order, request_order = build_model(net, reqs, c)
    solve_model(model, var_order, request_order, c)
    plan = finish_plan(net, model, "lp", c, reqs)
    assert plan.objective_value == weighted(plan, reqs)
    if model.lp_bound is None or model.lp_value is None:
        assert model.n_vars == 0 and plan.objective_value == 0
        return
    # the relaxation bounds every plan; fixing the match switches can only lower it
    tol = 1e-6 * max(1.0, abs(model.lp_bound))
    assert float(plan.objective_value) <= model.lp_bound + tol
    assert model.lp_value <= model.lp_bound + tol
    # cents lost to rounding: less than one per variable, at the largest weight
    slack = max(r.weight for r in reqs) * (model.n_vars + len(reqs))
    assert plan.objective_value >= Decimal(model.lp_value) - slack


def naive_top_up(model: LimitModel, request_order: list[int], var_order: list[int]) -> None:
    """The top-up as specified: every funding variable of each request, in order."""
    rank = {j: k for k, j in enumerate(var_order)}
    for r in request_order:
        left = model.requests[r].amount_cents - model.funded(r)
        for j in sorted(model.funding[r], key=rank.__getitem__):
            if left <= 0:
                break
            left -= model.raise_var(j, left)


def _same_top_up(model: LimitModel, request_order: list[int], var_order: list[int]) -> None:
    """From the model's current point, the top-up reaches what the naive one reaches."""
    start = list(model.x)
    rooms = model.rooms().tolist()
    for j in range(model.n_vars):  # the whole-model rooms, one variable at a time
        assert rooms[j] == model.room(j, skip_row=int(model.var_cov[j]))
    model.top_up(request_order, var_order)
    fast = list(model.x)
    model.set_values(start)
    naive_top_up(model, request_order, var_order)
    assert model.x == fast
    assert model.violations() == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10**9), st.randoms(use_true_random=False))
@example(47, random.Random(0))  # networks where the greedy tops up a match rule
@example(323, random.Random(0))
@example(526, random.Random(1))
def test_top_up_skips_only_variables_that_cannot_rise(seed: int, rnd: random.Random) -> None:
    net, reqs = random_network(seed)
    model, var_order, request_order = build_model(net, reqs, MatchingConfig())
    _same_top_up(model, request_order, var_order)  # from zero: the greedy
    # the top-ups withdrawn (their switches go off): the top-up may turn them on again
    for t in np.flatnonzero(model.role == TOPUP).tolist():
        model.lower_var(t, model.x[t])
    _same_top_up(model, request_order, var_order)
    # some funding taken back at random, the rows repaired
    for j in sorted({j for js in model.funding for j in js}):
        if rnd.random() < 0.5:
            model.lower_var(j, rnd.randint(0, model.x[j]))
    model.repair(var_order)
    _same_top_up(model, request_order, var_order)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10**9))
def test_candidate_memo_changes_no_candidate(seed: int) -> None:
    net, reqs = random_network(seed)
    c = MatchingConfig()
    memo = CandidateMemo(net, net.as_of, c)
    for _ in range(2):  # filled, then read
        for req in reqs:
            assert candidates(net, req, c, memo=memo) == candidates(net, req, c)
    with pytest.raises(ValueError, match="memo"):
        candidates(net, reqs[0], NO_SHARE_CAP, memo=memo)


_SMALL_PLAN = """
from datetime import date
from matching.allocation import plan_allocation
from matching.config import MatchingConfig
from matching.network import Lender, Network, Pool, Producer, Request
net = Network(as_of=date(2025, 3, 1), producers=(Producer("p", "P"),),
              lenders=(Lender("m", "M"),), pools=(Pool("pool", "m", "General", 100_000),))
plan = plan_allocation(net, [Request("r", "p", 500_000, "loan", 12)],
                       MatchingConfig(share_cap_multiple=None))
"""
_BUSY_POOL = """
import highspy
import numpy as np
h = highspy.Highs()
h.setOptionValue("output_flag", False)
h.passModel(1, 1, 1, int(highspy.MatrixFormat.kRowwise), int(highspy.ObjSense.kMinimize),
            0.0, np.array([-1.0]), np.zeros(1), np.ones(1), np.array([-highspy.kHighsInf]),
            np.ones(1), np.array([0, 1], dtype=np.int32), np.array([0], dtype=np.int32),
            np.ones(1), np.zeros(1, dtype=np.int32))
h.run()  # HiGHS's thread pool now runs with its default number of threads
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=60, check=True)


def test_a_plan_prints_nothing() -> None:
    # in a fresh process: HiGHS prints a banner once, on the first instance it makes
    done = _python(_SMALL_PLAN + "print(plan.funded_cents)")
    assert done.stdout == "{'r': 100000}\n"
    assert done.stderr == ""


def test_a_plan_joins_a_thread_pool_another_highs_user_started() -> None:
    done = _python(_BUSY_POOL + _SMALL_PLAN + "print(plan.funded_cents)")
    assert done.stdout.splitlines()[-1] == "{'r': 100000}"
