"""The optimized loan loops against a straightforward reference, exactly.

``ledger.schedules`` and ``ledger.repayments`` run their hot loops with min/max spelled
out, a cached quantum, frozen dataclasses filled without ``__init__``, a paid prefix that
replay skips, and installment states built directly by the schedule loop; schedules
also run an unchecked loop that multiplies by a proven interest factor instead of
dividing, and fall back to the checked loop when a period needed capping. The reference
below is the plain code they replaced (builtins, ``dataclasses.replace``, a full scan per
step, schedules then states). On random loans, payments, restructurings and hand-made
states both must give the same results, down to each Decimal's exponent (compared by
``repr``), and the same errors.
"""

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.daycount import add_months, days_30e_360, due_dates
from ledger.money import quantize
from ledger.repayments import (
    Allocation,
    Arrears,
    InstallmentPart,
    InstallmentState,
    Payment,
    Replay,
    Restructuring,
    accrue_late_interest,
    allocate_repayment,
    arrears,
    initial_state,
    outstanding_principal,
    replay,
    restructure_loan,
)
from ledger.schedules import (
    MONTHS_PER_PERIOD,
    PERIODS_PER_YEAR,
    Frequency,
    Installment,
    Keep,
    LoanTerms,
    Method,
    TermsError,
    annuity_payment,
    build_schedule,
    reschedule_remaining,
    restructure,
    validate_terms,
)

D = Decimal
_ZERO = Decimal(0)
_PREC = 50
_DAYS_IN_YEAR = Decimal(365)
_HUNDRED = Decimal(100)
METHODS: list[Method] = ["french", "italian", "bullet"]
MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}


def ref_due_dates(terms: LoanTerms) -> list[date]:
    first = terms.resolved_first_due_date
    return [add_months(first, k * terms.months_per_period) for k in range(terms.periods)]


# -- the reference: the code before optimization, names prefixed ref_ --------------------

def ref_amortize(
    balance: Decimal,
    annual_rate: Decimal,
    periods_per_year: int,
    dates: Sequence[date],
    method: Method,
    grace: int,
    *,
    currency: str,
    first_number: int = 1,
    first_interest: Decimal | None = None,
    first_year_fraction: Decimal | None = None,
    keep_size: Decimal | None = None,
) -> list[Installment]:
    n = len(dates)
    if n == 0 or balance <= 0:
        return []
    if method == "bullet":
        grace = n - 1
    grace = min(grace, n - 1)
    amortizing = n - grace
    out: list[Installment] = []
    with localcontext() as ctx:
        ctx.prec = _PREC
        divisor = _HUNDRED * periods_per_year
        period_rate = annual_rate / divisor
        size = keep_size
        if size is None and method == "french":
            size = annuity_payment(balance, period_rate, amortizing, currency)
        elif size is None and method == "italian":
            size = quantize(balance / amortizing, currency)
        for k, due in enumerate(dates):
            if k == 0 and first_interest is not None:
                interest = first_interest
            elif k == 0 and first_year_fraction is not None:
                interest = quantize(
                    balance * annual_rate * first_year_fraction / _HUNDRED, currency
                )
            else:
                interest = quantize(balance * annual_rate / divisor, currency)
            if k < grace:
                principal = _ZERO
            elif k == n - 1:
                principal = balance
            elif method == "french":
                assert size is not None
                # A long irregular first period can earn more than the installment: then
                # the installment is interest only, never negative amortization.
                principal = min(max(size - interest, _ZERO), balance)
            else:
                assert size is not None
                principal = min(size, balance)
            balance -= principal
            out.append(
                Installment(
                    number=first_number + k,
                    due_date=due,
                    principal=principal,
                    interest=interest,
                    payment=principal + interest,
                    balance_after=balance,
                )
            )
            if keep_size is not None and balance == 0:
                break
    return out


