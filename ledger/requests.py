"""Funding requests: the status workflow as a table, and the assessment score.

Transitions through ``POST /api/requests/{id}/transitions`` (API.md, "Funding requests"):

=============  ============  ====================================================
from           to            who
=============  ============  ====================================================
submitted      under_review  officer
under_review   needs_info    officer
needs_info     submitted     the producer, its own request
under_review   approved      officer; needs an assessment
under_review   rejected      officer
submitted      withdrawn     the producer (its own), or an officer with a note
needs_info     withdrawn     the producer (its own), or an officer with a note
=============  ============  ====================================================

``approved -> funded`` only through the funding command (``check_funding``);
``funded -> closed`` happens by itself (``auto_close``). ``admin`` may do what
``officer`` may; ``gas`` users never change a request's status.

Order of refusals, as the API orders them (403 before 409):

1. ``RoleNotAllowed`` (403) when the role may never ask for that target from any
   status (a producer asking ``approved``, an officer asking ``submitted``, any GAS
   user), or a producer acts on a request that is not its own (the service answers 404
   for that before calling here, since a producer does not see others' requests);
2. ``InvalidTransition`` (409 ``invalid_transition``, ``allowed`` = the valid targets
   from the current status, whoever asks) when the table has no such move from the
   current status, then when a rule refuses it: approval without an assessment, an
   officer withdrawing without a non-empty note.

A ``to`` outside the endpoint's six targets (``funded``, ``closed``, anything else) is a
``ValueError``: the boundary's enum check answers 422 for it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Literal, get_args

__all__ = [
    "ROLES",
    "STATUSES",
    "TRANSITION_TARGETS",
    "InvalidTransition",
    "RequestStatus",
    "Role",
    "RoleNotAllowed",
    "allowed_targets",
    "assessment_score",
    "auto_close",
    "check_edit",
    "check_funding",
    "check_terms_edit",
    "check_transition",
]

RequestStatus = Literal[
    "submitted", "under_review", "needs_info", "approved", "rejected", "withdrawn",
    "funded", "closed",
]
Role = Literal["admin", "officer", "producer", "gas"]
STATUSES: tuple[str, ...] = get_args(RequestStatus)
ROLES: tuple[str, ...] = get_args(Role)
# What the transitions endpoint accepts as ``to`` (its enum, API.md).
TRANSITION_TARGETS: tuple[str, ...] = (
    "under_review", "needs_info", "submitted", "approved", "rejected", "withdrawn",
)

_Who = Literal["officer", "producer", "either"]
_TRANSITIONS: dict[tuple[str, str], _Who] = {
    ("submitted", "under_review"): "officer",
    ("under_review", "needs_info"): "officer",
    ("needs_info", "submitted"): "producer",
    ("under_review", "approved"): "officer",
    ("under_review", "rejected"): "officer",
    ("submitted", "withdrawn"): "either",
    ("needs_info", "withdrawn"): "either",
}
_OFFICERS = frozenset({"admin", "officer"})
_OFFICER_TARGETS = frozenset(t for (_, t), w in _TRANSITIONS.items() if w != "producer")
_PRODUCER_TARGETS = frozenset(t for (_, t), w in _TRANSITIONS.items() if w != "officer")
_TERMS_STATUSES = frozenset({"under_review", "approved"})
# ``PATCH /requests/{id}``: who may edit a request's own fields, and while it is what.
_PRODUCER_EDITS = frozenset({"submitted", "needs_info"})
_OFFICER_EDITS = frozenset({"submitted", "under_review", "needs_info"})


class InvalidTransition(Exception):
    """409 ``invalid_transition``: ``allowed`` lists the valid targets from the status."""

    def __init__(self, allowed: Sequence[str], reason: str) -> None:
        self.allowed = list(allowed)
        self.reason = reason
        super().__init__(reason)


class RoleNotAllowed(Exception):
    """403: this role may not make this move."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _check_status(state: str) -> None:
    if state not in STATUSES:
        raise ValueError(f"unknown request status {state!r}")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")


def allowed_targets(state: str) -> list[str]:
    """The targets the transitions endpoint accepts from ``state``, whoever asks, in
    ``TRANSITION_TARGETS`` order (empty for approved, rejected, withdrawn, funded and
    closed: approved moves on only through the funding command)."""
    _check_status(state)
    return [t for t in TRANSITION_TARGETS if (state, t) in _TRANSITIONS]


