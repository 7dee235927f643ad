"""Repayment allocation, late interest, arrears and replay."""

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.repayments import (
    Allocation,
    InstallmentState,
    Payment,
    Restructuring,
    allocate_repayment,
    arrears,
    initial_state,
    installment_status,
    late_interest,
    outstanding_principal,
    replay,
    restructure_loan,
)
from ledger.schedules import LoanTerms, build_schedule

CENT = Decimal("0.01")
D = Decimal


def cents(x: Decimal | float) -> Decimal:
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def loan(**kw: object) -> LoanTerms:
    base: dict[str, object] = {
        "principal": D("10000.00"),
        "annual_rate": D("3.00"),
        "term_months": 12,
        "method": "french",
        "frequency": "monthly",
        "grace_periods": 0,
        "disbursement_date": date(2024, 1, 15),
    }
    base.update(kw)
    return LoanTerms(**base)  # type: ignore[arg-type]


def fresh(t: LoanTerms) -> tuple[InstallmentState, ...]:
    return initial_state(t, build_schedule(t))


def check_sums(a: Allocation) -> None:
    assert a.penalty + a.interest + a.principal + a.excess == a.amount
    assert sum(p.total for p in a.parts) + a.early_principal + a.excess == a.amount
    assert a.principal == sum(p.principal for p in a.parts) + a.early_principal


def test_on_time_payments_repay_the_loan_exactly() -> None:
    t = loan()
    state = fresh(t)
    sched = build_schedule(t)
    for inst in sched:
        a = allocate_repayment(state, inst.payment, inst.due_date, t)
        check_sums(a)
        assert a.interest == inst.interest and a.principal == inst.principal
        assert a.excess == 0 and not a.rescheduled
        state = a.state
    assert outstanding_principal(state) == 0
    assert all(installment_status(s, date(2026, 1, 1)) == "paid" for s in state)


def test_partial_payment_pays_interest_before_principal() -> None:
    t = loan()
    a = allocate_repayment(fresh(t), D("30.00"), date(2024, 2, 15), t)
    check_sums(a)
    assert (a.interest, a.principal) == (D("25.00"), D("5.00"))
    assert a.state[0].paid_principal == D("5.00")
    assert installment_status(a.state[0], date(2024, 2, 16)) == "overdue"
    assert installment_status(a.state[1], date(2024, 2, 16)) == "open"


def test_oldest_installment_first_each_interest_then_principal() -> None:
    t = loan()
    # installments 1 and 2 overdue (846.94 each); 1000.00 pays #1 in full, then #2's
    # interest 22.95 and 1000 - 846.94 - 22.95 = 130.11 of its principal
    a = allocate_repayment(fresh(t), D("1000.00"), date(2024, 3, 20), t)
    check_sums(a)
    assert [(p.number, p.interest, p.principal, p.in_advance) for p in a.parts] == [
        (1, D("25.00"), D("821.94"), False),
        (2, D("22.95"), D("130.11"), False),
    ]
    assert a.excess == 0 and a.early_principal == 0


def test_payment_two_days_early_pays_its_installment_without_reshaping() -> None:
    t = loan()
    before = fresh(t)
    a = allocate_repayment(before, D("846.94"), date(2024, 2, 13), t)
    check_sums(a)
    assert [(p.number, p.in_advance) for p in a.parts] == [(1, True)]
    assert not a.rescheduled
    assert [(s.principal, s.interest, s.due_date) for s in a.state] == [
        (s.principal, s.interest, s.due_date) for s in before
    ]


