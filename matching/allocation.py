"""Allocate scarce money over many requests: a linear program solved with HiGHS.

The model (``build_model``, in ``build.py``) has one variable per request and eligible
source, in cents: fresh and idle (rollover) prepayment per GAS, one loan per pool (idle
capital lent first), a top-up per match rule with a 0/1 switch, earmarked and general
money per fund, and a pledge per guarantor. Rows: each request's amount; a GAS's plausible
prepayment to a producer, its budget, the fairness share; pool balance, maximum loan,
per-borrower and share-capital caps; guarantors' free capacity and each request's minimum
coverage; fund balances and earmarks; match thresholds, caps and budgets.

Solving is lexicographic: first the objective below, then, among the plans reaching its
optimum, idle money and better-matched sources, with guarantees kept to the minimum. The
LP values are rounded down to cents, repaired, topped up cent-exactly in a fixed order,
and checked.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import highspy
import numpy as np
import numpy.typing as npt
from highspy._core import _Highs

from .build import build_model
from .checks import check_plan
from .config import MatchingConfig
from .model import (
    FUND_EARMARK,
    FUND_GENERAL,
    GUARANTEE,
    PREPAY_IDLE,
    ROLE_KIND,
    SWITCH,
    TOPUP,
    FloatArray,
    IntArray,
    Limit,
    LimitModel,
)
from .network import Kind, Network, Request
from .scoring import loans_blocked

OBJECTIVE = (
    "maximize the sum over requests of assessment weight x funded cents (prepayments, "
    "loans, match top-ups, solidarity money; guarantees cover risk and do not count), "
    "then prefer idle money and better-matched sources, pledging only the guarantees needed"
)

# A reduced cost or row dual this small counts as zero when the optimal face is taken
# (HiGHS's own dual feasibility tolerance).
_DUAL_TOL = 1e-7
# The preference step may give up this much of the weighted funding (weight x cents) to
# numerical noise; beyond it the primary optimum is kept as it is.
_PRIMARY_TOL = 1.0


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


def quiet_highs() -> _Highs:
    """A HiGHS instance that prints nothing.

    ``highspy.Highs`` prints the HiGHS banner when constructed (its logging callbacks are
    set up then); the base class ``_Highs`` it extends is the same solver without the
    callbacks, so with ``output_flag`` off it stays silent.
    """
    h = _Highs()
    h.setOptionValue("output_flag", False)
    return h


class _Solver:
    """One HiGHS instance over the model, passed as arrays (no per-variable calls).

    ``primary`` maximizes the weighted funding; ``prefer`` then maximizes the preferences
    over that objective's optimal face, which complementary slackness describes exactly:
    a plan is optimal iff it is feasible, every variable with a non-zero reduced cost sits
    at its bound and every row with a non-zero dual is tight. Fixing those gives a small
    LP (presolve removes most of it) instead of a second full solve with the objective
    as an extra dense row. ``fix`` sets the match switches and re-solves from the basis.
    """

    def __init__(self, model: LimitModel, config: MatchingConfig) -> None:
        self.model = model
        n, m = model.n_vars, model.n_rows
        counts = (model.role != SWITCH) & (model.role != GUARANTEE)
        weight = np.array([float(r.weight) for r in model.requests], dtype=np.float64)
        self.weights: FloatArray = np.where(counts, weight[model.req], 0.0)
        self.prefs: FloatArray = model.preference
        self.lb: FloatArray = np.zeros(n)
        self.ub: FloatArray = model.ub.astype(np.float64)
        self.rhs: FloatArray = model.rhs.astype(np.float64)
        self.all_cols = np.arange(n, dtype=np.int32)
        self.switches: IntArray = np.flatnonzero(model.threshold_of >= 0)
        h = quiet_highs()
        h.setOptionValue("threads", 1)  # small LPs: no gain from threads, and reproducible
        h.setOptionValue("presolve", "on")
        h.setOptionValue("time_limit", config.lp_time_limit_seconds)
        h.passModel(
            n, m, len(model.index), int(highspy.MatrixFormat.kRowwise),
            int(highspy.ObjSense.kMinimize), 0.0, -self.weights, self.lb, self.ub,
            np.full(m, -highspy.kHighsInf), self.rhs, model.start.astype(np.int32),
            model.index.astype(np.int32), model.value.astype(np.float64),
            np.zeros(n, dtype=np.int32),
        )
        self.h = h
        self._face: tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]] | None = None

    def _run(self) -> bool:
        t0 = time.perf_counter()
        self.h.run()
        status = self.h.getModelStatus()
        if status == highspy.HighsModelStatus.kNotset:
            # HiGHS's thread pool is per process: if another user started it with more
            # threads, "threads" = 1 is refused; join the pool as it is
            self.h.setOptionValue("threads", 0)
            self.h.run()
            status = self.h.getModelStatus()
        self.model.lp_solves += 1
        self.model.lp_seconds += time.perf_counter() - t0
        return status == highspy.HighsModelStatus.kOptimal

    def _col(self) -> FloatArray:
        return np.asarray(self.h.getSolution().col_value, dtype=np.float64)

    def primary(self) -> FloatArray:
        self._restore()
        if not self._run():
            self.h.clearSolver()  # a warm start gone wrong: solve from scratch once
            if self._run():
                return self._col()
            status = self.h.getModelStatus()
            raise RuntimeError(
                f"HiGHS did not solve the allocation: {self.h.modelStatusToString(status)}")
        return self._col()

    def value(self, col: FloatArray) -> float:
        return float(np.sum(self.weights * col))  # not BLAS: no thread start-up

    def prefer(self, col: FloatArray) -> FloatArray:
        """The plan of the last ``primary`` solve that best meets the preferences."""
        h = self.h
        sol = h.getSolution()
        fixed = np.flatnonzero(np.abs(np.asarray(sol.col_dual)) > _DUAL_TOL).astype(np.int32)
        tight = np.flatnonzero(np.abs(np.asarray(sol.row_dual)) > _DUAL_TOL).astype(np.int32)
        lo, hi = self.lb[fixed], self.ub[fixed]
        at = np.where(col[fixed] - lo <= hi - col[fixed], lo, hi)
        h.changeColsBounds(len(fixed), fixed, at, at)
        h.changeRowsBounds(  # type: ignore[attr-defined]  # in highspy, not in its stubs
            len(tight), tight, self.rhs[tight], self.rhs[tight])
        h.changeColsCost(len(self.all_cols), self.all_cols, -self.prefs)
        self._face = (fixed, tight)  # undone before the next primary solve, if any
        ok = self._run()
        out = self._col() if ok else col
        if not ok or self.value(out) < self.value(col) - _PRIMARY_TOL:
            return col
        return out

    def _restore(self) -> None:
        if self._face is None:
            return
        fixed, tight = self._face
        h = self.h
        h.changeColsCost(len(self.all_cols), self.all_cols, -self.weights)
        h.changeColsBounds(len(fixed), fixed, self.lb[fixed], self.ub[fixed])
        h.changeRowsBounds(  # type: ignore[attr-defined]
            len(tight), tight, np.full(len(tight), -highspy.kHighsInf), self.rhs[tight])
        self._face = None

    def met(self, col: FloatArray) -> IntArray:
        """Per switch, 1 where the solution's prepayments reach the threshold."""
        m = self.model
        rows = m.threshold_of[self.switches]
        products = m.value.astype(np.float64) * col[m.index]
        act = np.add.reduceat(products, m.start[:-1])[rows]
        coef = np.array([m.coef(int(z), int(i)) for z, i in zip(self.switches, rows, strict=True)],
                        dtype=np.float64)
        act += coef * (1.0 - col[self.switches])  # as if the switch were on
        out: IntArray = (act <= 1e-6 * np.abs(coef)).astype(np.int64)
        return out

    def fix(self, pattern: IntArray) -> FloatArray:
        """Solve again with the switches fixed to ``pattern``."""
        b = pattern.astype(np.float64)
        self.lb[self.switches] = b
        self.ub[self.switches] = b
        self._restore()
        self.h.changeColsBounds(len(self.switches), self.switches.astype(np.int32), b, b)
        return self.primary()