def ref_build_schedule(terms: LoanTerms) -> list[Installment]:
    validate_terms(terms)
    first_fraction: Decimal | None = None
    if terms.irregular_first_period:
        assert terms.first_due_date is not None
        with localcontext() as ctx:
            ctx.prec = _PREC
            first_fraction = Decimal(days_30e_360(terms.disbursement_date, terms.first_due_date))
            first_fraction /= Decimal(360)
    return ref_amortize(
        quantize(terms.principal, terms.currency),
        terms.annual_rate,
        terms.periods_per_year,
        ref_due_dates(terms),
        terms.method,
        terms.grace_periods,
        currency=terms.currency,
        first_year_fraction=first_fraction,
    )


def ref_reschedule_remaining(
    balance: Decimal,
    annual_rate: Decimal,
    due_dates: Sequence[date],
    method: Method,
    *,
    frequency: Frequency,
    keep: Keep = "term",
    current_payment: Decimal | None = None,
    grace_periods: int = 0,
    first_number: int = 1,
    first_interest: Decimal | None = None,
    currency: str = "EUR",
) -> list[Installment]:
    keep_size: Decimal | None = None
    if keep == "shorten_term" and method != "bullet":
        if current_payment is None or current_payment <= 0:
            raise ValueError("shorten_term needs the current installment size")
        keep_size = current_payment
    elif keep not in ("term", "shorten_term"):
        raise ValueError(f"keep must be 'term' or 'shorten_term', not {keep!r}")
    return ref_amortize(
        balance,
        annual_rate,
        PERIODS_PER_YEAR[frequency],
        due_dates,
        method,
        grace_periods,
        currency=currency,
        first_number=first_number,
        first_interest=first_interest,
        keep_size=keep_size,
    )


def ref_restructure(
    balance: Decimal,
    annual_rate: Decimal,
    method: Method,
    frequency: Frequency,
    calendar_anchor: date,
    first_number: int,
    periods: int,
    *,
    grace_periods: int = 0,
    calendar_offset: int | None = None,
    currency: str = "EUR",
) -> list[Installment]:
    if periods <= 0:
        raise TermsError("periods", "a restructured schedule needs at least one period")
    if first_number <= 0:
        raise TermsError("first_number", "installments are numbered from 1")
    if grace_periods < 0 or (method != "bullet" and grace_periods >= periods):
        raise TermsError("grace_periods", "grace_periods must be fewer than the periods")
    months = MONTHS_PER_PERIOD[frequency]
    offset = first_number - 1 if calendar_offset is None else calendar_offset
    if offset < 0:
        raise TermsError("calendar_offset", "calendar_offset must not be negative")
    dates = [add_months(calendar_anchor, (offset + k) * months) for k in range(periods)]
    return ref_amortize(
        balance,
        annual_rate,
        PERIODS_PER_YEAR[frequency],
        dates,
        method,
        grace_periods,
        currency=currency,
        first_number=first_number,
    )


def ref_initial_state(
    terms: LoanTerms, schedule: Sequence[Installment]
) -> tuple[InstallmentState, ...]:
    last = len(schedule) - 1
    return tuple(
        InstallmentState(
            number=i.number,
            due_date=i.due_date,
            principal=i.principal,
            interest=i.interest,
            balance_after=i.balance_after,
            interest_only=(
                k < last if terms.method == "bullet" else k < terms.grace_periods
            ),
        )
        for k, i in enumerate(schedule)
    )


def ref_outstanding_principal(state: Iterable[InstallmentState]) -> Decimal:
    return sum((s.unpaid_principal for s in state), _ZERO)