def check_transition(
    state: str, to: str, role: str, *, is_own: bool, note: str, has_assessment: bool
) -> None:
    """Refuse ``state -> to`` by ``role`` with the right exception, else return None.

    ``is_own``: the request is the acting producer's (ignored for officers);
    ``note``: the transition's note; ``has_assessment``: the request has one.
    """
    _check_status(state)
    _check_role(role)
    if to not in TRANSITION_TARGETS:
        raise ValueError(f"{to!r} is not a target of the transitions endpoint")
    if role == "gas":
        raise RoleNotAllowed("GAS users do not change a request's status")
    if role == "producer":
        if not is_own:
            raise RoleNotAllowed("a producer acts only on its own requests")
        if to not in _PRODUCER_TARGETS:
            raise RoleNotAllowed(f"a producer may not move a request to {to}")
    elif to not in _OFFICER_TARGETS:
        raise RoleNotAllowed(f"only the producer may move its request to {to}")
    allowed = allowed_targets(state)
    # The role checks above leave only moves this role may make somewhere, so a move
    # the table lacks is a matter of the current status.
    if (state, to) not in _TRANSITIONS:
        raise InvalidTransition(allowed, f"a request that is {state} cannot move to {to}")
    if to == "approved" and not has_assessment:
        raise InvalidTransition(allowed, "approval needs an assessment of the request first")
    if to == "withdrawn" and role in _OFFICERS and not note.strip():
        raise InvalidTransition(
            allowed, "an officer withdraws a request on the producer's behalf only with a note"
        )


def check_funding(state: str, role: str, *, has_terms: bool) -> None:
    """``POST /requests/{id}/funding``: an officer, on an approved request with terms."""
    _check_status(state)
    _check_role(role)
    if role not in _OFFICERS:
        raise RoleNotAllowed("only officers fund a request")
    if state != "approved":
        raise InvalidTransition(
            allowed_targets(state), f"only an approved request is funded; this one is {state}"
        )
    if not has_terms:
        raise InvalidTransition([], "the request has no terms to fund yet")


def check_terms_edit(state: str, role: str) -> None:
    """``PUT /requests/{id}/terms``: an officer, while under review or approved."""
    _check_status(state)
    _check_role(role)
    if role not in _OFFICERS:
        raise RoleNotAllowed("only officers set a request's terms")
    if state not in _TERMS_STATUSES:
        raise InvalidTransition(
            allowed_targets(state), f"terms are set while under review or approved, not {state}"
        )


def check_edit(state: str, role: str) -> None:
    """``PATCH /requests/{id}``: the producer (its own request) while ``submitted`` or
    ``needs_info``; an officer while ``submitted``, ``under_review`` or ``needs_info``.
    A GAS user never edits a request (403); any other status is 409."""
    _check_status(state)
    _check_role(role)
    if role in _OFFICERS:
        editable = _OFFICER_EDITS
    elif role == "producer":
        editable = _PRODUCER_EDITS
    else:
        raise RoleNotAllowed("the producer or an officer edits a request")
    if state not in editable:
        raise InvalidTransition(
            allowed_targets(state),
            f"a {role} edits a request while {' or '.join(sorted(editable))}, not {state}")


def auto_close(state: str, *, loan_repaid: bool, prepayments_closed: bool) -> str:
    """``funded`` becomes ``closed`` once the loan is repaid (pass True when the package
    has no loan) and every prepayment is closed; any other status stays as it is."""
    _check_status(state)
    if state == "funded" and loan_repaid and prepayments_closed:
        return "closed"
    return state


def assessment_score(
    economic: int, social: int, weights: tuple[int | Decimal, int | Decimal] = (1, 1)
) -> Decimal:
    """Weighted mean of the two 0–10 scores, half-even to 2 decimals.

    Equal weight by default (DESIGN.md: economic and social review weigh the same).
    """
    for name, score in (("economic", economic), ("social", social)):
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
            raise ValueError(f"{name} score must be an integer from 0 to 10")
    if any(isinstance(w, bool) or not isinstance(w, int | Decimal) for w in weights):
        raise ValueError("weights are integers or Decimals (never floats)")
    w_economic, w_social = (Decimal(w) for w in weights)
    if not (w_economic.is_finite() and w_social.is_finite()):
        raise ValueError("weights must be finite")
    if w_economic < 0 or w_social < 0 or w_economic + w_social <= 0:
        raise ValueError("weights must be non-negative with a positive sum")
    # Exact rational mean, one half-even rounding (Fraction rounds half to even).
    mean = (economic * Fraction(w_economic) + social * Fraction(w_social)) / Fraction(
        w_economic + w_social
    )
    hundredths = round(mean * 100)
    return Decimal(hundredths).scaleb(-2)
