"""Loans, guarantees and funds as of a day (ledger.as_of), against hand computations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.as_of import fund_on, guarantee_on, loan_on
from ledger.schedules import LoanTerms

D = Decimal


@dataclass(frozen=True)
class Event:
    id: str
    seq: int
    kind: str
    value_date: date
    amount_minor: int | None = None
    params: dict[str, Any] | None = None


# 1,200.00 EUR at 0% over 12 months: every installment is exactly 100.00, due on the 15th.
TERMS = LoanTerms(principal=D("1200.00"), annual_rate=D("0"), term_months=12,
                  method="french", frequency="monthly", grace_periods=0,
                  disbursement_date=date(2026, 1, 15))
DISBURSED = date(2026, 1, 15)


def test_before_the_disbursement_the_loan_is_only_approved() -> None:
    on = loan_on(TERMS, [], date(2026, 1, 14), disbursed_on=DISBURSED)
    assert (on.status, on.outstanding, on.overdue, on.replay) == ("approved", 0, 0, None)
    assert loan_on(TERMS, [], date(2026, 1, 14), disbursed_on=None).status == "approved"


def test_arrears_count_installments_due_before_the_day() -> None:
    pay = [Event("p1", 1, "repayment", date(2026, 2, 15), 10_000)]
    # 16 April: March's and April's installments (due 15 March, 15 April) are unpaid.
    on = loan_on(TERMS, pay, date(2026, 4, 16), disbursed_on=DISBURSED)
    assert on.status == "active"
    assert on.outstanding == 110_000  # 1,200.00 - 100.00
    assert on.overdue == 20_000
    assert on.days_past_due == (date(2026, 4, 16) - date(2026, 3, 15)).days
    assert on.oldest_due == date(2026, 3, 15)
    # The same loan a day before the first due date owes nothing yet.
    early = loan_on(TERMS, pay, date(2026, 2, 14), disbursed_on=DISBURSED)
    assert (early.outstanding, early.overdue, early.days_past_due) == (120_000, 0, 0)


def test_a_payment_dated_after_the_day_does_not_count() -> None:
    pay = [Event("p1", 1, "repayment", date(2026, 5, 1), 120_000)]
    assert loan_on(TERMS, pay, date(2026, 4, 30), disbursed_on=DISBURSED).status == "active"
    repaid = loan_on(TERMS, pay, date(2026, 5, 1), disbursed_on=DISBURSED)
    assert (repaid.status, repaid.outstanding, repaid.overdue) == ("repaid", 0, 0)


def test_a_write_off_counts_from_its_date_and_keeps_the_debt_overdue() -> None:
    events = [Event("w", 1, "write_off", date(2026, 6, 1))]
    before = loan_on(TERMS, events, date(2026, 5, 31), disbursed_on=DISBURSED)
    after = loan_on(TERMS, events, date(2026, 6, 1), disbursed_on=DISBURSED)
    assert before.status == "active" and before.written_off == 0
    assert after.status == "written_off"
    assert after.written_off == 120_000 and after.outstanding == 0
    # Installments of 15 Feb .. 15 May (four) were due before 1 June and are unpaid.
    assert after.overdue == 40_000


def test_a_write_off_after_a_full_repayment_leaves_the_loan_repaid() -> None:
    events = [Event("p", 1, "repayment", date(2026, 3, 1), 120_000),
              Event("w", 2, "write_off", date(2026, 6, 1))]
    on = loan_on(TERMS, events, date(2026, 7, 1), disbursed_on=DISBURSED)
    assert on.status == "repaid" and on.written_off == 0


def test_a_restructuring_counts_from_its_value_date() -> None:
    events = [Event("r", 1, "restructuring", date(2026, 3, 1),
                    params={"added_grace_periods": 2})]
    assert not loan_on(TERMS, events, date(2026, 2, 28), disbursed_on=DISBURSED).restructured
    assert loan_on(TERMS, events, date(2026, 3, 1), disbursed_on=DISBURSED).restructured
    # A loan flagged restructured before restructurings were recorded as operations.
    assert loan_on(TERMS, [], date(2026, 2, 1), disbursed_on=DISBURSED,
                   flagged_restructured=True).restructured


def test_guarantees_count_calls_and_release_by_their_dates() -> None:
    calls = [(date(2026, 3, 1), 30_000), (date(2026, 5, 1), 20_000)]
    assert guarantee_on(100_000, calls, date(2026, 2, 1), released=False,
                        released_on=None) == guarantee_on(100_000, [], None, released=False,
                                                           released_on=None)
    mid = guarantee_on(100_000, calls, date(2026, 4, 1), released=True,
                       released_on=date(2026, 6, 1))
    assert (mid.status, mid.called, mid.remaining, mid.pledged) == ("active", 30_000, 70_000,
                                                                   70_000)
    done = guarantee_on(100_000, calls, date(2026, 6, 1), released=True,
                        released_on=date(2026, 6, 1))
    # Released: the contract's remaining (amount - called) stays; nothing is pledged.
    assert (done.status, done.called, done.remaining, done.pledged) == ("released", 50_000,
                                                                       50_000, 0)
    full = guarantee_on(50_000, calls, None, released=False, released_on=None)
    assert (full.status, full.remaining) == ("called", 0)


def test_fund_money_by_date_with_earmarks() -> None:
    contributions = [(date(2026, 1, 1), None, 10_000), (date(2026, 1, 5), "p1", 5_000),
                     (date(2026, 2, 1), "p2", 2_500)]
    payouts = [(date(2026, 1, 10), "p1", 1_000, 5_000)]  # the earmark, then 10.00 general
    jan = fund_on(contributions, payouts, date(2026, 1, 31))
    assert (jan.general, jan.earmarks, jan.balance) == (9_000, {"p1": 0}, 9_000)
    early = fund_on(contributions, payouts, date(2026, 1, 6))
    assert (early.general, early.earmarks, early.balance) == (10_000, {"p1": 5_000}, 15_000)
    assert fund_on(contributions, payouts, date(2026, 2, 1)).balance == 11_500


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.sampled_from([None, "a", "b"]),
                          st.integers(1, 10_000)), max_size=12),
       st.lists(st.tuples(st.integers(0, 60), st.sampled_from(["a", "b"]),
                          st.integers(0, 5_000), st.integers(0, 5_000)), max_size=6),
       st.integers(0, 60))
def test_fund_balance_is_what_came_in_minus_what_went_out_by_that_day(
        ins: list[tuple[int, str | None, int]], outs: list[tuple[int, str, int, int]],
        day: int) -> None:
    start = date(2026, 1, 1)
    on = fund_on([(start + timedelta(d), p, a) for d, p, a in ins],
                 [(start + timedelta(d), p, g, e) for d, p, g, e in outs],
                 start + timedelta(day))
    came_in = sum(a for d, _, a in ins if d <= day)
    went_out = sum(g + e for d, _, g, e in outs if d <= day)
    assert on.balance == came_in - went_out
    assert on.general == (sum(a for d, p, a in ins if d <= day and p is None)
                          - sum(g for d, _, g, _ in outs if d <= day))


def test_a_kept_replay_answers_only_for_the_same_operations_day_and_rate() -> None:
    """``replay_loan`` keeps its replays by their inputs: asked again it answers the same
    object; anything that changes the figures (one more operation, another amount,
    another early-repayment choice, a day that leaves an operation out, another late
    rate, a reversal) is a replay of its own, equal to one made afresh."""
    from ledger import as_of

    pay = [Event("p1", 1, "repayment", date(2026, 2, 15), 10_000)]
    first = as_of.replay_loan(TERMS, pay, None)
    assert as_of.replay_loan(TERMS, list(pay), None) is first
    # As of a day on or after every operation: the same replay as of no day.
    assert as_of.replay_loan(TERMS, pay, date(2026, 12, 7)) is first

    def fresh(events: list[Event], day: date | None = None, rate: Decimal = D(0)
              ) -> as_of.LoanReplay:
        return as_of._replay_loan(TERMS, events, day, rate, flagged_restructured=False)

    variants: list[tuple[list[Event], date | None, Decimal]] = [
        ([*pay, Event("p2", 2, "repayment", date(2026, 3, 15), 10_000)], None, D(0)),
        ([Event("p1", 1, "repayment", date(2026, 2, 15), 25_000)], None, D(0)),
        ([Event("p1", 1, "repayment", date(2026, 2, 15), 25_000,
                {"early_repayment": "shorten_term"})], None, D(0)),
        ([*pay, Event("p2", 2, "repayment", date(2026, 3, 15), 10_000)],
         date(2026, 3, 1), D(0)),
        ([Event("p1", 1, "repayment", date(2026, 4, 20), 10_000)], None, D("5.00")),
        ([*pay, Event("r", 2, "reversal", date(2026, 2, 15), None, {"of": "p1"})], None,
         D(0)),
    ]
    for events, day, rate in variants:
        kept = as_of.replay_loan(TERMS, events, day, rate)
        assert kept == fresh(events, day, rate)
        assert kept is as_of.replay_loan(TERMS, events, day, rate)
    assert as_of.replay_loan(TERMS, variants[0][0], date(2026, 3, 1)).outstanding == 110_000
    assert as_of.replay_loan(TERMS, variants[0][0], None).outstanding == 100_000
    assert as_of.replay_loan(TERMS, variants[5][0], None).outstanding == 120_000