def ref_accrue_late_interest(
    state: Sequence[InstallmentState], on: date, late_rate: Decimal, currency: str = "EUR"
) -> tuple[InstallmentState, ...]:
    if late_rate <= 0:
        return tuple(state)
    out: list[InstallmentState] = []
    with localcontext() as ctx:
        ctx.prec = _PREC
        for s in state:
            start = s.due_date if s.late_accrued_to is None else max(s.due_date, s.late_accrued_to)
            days = (on - start).days
            if days > 0 and s.unpaid_principal > 0:
                accrued = s.late_accrued + (
                    s.unpaid_principal * days * late_rate / _HUNDRED / _DAYS_IN_YEAR
                )
                s = replace(
                    s,
                    late_accrued=accrued,
                    late_accrued_to=on,
                    penalty=quantize(accrued, currency),
                )
            elif days > 0:
                s = replace(s, late_accrued_to=on)
            out.append(s)
    return tuple(out)


def ref_pay(
    inst: InstallmentState, remaining: Decimal, in_advance: bool, *, penalty_first: bool = True
) -> tuple[InstallmentState, InstallmentPart, Decimal]:
    pen = min(remaining, inst.unpaid_penalty) if penalty_first else _ZERO
    remaining -= pen
    interest = min(remaining, inst.unpaid_interest)
    remaining -= interest
    principal = min(remaining, inst.unpaid_principal)
    remaining -= principal
    paid = replace(
        inst,
        paid_penalty=inst.paid_penalty + pen,
        paid_interest=inst.paid_interest + interest,
        paid_principal=inst.paid_principal + principal,
    )
    return paid, InstallmentPart(inst.number, pen, interest, principal, in_advance), remaining


def ref_reschedule_tail(
    state: list[InstallmentState],
    start: int,
    early: Decimal,
    on: date,
    terms: LoanTerms,
    keep: Keep,
) -> list[InstallmentState]:
    tail = state[start:]
    first = tail[0]
    # The payment falls inside the first tail installment's period (or that installment
    # was already partly paid): its interest stays as scheduled.
    current = start == 0 or state[start - 1].due_date <= on
    fixed_interest = first.interest if current or first.touched else None
    balance = sum((s.unpaid_principal for s in tail), _ZERO) - early
    grace = 0
    for s in tail:
        if not s.interest_only:
            break
        grace += 1
    size: Decimal | None = None
    if keep == "shorten_term":
        amortizing = [s for s in tail[:-1] if not s.interest_only]
        if amortizing:
            size = amortizing[0].payment if terms.method == "french" else amortizing[0].principal
    new = ref_reschedule_remaining(
        balance,
        terms.annual_rate,
        [s.due_date for s in tail],
        terms.method,
        frequency=terms.frequency,
        keep="shorten_term" if size is not None else "term",
        current_payment=size,
        grace_periods=grace,
        first_number=first.number,
        first_interest=fixed_interest,
        currency=terms.currency,
    )
    last = len(new) - 1
    out = [
        InstallmentState(
            number=i.number,
            due_date=i.due_date,
            principal=i.principal,
            interest=i.interest,
            balance_after=i.balance_after,
            interest_only=(k < last if terms.method == "bullet" else k < grace and k < last),
        )
        for k, i in enumerate(new)
    ]
    if fixed_interest is not None:
        # Keep the first installment (its interest is owed) and what was paid of it.
        head = out[0] if out else replace(first, principal=_ZERO, balance_after=_ZERO)
        out[:1] = [
            replace(
                first,
                principal=first.paid_principal + head.principal,
                interest=fixed_interest,
                balance_after=head.balance_after,
                interest_only=head.interest_only,
            )
        ]
    return out


