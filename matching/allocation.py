"""Allocate scarce money over many requests: a linear program solved with HiGHS.

The model (``build_model``) has one variable per request and eligible source, in cents:
fresh and idle (rollover) prepayment per GAS, fresh and idle (repaid capital) loan per
pool, a top-up per match rule with a 0/1 switch, earmarked and general money per fund,
and a pledge per guarantor. Rows: each request's amount; a GAS's plausible prepayment to
a producer, its budget, the fairness share; pool balance, idle capital, maximum loan,
per-borrower and share-capital caps; guarantors' free capacity and each request's minimum
coverage; fund balances and earmarks; match thresholds, caps and budgets.

Solving is lexicographic: first the objective below, then (within it) idle money and
better-matched sources, with guarantees kept to the minimum. The LP values are rounded
down to cents, repaired, topped up cent-exactly in a fixed order, and checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import highspy
import numpy as np
import numpy.typing as npt

from .checks import check_plan
from .config import MatchingConfig
from .model import Limit, LimitModel, Role, Var, scale_of
from .network import Kind, Network, Request
from .scoring import (
    Candidate,
    candidates,
    fair_share_cents,
    fund_general_cents,
    gas_budget_cents,
    loan_headroom,
    loans_blocked,
    match_threshold_cents,
    producer_gas_ids,
    rollovers,
    sort_key,
)

OBJECTIVE = (
    "maximize the sum over requests of assessment weight x funded cents (prepayments, "
    "loans, match top-ups, solidarity money; guarantees cover risk and do not count), "
    "then prefer idle money and better-matched sources, pledging only the guarantees needed"
)


@dataclass(frozen=True)
class Allocation:
    request_id: str
    source_id: str
    kind: Kind
    amount_cents: int
    idle_cents: int = 0  # of which idle money (rollover, repaid capital, fund balance)
    rule_id: str | None = None  # a match-funding top-up names its rule


@dataclass(frozen=True)
class Plan:
    allocations: tuple[Allocation, ...]  # by request id, kind, source id
    funded_cents: dict[str, int]  # every request; guarantees excluded
    unfunded_cents: dict[str, int]  # funded + unfunded = the request's amount
    binding: dict[str, tuple[Limit, ...]]  # what stops each unfunded remainder
    objective: str
    objective_value: Decimal  # sum of weight x funded cents
    method: str  # "lp" or "greedy"


@dataclass
class _Group:
    terms: list[tuple[int, int]]
    rhs: int
    limit: Limit


class _Rows:
    """Rows keyed by what they limit, filled while walking the candidates."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, ...], _Group] = {}

    def add(self, key: tuple[str, ...], j: int, coef: int, rhs: int, limit: Limit) -> None:
        g = self.groups.get(key)
        if g is None:
            self.groups[key] = _Group([(j, coef)], rhs, limit)
        else:
            g.terms.append((j, coef))

    def widen(self, key: tuple[str, ...], rhs: int, limit: Limit) -> None:
        """Keep the larger right-hand side (a GAS's cap over a producer's requests)."""
        g = self.groups[key]
        if rhs > g.rhs:
            g.rhs, g.limit = rhs, limit

    def narrow(self, key: tuple[str, ...], rhs: int, limit: Limit) -> None:
        g = self.groups[key]
        if rhs < g.rhs:
            g.rhs, g.limit = rhs, limit


