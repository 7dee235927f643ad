"""The limits of a plan as one integer model, shared by the LP, the greedy and the checks.

Every limit is a row ``sum(coef * x) <= rhs`` with integer coefficients and right-hand
side (ratios such as a 150% guarantee coverage are scaled to integers), or an upper bound
on one variable. Variables are integer cents (plus one 0/1 switch per match rule and
request). The LP sees the same rows as floats; rounding, repair, top-up and the greedy
work on the integers, so a plan that passes ``violations`` respects every limit exactly.

The model is held as numpy arrays (rows in CSR, columns in CSC), so the LP gets it without
a per-variable loop and every whole-model step (activities, slacks, rooms, violations,
what blocks a request) is vectorised. The integer moves that are sequential by nature
(repair, top-up, the greedy) walk plain Python lists made once from those arrays, and
only visit variables that can still move. A ``Limit`` (the sentence naming a bound or a
row) is made only when a plan reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt

from .network import Kind, Request
from .scoring import Candidate, eur

Role = Literal[
    "prepay", "prepay_idle", "loan", "topup", "switch", "guarantee",
    "fund_earmark", "fund_general",
]
ROLES: tuple[Role, ...] = (
    "prepay", "prepay_idle", "loan", "topup", "switch", "guarantee",
    "fund_earmark", "fund_general",
)
# role codes, the positions in ROLES
PREPAY, PREPAY_IDLE, LOAN, TOPUP, SWITCH, GUARANTEE, FUND_EARMARK, FUND_GENERAL = range(8)
ROLE_KIND: tuple[Kind, ...] = (
    "prepayment", "prepayment", "loan", "loan", "loan", "guarantee", "solidarity", "solidarity",
)
FUNDING: frozenset[Role] = frozenset(
    {"prepay", "prepay_idle", "loan", "topup", "fund_earmark", "fund_general"}
)
LOANS: frozenset[Role] = frozenset({"loan", "topup"})
PREPAYMENTS: frozenset[Role] = frozenset({"prepay", "prepay_idle"})
_IS_FUNDING = np.array([r in FUNDING for r in ROLES], dtype=bool)
_IS_LOAN = np.array([r in LOANS for r in ROLES], dtype=bool)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_NO_LIMIT = 1 << 62


@dataclass(frozen=True)
class Limit:
    """A named limit: ``code`` for machines, ``text`` for people.

    The sentence is formatted only when read (a plan names thousands of limits and
    reports few): ``template`` takes ``args`` with ``str.format``; int args are cents.
    """

    code: str
    source_id: str | None
    template: str
    args: tuple[object, ...] = ()

    @property
    def text(self) -> str:
        return self.template.format(*(
            eur(a) if isinstance(a, int) and not isinstance(a, bool) else a for a in self.args
        ))


def segment_starts(sorted_keys: IntArray, n: int) -> IntArray:
    """Offsets (length ``n + 1``) of the runs of keys ``0 .. n - 1`` in ``sorted_keys``."""
    out: IntArray = np.searchsorted(sorted_keys, np.arange(n + 1)).astype(np.int64)
    return out


def _split(values: IntArray, keys: IntArray, n: int) -> list[list[int]]:
    """``values`` grouped by ``keys`` (0 .. n - 1), each group in the order given."""
    order = np.argsort(keys, kind="stable")
    starts = segment_starts(keys[order], n).tolist()
    flat = values[order].tolist()
    return [flat[starts[k]:starts[k + 1]] for k in range(n)]


class LimitModel:
    """Variables, bounds and rows of a plan, and the integer point ``x`` being built.

    ``role``, ``req`` and ``cand_of`` say what each variable is (a ``ROLES`` code, the
    request's position in ``requests``, the candidate in ``cands``); ``start``,
    ``index``, ``value`` and ``rhs`` are the rows (CSR). ``coverage_row`` gives each
    request's guarantee-coverage row (-1: none), ``switch_of`` each top-up's 0/1 switch and
    ``threshold_of`` each switch's threshold row (-1 elsewhere). ``var_limit(j)`` and
    ``row_limit(i)`` name what bounds variable ``j`` and what row ``i`` stands for.
    """

    def __init__(
        self, requests: list[Request], *, role: IntArray, req: IntArray, cand_of: IntArray,
        cands: list[Candidate], ub: IntArray, preference: FloatArray,
        start: IntArray, index: IntArray, value: IntArray, rhs: IntArray,
        coverage_row: IntArray, switch_of: IntArray, threshold_of: IntArray,
        var_limit: Callable[[int], Limit], row_limit: Callable[[int], Limit],
        eligible: dict[str, list[Candidate]],
    ) -> None:
        self.requests = requests
        self.role, self.req, self.cand_of, self.cands = role, req, cand_of, cands
        self.ub, self.preference = ub, preference
        self.start, self.index, self.value, self.rhs = start, index, value, rhs
        self.coverage_row, self.switch_of, self.threshold_of = coverage_row, switch_of, threshold_of
        self._var_limit, self._row_limit = var_limit, row_limit
        self._limits: dict[tuple[int, int], Limit] = {}
        self.eligible = eligible
        # HiGHS objective values (weight x EUR, floats for reporting only; the plan's
        # amounts are integer cents).
        self.lp_bound: float | None = None  # LP optimum with every match switch relaxed
        self.lp_value: float | None = None  # LP optimum with the switches of the plan kept
        self.lp_solves = 0  # HiGHS runs, and the seconds they took
        self.lp_seconds = 0.0
        n, m = len(role), len(rhs)
        self.n_vars, self.n_rows = n, m
        # columns (CSC): which rows each variable is in, with its coefficients
        self.row_of: IntArray = np.repeat(np.arange(m, dtype=np.int64), np.diff(start))
        order = np.argsort(index, kind="stable")
        self.col_row: IntArray = self.row_of[order]
        self.col_val: IntArray = value[order]
        self.col_start = segment_starts(index[order], n)
        self.col_var: IntArray = index[order]
        # a loan's coverage row is skipped when sizing it: pledges rise with it
        var_cov = np.full(n, -1, dtype=np.int64)
        if m and n:
            cov_of_entry = coverage_row[req[self.col_var]]
            hit = (self.col_row == cov_of_entry) & _IS_LOAN[role[self.col_var]]
            var_cov[self.col_var[hit]] = self.col_row[hit]
        self.var_cov = var_cov
        self.is_coverage_row = np.zeros(m, dtype=bool)
        self.is_coverage_row[coverage_row[coverage_row >= 0]] = True
        self.topup_of = np.full(n, -1, dtype=np.int64)
        tops = np.flatnonzero(switch_of >= 0)
        self.topup_of[switch_of[tops]] = tops
        nreq = len(requests)
        funding = np.flatnonzero(_IS_FUNDING[role])
        self.funding: list[list[int]] = _split(funding, req[funding], nreq)
        gvars = np.flatnonzero(role == GUARANTEE)
        self.guarantees: list[list[int]] = _split(gvars, req[gvars], nreq)
        self.amount: IntArray = np.array([r.amount_cents for r in requests], dtype=np.int64)
        # plain lists for the sequential moves
        self._role_l: list[int] = role.tolist()
        self._req_l: list[int] = req.tolist()
        self._ub_l: list[int] = ub.tolist()
        self._rhs_l: list[int] = rhs.tolist()
        self._cs: list[int] = self.col_start.tolist()
        self._cr: list[int] = self.col_row.tolist()
        self._cv: list[int] = self.col_val.tolist()
        self._cov_l: list[int] = var_cov.tolist()
        self._switch_l: list[int] = switch_of.tolist()
        self._topup_l: list[int] = self.topup_of.tolist()
        self.x: list[int] = [0] * n
        self.act: list[int] = [0] * m

    # --- naming limits ------------------------------------------------------------------

    def var_limit(self, j: int) -> Limit:
        key = (0, j)
        if key not in self._limits:
            self._limits[key] = self._var_limit(j)
        return self._limits[key]

    def row_limit(self, i: int) -> Limit:
        key = (1, i)
        if key not in self._limits:
            self._limits[key] = self._row_limit(i)
        return self._limits[key]

    # --- whole-model views --------------------------------------------------------------

    def x_array(self) -> IntArray:
        return np.array(self.x, dtype=np.int64)

    def activities(self, x: IntArray) -> IntArray:
        """Row sums ``A x`` in exact integers."""
        if not self.n_rows:
            return np.zeros(0, dtype=np.int64)
        # row sums by cumulative sums (exact in int64; every row has a term)
        csum = np.concatenate(([0], np.cumsum(self.value * x[self.index])))
        act: IntArray = csum[self.start[1:]] - csum[self.start[:-1]]
        return act

    def funded_all(self) -> IntArray:
        """Funded cents per request (guarantees excluded)."""
        x = self.x_array()
        out = np.zeros(len(self.requests), dtype=np.int64)
        mask = _IS_FUNDING[self.role]
        np.add.at(out, self.req[mask], x[mask])
        return out

    def rooms(self) -> IntArray:
        """How far each variable can rise alone: its bound, and every row where its
        coefficient is positive, but a loan's coverage row (pledges rise with the loan)."""
        x = self.x_array()
        room = self.ub - x
        if self.n_rows and len(self.col_row):
            slack = np.asarray(self.rhs - np.array(self.act, dtype=np.int64))
            pos = (self.col_val > 0) & ~self.is_coverage_row[self.col_row]
            lim = np.full(len(self.col_row), _NO_LIMIT, dtype=np.int64)
            lim[pos] = slack[self.col_row[pos]] // self.col_val[pos]
            has = np.flatnonzero(np.diff(self.col_start) > 0)
            room[has] = np.minimum(room[has], np.minimum.reduceat(lim, self.col_start[has]))
        out: IntArray = np.maximum(room, 0)
        return out

    # --- integer moves ------------------------------------------------------------------

    def set_values(self, values: npt.ArrayLike) -> None:
        x = np.minimum(np.maximum(np.asarray(values, dtype=np.int64), 0), self.ub)
        self.x = x.tolist()
        self.act = self.activities(x).tolist()

    def coef(self, j: int, i: int) -> int:
        """Coefficient of variable ``j`` in row ``i`` (0 if absent)."""
        cr, cv = self._cr, self._cv
        for k in range(self._cs[j], self._cs[j + 1]):
            if cr[k] == i:
                return cv[k]
        return 0

    def _bump(self, j: int, delta: int) -> None:
        if delta == 0:
            return
        self.x[j] += delta
        act, cr, cv = self.act, self._cr, self._cv
        for k in range(self._cs[j], self._cs[j + 1]):
            act[cr[k]] += cv[k] * delta

    def room(self, j: int, skip_row: int = -1) -> int:
        """How far ``x[j]`` can rise without breaking a bound or a row it tightens."""
        best = self._ub_l[j] - self.x[j]
        act, rhs, cr, cv = self.act, self._rhs_l, self._cr, self._cv
        for k in range(self._cs[j], self._cs[j + 1]):
            a = cv[k]
            if a > 0:
                i = cr[k]
                if i != skip_row:
                    r = (rhs[i] - act[i]) // a
                    if r < best:
                        best = r
        return best if best > 0 else 0

    def raise_var(self, j: int, want: int) -> int:
        """Raise ``x[j]`` by up to ``want``, pledging guarantees a loan needs and turning a
        match rule's switch on for a top-up; returns what was raised."""
        if want <= 0:
            return 0
        if self._role_l[j] == TOPUP:
            z = self._switch_l[j]
            if self.x[z] == 0:
                if self.room(z) < 1:
                    return 0
                self._bump(z, 1)
        cov = self._cov_l[j]
        gvars: list[int] = []
        if cov < 0:
            delta = min(want, self.room(j))
        else:
            delta = min(want, self.room(j, skip_row=cov))
            coef = self.coef(j, cov)
            gvars = self.guarantees[self._req_l[j]]
            g_coef = -self.coef(gvars[0], cov) if gvars else 0
            extra = sum(self.room(g) for g in gvars) * g_coef
            delta = min(delta, (self._rhs_l[cov] - self.act[cov] + extra) // coef)
        if delta <= 0:
            self._release_switch(j)
            return 0
        self._bump(j, delta)
        if cov >= 0:
            need = self.act[cov] - self._rhs_l[cov]
            for g in gvars:
                if need <= 0:
                    break
                g_coef = -self.coef(g, cov)
                inc = min(self.room(g), -(-need // g_coef))
                self._bump(g, inc)
                need -= inc * g_coef
        return delta

    def _release_switch(self, j: int) -> None:
        if self._role_l[j] == TOPUP:
            z = self._switch_l[j]
            if self.x[j] == 0 and self.x[z] == 1:
                self._bump(z, -1)

    def lower_var(self, j: int, amount: int) -> None:
        self._bump(j, -min(amount, self.x[j]))
        self._release_switch(j)

    def funded(self, r: int) -> int:
        return sum(self.x[j] for j in self.funding[r])

    def _rank(self, order: Sequence[int]) -> list[int]:
        """Position of each variable in ``order`` (-1 for variables not in it)."""
        rank = np.full(self.n_vars, -1, dtype=np.int64)
        rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order), dtype=np.int64)
        out: list[int] = rank.tolist()
        return out

    # --- repair after rounding ----------------------------------------------------------

    def repair(self, order: list[int]) -> None:
        """Make the rounded point satisfy every row: pledge or cut for coverage, drop a
        top-up whose threshold is no longer met, trim packing rows (least preferred
        variables first, ``order`` = most preferred first)."""
        rank = self._rank(order)
        n_ranked = len(order)
        start, index, value = self.start, self.index, self.value
        for _ in range(3):
            bad = np.flatnonzero(np.array(self.act, dtype=np.int64) > self.rhs).tolist()
            if not bad:
                return
            for i in bad:
                rhs = self._rhs_l[i]
                if self.act[i] <= rhs:
                    continue
                terms = list(zip(index[start[i]:start[i + 1]].tolist(),
                                 value[start[i]:start[i + 1]].tolist(), strict=True))
                ups = [j for j, a in terms if a < 0]
                for j in sorted(ups, key=lambda j: rank[j] if rank[j] >= 0 else 0):
                    a = -self.coef(j, i)
                    excess = self.act[i] - rhs
                    if excess <= 0:
                        break
                    self._bump(j, min(self.room(j), -(-excess // a)))
                downs = [j for j, a in terms if a > 0]
                for j in sorted(downs, key=lambda j: -(rank[j] if rank[j] >= 0 else n_ranked)):
                    excess = self.act[i] - rhs
                    if excess <= 0:
                        break
                    a = self.coef(j, i)
                    if self._role_l[j] == SWITCH:
                        t = self._topup_l[j]
                        if t >= 0:
                            self._bump(t, -self.x[t])
                        self._bump(j, -self.x[j])
                    else:
                        self._bump(j, -min(self.x[j], -(-excess // a)))
        if np.any(np.array(self.act, dtype=np.int64) > self.rhs):
            raise AssertionError("could not repair the rounded plan")

    def top_up(self, request_order: list[int], var_order: list[int]) -> None:
        """Hand leftover cents to requests (in ``request_order``) from their variables in
        ``var_order`` while every limit allows.

        Only variables that can rise are visited: a variable with no room now (its bound
        or a row where its coefficient is positive is full, a loan's coverage row aside)
        gets none later, since the top-up only fills those rows further. Top-ups are always
        visited: turning their switch on is what gives them room.
        """
        if not self.n_vars:
            return
        rank = np.full(self.n_vars, self.n_vars, dtype=np.int64)
        rank[np.asarray(var_order, dtype=np.int64)] = np.arange(len(var_order), dtype=np.int64)
        left = (self.amount - self.funded_all()).tolist()
        movable = _IS_FUNDING[self.role] & ((self.rooms() > 0) | (self.role == TOPUP))
        js = np.flatnonzero(movable)
        js = js[np.lexsort((rank[js], self.req[js]))]
        per_request = _split(js, self.req[js], len(self.requests))
        for r in request_order:
            want = left[r]
            if want <= 0:
                continue
            for j in per_request[r]:
                want -= self.raise_var(j, want)
                if want <= 0:
                    break

    def trim_guarantees(self) -> None:
        """Release pledges beyond what each request's minimum coverage needs (last
        guarantor first): guarantees cover risk, they are not asked for without need."""
        cov_rows = self.coverage_row.tolist()
        for r, gvars in enumerate(self.guarantees):
            if not gvars or not any(self.x[g] for g in gvars):
                continue  # nothing pledged: nothing to release (every row holds here)
            cov = cov_rows[r]
            for g in reversed(gvars):
                if cov < 0:
                    self._bump(g, -self.x[g])
                    continue
                g_coef = -self.coef(g, cov)
                spare = (self._rhs_l[cov] - self.act[cov]) // g_coef
                self._bump(g, -min(self.x[g], spare))

    # --- verification and explanation ---------------------------------------------------

    def violations(self) -> list[Limit]:
        x = self.x_array()
        act = self.activities(x)
        if act.tolist() != self.act:
            raise AssertionError("row activities out of step with the plan")
        out = [self.var_limit(j) for j in np.flatnonzero((x < 0) | (x > self.ub)).tolist()]
        out += [self.row_limit(i) for i in np.flatnonzero(act > self.rhs).tolist()]
        return out

    def limit_of(self, code: int) -> Limit:
        """The limit a ``blockers`` code names: row ``code`` if >= 0, else the bound of
        variable ``-1 - code``."""
        return self.row_limit(code) if code >= 0 else self.var_limit(-1 - code)

    def blockers(self, requests: Sequence[int]) -> dict[int, set[int]]:
        """The limits that stop each funding variable of the given requests from rising,
        as ``limit_of`` codes.

        Slacks and rooms are computed once for the whole model; a row blocks a variable
        when the variable's coefficient there is positive and larger than the slack.
        """
        x = self.x_array()
        slack = self.rhs - np.array(self.act, dtype=np.int64)
        tight = np.zeros(0, dtype=bool)
        if len(self.col_row):
            tight = (self.col_val > 0) & (slack[self.col_row] < self.col_val)
        tight_l: list[bool] = tight.tolist()
        at_ub: list[bool] = (x >= self.ub).tolist()
        room_l: list[int] = self.rooms().tolist()
        slack_l: list[int] = slack.tolist()
        cov_rows: list[int] = self.coverage_row.tolist()
        cs, cr = self._cs, self._cr
        out: dict[int, set[int]] = {}
        for r in requests:
            found: set[int] = set()
            cov = cov_rows[r]
            pledges_full = cov >= 0 and all(room_l[g] == 0 for g in self.guarantees[r])
            for j in self.funding[r]:
                role = self._role_l[j]
                if role == PREPAY_IDLE:
                    continue  # idle money is a cheaper part of a source; its fresh part says why
                if at_ub[j]:
                    found.add(-1 - j)
                    continue
                if role == TOPUP and self.x[self._switch_l[j]] == 0:
                    z = self._switch_l[j]
                    rows = [cr[k] for k in range(cs[z], cs[z + 1]) if tight_l[k]]
                    found.update(rows or [-1 - z])
                    continue
                jcov = cov if role in (LOAN, TOPUP) else -1
                for k in range(cs[j], cs[j + 1]):
                    if tight_l[k] and cr[k] != jcov:
                        found.add(cr[k])
                if jcov >= 0 and pledges_full and slack_l[jcov] < self.coef(j, jcov):
                    found.add(jcov)
            out[r] = found
        return out


def scale_of(value: Decimal) -> int:
    """Power of ten that makes ``value`` an integer (``Decimal("1.5")`` -> 10)."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return int(10 ** max(0, -exponent))