def ref_allocate_repayment(
    state: Sequence[InstallmentState],
    amount: Decimal,
    on: date,
    terms: LoanTerms,
    *,
    early_repayment: Keep = "term",
    late_rate: Decimal = _ZERO,
    in_advance: bool = True,
) -> Allocation:
    if amount <= 0:
        raise ValueError("a repayment must be positive")
    if early_repayment not in ("term", "shorten_term"):
        raise ValueError("early_repayment must be 'term' or 'shorten_term'")
    currency = terms.currency
    if amount != quantize(amount, currency):
        raise ValueError(f"amount {amount} has more decimals than {currency}")
    current = list(ref_accrue_late_interest(state, on, late_rate, currency))
    remaining = amount
    parts: list[InstallmentPart] = []

    # 1. everything due on or before the payment date, oldest first
    for k, inst in enumerate(current):
        if remaining == 0:
            break
        if inst.due_date <= on and inst.unpaid > 0:
            current[k], part, remaining = ref_pay(inst, remaining, False)
            parts.append(part)

    # 2. the next installment not yet due, paid in advance
    future = [k for k, s in enumerate(current) if s.due_date > on and s.unpaid > 0]
    if in_advance and remaining > 0 and future:
        k = future.pop(0)
        current[k], part, remaining = ref_pay(current[k], remaining, True)
        parts.append(part)

    # 3. early repayment of principal over the installments still open
    early = _ZERO
    rescheduled = False
    if remaining > 0 and future:
        start = future[0]
        tail_principal = sum((s.unpaid_principal for s in current[start:]), _ZERO)
        early = min(remaining, tail_principal)
        if early > 0:
            remaining -= early
            current[start:] = ref_reschedule_tail(current, start, early, on, terms, early_repayment)
            rescheduled = True
            # Installments paid in advance before the tail now leave a lower balance.
            for k in range(start):
                if current[k].due_date > on:
                    current[k] = replace(
                        current[k], balance_after=current[k].balance_after - early
                    )
        # All principal repaid: what is left of the debt is the current period's
        # interest (owed whatever the calendar); pay it before calling money excess,
        # unless the payment may not pay installments in advance (calls, loss cover).
        for k in range(start, len(current) if in_advance else start):
            if remaining == 0:
                break
            if current[k].unpaid > 0:
                current[k], part, remaining = ref_pay(current[k], remaining, True)
                parts.append(part)

    penalty = sum((p.penalty for p in parts), _ZERO)
    interest = sum((p.interest for p in parts), _ZERO)
    principal = sum((p.principal for p in parts), _ZERO) + early
    return Allocation(
        amount=amount,
        penalty=penalty,
        interest=interest,
        principal=principal,
        excess=remaining,
        early_principal=early,
        parts=tuple(parts),
        rescheduled=rescheduled,
        state=tuple(current),
    )


def ref_arrears(
    state: Sequence[InstallmentState],
    as_of: date,
    *,
    late_rate: Decimal = _ZERO,
    currency: str = "EUR",
) -> Arrears:
    accrued = ref_accrue_late_interest(state, as_of, late_rate, currency)
    overdue = [s for s in accrued if s.due_date < as_of and s.unpaid > 0]
    if not overdue:
        return Arrears(_ZERO, 0, None)
    oldest = min(s.due_date for s in overdue)
    return Arrears(
        overdue_amount=sum((s.unpaid for s in overdue), _ZERO),
        days_past_due=(as_of - oldest).days,
        oldest_due_date=oldest,
    )