def build_model(
    network: Network, requests: Sequence[Request], config: MatchingConfig,
) -> tuple[LimitModel, list[int], list[int]]:
    """The integer model of every limit, with the preferred variable and request orders."""
    c = config
    index = network.index
    reqs = sorted(requests, key=lambda r: r.id)
    seen: set[str] = set()
    for req in reqs:
        if req.id in seen:
            raise ValueError(f"request {req.id!r} appears twice")
        if req.amount_cents <= 0:
            raise ValueError(f"request {req.id!r} must ask for a positive amount")
        seen.add(req.id)
    model = LimitModel(reqs)
    rows = _Rows()
    order_keys: dict[int, tuple[int, int, float, str, str, str]] = {}

    for r, req in enumerate(reqs):
        cands = candidates(network, req, c)
        model.eligible[req.id] = cands
        producer = index.producers[req.producer_id]
        P = producer.id
        fair = fair_share_cents(req, c)
        buyers = producer_gas_ids(index, req)
        prepay_vars: list[int] = []
        loan_vars: list[int] = []
        has_coverage = req.min_guarantee_coverage is not None
        # prepayments before match rules (thresholds), loans before guarantees (coverage)
        ordered = sorted(cands, key=lambda k: ("gas", "pool", "match", "fund", "guarantor")
                         .index(k.role))

        def var(cand: Candidate, role: Role, ub: int, limit: Limit, idle: bool,
                rule_id: str | None = None, r: int = r) -> int:
            v = Var(r, role, cand.source_id, cand.kind, cand, rule_id,
                    preference=(1.0 if idle else 0.0) + 0.5 * cand.score)
            j = model.add_var(v, ub, limit)
            key = sort_key(cand, c)
            order_keys[j] = (1 if role == "topup" else 0, 0 if idle else 1, key[1], key[2],
                             key[3], role)
            return j

        for cand in ordered:
            sid = cand.source_id
            if cand.role == "gas":
                gas = index.gas[sid]
                cap_limit = Limit("source_cap", sid, "{} can plausibly prepay this producer {}",
                                  (gas.name, cand.cap_cents))
                fair_limit = Limit(
                    "fairness", sid, "no GAS prepays more than {}% of request {} ({})",
                    (f"{c.max_gas_share * 100:f}", req.id, fair))
                fresh = var(cand, "prepay", cand.cap_cents, cap_limit, idle=False)
                prepay_vars.append(fresh)
                terms = [(fresh, 1)]
                budget = gas_budget_cents(index, gas, c)
                rows.add(("gas_budget", sid), fresh, 1, budget, Limit(
                    "gas_budget", sid, "{} has {} left to prepay in all ({} households x {}, "
                    "less open prepayments)",
                    (gas.name, budget, str(gas.households), c.per_household_ceiling_cents)))
                rows.add(("edge", sid, P), fresh, 1, cand.cap_cents, cap_limit)
                rows.widen(("edge", sid, P), cand.cap_cents, cap_limit)
                rolled = sum(pp.remaining_cents for pp in rollovers(index, sid, P,
                                                                     network.as_of, c))
                if rolled > 0:
                    roll_limit = Limit("rollover", sid, "{} has {} of prepayments due to roll over",
                                       (gas.name, rolled))
                    idle = var(cand, "prepay_idle", rolled, roll_limit, idle=True)
                    prepay_vars.append(idle)
                    terms.append((idle, 1))
                    rows.add(("rollover", sid, P), idle, 1, rolled, roll_limit)
                model.add_row(terms, fair, fair_limit)
            elif cand.role in ("pool", "match"):
                pool = index.pools_by_id[sid]
                head = loan_headroom(index, producer, pool.lender_id, buyers, c)
                js: list[int] = []
                if cand.role == "pool":
                    if pool.max_loan_cents is not None and pool.max_loan_cents < req.amount_cents:
                        cap_limit = Limit("pool_max_loan", sid, "{} lends at most {} per loan",
                                          (pool.name, pool.max_loan_cents))
                    else:
                        cap_limit = Limit("request_amount", None, "the request's amount")
                    # one variable per pool: idle capital is lent first (preference and
                    # order), and the plan reports how much of each loan it covers
                    idle_pool = pool.idle_cents >= c.idle_first_min_cents
                    j = var(cand, "loan", cand.cap_cents, cap_limit, idle=idle_pool)
                    if pool.free_cents > 0:
                        model.vars[j].preference = (
                            min(1.0, pool.idle_cents / pool.free_cents) + 0.5 * cand.score)
                    js.append(j)
                else:
                    rule = cand.rule
                    assert rule is not None
                    cap_limit = Limit("match_cap", sid, "match rule {} tops up at most {} here",
                                      (rule.id, cand.cap_cents))
                    t = var(cand, "topup", cand.cap_cents, cap_limit, idle=False,
                            rule_id=rule.id)
                    threshold = match_threshold_cents(rule, req)
                    th_limit = Limit(
                        "match_threshold", sid, "GAS prepayments stay below {}% of request {} "
                        "({}), the match rule's threshold",
                        (f"{rule.threshold * 100:f}", req.id, threshold))
                    zv = Var(r, "switch", sid, "loan", cand, rule.id)
                    z = model.add_var(zv, 1, th_limit)
                    model.switch_of[t] = z
                    model.add_row([(t, 1), (z, -cand.cap_cents)], 0, cap_limit)
                    s = scale_of(rule.threshold)
                    th_terms = [(z, int(rule.threshold * s * req.amount_cents))]
                    th_terms += [(p, -s) for p in prepay_vars]
                    th_row = model.add_row(th_terms, 0, th_limit)
                    if th_row is not None:
                        model.threshold_of[z] = th_row
                    if rule.budget_cents is not None:
                        rows.add(("match_budget", rule.id), t, 1, rule.budget_cents, Limit(
                            "match_budget", sid, "match rule {} has a budget of {}",
                            (rule.id, rule.budget_cents)))
                    js.append(t)
                loan_vars += js
                for j in js:
                    rows.add(("pool_free", sid), j, 1, pool.free_cents, Limit(
                        "pool_free", sid, "{} has {} free to lend", (pool.name, pool.free_cents)))
                    if pool.max_loan_cents is not None:
                        rows.add(("max_loan", sid, req.id), j, 1, pool.max_loan_cents, Limit(
                            "pool_max_loan", sid, "{} lends at most {} per loan",
                            (pool.name, pool.max_loan_cents)))
                    room = head.borrower_room_cents
                    limit = Limit(
                        "borrower_cap", pool.lender_id,
                        "per-borrower cap: {} left for {} with lender {} ({} less {} outstanding)",
                        (room, producer.name, pool.lender_id, head.borrower_cap_cents,
                         head.outstanding_cents))
                    rows.add(("borrower_cap", P, pool.lender_id), j, 1, room, limit)
                    rows.narrow(("borrower_cap", P, pool.lender_id), room, limit)
                    if head.share_room_cents is not None and model.vars[j].role != "topup":
                        room = head.share_room_cents
                        limit = Limit(
                            "share_cap", pool.lender_id, "loans to {} from lender {} are capped "
                            "at {} x the {} of shares of the producer and its GAS ({} left)",
                            (producer.name, pool.lender_id, str(head.share_multiple),
                             head.share_base_cents, room))
                        rows.add(("share_cap", P, pool.lender_id), j, 1, room, limit)
                        rows.narrow(("share_cap", P, pool.lender_id), room, limit)
            elif cand.role == "guarantor":
                if not has_coverage or not loan_vars:
                    continue  # guarantees only where a loan needs cover
                q = index.guarantors[sid]
                g_limit = Limit("guarantor_capacity", sid, "{} has {} free pledge capacity",
                                (q.name or sid, q.free_capacity_cents))
                j = var(cand, "guarantee", q.free_capacity_cents, g_limit, idle=False)
                model.vars[j].preference = -0.25
                rows.add(("guarantor", sid), j, 1, q.free_capacity_cents, g_limit)
            else:
                f = index.funds[sid]
                bal_limit = Limit("fund_balance", sid, "{} holds {}", (f.name, f.balance_cents))
                fund_terms: list[int] = []
                if cand.earmarked_cents > 0:
                    ear = f.earmarked.get(P, 0)
                    ear_limit = Limit("fund_earmark", sid, "{} holds {} earmarked for {}",
                                      (f.name, ear, producer.name))
                    j = var(cand, "fund_earmark", ear, ear_limit, idle=True)
                    rows.add(("earmark", sid, P), j, 1, ear, ear_limit)
                    fund_terms.append(j)
                if cand.general_cents > 0:
                    gen = fund_general_cents(f)
                    gen_limit = Limit("fund_general", sid, "{} holds {} not earmarked",
                                      (f.name, gen))
                    j = var(cand, "fund_general", gen, gen_limit, idle=True)
                    rows.add(("fund_general", sid), j, 1, gen, gen_limit)
                    fund_terms.append(j)
                for j in fund_terms:
                    rows.add(("fund_balance", sid), j, 1, f.balance_cents, bal_limit)
        model.add_row([(j, 1) for j in model.funding[r]], req.amount_cents,
                      Limit("request_amount", None, "the request's amount"))
        if has_coverage and req.min_guarantee_coverage is not None and loan_vars:
            cov = req.min_guarantee_coverage
            s = scale_of(cov)
            cov_terms = [(j, int(cov * s)) for j in loan_vars]
            cov_terms += [(g, -s) for g in model.guarantees[r]]
            i = model.add_row(cov_terms, 0, Limit(
                "guarantee_coverage", None, "loans to request {} need guarantees of {}% and "
                "the guarantors tied to the producer have no more free capacity",
                (req.id, f"{cov * 100:f}")))
            if i is not None:
                model.coverage_row[r] = i
    for g in rows.groups.values():
        model.add_row(g.terms, g.rhs, g.limit)
    model.finish()
    var_order = sorted(order_keys, key=lambda j: order_keys[j])
    request_order = sorted(range(len(reqs)), key=lambda r: (-reqs[r].weight, reqs[r].id))
    return model, var_order, request_order


