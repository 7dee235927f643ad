"""Matching speed and quality: suggestions in a large network, a plan beside the greedy.

Rows:
* suggestions for one request in a network of 2,000 GAS and 5,000 producers (index built
  once per snapshot, timed apart), median and worst over 50 requests; aim < 50 ms;
* a plan for 1,000 requests over 200 sources (GAS, pools, guarantors, funds), phase by
  phase (index of a fresh snapshot, model build, HiGHS, rounding/repair/top-up with the
  greedy check, plan, post-check) and end to end; aim < 0.5 s in all;
* the greedy baseline on the same requests, end to end, and the objectives side by side:
  the LP relaxation (a bound on every plan), the LP optimum with the match switches
  fixed, the LP plan in integer cents and the greedy's.

Plan timings start from a collected heap (``gc.collect()`` before each run, untimed), so
that one run does not pay for collecting another's garbage; the machine is shared, so
read the median and the worst together.

Run: .venv/bin/python bench/matching.py
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from datetime import date
from decimal import Decimal

# This script is itself named matching.py: keep its folder off the path so that
# ``import matching`` finds the package, not this file.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.modules.pop("matching", None)

from matching.allocation import (  # noqa: E402
    build_model,
    cyclic_gc_paused,
    plan_allocation,
    plan_from_model,
    solve_model,
)
from matching.checks import check_plan  # noqa: E402
from matching.config import MatchingConfig  # noqa: E402
from matching.greedy import plan_greedy  # noqa: E402
from matching.network import (  # noqa: E402
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
from matching.scoring import suggest_opportunities  # noqa: E402

AS_OF = date(2025, 3, 1)
CATEGORIES = ("cheese", "bread", "vegetables", "fruit", "wine", "oil", "honey", "meat")


def make_network(rng: random.Random, n_gas: int, n_prod: int, rels_per_gas: int,
                 n_persons: int, n_prod_guarantors: int, n_gas_guarantors: int,
                 n_funds: int, span: float) -> Network:
    """GAS and producers scattered over a square of ``span`` degrees near Milan."""
    gas = tuple(Gas(f"gas-{i:05d}", f"GAS {i}", rng.randint(8, 40),
                    45.0 + rng.random() * span, 9.0 + rng.random() * span)
                for i in range(n_gas))
    producers = tuple(
        Producer(f"prod-{i:05d}", f"Farm {i}", (rng.choice(CATEGORIES),),
                 45.0 + rng.random() * span, 9.0 + rng.random() * span,
                 loans_repaid=rng.randint(0, 3), late_repayments=rng.randint(0, 2),
                 days_past_due=rng.choice((0,) * 15 + (12, 45)),
                 outstanding_cents={"mag-1": rng.choice((0, 0, 1_000_000))})
        for i in range(n_prod))
    rels: dict[tuple[str, str], Relationship] = {}
    for g in gas:
        for p in rng.sample(producers, rels_per_gas):
            rels[(g.id, p.id)] = Relationship(
                g.id, p.id, date(rng.randint(2005, 2024), rng.randint(1, 12), 1),
                rng.randint(5, 200) * 10_000, rng.randint(1, g.households))
    lenders = (Lender("mag-1", "Mag2"), Lender("mag-2", "Mag Verona"), Lender("mag-3", "Mag 6"))
    pools = tuple(
        Pool(f"pool-{lid}-{k}", lid, f"{lid} pool {k}", rng.randint(50, 150) * 1_000_000,
             None if k == 0 else 3_000_000, rng.randint(0, 20) * 100_000)
        for lid in ("mag-1", "mag-2", "mag-3") for k in range(2))
    # share capital in multiples of the 51.64 EUR minimum share
    shares = tuple(Share(g.id, rng.choice(lenders).id, rng.randint(10, 400) * 5_164)
                   for g in gas if rng.random() < 0.6)
    guarantors = (
        tuple(Guarantor(f"person-{i:05d}", "person", rng.randint(1, 20) * 50_000, f"P{i}",
                        gas_ids=(rng.choice(gas).id,)) for i in range(n_persons))
        + tuple(Guarantor(p.id, "producer", rng.randint(1, 20) * 50_000, p.name)
                for p in rng.sample(producers, n_prod_guarantors))
        + tuple(Guarantor(g.id, "gas", rng.randint(1, 20) * 50_000, g.name)
                for g in rng.sample(gas, n_gas_guarantors))
    )
    funds = tuple(
        Fund(f"fund-{g.id}", g.id, f"Fund {g.id}", bal,
             {p.id: bal // 4 for p in rng.sample(producers, 2)} if rng.random() < 0.3 else {})
        for g in rng.sample(gas, n_funds) for bal in [rng.randint(1, 40) * 10_000])
    rel_list = sorted(rels.values(), key=lambda r: (r.gas_id, r.producer_id))
    prepayments = tuple(
        OpenPrepayment(f"pp-{i:05d}", r.gas_id, r.producer_id, rng.randint(1, 20) * 10_000,
                       date(2025, rng.randint(3, 8), 1), rng.choice(("rollover", "refund")))
        for i, r in enumerate(rng.sample(rel_list, len(rel_list) // 10)))
    rules = (MatchRule("rule-75", "pool-mag-1-0", Decimal("0.75"), 1_500_000, 20_000_000),)
    return Network(AS_OF, gas, producers, tuple(rel_list), lenders, pools, shares, guarantors,
                   funds, prepayments, (), rules)


def make_requests(rng: random.Random, net: Network, n: int) -> list[Request]:
    buyers = sorted({r.producer_id for r in net.relationships})
    reqs = []
    for i in range(n):
        cov = rng.choice((None, None, Decimal("1.5"), Decimal("0.5")))
        reqs.append(Request(
            f"req-{i:05d}", rng.choice(buyers), rng.randint(20, 600) * 10_000,
            rng.choice(("loan", "prepayment", "mixed")), rng.choice((12, 24, 36, 60)),
            Decimal(rng.randint(6, 20)) / 20, min_guarantee_coverage=cov))
    return reqs


def timed(fn, *args):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


RUNS = 7  # plan figures: median and worst of this many runs


def plan_phases(net: Network, reqs: list[Request], config: MatchingConfig) -> dict[str, float]:
    """One LP plan, phase by phase, on a fresh copy of the snapshot (its index unbuilt)."""
    fresh = replace(net)
    out: dict[str, float] = {}
    gc.collect()  # not the garbage of the previous run
    t0 = time.perf_counter()
    with cyclic_gc_paused():  # as plan_allocation does
        _ = fresh.index
        t1 = time.perf_counter()
        model, order, req_order = build_model(fresh, reqs, config)
        t2 = time.perf_counter()
        solve_model(model, order, req_order, config)
        t3 = time.perf_counter()
        broken = model.violations()
        assert not broken, broken
        plan = plan_from_model(fresh, model, "lp", config)
        t4 = time.perf_counter()
        check_plan(fresh, reqs, plan, config, model.eligible)
        t5 = time.perf_counter()
    out.update({
        "load": t1 - t0, "build": t2 - t1, "highs": model.lp_seconds,
        "integer": t3 - t2 - model.lp_seconds, "plan": t4 - t3, "check": t5 - t4,
        "total": t5 - t0, "solves": model.lp_solves,
    })
    return out


def end_to_end(plan_fn, net: Network, reqs: list[Request],  # type: ignore[no-untyped-def]
               config: MatchingConfig):
    """Index of a fresh copy of the snapshot, then the whole plan (checked)."""
    fresh = replace(net)
    gc.collect()  # not the garbage of the previous run
    t0 = time.perf_counter()
    _ = fresh.index
    plan = plan_fn(fresh, reqs, config)
    return plan, time.perf_counter() - t0


def main() -> None:
    rng = random.Random(20250301)
    config = MatchingConfig()

    big = make_network(rng, 2_000, 5_000, 8, 1_500, 300, 300, 1_500, 1.5)
    _, t_index = timed(lambda: big.index)
    reqs = make_requests(rng, big, 50)
    times = []
    counts = []
    for req in reqs:
        opps, t = timed(suggest_opportunities, big, req, config)
        times.append(t)
        counts.append(len(opps))

    # 200 sources: 120 GAS, 6 pools, 40 guarantors, 34 funds; 400 producers
    mid = make_network(rng, 120, 400, 12, 20, 10, 10, 34, 0.8)
    plan_reqs = make_requests(rng, mid, 1_000)
    model, _, _ = build_model(mid, plan_reqs, config)
    phases = [plan_phases(mid, plan_reqs, config) for _ in range(RUNS)]
    lp_runs = [end_to_end(plan_allocation, mid, plan_reqs, config) for _ in range(RUNS)]
    greedy_runs = [end_to_end(plan_greedy, mid, plan_reqs, config) for _ in range(RUNS)]
    lp, greedy = lp_runs[0][0], greedy_runs[0][0]
    assert all(p == lp for p, _ in lp_runs) and all(p == greedy for p, _ in greedy_runs)
    # the LP optima of the last run (the same model every run)
    solved, order, req_order = build_model(mid, plan_reqs, config)
    solve_model(solved, order, req_order, config)
    assert solved.lp_bound is not None and solved.lp_value is not None
    total = sum(r.amount_cents for r in plan_reqs)

    ms = 1000.0
    print(f"suggestions: {len(big.gas)} GAS, {len(big.producers)} producers, "
          f"{len(big.relationships)} relationships; {len(reqs)} requests")
    print(f"{'what':<44} {'time':>10} {'aim':>8}")
    print("-" * 64)
    print(f"{'index (once per snapshot)':<44} {t_index * ms:>8.1f}ms {'':>8}")
    print(f"{'one request, median':<44} {statistics.median(times) * ms:>8.2f}ms {'50ms':>8}")
    print(f"{'one request, worst':<44} {max(times) * ms:>8.2f}ms {'50ms':>8}")
    print(f"{'  suggestions per request (median)':<44} {statistics.median(counts):>10.0f}")
    print()
    print(f"plan: {len(plan_reqs)} requests, sources: {len(mid.gas)} GAS, {len(mid.pools)} pools, "
          f"{len(mid.guarantors)} guarantors, {len(mid.funds)} funds; "
          f"{model.n_vars} variables, {model.n_rows} rows; median and worst of {RUNS} runs")
    print(f"{'phase':<46} {'median':>9} {'worst':>9} {'aim':>8}")
    print("-" * 75)
    rows = (
        ("load (index of the snapshot)", "load"),
        ("model build (candidates, arrays, CSR)", "build"),
        (f"HiGHS ({phases[0]['solves']:.0f} solves: relaxed, fixed, preferences)", "highs"),
        ("rounding, repair, top-up, greedy check", "integer"),
        ("plan (allocations, binding limits)", "plan"),
        ("post-check against the snapshot", "check"),
        ("sum of the phases", "total"),
    )
    for label, key in rows:
        values = [p[key] for p in phases]
        aim = "500ms" if key == "total" else ""
        print(f"{'  ' + label:<46} {statistics.median(values) * ms:>7.0f}ms "
              f"{max(values) * ms:>7.0f}ms {aim:>8}")
    for name, runs in (("LP plan, end to end", lp_runs),
                       ("greedy baseline, end to end", greedy_runs)):
        values = [t for _, t in runs]
        aim = "500ms" if runs is lp_runs else ""
        print(f"{name:<46} {statistics.median(values) * ms:>7.0f}ms "
              f"{max(values) * ms:>7.0f}ms {aim:>8}")
    print()
    print(f"{'objective (weight x EUR funded)':<46} {'value':>18} {'vs LP optimum':>14}")
    print("-" * 80)
    optimum = Decimal(solved.lp_value)
    for label, value in (
        ("LP relaxation (match switches relaxed)", Decimal(solved.lp_bound)),
        ("LP optimum (match switches fixed)", optimum),
        ("LP plan, integer cents", lp.objective_value),
        ("greedy baseline", greedy.objective_value),
    ):
        print(f"{label:<46} {float(value) / 100:>18,.2f} {float(value - optimum) / 100:>+14,.2f}")
    for name, plan in (("LP plan", lp), ("greedy", greedy)):
        funded = sum(plan.funded_cents.values())
        print(f"{name + ' funds':<46} {funded / 100:>18,.2f} {funded / total:>14.1%} of asked")
    gain = lp.objective_value / greedy.objective_value - 1 if greedy.objective_value else 0
    print(f"LP plan vs greedy: {float(gain):+.2%} ({lp.objective})")


if __name__ == "__main__":
    main()
