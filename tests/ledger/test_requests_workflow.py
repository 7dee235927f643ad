"""Funding requests: the status workflow, every (status, target, role) combination."""

import itertools
from decimal import Decimal

import pytest

from ledger.requests import (
    ROLES,
    STATUSES,
    TRANSITION_TARGETS,
    InvalidTransition,
    RoleNotAllowed,
    allowed_targets,
    assessment_score,
    auto_close,
    check_funding,
    check_terms_edit,
    check_transition,
)

ALL_STATUSES = ["submitted", "under_review", "needs_info", "approved", "rejected",
                "withdrawn", "funded", "closed"]
ENDPOINT_TARGETS = ["under_review", "needs_info", "submitted", "approved", "rejected",
                    "withdrawn"]
ALL_ROLES = ["admin", "officer", "producer", "gas"]

# API.md, written out by hand: the moves the transitions endpoint makes, and who.
MOVES = {
    ("submitted", "under_review"): "officer",
    ("under_review", "needs_info"): "officer",
    ("needs_info", "submitted"): "producer",
    ("under_review", "approved"): "officer",
    ("under_review", "rejected"): "officer",
    ("submitted", "withdrawn"): "either",
    ("needs_info", "withdrawn"): "either",
}
ALLOWED_FROM = {
    "submitted": ["under_review", "withdrawn"],
    "under_review": ["needs_info", "approved", "rejected"],
    "needs_info": ["submitted", "withdrawn"],
    "approved": [],
    "rejected": [],
    "withdrawn": [],
    "funded": [],
    "closed": [],
}
# Targets each role may ever ask for (from any status); anything else is a 403.
ROLE_TARGETS = {
    "admin": {"under_review", "needs_info", "approved", "rejected", "withdrawn"},
    "officer": {"under_review", "needs_info", "approved", "rejected", "withdrawn"},
    "producer": {"submitted", "withdrawn"},
    "gas": set(),
}


def test_constants_match_the_contract() -> None:
    assert list(STATUSES) == ALL_STATUSES
    assert list(TRANSITION_TARGETS) == ENDPOINT_TARGETS
    assert list(ROLES) == ALL_ROLES


@pytest.mark.parametrize("state", ALL_STATUSES)
def test_allowed_targets(state: str) -> None:
    assert allowed_targets(state) == ALLOWED_FROM[state]


def expected_outcome(
    state: str, to: str, role: str, is_own: bool, note: str, has_assessment: bool
) -> type[Exception] | None:
    """The documented precedence: 403 (role, ownership) before 409 (state, rules)."""
    if to not in ROLE_TARGETS[role]:
        return RoleNotAllowed
    if role == "producer" and not is_own:
        return RoleNotAllowed
    if (state, to) not in MOVES:
        return InvalidTransition
    if to == "approved" and not has_assessment:
        return InvalidTransition
    if to == "withdrawn" and role in ("admin", "officer") and not note.strip():
        return InvalidTransition
    return None


COMBINATIONS = list(itertools.product(
    ALL_STATUSES, ENDPOINT_TARGETS, ALL_ROLES, [True, False], ["", "  ", "asked by phone"],
    [True, False],
))


@pytest.mark.parametrize(
    ("state", "to", "role", "is_own", "note", "has_assessment"), COMBINATIONS
)
def test_every_combination(
    state: str, to: str, role: str, is_own: bool, note: str, has_assessment: bool
) -> None:
    expected = expected_outcome(state, to, role, is_own, note, has_assessment)
    if expected is None:
        check_transition(state, to, role, is_own=is_own, note=note,
                         has_assessment=has_assessment)
        return
    with pytest.raises(expected) as err:
        check_transition(state, to, role, is_own=is_own, note=note,
                         has_assessment=has_assessment)
    if isinstance(err.value, InvalidTransition):
        assert err.value.allowed == ALLOWED_FROM[state]
        assert err.value.reason


def test_the_table_admits_exactly_the_listed_moves() -> None:
    admitted = set()
    for state, to, role in itertools.product(ALL_STATUSES, ENDPOINT_TARGETS, ALL_ROLES):
        try:
            check_transition(state, to, role, is_own=True, note="why", has_assessment=True)
        except (RoleNotAllowed, InvalidTransition):
            continue
        admitted.add((state, to, role))
    assert admitted == {
        ("submitted", "under_review", "admin"), ("submitted", "under_review", "officer"),
        ("under_review", "needs_info", "admin"), ("under_review", "needs_info", "officer"),
        ("needs_info", "submitted", "producer"),
        ("under_review", "approved", "admin"), ("under_review", "approved", "officer"),
        ("under_review", "rejected", "admin"), ("under_review", "rejected", "officer"),
        ("submitted", "withdrawn", "admin"), ("submitted", "withdrawn", "officer"),
        ("submitted", "withdrawn", "producer"),
        ("needs_info", "withdrawn", "admin"), ("needs_info", "withdrawn", "officer"),
        ("needs_info", "withdrawn", "producer"),
    }