class _Solver:
    """One HiGHS instance over the model: the objectives set once, switches re-fixed."""

    def __init__(self, model: LimitModel, config: MatchingConfig) -> None:
        self.model = model
        n, m = len(model.vars), len(model.rows)
        start, index, value, rhs, ub = model.arrays()
        self.ub = ub
        h = highspy.Highs()  # type: ignore[no-untyped-call]
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", config.lp_time_limit_seconds)
        h.passModel(
            n, m, int(start[-1]), int(highspy.MatrixFormat.kRowwise),
            int(highspy.ObjSense.kMinimize), 0.0, np.zeros(n), np.zeros(n), ub,
            np.full(m, -highspy.kHighsInf), rhs, start, index, value,
            np.zeros(n, dtype=np.int32),
        )
        weights = np.zeros(n)
        prefs = np.zeros(n)
        for j, v in enumerate(model.vars):
            if v.role != "switch" and v.role != "guarantee":
                weights[j] = float(model.requests[v.request].weight)
            prefs[j] = v.preference
        h.setOptionValue("blend_multi_objectives", False)
        # first the weighted funding (within a cent-weight of its optimum), then preferences
        for coefs, priority, tol in ((weights, 2, 1.0), (prefs, 1, 0.0)):
            obj = highspy.HighsLinearObjective()
            obj.coefficients = coefs.tolist()
            obj.priority = priority
            obj.weight = -1.0  # HiGHS minimizes; -1 maximizes this objective
            obj.abs_tolerance = tol
            obj.rel_tolerance = 1e-9
            obj.offset = 0.0
            h.addLinearObjective(obj)
        self.h = h
        self.switches = sorted(model.threshold_of)

    def run(self) -> npt.NDArray[np.float64]:
        self.h.run()
        status = self.h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(
                f"HiGHS did not solve the allocation: {self.h.modelStatusToString(status)}")
        return np.asarray(self.h.getSolution().col_value, dtype=np.float64)

    def met(self, col: npt.NDArray[np.float64]) -> list[int]:
        """Per switch, 1 where the solution's prepayments reach the threshold."""
        out = []
        for z in self.switches:
            row = self.model.rows[self.model.threshold_of[z]]
            act = sum(a * (1.0 if j == z else float(col[j])) for j, a in row.terms)
            out.append(1 if act <= 1e-6 * abs(row.terms[0][1]) else 0)
        return out

    def fix(self, pattern: list[int]) -> npt.NDArray[np.float64]:
        cols = np.array(self.switches, dtype=np.int32)
        bounds = np.array(pattern, dtype=np.float64)
        self.h.changeColsBounds(len(cols), cols, bounds, bounds)
        return self.run()