def ref_restructure_loan(
    state: Sequence[InstallmentState],
    on: date,
    terms: LoanTerms,
    *,
    added_grace_periods: int = 0,
    new_periods: int | None = None,
    method: Method | None = None,
    late_rate: Decimal = _ZERO,
) -> tuple[InstallmentState, ...]:
    if added_grace_periods < 0:
        raise ValueError("added_grace_periods must not be negative")
    current = list(ref_accrue_late_interest(state, on, late_rate, terms.currency))
    moved = _ZERO
    for k, s in enumerate(current):
        if s.due_date <= on and s.unpaid_principal > 0:
            moved += s.unpaid_principal
            current[k] = replace(s, principal=s.paid_principal)
    # Advance payments only ever touch the first open installments, so the untouched
    # future installments form a tail.
    start = next(
        (k for k, s in enumerate(current) if s.due_date > on and not s.touched), len(current)
    )
    kept, tail = current[:start], current[start:]
    balance = moved + sum((s.principal for s in tail), _ZERO)
    if balance <= 0:
        return tuple(kept)
    new_method = method or terms.method
    grace = added_grace_periods
    for s in tail:
        # a bullet loan's interest-only periods are its shape, not grace left to keep
        if not s.interest_only or "bullet" in (new_method, terms.method):
            break
        grace += 1
    periods = new_periods if new_periods is not None else len(tail) + added_grace_periods
    months = terms.months_per_period
    anchor = terms.resolved_first_due_date
    first_number = kept[-1].number + 1 if kept else 1
    # The loan's calendar: period i falls on anchor + i periods. Start at the first
    # replaced installment's date (or after the last one), and never on or before ``on``.
    if tail:
        target, step = tail[0].due_date, 0
    else:
        target, step = (kept[-1].due_date, 1) if kept else (anchor, 0)
    offset = ((target.year - anchor.year) * 12 + target.month - anchor.month) // months + step
    while add_months(anchor, offset * months) <= on:
        offset += 1
    new = ref_restructure(
        balance,
        terms.annual_rate,
        new_method,
        terms.frequency,
        anchor,
        first_number,
        periods,
        grace_periods=grace if new_method != "bullet" else 0,
        calendar_offset=offset,
        currency=terms.currency,
    )
    last = len(new) - 1
    return tuple(kept) + tuple(
        InstallmentState(
            number=i.number,
            due_date=i.due_date,
            principal=i.principal,
            interest=i.interest,
            balance_after=i.balance_after,
            interest_only=k < last if new_method == "bullet" else k < grace,
        )
        for k, i in enumerate(new)
    )


def ref_replay(
    terms: LoanTerms,
    schedule: Sequence[Installment],
    events: Iterable[Payment | Restructuring],
    *,
    late_rate: Decimal = _ZERO,
) -> Replay:
    state = ref_initial_state(terms, schedule)
    allocations: list[tuple[str, Allocation]] = []
    restructured = False
    for event in sorted(events, key=lambda e: (e.value_date, e.id)):
        if isinstance(event, Payment):
            allocation = ref_allocate_repayment(
                state,
                event.amount,
                event.value_date,
                terms,
                early_repayment=event.early_repayment,
                late_rate=late_rate,
                in_advance=event.in_advance,
            )
            state = allocation.state
            allocations.append((event.id, allocation))
        else:
            state = ref_restructure_loan(
                state,
                event.value_date,
                terms,
                added_grace_periods=event.added_grace_periods,
                new_periods=event.new_periods,
                method=event.method,
                late_rate=late_rate,
            )
            restructured = True
            if event.method is not None:
                # later early repayments recompute with the new method
                terms = replace(terms, method=event.method)
    return Replay(state=state, allocations=tuple(allocations), restructured=restructured)


# -- comparisons ------------------------------------------------------------------------

def outcome(fn: Callable[..., object], *args: Any, **kwargs: Any) -> tuple[str, str]:
    """``repr`` of ``fn``'s result (every field, every Decimal's exponent) or its error."""
    try:
        return "ok", repr(fn(*args, **kwargs))
    except (ValueError, ArithmeticError, AssertionError) as exc:
        return type(exc).__name__, str(exc)