def _to_cents(model: LimitModel, col: FloatArray) -> IntArray:
    rounded = np.floor(col + 1e-6)
    switches = model.role == SWITCH
    rounded[switches] = np.round(col[switches])
    out: IntArray = rounded.astype(np.int64)
    return out


def _integer_plan(model: LimitModel, col: FloatArray, var_order: list[int],
                  request_order: list[int]) -> Decimal:
    """Round down, repair, top up, trim pledges; return the weighted funding."""
    model.set_values(_to_cents(model, col))
    model.repair(var_order)
    model.top_up(request_order, var_order)
    model.trim_guarantees()
    return _weighted(model)


def _weighted(model: LimitModel) -> Decimal:
    funded = model.funded_all().tolist()
    return sum((req.weight * f for req, f in zip(model.requests, funded, strict=True)),
               Decimal(0))


def solve_model(model: LimitModel, var_order: list[int], request_order: list[int],
                config: MatchingConfig) -> None:
    """Leave the best integer plan found in ``model.x``.

    Match switches (top-up only once prepayments reach the threshold) are either/or;
    a MIP over them is far too slow at a thousand requests. The LP relaxes them (a
    top-up then grows with the prepayments) and is solved for the weighted funding
    alone: its optimum bounds every plan, the greedy's included (``model.lp_bound``),
    and its switches are all that is read from it. If it already meets every threshold
    it tops up, it is optimal. Otherwise the switches are fixed on where the threshold is
    met and off elsewhere, and the LP solved again from its basis (``model.lp_value``).
    Either way the preferences are then maximized over the optimal face of that solve
    (``_Solver.prefer``), so the weighted funding stays at its optimum.

    The greedy runs only when that plan falls short of the relaxed bound by more than a
    cent-weight (when it does not, no plan can beat it); should the greedy do better, the
    LP is solved once more with the greedy's switches and the better integer plan kept,
    so the plan is never worse than the greedy's (up to cents).
    """
    if not model.n_vars:
        return
    solver = _Solver(model, config)
    col = solver.primary()
    model.lp_bound = model.lp_value = solver.value(col)
    sw = solver.switches
    if not len(sw):
        _integer_plan(model, solver.prefer(col), var_order, request_order)
        return
    pattern = solver.met(col)
    if np.all(np.abs(col[sw] - pattern) <= 1e-9):
        _integer_plan(model, solver.prefer(col), var_order, request_order)
        return
    col = solver.fix(pattern)
    model.lp_value = solver.value(col)
    best = _integer_plan(model, solver.prefer(col), var_order, request_order)
    if best >= Decimal(model.lp_bound) - Decimal(_PRIMARY_TOL):
        return  # within a cent-weight of the bound: the greedy cannot do better
    best_x = model.x_array()
    model.set_values(np.zeros(model.n_vars, dtype=np.int64))
    model.top_up(request_order, var_order)  # the greedy: its value and switch pattern
    greedy_pattern = model.x_array()[sw]
    if _weighted(model) > best and not np.array_equal(greedy_pattern, pattern):
        col = solver.fix(greedy_pattern)
        lp_value = solver.value(col)
        if _integer_plan(model, solver.prefer(col), var_order, request_order) > best:
            model.lp_value = lp_value
            return
    model.set_values(best_x)


