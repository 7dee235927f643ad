"""APR (TAEG) from a loan's cash flows, in Decimal, deterministic, no floats.

The borrower's flows: at time 0 the principal minus fees (received, positive), then each
payment (paid, negative). With equal periods the periodic internal rate of return ``i``
is annualized as ``((1 + i)^m - 1) × 100`` (m periods a year); with an irregular first
period the flows are timed in years by 30E/360 day counts and the yearly rate is found
directly. Results are percentages with 2 decimals, rounded half-even.

Both solvers are Newton iterations that converge monotonically for these flows (one
positive flow followed by non-positive ones), so they need no bracketing and always
return the same digits for the same input:

* periodic: in ``v = 1 / (1 + i)`` the net present value is a polynomial, decreasing
  and concave on v > 0; Newton from v = 1 (a zero rate) stays right of the root and
  walks down to it;
* dated: in ``x = ln(1 + y)`` the net present value is increasing and concave; Newton
  from x = 0 stays left of the root and walks up to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from itertools import pairwise
from typing import TYPE_CHECKING

from ledger.daycount import days_30e_360

if TYPE_CHECKING:
    from ledger.schedules import Installment, LoanTerms

__all__ = [
    "apr",
    "apr_dated",
    "apr_for_schedule",
    "borrower_flows",
    "periodic_irr",
    "yearly_irr_dated",
]

_PREC = 60
_TOLERANCE = Decimal("1e-40")
_MAX_ITERATIONS = 2000
_CENT = Decimal("0.01")
_ZERO = Decimal(0)
_ONE = Decimal(1)


def _check_flows(flows: Sequence[Decimal]) -> None:
    if len(flows) < 2:
        raise ValueError("an APR needs the amount received and at least one payment")
    if flows[0] <= 0:
        raise ValueError("the first flow (principal minus fees) must be positive")
    if any(f > 0 for f in flows[1:]):
        raise ValueError("payments must be given as negative (or zero) flows")
    if sum(flows[1:], _ZERO) >= 0:
        raise ValueError("an APR needs at least one non-zero payment")


def periodic_irr(flows: Sequence[Decimal]) -> Decimal:
    """Periodic internal rate of return of ``flows`` (flow k at the end of period k).

    ``flows[0] > 0``, the rest ``<= 0`` and summing to at least ``flows[0]`` (a
    non-negative rate; a negative one is refused since lending never pays the borrower).
    """
    _check_flows(flows)
    with localcontext() as ctx:
        ctx.prec = _PREC
        if flows[0] + sum(flows[1:], _ZERO) > 0:
            raise ValueError("payments are less than the amount received: negative rate")
        v = _ONE
        for _ in range(_MAX_ITERATIONS):
            # Horner for f(v) = sum c_k v^k and f'(v) together.
            value = _ZERO
            slope = _ZERO
            for c in reversed(flows):
                slope = slope * v + value
                value = value * v + c
            if value == 0 or slope == 0:
                break
            step = value / slope
            v -= step
            if abs(step) <= _TOLERANCE:
                break
        else:  # pragma: no cover - the iteration is monotone; this only guards the loop
            raise ArithmeticError("IRR did not converge")
        return _ONE / v - _ONE


def apr(flows: Sequence[Decimal], periods_per_year: int) -> Decimal:
    """APR in percent, 2 decimals half-even, of equally spaced ``flows``."""
    i = periodic_irr(flows)
    with localcontext() as ctx:
        ctx.prec = _PREC
        yearly = ((_ONE + i) ** periods_per_year - _ONE) * 100
        return yearly.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def yearly_irr_dated(flows: Sequence[Decimal], years: Sequence[Decimal]) -> Decimal:
    """Yearly internal rate ``y`` with ``sum flows[k] × (1 + y)^(-years[k]) = 0``.

    ``years[0]`` is normally 0; times must not decrease.
    """
    _check_flows(flows)
    if len(years) != len(flows):
        raise ValueError("one time per flow")
    if any(b < a for a, b in pairwise(years)) or years[0] < 0:
        raise ValueError("flow times must be non-negative and in order")
    with localcontext() as ctx:
        ctx.prec = _PREC
        if flows[0] + sum(flows[1:], _ZERO) > 0:
            raise ValueError("payments are less than the amount received: negative rate")
        x = _ZERO  # x = ln(1 + y)
        for _ in range(_MAX_ITERATIONS):
            value = _ZERO
            slope = _ZERO
            for c, t in zip(flows, years, strict=True):
                term = c * (-t * x).exp()
                value += term
                slope -= t * term
            if value == 0 or slope == 0:
                break
            step = value / slope
            x -= step
            if abs(step) <= _TOLERANCE:
                break
        else:  # pragma: no cover
            raise ArithmeticError("IRR did not converge")
        return x.exp() - _ONE


def apr_dated(flows: Sequence[Decimal], years: Sequence[Decimal]) -> Decimal:
    """APR in percent, 2 decimals half-even, of flows timed in years."""
    y = yearly_irr_dated(flows, years)
    with localcontext() as ctx:
        ctx.prec = _PREC
        return (y * 100).quantize(_CENT, rounding=ROUND_HALF_EVEN)


def borrower_flows(terms: LoanTerms, schedule: Sequence[Installment]) -> list[Decimal]:
    """Principal minus fees, then minus each payment."""
    return [terms.principal - terms.fees, *(-i.payment for i in schedule)]


def apr_for_schedule(terms: LoanTerms, schedule: Sequence[Installment]) -> Decimal:
    """The contract's APR of a schedule: periodic, or dated by 30E/360 when the first
    period is irregular."""
    flows = borrower_flows(terms, schedule)
    if terms.irregular_first_period:
        with localcontext() as ctx:
            ctx.prec = _PREC
            years = [_ZERO] + [
                Decimal(days_30e_360(terms.disbursement_date, i.due_date)) / 360
                for i in schedule
            ]
        return apr_dated(flows, years)
    return apr(flows, terms.periods_per_year)
