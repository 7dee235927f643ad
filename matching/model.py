"""The limits of a plan as one integer model, shared by the LP, the greedy and the checks.

Every limit is a row ``sum(coef * x) <= rhs`` with integer coefficients and right-hand
side (ratios such as a 150% guarantee coverage are scaled to integers), or an upper bound
on one variable. Variables are integer cents (plus one 0/1 switch per match rule and
request). The LP sees the same rows as floats; rounding, repair, top-up and the greedy
work on the integers, so a plan that passes ``satisfied`` respects every limit exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
FUNDING: frozenset[Role] = frozenset(
    {"prepay", "prepay_idle", "loan", "topup", "fund_earmark", "fund_general"}
)
LOANS: frozenset[Role] = frozenset({"loan", "topup"})
PREPAYMENTS: frozenset[Role] = frozenset({"prepay", "prepay_idle"})

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


@dataclass
class Var:
    request: int  # position in LimitModel.requests
    role: Role
    source_id: str
    kind: Kind
    cand: Candidate | None
    rule_id: str | None = None
    preference: float = 0.0  # tie-break weight among equally valuable plans


@dataclass
class Row:
    terms: list[tuple[int, int]]
    rhs: int
    limit: Limit


@dataclass
class LimitModel:
    requests: list[Request]
    vars: list[Var] = field(default_factory=list)
    ub: list[int] = field(default_factory=list)
    ub_limit: list[Limit] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    funding: list[list[int]] = field(default_factory=list)  # per request
    guarantees: list[list[int]] = field(default_factory=list)  # per request
    coverage_row: dict[int, int] = field(default_factory=dict)  # request -> row
    switch_of: dict[int, int] = field(default_factory=dict)  # topup var -> switch var
    threshold_of: dict[int, int] = field(default_factory=dict)  # switch var -> its row
    x: list[int] = field(default_factory=list)
    act: list[int] = field(default_factory=list)
    cols: list[list[tuple[int, int]]] = field(default_factory=list)
    eligible: dict[str, list[Candidate]] = field(default_factory=dict)  # by request id

    def __post_init__(self) -> None:
        self.funding = [[] for _ in self.requests]
        self.guarantees = [[] for _ in self.requests]

    # --- building -----------------------------------------------------------------------

    def add_var(self, var: Var, ub: int, limit: Limit) -> int:
        j = len(self.vars)
        self.vars.append(var)
        self.ub.append(max(0, ub))
        self.ub_limit.append(limit)
        if var.role in FUNDING:
            self.funding[var.request].append(j)
        elif var.role == "guarantee":
            self.guarantees[var.request].append(j)
        return j

    def add_row(self, terms: list[tuple[int, int]], rhs: int, limit: Limit) -> int | None:
        """Add ``sum(coef * x) <= rhs``; a one-variable packing row becomes a bound."""
        terms = [(j, a) for j, a in terms if a != 0]
        if not terms:
            return None
        if len(terms) == 1 and terms[0][1] > 0:
            j, a = terms[0]
            bound = max(0, rhs // a)
            if bound < self.ub[j]:
                self.ub[j] = bound
                self.ub_limit[j] = limit
            return None
        self.rows.append(Row(terms, rhs, limit))
        return len(self.rows) - 1

    def finish(self) -> None:
        self.cols = [[] for _ in self.vars]
        for i, row in enumerate(self.rows):
            for j, a in row.terms:
                self.cols[j].append((i, a))
        self.x = [0] * len(self.vars)
        self.act = [0] * len(self.rows)

    def arrays(self) -> tuple[
        npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float64],
        npt.NDArray[np.float64], npt.NDArray[np.float64],
    ]:
        """Row-wise (CSR) matrix ``start, index, value``, row upper bounds, column bounds."""
        lengths = np.fromiter((len(r.terms) for r in self.rows), dtype=np.int64,
                              count=len(self.rows))
        start = np.zeros(len(self.rows) + 1, dtype=np.int32)
        np.cumsum(lengths, out=start[1:])
        nnz = int(start[-1])
        index = np.fromiter((j for r in self.rows for j, _ in r.terms), dtype=np.int32, count=nnz)
        value = np.fromiter((a for r in self.rows for _, a in r.terms), dtype=np.float64,
                            count=nnz)
        rhs = np.fromiter((r.rhs for r in self.rows), dtype=np.float64, count=len(self.rows))
        ub = np.asarray(self.ub, dtype=np.float64)
        return start, index, value, rhs, ub

    # --- integer moves ------------------------------------------------------------------

    def set_values(self, values: list[int]) -> None:
        x = np.minimum(np.maximum(np.asarray(values, dtype=np.int64), 0),
                       np.asarray(self.ub, dtype=np.int64))
        self.x = x.tolist()
        act = np.zeros(len(self.rows), dtype=np.int64)
        if self.rows:
            start, index, value = self._int_csr()
            products = value * x[index]
            # row sums by cumulative sums (exact in int64; every row has a term)
            csum = np.concatenate(([0], np.cumsum(products)))
            act = csum[start[1:]] - csum[start[:-1]]
        self.act = act.tolist()

    def _int_csr(self) -> tuple[
        npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
    ]:
        lengths = np.fromiter((len(r.terms) for r in self.rows), dtype=np.int64,
                              count=len(self.rows))
        start = np.zeros(len(self.rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=start[1:])
        nnz = int(start[-1])
        index = np.fromiter((j for r in self.rows for j, _ in r.terms), dtype=np.int64, count=nnz)
        value = np.fromiter((a for r in self.rows for _, a in r.terms), dtype=np.int64, count=nnz)
        return start, index, value

    def _bump(self, j: int, delta: int) -> None:
        self.x[j] += delta
        for i, a in self.cols[j]:
            self.act[i] += a * delta

    def room(self, j: int, skip_row: int | None = None) -> int:
        """How far ``x[j]`` can rise without breaking a bound or a row it tightens."""
        best = self.ub[j] - self.x[j]
        for i, a in self.cols[j]:
            if a > 0 and i != skip_row:
                best = min(best, (self.rows[i].rhs - self.act[i]) // a)
        return max(0, best)

    def raise_var(self, j: int, want: int) -> int:
        """Raise ``x[j]`` by up to ``want``, pledging guarantees a loan needs and turning a
        match rule's switch on for a top-up; returns what was raised."""
        var = self.vars[j]
        if want <= 0:
            return 0
        if var.role == "topup":
            z = self.switch_of[j]
            if self.x[z] == 0:
                if self.room(z) < 1:
                    return 0
                self._bump(z, 1)
        cov = self.coverage_row.get(var.request) if var.role in LOANS else None
        if cov is None:
            delta = min(want, self.room(j))
        else:
            delta = min(want, self.room(j, skip_row=cov))
            coef = dict(self.cols[j])[cov]
            gvars = self.guarantees[var.request]
            g_coef = -dict(self.cols[gvars[0]])[cov] if gvars else 0
            extra = sum(self.room(g) for g in gvars) * g_coef
            delta = min(delta, (self.rows[cov].rhs - self.act[cov] + extra) // coef)
        if delta <= 0:
            self._release_switch(j)
            return 0
        self._bump(j, delta)
        if cov is not None:
            need = self.act[cov] - self.rows[cov].rhs
            for g in self.guarantees[var.request]:
                if need <= 0:
                    break
                g_coef = -dict(self.cols[g])[cov]
                inc = min(self.room(g), -(-need // g_coef))
                self._bump(g, inc)
                need -= inc * g_coef
        return delta

    def _release_switch(self, j: int) -> None:
        if self.vars[j].role == "topup":
            z = self.switch_of[j]
            if self.x[j] == 0 and self.x[z] == 1 and all(
                self.x[t] == 0 for t, sz in self.switch_of.items() if sz == z
            ):
                self._bump(z, -1)

    def lower_var(self, j: int, amount: int) -> None:
        self._bump(j, -min(amount, self.x[j]))
        self._release_switch(j)

    def funded(self, r: int) -> int:
        return sum(self.x[j] for j in self.funding[r])

    # --- repair after rounding ----------------------------------------------------------

    def repair(self, order: list[int]) -> None:
        """Make the rounded point satisfy every row: pledge or cut for coverage, drop a
        top-up whose threshold is no longer met, trim packing rows (least preferred
        variables first, ``order`` = most preferred first)."""
        rank = {j: k for k, j in enumerate(order)}
        for _ in range(3):
            bad = [i for i, row in enumerate(self.rows) if self.act[i] > row.rhs]
            if not bad:
                return
            for i in bad:
                row = self.rows[i]
                if self.act[i] <= row.rhs:
                    continue
                ups = [j for j, a in row.terms if a < 0]
                for j in sorted(ups, key=lambda j: rank.get(j, 0)):
                    a = -dict(self.cols[j])[i]
                    excess = self.act[i] - row.rhs
                    if excess <= 0:
                        break
                    self._bump(j, min(self.room(j), -(-excess // a)))
                downs = [j for j, a in row.terms if a > 0]
                for j in sorted(downs, key=lambda j: -rank.get(j, len(rank))):
                    excess = self.act[i] - row.rhs
                    if excess <= 0:
                        break
                    a = dict(self.cols[j])[i]
                    if self.vars[j].role == "switch":
                        for t, z in self.switch_of.items():
                            if z == j:
                                self._bump(t, -self.x[t])
                        self._bump(j, -self.x[j])
                    else:
                        self._bump(j, -min(self.x[j], -(-excess // a)))
        if any(self.act[i] > row.rhs for i, row in enumerate(self.rows)):
            raise AssertionError("could not repair the rounded plan")

    def top_up(self, request_order: list[int], var_order: list[int]) -> None:
        """Hand leftover cents to requests (in ``request_order``) from their variables in
        ``var_order`` while every limit allows."""
        rank = {j: k for k, j in enumerate(var_order)}
        for r in request_order:
            left = self.requests[r].amount_cents - self.funded(r)
            for j in sorted(self.funding[r], key=lambda j: rank[j]):
                if left <= 0:
                    break
                left -= self.raise_var(j, left)

    def trim_guarantees(self) -> None:
        """Release pledges beyond what each request's minimum coverage needs (last
        guarantor first): guarantees cover risk, they are not asked for without need."""
        for r, gvars in enumerate(self.guarantees):
            cov = self.coverage_row.get(r)
            for g in reversed(gvars):
                if cov is None:
                    self._bump(g, -self.x[g])
                    continue
                g_coef = -dict(self.cols[g])[cov]
                spare = (self.rows[cov].rhs - self.act[cov]) // g_coef
                self._bump(g, -min(self.x[g], spare))

    # --- verification and explanation ---------------------------------------------------

    def violations(self) -> list[Limit]:
        out = [self.ub_limit[j] for j, v in enumerate(self.x) if v < 0 or v > self.ub[j]]
        out += [row.limit for i, row in enumerate(self.rows) if self.act[i] > row.rhs]
        return out

    def blockers(self, r: int) -> list[Limit]:
        """The limits that stop each funding variable of request ``r`` from rising."""
        out: list[Limit] = []
        for j in self.funding[r]:
            var = self.vars[j]
            if var.role == "prepay_idle":
                continue  # idle money is a cheaper part of a source; its fresh part says why
            if self.x[j] >= self.ub[j]:
                out.append(self.ub_limit[j])
                continue
            if var.role == "topup" and self.x[self.switch_of[j]] == 0:
                z = self.switch_of[j]
                out += [self.rows[i].limit for i, a in self.cols[z] if a > 0
                        and self.rows[i].rhs - self.act[i] < a] or [self.ub_limit[z]]
                continue
            cov = self.coverage_row.get(r) if var.role in LOANS else None
            for i, a in self.cols[j]:
                if a > 0 and self.rows[i].rhs - self.act[i] < a and i != cov:
                    out.append(self.rows[i].limit)
            if cov is not None and all(self.room(g) == 0 for g in self.guarantees[r]):
                coef = dict(self.cols[j])[cov]
                if self.rows[cov].rhs - self.act[cov] < coef:
                    out.append(self.rows[cov].limit)
        return out


def scale_of(value: Decimal) -> int:
    """Power of ten that makes ``value`` an integer (``Decimal("1.5")`` -> 10)."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return int(10 ** max(0, -exponent))
