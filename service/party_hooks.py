"""What comes with a new party: a lender's general pool, a GAS's solidarity fund.

Each instrument module registers its hook here, so creating a party stays one
transaction with everything that belongs to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

PartyHook = Callable[[Connection, Any, "str | None"], None]
_HOOKS: list[PartyHook] = []


def register(hook: PartyHook) -> PartyHook:
    if hook not in _HOOKS:
        _HOOKS.append(hook)
    return hook


def _load_instruments() -> None:
    """The instrument modules register their hooks when imported; make sure they are,
    whichever entry point (app, CLI, script) created the party."""
    import service.instruments
    import service.lending
    import service.requests_api  # noqa: F401


def on_party_created(conn: Connection, party: Any, username: str | None) -> None:
    _load_instruments()
    for hook in _HOOKS:
        hook(conn, party, username)


LoanHook = Callable[[Connection, Any], None]
_REPAID_HOOKS: list[LoanHook] = []


def register_loan_repaid(hook: LoanHook) -> LoanHook:
    if hook not in _REPAID_HOOKS:
        _REPAID_HOOKS.append(hook)
    return hook


def on_loan_repaid(conn: Connection, loan: Any) -> None:
    """A loan repaid in full: its guarantees are released, its request may close."""
    _load_instruments()
    for hook in _REPAID_HOOKS:
        hook(conn, loan)


PrepaymentHook = Callable[[Connection, Any], None]
_CLOSED_HOOKS: list[PrepaymentHook] = []


def register_prepayment_closed(hook: PrepaymentHook) -> PrepaymentHook:
    if hook not in _CLOSED_HOOKS:
        _CLOSED_HOOKS.append(hook)
    return hook


def on_prepayment_closed(conn: Connection, prepayment: Any) -> None:
    """A prepayment closed: a funded request whose instruments are all settled closes."""
    for hook in _CLOSED_HOOKS:
        hook(conn, prepayment)