def plan_from_model(
    network: Network, model: LimitModel, method: str, config: MatchingConfig,
) -> Plan:
    """Turn the integer values into allocations, funded/unfunded and binding limits."""
    x = model.x
    merged: dict[tuple[str, Kind, str, str], list[int]] = {}
    live = np.flatnonzero((model.x_array() > 0) & (model.role != SWITCH)).tolist()
    roles: list[int] = model.role.tolist()
    reqs: list[int] = model.req.tolist()
    cand_of: list[int] = model.cand_of.tolist()
    for j in live:
        role = roles[j]
        cand = model.cands[cand_of[j]]
        rule = cand.rule.id if role == TOPUP and cand.rule is not None else ""
        key = (model.requests[reqs[j]].id, ROLE_KIND[role], cand.source_id, rule)
        cur = merged.setdefault(key, [0, 0])
        cur[0] += x[j]
        if role in (PREPAY_IDLE, FUND_EARMARK, FUND_GENERAL):
            cur[1] += x[j]
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
    got_all: list[int] = model.funded_all().tolist()
    short = [r for r, req in enumerate(model.requests) if got_all[r] < req.amount_cents]
    blockers = model.blockers(short)
    funded: dict[str, int] = {}
    unfunded: dict[str, int] = {}
    binding: dict[str, tuple[Limit, ...]] = {}
    value = Decimal(0)
    index = network.index
    named: dict[int, tuple[tuple[str, str, str, str], Limit]] = {}

    def name(code: int) -> tuple[tuple[str, str, str, str], Limit]:
        """A limit with its sort key (the key tells distinct limits apart)."""
        entry = named.get(code)
        if entry is None:
            lim = model.limit_of(code)
            entry = named[code] = (
                (lim.code, lim.source_id or "", lim.template, repr(lim.args)), lim)
        return entry

    for r, req in enumerate(model.requests):
        got = got_all[r]
        funded[req.id] = got
        unfunded[req.id] = req.amount_cents - got
        value += req.weight * got
        if got < req.amount_cents:
            limits = dict(name(code) for code in blockers[r])
            producer = index.producers[req.producer_id]
            extra: list[Limit] = []
            if req.instrument != "prepayment" and loans_blocked(producer, config):
                extra.append(Limit("arrears", producer.id, "{} is {} days past due: no new loan",
                                   (producer.name, str(producer.days_past_due))))
            if not model.funding[r]:
                extra.append(Limit("no_source", None, "no eligible source for this request"))
            for lim in extra:
                limits[(lim.code, lim.source_id or "", lim.template, repr(lim.args))] = lim
            binding[req.id] = tuple(limits[key] for key in sorted(limits))
    return Plan(allocations, funded, unfunded, binding, OBJECTIVE, value, method)


