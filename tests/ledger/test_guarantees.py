"""Guarantees: pro-rata calls, status, coverage, pledged capacity."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.guarantees import (
    AlreadyReleased,
    ExceedsCapacity,
    ExceedsRemaining,
    GuaranteeState,
    apply_call,
    check_capacity_change,
    check_new_pledge,
    coverage_ratio,
    free_capacity,
    pledged,
    reduce_pledges_proportionally,
    release,
    split_call,
)


def g(
    gid: str, amount: int, called: int = 0, released: bool = False, seq: int = 0
) -> GuaranteeState:
    return GuaranteeState(gid, amount, called, released, seq)


# --- status -----------------------------------------------------------------------


def test_status_follows_remaining_and_release() -> None:
    assert g("a", 100_00).status == "active"
    assert g("a", 100_00, called=99_99).status == "active"
    assert g("a", 100_00, called=99_99).remaining == 1
    assert g("a", 100_00, called=100_00).status == "called"
    assert g("a", 100_00, called=100_00).remaining == 0
    assert g("a", 100_00, called=40_00, released=True).status == "released"
    # remaining keeps the contract's formula amount − called after release
    assert g("a", 100_00, called=40_00, released=True).remaining == 60_00


def test_invalid_guarantees_are_refused() -> None:
    with pytest.raises(ValueError):
        g("a", 0)
    with pytest.raises(ValueError):
        g("a", 100, called=101)
    with pytest.raises(ValueError):
        g("a", 100, called=-1)


def test_release() -> None:
    released = release(g("a", 500_00, called=100_00, seq=3))
    assert released.status == "released"
    assert (released.amount_cents, released.called_cents, released.created_seq) == (
        500_00, 100_00, 3)
    with pytest.raises(AlreadyReleased) as err:
        release(released)
    assert err.value.status == "released"
    with pytest.raises(AlreadyReleased) as err:
        release(g("b", 100, called=100))
    assert err.value.status == "called"


# --- calls: worked examples ----------------------------------------------------------


def test_worked_example_extra_cent_to_largest_remainder() -> None:
    gs = [g("a", 15_000_00, seq=1), g("b", 10_000_00, seq=2), g("c", 5_000_00, seq=3)]
    # 10,000.00 over 30,000.00 remaining: exact shares 5,000.00 / 3,333.333.. / 1,666.666..
    # floors 500000 + 333333 + 166666 = 999999; the one cent left goes to c (.67 > .33).
    assert split_call(gs, 10_000_00) == [("a", 5_000_00), ("b", 3_333_33), ("c", 1_666_67)]


def test_split_is_pro_rata_to_remaining_not_to_amount() -> None:
    # a pledged 10,000 of which 8,000 already called: remaining 2,000; b remaining 6,000.
    gs = [g("a", 10_000_00, called=8_000_00, seq=1), g("b", 6_000_00, seq=2)]
    # 4,000 over 8,000 remaining: a 1/4 -> 1,000.00, b 3/4 -> 3,000.00
    assert split_call(gs, 4_000_00) == [("a", 1_000_00), ("b", 3_000_00)]


def test_only_active_guarantees_are_called() -> None:
    gs = [
        g("released", 9_000_00, released=True, seq=1),
        g("called", 1_000_00, called=1_000_00, seq=2),
        g("x", 300_00, seq=3),
        g("y", 100_00, seq=4),
    ]
    # 200.00 over x 300 and y 100: 150.00 and 50.00
    assert split_call(gs, 200_00) == [("x", 150_00), ("y", 50_00)]


def test_tie_goes_to_the_earlier_guarantee_by_created_seq() -> None:
    # Listed in reverse: the earlier-created one (seq 1, "late") still gets the cent.
    gs = [g("late", 100_00, seq=2), g("early", 100_00, seq=1)]
    assert split_call(gs, 1) == [("early", 1)]
    assert split_call(gs, 3) == [("early", 2), ("late", 1)]


def test_zero_parts_are_left_out() -> None:
    gs = [g("a", 1_000_00, seq=1), g("b", 1_000_00, seq=2), g("c", 1_000_00, seq=3)]
    assert split_call(gs, 2) == [("a", 1), ("b", 1)]


def test_calling_everything_exhausts_each_guarantee_exactly() -> None:
    gs = [g("a", 333_33, called=11, seq=1), g("b", 1, seq=2), g("c", 7_77, seq=3)]
    total = (333_33 - 11) + 1 + 7_77
    assert split_call(gs, total) == [("a", 333_22), ("b", 1), ("c", 7_77)]
    after = apply_call(gs, split_call(gs, total))
    assert [x.status for x in after] == ["called", "called", "called"]


def test_call_beyond_total_remaining_is_refused() -> None:
    gs = [g("a", 100_00, called=30_00, seq=1), g("b", 50_00, seq=2),
          g("r", 1_000_00, released=True, seq=3)]
    with pytest.raises(ExceedsRemaining) as err:
        split_call(gs, 120_01)
    assert err.value.remaining_cents == 120_00
    assert err.value.requested_cents == 120_01
    with pytest.raises(ExceedsRemaining) as err:
        split_call([], 1)
    assert err.value.remaining_cents == 0


def test_call_must_be_positive_and_ids_unique() -> None:
    with pytest.raises(ValueError):
        split_call([g("a", 100)], 0)
    with pytest.raises(ValueError):
        split_call([g("a", 100)], -5)
    with pytest.raises(ValueError):
        split_call([g("a", 100, seq=1), g("a", 100, seq=2)], 10)


def test_apply_call_records_called_amounts() -> None:
    gs = [g("a", 15_000_00, seq=1), g("b", 10_000_00, seq=2), g("c", 5_000_00, seq=3)]
    after = apply_call(gs, [("a", 5_000_00), ("b", 3_333_33), ("c", 1_666_67)])
    assert [x.remaining for x in after] == [10_000_00, 6_666_67, 3_333_33]
    with pytest.raises(ValueError):
        apply_call(gs, [("zz", 1)])
    with pytest.raises(ValueError):
        apply_call(gs, [("c", 5_000_01)])


# --- calls: properties -----------------------------------------------------------------


@st.composite
def guarantee_sets(draw: st.DrawFn) -> list[GuaranteeState]:
    n = draw(st.integers(1, 8))
    out: list[GuaranteeState] = []
    seqs = draw(st.permutations(list(range(n))))
    for i in range(n):
        amount = draw(st.integers(1, 5_000_000))
        called = draw(st.integers(0, amount))
        released = draw(st.booleans()) and draw(st.booleans())
        out.append(g(f"g{i}", amount, called, released, seqs[i]))
    return out


@settings(max_examples=200, deadline=None)
@given(gs=guarantee_sets(), data=st.data())
def test_calls_sum_exactly_and_never_exceed_remaining(
    gs: list[GuaranteeState], data: st.DataObject
) -> None:
    active = {x.id: x for x in gs if not x.released and x.remaining > 0}
    total = sum(x.remaining for x in active.values())
    if total == 0:
        with pytest.raises(ExceedsRemaining):
            split_call(gs, 1)
        return
    amount = data.draw(st.integers(1, total))
    calls = split_call(gs, amount)
    assert sum(c for _, c in calls) == amount
    for gid, cents in calls:
        assert gid in active
        assert 0 < cents <= active[gid].remaining
        # largest remainder: within one cent of the exact pro-rata share
        exact = Fraction(amount * active[gid].remaining, total)
        assert abs(cents - exact) < 1
    # ordered by creation
    seqs = [active[gid].created_seq for gid, _ in calls]
    assert seqs == sorted(seqs)
    with pytest.raises(ExceedsRemaining):
        split_call(gs, total + 1)


# --- coverage ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remaining", "outstanding", "expected"),
    [
        (15_000_00, 10_000_00, "1.50"),
        (10_000_00, 30_000_00, "0.33"),
        (20_000_00, 30_000_00, "0.67"),
        (125, 1_000, "0.12"),  # 0.125 -> half-even down to 0.12
        (135, 1_000, "0.14"),  # 0.135 -> half-even up to 0.14
        (0, 5_000_00, "0.00"),
        (5_000_00, 1, "500000.00"),  # 5,000.00 over 0.01
    ],
)
def test_coverage_ratio_half_even(remaining: int, outstanding: int, expected: str) -> None:
    result = coverage_ratio(remaining, outstanding)
    assert result == Decimal(expected)
    assert str(result) == expected


def test_coverage_without_principal_is_none() -> None:
    assert coverage_ratio(1_000, 0) is None
    assert coverage_ratio(0, 0) is None
    with pytest.raises(ValueError):
        coverage_ratio(-1, 10)


# --- pledged and capacity ----------------------------------------------------------------


def test_pledged_and_free_capacity_worked_example() -> None:
    gs = [
        g("a", 3_000_00, called=500_00, seq=1),  # pledges 2,500.00
        g("b", 1_000_00, released=True, seq=2),  # pledges nothing
        g("c", 700_00, called=700_00, seq=3),  # fully called: 0
        g("d", 1_200_00, seq=4),  # 1,200.00
    ]
    assert pledged(gs) == 3_700_00
    assert free_capacity(5_000_00, 3_700_00) == 1_300_00
    check_new_pledge(5_000_00, 3_700_00, 1_300_00)
    with pytest.raises(ExceedsCapacity) as err:
        check_new_pledge(5_000_00, 3_700_00, 1_300_01)
    assert err.value.limit_cents == 1_300_00
    check_capacity_change(3_700_00, 3_700_00)
    with pytest.raises(ExceedsCapacity):
        check_capacity_change(3_699_99, 3_700_00)
    # a party whose capacity was never set has capacity 0: any pledge is refused
    with pytest.raises(ExceedsCapacity):
        check_new_pledge(0, 0, 1)


@settings(max_examples=100, deadline=None)
@given(gs=guarantee_sets())
def test_released_pledges_leave_nothing_pledged(gs: list[GuaranteeState]) -> None:
    expected = sum(x.amount_cents - x.called_cents for x in gs if not x.released)
    assert pledged(gs) == expected
    all_released = [
        x if x.released else GuaranteeState(x.id, x.amount_cents, x.called_cents, True)
        for x in gs
    ]
    assert pledged(all_released) == 0


# --- shrinking pledges --------------------------------------------------------------------


def test_reduce_pledges_proportionally_worked_example() -> None:
    gs = [
        g("a", 10_000_00, seq=1),
        g("b", 5_000_00, called=4_000_00, seq=2),
        g("r", 2_000_00, released=True, seq=3),
        g("c", 1_00, seq=4),
    ]
    # Loan outstanding 30,000 -> 20,000: active amounts 15,001.00 shrink to 2/3:
    # 10,000.666.. total -> 1,000,067 cents; split by amounts:
    #   a 10,000/15,001 * 1,000,067 = 666,666.22 -> 666,666
    #   b  5,000/15,001 * 1,000,067 = 333,333.11 -> 333,333, but 400,000 called: stays
    #   c      1/15,001 * 1,000,067 =      66.67 -> 66 + the leftover cent = 67
    # (666,666 + 333,333 + 66 = 1,000,065: two cents left over, to the largest
    #  remainders c (.67) then a (.22); b's .11 gets none.)
    result = dict(reduce_pledges_proportionally(gs, 30_000_00, 20_000_00))
    assert result == {"a": 666_667, "b": 400_000, "r": 2_000_00, "c": 67}


def test_reduce_pledges_bounds() -> None:
    gs = [g("a", 100_00, seq=1)]
    assert reduce_pledges_proportionally(gs, 100, 100) == [("a", 100_00)]
    assert reduce_pledges_proportionally(gs, 100, 0) == [("a", 0)]
    with pytest.raises(ValueError):
        reduce_pledges_proportionally(gs, 100, 101)
    with pytest.raises(ValueError):
        reduce_pledges_proportionally(gs, 0, 0)


@settings(max_examples=100, deadline=None)
@given(gs=guarantee_sets(), old=st.integers(1, 10**9), data=st.data())
def test_reduced_pledges_never_grow_nor_drop_below_called(
    gs: list[GuaranteeState], old: int, data: st.DataObject
) -> None:
    new = data.draw(st.integers(0, old))
    result = dict(reduce_pledges_proportionally(gs, old, new))
    for x in gs:
        assert result[x.id] <= x.amount_cents
        assert result[x.id] >= x.called_cents
        if x.status != "active":
            assert result[x.id] == x.amount_cents
        else:
            # within 2 cents of amount × new/old, unless held up at what was called
            exact = Fraction(x.amount_cents * new, old)
            assert abs(result[x.id] - exact) < 2 or result[x.id] == x.called_cents