def _to_cents(model: LimitModel, col: npt.NDArray[np.float64]) -> list[int]:
    switches = np.array([v.role == "switch" for v in model.vars], dtype=bool)
    rounded = np.floor(col + 1e-6)
    rounded[switches] = np.round(col[switches])
    return [int(v) for v in rounded.tolist()]


def _integer_plan(model: LimitModel, col: npt.NDArray[np.float64], var_order: list[int],
                  request_order: list[int]) -> Decimal:
    """Round down, repair, top up, trim pledges; return the weighted funding."""
    model.set_values(_to_cents(model, col))
    model.repair(var_order)
    model.top_up(request_order, var_order)
    model.trim_guarantees()
    return _weighted(model)


def _weighted(model: LimitModel) -> Decimal:
    return sum((req.weight * model.funded(r) for r, req in enumerate(model.requests)),
               Decimal(0))


def solve_model(model: LimitModel, var_order: list[int], request_order: list[int],
                config: MatchingConfig) -> None:
    """Leave the best integer plan found in ``model.x``.

    Match switches (top-up only once prepayments reach the threshold) are either/or;
    a MIP over them is far too slow at a thousand requests. The LP relaxes them (a
    top-up then grows with the prepayments). If the relaxed optimum already meets every
    threshold it tops up, it is optimal. Otherwise the switches are fixed on where the
    threshold is met and off elsewhere, and the LP solved again; should the greedy do
    better, the LP is solved once more with the greedy's switches and the better integer
    plan kept, so the plan is never worse than the greedy's (up to cents).
    """
    if not model.vars:
        return
    solver = _Solver(model, config)
    col = solver.run()
    if not solver.switches:
        _integer_plan(model, col, var_order, request_order)
        return
    pattern = solver.met(col)
    relaxed = [float(col[z]) for z in solver.switches]
    if all(abs(z - on) <= 1e-9 for z, on in zip(relaxed, pattern, strict=True)):
        _integer_plan(model, col, var_order, request_order)
        return
    best = _integer_plan(model, solver.fix(pattern), var_order, request_order)
    best_x = list(model.x)
    model.set_values([0] * len(model.vars))
    model.top_up(request_order, var_order)  # the greedy: its value and switch pattern
    greedy_pattern = [model.x[z] for z in solver.switches]
    if _weighted(model) > best and greedy_pattern != pattern:
        value = _integer_plan(model, solver.fix(greedy_pattern), var_order, request_order)
        if value > best:
            return
    model.set_values(best_x)


