"""What happens because something else happened: a party created, a loan repaid (or
owing again after a correction), a prepayment closed.

The events are plain records; which handlers follow each is one explicit table, built by
the composition root (``service.bootstrap.handler_table``) and carried by the context, so
no module registers itself by being imported. Handlers run inside the transaction of the
operation that raised the event: all of it happens, or none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from service.db.records import Record


@dataclass(frozen=True)
class PartyCreated:
    party: Record  # the parties row
    username: str | None


@dataclass(frozen=True)
class LoanRepaid:
    loan: Record  # the loans row, status repaid


@dataclass(frozen=True)
class LoanReopened:
    """A repaid loan owes again: a correction (``cause``, by ``username``) reversed money
    that had repaid it. ``payoff`` is the id of what its payoff did (the guarantees it
    released)."""

    loan: Record  # the loans row, active (or written off) again
    cause: str
    payoff: str
    username: str | None


@dataclass(frozen=True)
class PrepaymentClosed:
    prepayment: Record  # the prepayments row, status closed


Event = PartyCreated | LoanRepaid | LoanReopened | PrepaymentClosed
# Each handler takes the one event type it is registered for (HandlerTable's key).
Handler = Callable[[Connection, Any], None]
HandlerTable = Mapping[type, Sequence[Handler]]


class Events:
    """Dispatches each event to the handlers the table lists for its type, in order."""

    def __init__(self, table: HandlerTable) -> None:
        self.table = table

    def emit(self, conn: Connection, event: Event) -> None:
        for handler in self.table.get(type(event), ()):
            handler(conn, event)