def test_early_repayment_keeps_the_term() -> None:
    t = loan()
    a = allocate_repayment(fresh(t), D("3000.00"), date(2024, 2, 20), t)
    check_sums(a)
    # #1 is overdue since Feb 15 (846.94), #2 is paid in advance (846.94), the rest
    # (1306.12) repays principal; installments 3..12 are recomputed on the same dates
    assert a.early_principal == D("3000.00") - 2 * D("846.94")
    assert a.rescheduled
    balance_after_2 = D("10000.00") - D("821.94") - D("823.99") - a.early_principal
    tail = a.state[2:]
    assert [s.due_date for s in tail] == [s.due_date for s in fresh(t)[2:]]
    assert tail[0].interest == cents(balance_after_2 * D("0.0025"))
    assert tail[0].payment == cents(-npf.pmt(0.0025, 10, float(balance_after_2)))
    assert sum(s.principal for s in tail) == balance_after_2
    assert a.state[1].balance_after == balance_after_2
    assert outstanding_principal(a.state) == balance_after_2


def test_early_repayment_shorten_term_keeps_the_installment() -> None:
    t = loan()
    a = allocate_repayment(fresh(t), D("3000.00"), date(2024, 2, 20), t,
                           early_repayment="shorten_term")
    check_sums(a)
    tail = a.state[2:]
    balance = D("10000.00") - D("821.94") - D("823.99") - a.early_principal
    expected_count = int(-(-npf.nper(0.0025, -846.94, float(balance)) // 1))
    assert len(tail) == expected_count < 10
    assert all(s.payment == D("846.94") for s in tail[:-1])
    assert tail[-1].payment < D("846.94")
    assert sum(s.principal for s in tail) == balance


def test_excess_only_after_the_whole_debt() -> None:
    t = loan()
    state = fresh(t)
    # on Mar 1: #1 overdue 846.94, #2 in advance 846.94, then all principal left
    left = D("10000.00") - D("821.94") - D("823.99")
    a = allocate_repayment(state, 2 * D("846.94") + left + D("12.34"), date(2024, 3, 1), t)
    check_sums(a)
    assert a.excess == D("12.34")
    assert outstanding_principal(a.state) == 0
    assert all(s.unpaid == 0 for s in a.state)
    a2 = allocate_repayment(state, 2 * D("846.94") + left, date(2024, 3, 1), t)
    assert a2.excess == 0 and all(s.unpaid == 0 for s in a2.state)


def test_never_in_advance_goes_to_principal_keeping_the_period_interest() -> None:
    t = loan()
    a = allocate_repayment(fresh(t), D("1846.94"), date(2024, 2, 20), t, in_advance=False)
    check_sums(a)
    assert [(p.number, p.in_advance) for p in a.parts] == [(1, False)]
    assert a.early_principal == D("1000.00")
    # the payment falls in period 2: its interest stays as scheduled
    assert a.state[1].interest == D("22.95")
    assert outstanding_principal(a.state) == D("10000.00") - D("821.94") - D("1000.00")
    # Paying everything this way repays all principal, but never the period's interest
    # before it is due (15 March): that stays owed and the rest is excess.
    everything = D("846.94") + D("10000.00") - D("821.94") + D("22.95") + D("1.00")
    b = allocate_repayment(fresh(t), everything, date(2024, 2, 20), t, in_advance=False)
    check_sums(b)
    assert b.excess == D("22.95") + D("1.00")
    assert outstanding_principal(b.state) == 0
    assert [s.unpaid for s in b.state if s.unpaid] == [D("22.95")]
    assert b.state[1].due_date == date(2024, 3, 15)
    # A repayment (in advance allowed) pays that interest before calling money excess.
    c = allocate_repayment(fresh(t), everything, date(2024, 2, 20), t)
    assert c.excess == D("1.00") and all(s.unpaid == 0 for s in c.state)


def test_late_interest_hand_formula() -> None:
    # 1,000 overdue for 10 days at 10% a year, actual/365: 2.739... -> 2.74
    one_step = [(date(2024, 1, 1), D("1000"))]
    assert late_interest(one_step, D("10"), date(2024, 1, 11)) == D("2.74")
    # 1,000 for 10 days then 600 for 20 days
    steps = [(date(2024, 1, 1), D("1000")), (date(2024, 1, 11), D("600"))]
    expected = cents((D(1000) * 10 + D(600) * 20) * D("0.10") / 365)
    assert late_interest(steps, D("10"), date(2024, 1, 31)) == expected == D("6.03")
    assert late_interest(steps, D("10"), date(2024, 1, 1)) == 0


def test_penalty_accrues_on_principal_only_and_is_paid_first() -> None:
    t = loan()
    rate = D("8.00")
    state = fresh(t)
    # pay only the interest of #1 on its due date, then 30 days later pay 100
    a = allocate_repayment(state, D("25.00"), date(2024, 2, 15), t, late_rate=rate)
    assert a.penalty == 0 and a.interest == D("25.00")
    b = allocate_repayment(a.state, D("100.00"), date(2024, 3, 16), t, late_rate=rate)
    check_sums(b)
    # #1 principal 821.94 late for 30 days; #2 (due Mar 15) is 1 day late on 823.99
    pen1 = cents(D("821.94") * 30 * D("0.08") / 365)
    pen2 = cents(D("823.99") * 1 * D("0.08") / 365)
    assert b.parts[0].penalty == pen1 == D("5.40")
    assert b.parts[0].principal == D("100.00") - pen1
    assert len(b.parts) == 1  # the money ran out on #1
    ar = arrears(b.state, date(2024, 3, 16), late_rate=rate)
    assert ar.overdue_amount == (
        D("821.94") - b.parts[0].principal + D("846.94") + pen2
    )
    # interest alone never earns late interest
    only_interest = allocate_repayment(state, D("821.94"), date(2024, 2, 15), t)
    # 821.94 pays interest 25.00 and 796.94 of principal: 25.00 of principal left unpaid
    ar2 = arrears(only_interest.state, date(2024, 2, 25), late_rate=rate)
    assert ar2.overdue_amount == D("25.00") + cents(D("25.00") * 10 * D("0.08") / 365)


def test_incremental_accrual_matches_the_step_function() -> None:
    t = loan()
    rate = D("10")
    s = fresh(t)
    a = allocate_repayment(s, D("425.00"), date(2024, 2, 25), t, late_rate=rate)
    # 10 days late on 821.94; pays penalty, 25.00 interest and the rest on principal
    pen = cents(D("821.94") * 10 * D("0.10") / 365)
    paid_principal = D("425.00") - pen - D("25.00")
    steps = [(date(2024, 2, 15), D("821.94")),
             (date(2024, 2, 25), D("821.94") - paid_principal)]
    ar = arrears(a.state, date(2024, 3, 10), late_rate=rate)
    total_late = late_interest(steps, rate, date(2024, 3, 10))
    assert ar.overdue_amount == D("821.94") - paid_principal + total_late - pen


def test_arrears_days_past_due() -> None:
    t = loan()
    s = fresh(t)
    assert arrears(s, date(2024, 2, 15)).days_past_due == 0  # due today: not overdue
    ar = arrears(s, date(2024, 2, 16))
    assert (ar.days_past_due, ar.oldest_due_date) == (1, date(2024, 2, 15))
    assert ar.overdue_amount == D("846.94")
    ar = arrears(s, date(2024, 4, 1))
    assert ar.days_past_due == 46 and ar.overdue_amount == 2 * D("846.94")
    paid = allocate_repayment(s, D("846.94"), date(2024, 3, 1), t).state
    ar = arrears(paid, date(2024, 4, 1))
    assert ar.days_past_due == 17 and ar.oldest_due_date == date(2024, 3, 15)
    assert arrears(paid, date(2024, 3, 1)) == arrears(paid, date(2024, 2, 1))
    assert arrears(paid, date(2024, 3, 1)).overdue_amount == 0


def test_restructure_moves_overdue_principal_and_adds_grace() -> None:
    t = loan()
    s = fresh(t)
    new = restructure_loan(s, date(2024, 4, 1), t, added_grace_periods=3)
    # #1 and #2 keep their interest (owed), their principal moves into the new schedule
    assert [(x.principal, x.interest) for x in new[:2]] == [(0, D("25.00")), (0, D("22.95"))]
    tail = new[2:]
    assert len(tail) == 10 + 3
    assert all(x.interest_only and x.principal == 0 for x in tail[:3])
    assert tail[0].interest == D("25.00")
    assert tail[0].due_date == date(2024, 4, 15) and tail[-1].due_date == date(2025, 4, 15)
    assert tail[3].payment == cents(-npf.pmt(0.0025, 10, 10000.0))
    assert outstanding_principal(new) == D("10000.00")
    ar = arrears(new, date(2024, 4, 2))
    assert ar.overdue_amount == D("47.95")


def test_restructure_after_maturity_continues_the_calendar() -> None:
    t = loan(term_months=3)
    new = restructure_loan(fresh(t), date(2024, 9, 1), t, new_periods=4)
    tail = [x for x in new if x.principal > 0]
    assert [x.due_date for x in tail] == [date(2024, 9, 15), date(2024, 10, 15),
                                          date(2024, 11, 15), date(2024, 12, 15)]
    assert [x.number for x in tail] == [4, 5, 6, 7]
    assert sum(x.principal for x in tail) == D("10000.00")


def test_replay_matches_step_by_step_and_any_entry_order() -> None:
    t = loan(term_months=24)
    sched = build_schedule(t)
    payments = [
        Payment("a", date(2024, 2, 15), D("846.94")),
        Payment("b", date(2024, 4, 2), D("900.00")),
        Payment("c", date(2024, 4, 20), D("2500.00"), early_repayment="shorten_term"),
        Payment("d", date(2024, 6, 1), D("50.00"), in_advance=False),
    ]
    state = initial_state(t, sched)
    expected = []
    for p in payments:
        a = allocate_repayment(state, p.amount, p.value_date, t, late_rate=D("5"),
                               early_repayment=p.early_repayment, in_advance=p.in_advance)
        expected.append((p.id, a))
        state = a.state
    result = replay(t, sched, list(reversed(payments)), late_rate=D("5"))
    assert result.allocations == tuple(expected)
    assert result.state == state
    assert not result.restructured


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10**9),
    method=st.sampled_from(["french", "italian", "bullet"]),
    frequency=st.sampled_from(["monthly", "quarterly"]),
    late=st.sampled_from([D(0), D("7.5")]),
    n_payments=st.integers(min_value=1, max_value=8),
)
def test_allocation_properties(seed: int, method: str, frequency: str, late: Decimal,
                               n_payments: int) -> None:
    rng = random.Random(seed)
    months = 1 if frequency == "monthly" else 3
    periods = rng.randint(2, 16)
    t = loan(
        principal=D(rng.randint(100_000, 5_000_000)) / 100,
        annual_rate=D(rng.randint(0, 900)) / 100,
        method=method,
        frequency=frequency,
        term_months=periods * months,
        grace_periods=0 if method == "bullet" else rng.randint(0, periods - 1),
    )
    sched = build_schedule(t)
    start = t.disbursement_date
    span = (sched[-1].due_date - start).days + 60
    days = rng.sample(range(1, span), n_payments)
    payments = [
        Payment(f"p{k}", start + timedelta(days=d), D(rng.randint(1, 400_000)) / 100,
                early_repayment=rng.choice(["term", "shorten_term"]),
                in_advance=rng.random() < 0.8)
        for k, d in enumerate(days)
    ]
    result = replay(t, sched, payments, late_rate=late)
    early_total = D(0)
    by_id = {p.id: p for p in payments}
    for pid, a in result.allocations:
        p = by_id[pid]
        check_sums(a)
        assert min(a.penalty, a.interest, a.principal, a.excess) >= 0
        early_total += a.early_principal
        after = {s.number: s for s in a.state}
        for part in a.parts:
            inst = after[part.number]
            # principal paid only once that installment's penalty and interest are paid
            if part.principal > 0:
                assert inst.unpaid_interest == 0 and inst.unpaid_penalty == 0
            if part.interest > 0:
                assert inst.unpaid_penalty == 0
            assert part.in_advance == (inst.due_date > p.value_date)
            if not p.in_advance:  # calls and loss cover never pay an installment ahead
                assert not part.in_advance
        if a.excess > 0:
            assert outstanding_principal(a.state) == 0
            if p.in_advance:
                assert all(s.unpaid == 0 for s in a.state)
            else:  # only interest not yet due may stay owed beside the excess
                assert all(s.unpaid == 0 or s.due_date > p.value_date for s in a.state)
        for s in a.state:
            assert 0 <= s.paid_principal <= s.principal
            assert 0 <= s.paid_interest <= s.interest
            assert 0 <= s.paid_penalty <= s.penalty
    final = result.state
    # principal is conserved: what the installments ask plus early repayments
    assert sum(s.principal for s in final) + early_total == t.principal
    # replay is order-independent for distinct value dates
    shuffled = payments[:]
    rng.shuffle(shuffled)
    assert replay(t, sched, shuffled, late_rate=late) == result