def plan_from_model(
    network: Network, model: LimitModel, method: str, config: MatchingConfig,
) -> Plan:
    """Turn the integer values into allocations, funded/unfunded and binding limits."""
    merged: dict[tuple[str, Kind, str, str], list[int]] = {}
    for j, v in enumerate(model.vars):
        amount = model.x[j]
        if amount <= 0 or v.role == "switch":
            continue
        req = model.requests[v.request]
        key = (req.id, v.kind, v.source_id, v.rule_id or "")
        cur = merged.setdefault(key, [0, 0])
        cur[0] += amount
        if v.role in ("prepay_idle", "fund_earmark", "fund_general"):
            cur[1] += amount
    # repaid capital sitting in a pool covers its loans first, in request order
    idle_left = {p.id: p.idle_cents for p in network.index.pools}
    for key, cur in sorted(merged.items()):
        if key[1] == "loan":
            cur[1] = min(cur[0], idle_left.get(key[2], 0))
            idle_left[key[2]] = idle_left.get(key[2], 0) - cur[1]
    kind_order = {"prepayment": 0, "loan": 1, "solidarity": 2, "guarantee": 3}
    allocations = tuple(
        Allocation(rid, sid, kind, amt, idle, rule or None)
        for (rid, kind, sid, rule), (amt, idle) in sorted(
            merged.items(), key=lambda kv: (kv[0][0], kind_order[kv[0][1]], kv[0][2], kv[0][3]))
    )
    funded: dict[str, int] = {}
    unfunded: dict[str, int] = {}
    binding: dict[str, tuple[Limit, ...]] = {}
    value = Decimal(0)
    index = network.index
    for r, req in enumerate(model.requests):
        got = model.funded(r)
        funded[req.id] = got
        unfunded[req.id] = req.amount_cents - got
        value += req.weight * got
        if got < req.amount_cents:
            limits = set(model.blockers(r))
            producer = index.producers[req.producer_id]
            if req.instrument != "prepayment" and loans_blocked(producer, config):
                limits.add(Limit("arrears", producer.id, "{} is {} days past due: no new loan",
                                 (producer.name, str(producer.days_past_due))))
            if not model.funding[r]:
                limits.add(Limit("no_source", None, "no eligible source for this request"))
            binding[req.id] = tuple(sorted(limits, key=lambda lim: (
                lim.code, lim.source_id or "", lim.template, repr(lim.args))))
    return Plan(allocations, funded, unfunded, binding, OBJECTIVE, value, method)


def finish_plan(network: Network, model: LimitModel, method: str, config: MatchingConfig,
            requests: Iterable[Request]) -> Plan:
    broken = model.violations()
    if broken:
        raise AssertionError(f"{method} plan breaks limits: {[b.code for b in broken]}")
    plan = plan_from_model(network, model, method, config)
    check_plan(network, list(requests), plan, config, model.eligible)
    return plan


def plan_allocation(
    network: Network, requests: Sequence[Request], config: MatchingConfig | None = None,
) -> Plan:
    """The optimal allocation (see ``OBJECTIVE``), in integer cents, checked."""
    c = config or MatchingConfig()
    model, var_order, request_order = build_model(network, requests, c)
    solve_model(model, var_order, request_order, c)
    return finish_plan(network, model, "lp", c, requests)