def finish_plan(network: Network, model: LimitModel, method: str, config: MatchingConfig,
                requests: Iterable[Request]) -> Plan:
    broken = model.violations()
    if broken:
        raise AssertionError(f"{method} plan breaks limits: {[b.code for b in broken]}")
    plan = plan_from_model(network, model, method, config)
    check_plan(network, list(requests), plan, config, model.eligible)
    return plan


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a plan is built.

    A plan makes some 100,000 small acyclic objects (candidates, limits, lists), which
    reference counting frees; the cyclic collector would still run about a hundred times
    over them and, once, over every object of the process (the whole snapshot), some 15%
    of the plan's time. Collection resumes afterwards, unless it was off before.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def plan_allocation(
    network: Network, requests: Sequence[Request], config: MatchingConfig | None = None,
) -> Plan:
    """The optimal allocation (see ``OBJECTIVE``), in integer cents, checked."""
    c = config or MatchingConfig()
    with cyclic_gc_paused():
        model, var_order, request_order = build_model(network, requests, c)
        solve_model(model, var_order, request_order, c)
        return finish_plan(network, model, "lp", c, requests)


__all__ = [
    "OBJECTIVE",
    "Allocation",
    "Plan",
    "build_model",
    "cyclic_gc_paused",
    "finish_plan",
    "plan_allocation",
    "plan_from_model",
    "solve_model",
]