def test_replay_with_restructuring() -> None:
    t = loan()
    sched = build_schedule(t)
    events = [
        Payment("p1", date(2024, 2, 15), D("846.94")),
        Restructuring("r1", date(2024, 4, 1), added_grace_periods=2),
        Payment("p2", date(2024, 4, 15), D("100.00")),
    ]
    result = replay(t, sched, events)
    assert result.restructured
    # the restructuring moved #2's principal into 12 new installments from Apr 15, the
    # first two interest-only on 9,178.06 (22.95 each). p2 on Apr 15 pays #2's interest
    # (overdue since Mar 15), the grace installment due that day, the next one in
    # advance, and the rest is early repayment of principal.
    rescheduled = D("10000.00") - D("821.94")
    grace_interest = cents(rescheduled * D("0.0025"))
    alloc = dict(result.allocations)["p2"]
    assert [(p.number, p.interest, p.principal, p.in_advance) for p in alloc.parts] == [
        (2, D("22.95"), 0, False),
        (3, grace_interest, 0, False),
        (4, grace_interest, 0, True),
    ]
    assert alloc.early_principal == D("100.00") - D("22.95") - 2 * grace_interest
    assert outstanding_principal(result.state) == rescheduled - alloc.early_principal
    assert len(result.state) == 2 + 12