def amount(rng: random.Random, low: int, high: int) -> Decimal:
    """Cents, sometimes written without decimals (an exponent the loops must keep)."""
    cents = rng.randint(low, high)
    if cents % 100 == 0 and rng.random() < 0.5:
        return D(cents // 100)
    return D(cents) / 100


def random_terms(rng: random.Random) -> LoanTerms:
    frequency = rng.choice(list(MONTHS))
    method = rng.choice(METHODS)
    periods = rng.randint(1, 30)
    disbursed = date(rng.randint(2020, 2030), rng.randint(1, 12), rng.randint(1, 28))
    if rng.random() < 0.3:  # month ends
        disbursed = add_months(date(disbursed.year, 1, 31), disbursed.month - 1)
    first_due = None
    if rng.random() < 0.3:
        first_due = disbursed + timedelta(days=rng.randint(1, 120))
    rate = D(rng.randint(0, 1500)).scaleb(-rng.randint(0, 3))
    terms = LoanTerms(
        principal=amount(rng, 100, 10_000_000),
        annual_rate=rate,
        term_months=periods * MONTHS[frequency],
        method=method,
        frequency=frequency,  # type: ignore[arg-type]
        grace_periods=0 if method == "bullet" else rng.randint(0, periods - 1),
        disbursement_date=disbursed,
        first_due_date=first_due,
        fees=D(0),
    )
    validate_terms(terms)
    return terms


def random_events(
    rng: random.Random, terms: LoanTerms, schedule: Sequence[Installment]
) -> list[Payment | Restructuring]:
    start = terms.disbursement_date
    span = (schedule[-1].due_date - start).days + 90
    size = max(i.payment for i in schedule)
    events: list[Payment | Restructuring] = []
    for k in range(rng.randint(0, 10)):
        on = start + timedelta(days=rng.randint(-5, span))
        if rng.random() < 0.3:  # on a due date
            on = rng.choice(schedule).due_date
        cents = int(size * 100 * D(rng.uniform(0.05, 2.5))) + 1
        if rng.random() < 0.05:
            cents = int(terms.principal * 200)
        events.append(Payment(
            f"p{k:02d}", on, amount(rng, cents, cents),
            early_repayment=rng.choice(["term", "shorten_term"]),
            in_advance=rng.random() < 0.8,
        ))
    for k in range(rng.choice([0, 0, 0, 1, 2])):
        events.append(Restructuring(
            f"r{k}", start + timedelta(days=rng.randint(0, span)),
            added_grace_periods=rng.randint(0, 3),
            new_periods=rng.choice([None, rng.randint(1, 12)]),
            method=rng.choice([None, *METHODS]),
        ))
    return events


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_schedules_and_replays_match_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    terms = random_terms(rng)
    schedule = build_schedule(terms)
    assert repr(schedule) == repr(ref_build_schedule(terms))
    assert repr(initial_state(terms, schedule)) == repr(ref_initial_state(terms, schedule))
    events = random_events(rng, terms, schedule)
    late = rng.choice([D(0), D(0), D("7.5"), D("0.25"), D(rng.randint(1, 2000)) / 100])
    got = outcome(replay, terms, schedule, events, late_rate=late)
    assert got == outcome(ref_replay, terms, schedule, events, late_rate=late)
    if got[0] != "ok":
        return
    state = replay(terms, schedule, events, late_rate=late).state
    assert repr(outstanding_principal(state)) == repr(ref_outstanding_principal(state))
    for _ in range(3):
        as_of = terms.disbursement_date + timedelta(days=rng.randint(0, 3000))
        rate = rng.choice([D(0), late, D("3.25")])
        assert repr(arrears(state, as_of, late_rate=rate)) == repr(
            ref_arrears(state, as_of, late_rate=rate))
        assert repr(accrue_late_interest(state, as_of, rate)) == repr(
            ref_accrue_late_interest(state, as_of, rate))


def messy_state(rng: random.Random, state: Sequence[InstallmentState]) -> list[InstallmentState]:
    """Hand-made states: paid parts anywhere (also beyond what is asked), odd order."""
    out = []
    for s in state:
        choice = rng.random()
        if choice < 0.3:
            s = replace(s, paid_principal=s.principal, paid_interest=s.interest,
                        paid_penalty=s.penalty)
        elif choice < 0.45:
            s = replace(s, paid_principal=amount(rng, 0, 500_000),
                        paid_interest=amount(rng, 0, 5_000),
                        penalty=amount(rng, 0, 3_000), paid_penalty=amount(rng, 0, 3_000))
        elif choice < 0.5:
            s = replace(s, penalty=D("1.00"), late_accrued=D("0.9951"),
                        late_accrued_to=s.due_date + timedelta(days=rng.randint(-3, 40)))
        elif choice < 0.55:  # all but the penalty paid
            s = replace(s, paid_principal=s.principal, paid_interest=s.interest,
                        penalty=D("2.50"), paid_penalty=rng.choice([D(0), D("1.00")]))
        out.append(s)
    if rng.random() < 0.2:
        rng.shuffle(out)
    return out


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_allocation_on_any_state_matches_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    terms = random_terms(rng)
    schedule = build_schedule(terms)
    start = terms.disbursement_date
    state = messy_state(rng, initial_state(terms, schedule))
    span = (schedule[-1].due_date - start).days + 60
    for _ in range(4):
        on = start + timedelta(days=rng.randint(-5, span))
        pay = amount(rng, 1, 2_000_000)
        kwargs: dict[str, Any] = {
            "early_repayment": rng.choice(["term", "shorten_term"]),
            "late_rate": rng.choice([D(0), D("7.5"), D("0.5")]),
            "in_advance": rng.random() < 0.7,
        }
        got = outcome(allocate_repayment, state, pay, on, terms, **kwargs)
        assert got == outcome(ref_allocate_repayment, state, pay, on, terms, **kwargs)
        if got[0] == "ok":
            state = list(allocate_repayment(state, pay, on, terms, **kwargs).state)
        grace = rng.randint(0, 2)
        got = outcome(restructure_loan, state, on, terms, added_grace_periods=grace)
        assert got == outcome(ref_restructure_loan, state, on, terms, added_grace_periods=grace)
        assert repr(arrears(state, on)) == repr(ref_arrears(state, on))


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_reschedule_and_restructure_match_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    method = rng.choice(METHODS)
    frequency = rng.choice(list(MONTHS))
    anchor = add_months(date(rng.randint(2000, 2040), 1, rng.choice([1, 15, 28, 29, 30, 31])),
                        rng.randint(0, 11))
    dates = due_dates(anchor, rng.randint(0, 40), MONTHS[frequency])
    balance = rng.choice([amount(rng, -100, 10_000_000), D("1E+3"), D("0.5"), D("0")])
    rate = rng.choice([D(0), D(rng.randint(0, 2000)) / 100, D("3"), D("2.5E+0"), D("-1.5")])
    keep: Keep = rng.choice(["term", "shorten_term"])
    current = rng.choice([None, amount(rng, -100, 500_000), D("470"), D("470.000")])
    grace = rng.randint(0, 5)
    fixed = rng.choice([None, None, amount(rng, 0, 50_000), D("12.5")])
    number = rng.randint(1, 5)
    args = (balance, rate, dates, method)
    kwargs: dict[str, Any] = {
        "frequency": frequency, "keep": keep, "current_payment": current,
        "grace_periods": grace, "first_number": number, "first_interest": fixed,
    }
    got = outcome(reschedule_remaining, *args, **kwargs)
    assert got == outcome(ref_reschedule_remaining, *args, **kwargs)
    periods = rng.randint(0, 30)
    offset = rng.choice([None, rng.randint(-1, 20)])
    args2 = (balance, rate, method, frequency, anchor, number, periods)
    got = outcome(restructure, *args2, grace_periods=grace, calendar_offset=offset)
    assert got == outcome(ref_restructure, *args2, grace_periods=grace, calendar_offset=offset)


@settings(max_examples=200, deadline=None)
@given(anchor=st.dates(), count=st.integers(min_value=-2, max_value=40),
       months=st.sampled_from([1, 3, 6, 12, -1]))
def test_due_dates_match_add_months(anchor: date, count: int, months: int) -> None:
    def ref() -> list[date]:
        return [add_months(anchor, k * months) for k in range(count)]

    assert outcome(due_dates, anchor, count, months) == outcome(ref)
