"""``ledger.lending.feasible_order`` judged by the state machine itself: an order it
gives is one the ledger accepts as a linked chain, with the same final totals."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.accounts import AccountFlag
from ledger.lending import chained, feasible_order
from ledger.state_machine import apply_batch
from tests.ledger.test_state_machine import NOW, account, codes, state_of, tr

D = AccountFlag.DEBITS_MUST_NOT_EXCEED_CREDITS
C = AccountFlag.CREDITS_MUST_NOT_EXCEED_DEBITS


def test_a_refill_goes_before_the_draw() -> None:
    pool = account(D)  # empty; must never be overdrawn
    out, into = account(), account()
    draw, refill = tr(pool, out, 100), tr(into, pool, 100)
    state = state_of(pool, out, into)
    assert codes(apply_batch(chained([draw, refill]), state, NOW)) == [
        "exceeds_credits", "linked_event_failed"]
    ordered = feasible_order([draw, refill], {pool.id: pool})
    assert ordered == [refill, draw]
    assert codes(apply_batch(chained(ordered), state, NOW)) == ["created", "created"]


def test_given_order_kept_when_it_works_and_none_when_nothing_fits() -> None:
    pool = account(D, credits_posted=500)
    a, b = account(), account()
    batch = [tr(pool, a, 200), tr(pool, b, 300)]
    assert feasible_order(batch, {pool.id: pool}) == batch
    assert feasible_order([*batch, tr(pool, a, 1)], {pool.id: pool}) is None


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_any_order_found_is_accepted_with_the_same_totals(seed: int) -> None:
    rng = random.Random(seed)
    accounts = [account(rng.choice([D, C]), credits_posted=rng.randint(0, 300),
                        debits_posted=rng.randint(0, 300)) for _ in range(3)]
    accounts = [a if (D in a.flags and a.debits_posted <= a.credits_posted)
                or (C in a.flags and a.credits_posted <= a.debits_posted)
                else account(*a.flags) for a in accounts]
    free = [account(), account()]
    everyone = accounts + free
    batch = []
    for _ in range(rng.randint(1, 8)):
        debit, credit = rng.sample(everyone, 2)
        batch.append(tr(debit, credit, rng.randint(1, 200)))
    state = state_of(*everyone)
    limited = {a.id: a for a in accounts}
    ordered = feasible_order(batch, limited)
    if ordered is None:
        return
    assert sorted(t.id for t in ordered) == sorted(t.id for t in batch)
    outcome = apply_batch(chained(ordered), state, NOW)
    assert set(codes(outcome)) == {"created"}
    # The totals do not depend on the order: compare with the unlimited sums.
    for a in everyone:
        debits = sum(t.amount for t in batch if t.debit_account_id == a.id)
        credits = sum(t.amount for t in batch if t.credit_account_id == a.id)
        got = outcome.accounts.get(a.id, a)
        assert (got.debits_posted, got.credits_posted) == (
            a.debits_posted + debits, a.credits_posted + credits)