def test_invalid_repayments() -> None:
    t = loan()
    with pytest.raises(ValueError):
        allocate_repayment(fresh(t), D("0"), date(2024, 2, 1), t)
    with pytest.raises(ValueError):
        allocate_repayment(fresh(t), D("1.001"), date(2024, 2, 1), t)
    with pytest.raises(ValueError):
        restructure_loan(fresh(t), date(2024, 2, 1), t, added_grace_periods=-1)
    assert replace(fresh(t)[0], paid_interest=D("25.00")).unpaid == D("821.94")


def test_restructure_twice_after_maturity_keeps_the_calendar() -> None:
    t = loan(term_months=3, disbursement_date=date(2023, 12, 31))  # Jan 31, Feb 29, Mar 31
    once = restructure_loan(fresh(t), date(2024, 6, 10), t, new_periods=3)
    assert [x.due_date for x in once[3:]] == [date(2024, 6, 30), date(2024, 7, 31),
                                             date(2024, 8, 31)]
    twice = restructure_loan(once, date(2024, 7, 1), t, added_grace_periods=1)
    # #4 (Jun 30) was due: its interest stays owed, its principal moves on
    assert twice[3].due_date == date(2024, 6, 30) and twice[3].principal == 0
    assert [x.due_date for x in twice[4:]] == [date(2024, 7, 31), date(2024, 8, 31),
                                              date(2024, 9, 30)]
    assert [x.number for x in twice[4:]] == [5, 6, 7]
    assert twice[4].principal == 0 and twice[4].interest_only
    assert outstanding_principal(twice) == D("10000.00")


def test_restructure_bullet_to_french_has_no_inherited_grace() -> None:
    t = loan(method="bullet")
    new = restructure_loan(fresh(t), date(2024, 1, 20), t, method="french")
    assert new[0].payment == cents(-npf.pmt(0.0025, 12, 10000.0))
    assert not any(x.interest_only for x in new)