def test_specific_refusals_and_reasons() -> None:
    # approval without an assessment: 409, and says so
    with pytest.raises(InvalidTransition) as err:
        check_transition("under_review", "approved", "officer", is_own=False, note="",
                         has_assessment=False)
    assert "assessment" in err.value.reason
    assert err.value.allowed == ["needs_info", "approved", "rejected"]
    # an officer withdrawing for the producer needs a note; the producer does not
    with pytest.raises(InvalidTransition) as err:
        check_transition("submitted", "withdrawn", "officer", is_own=False, note=" ",
                         has_assessment=False)
    assert "note" in err.value.reason
    check_transition("submitted", "withdrawn", "producer", is_own=True, note="",
                     has_assessment=False)
    # 403 wins over 409: a producer may never approve, even from a status with no moves
    with pytest.raises(RoleNotAllowed):
        check_transition("closed", "approved", "producer", is_own=True, note="x",
                         has_assessment=True)
    # a producer who may withdraw, but not from under_review: 409
    with pytest.raises(InvalidTransition) as err:
        check_transition("under_review", "withdrawn", "producer", is_own=True, note="x",
                         has_assessment=True)
    assert err.value.allowed == ["needs_info", "approved", "rejected"]
    # officers never resubmit; GAS users never transition
    with pytest.raises(RoleNotAllowed):
        check_transition("needs_info", "submitted", "officer", is_own=False, note="x",
                         has_assessment=True)
    with pytest.raises(RoleNotAllowed):
        check_transition("submitted", "withdrawn", "gas", is_own=True, note="x",
                         has_assessment=True)


@pytest.mark.parametrize("to", ["funded", "closed", "bogus"])
def test_targets_outside_the_endpoint_are_invalid_input(to: str) -> None:
    with pytest.raises(ValueError):
        check_transition("approved", to, "officer", is_own=False, note="x",
                         has_assessment=True)


def test_unknown_status_or_role_is_invalid_input() -> None:
    with pytest.raises(ValueError):
        allowed_targets("draft")
    with pytest.raises(ValueError):
        check_transition("submitted", "under_review", "board", is_own=False, note="",
                         has_assessment=False)


@pytest.mark.parametrize(("state", "role"), list(itertools.product(ALL_STATUSES, ALL_ROLES)))
def test_funding_command(state: str, role: str) -> None:
    if role not in ("admin", "officer"):
        with pytest.raises(RoleNotAllowed):
            check_funding(state, role, has_terms=True)
    elif state != "approved":
        with pytest.raises(InvalidTransition):
            check_funding(state, role, has_terms=True)
    else:
        check_funding(state, role, has_terms=True)
        with pytest.raises(InvalidTransition) as err:
            check_funding(state, role, has_terms=False)
        assert "terms" in err.value.reason


@pytest.mark.parametrize(("state", "role"), list(itertools.product(ALL_STATUSES, ALL_ROLES)))
def test_terms_edit(state: str, role: str) -> None:
    if role not in ("admin", "officer"):
        with pytest.raises(RoleNotAllowed):
            check_terms_edit(state, role)
    elif state in ("under_review", "approved"):
        check_terms_edit(state, role)
    else:
        with pytest.raises(InvalidTransition):
            check_terms_edit(state, role)


@pytest.mark.parametrize("state", ALL_STATUSES)
def test_auto_close(state: str) -> None:
    for loan_repaid, prepayments_closed in itertools.product([True, False], repeat=2):
        result = auto_close(state, loan_repaid=loan_repaid, prepayments_closed=prepayments_closed)
        if state == "funded" and loan_repaid and prepayments_closed:
            assert result == "closed"
        else:
            assert result == state


@pytest.mark.parametrize(
    ("economic", "social", "weights", "expected"),
    [
        (7, 8, (1, 1), "7.50"),
        (10, 0, (1, 1), "5.00"),
        (7, 5, (2, 1), "6.33"),  # 19/3 = 6.333..
        (8, 5, (2, 1), "7.00"),
        (6, 7, (1, 2), "6.67"),  # 20/3
        (3, 4, (Decimal("0.5"), Decimal("0.5")), "3.50"),
        (1, 2, (Decimal("0.25"), Decimal("0.75")), "1.75"),
        (9, 0, (0, 1), "0.00"),
    ],
)
def test_assessment_score(
    economic: int, social: int, weights: tuple[int | Decimal, int | Decimal], expected: str
) -> None:
    result = assessment_score(economic, social, weights)
    assert result == Decimal(expected)
    assert str(result) == expected


def test_assessment_score_default_equal_weight_and_half_even() -> None:
    assert assessment_score(6, 9) == Decimal("7.50")
    # (1*1 + 0*7)/8 = 0.125 -> 0.12 ; (3*1 + 0*7)/8 = 0.375 -> 0.38
    assert assessment_score(1, 0, (1, 7)) == Decimal("0.12")
    assert assessment_score(3, 0, (1, 7)) == Decimal("0.38")


@pytest.mark.parametrize(
    ("economic", "social", "weights"),
    [(11, 5, (1, 1)), (-1, 5, (1, 1)), (5, 5, (0, 0)), (5, 5, (-1, 2)),
     (True, 5, (1, 1)), (5, 5, (1.0, 1))],
)
def test_assessment_score_refuses_bad_input(
    economic: int, social: int, weights: tuple[int | Decimal, int | Decimal]
) -> None:
    with pytest.raises(ValueError):
        assessment_score(economic, social, weights)
