"""Figures computed from many rows, kept while nothing has been written.

A MAG's network, portfolio and arrears are computed from thousands of rows (replaying
every loan as of a date), and officers look at the same page many times between writes.
Each cache here keys what it keeps by the database's write generation
(``service.db.engine.data_generation``), read before any row, so a value is only served
while no transaction that wrote has committed since it was computed: after a write the
next reader computes again. Where the generation cannot be told nothing is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import Connection

from service.db.engine import data_generation

V = TypeVar("V")


class ReadCache(Generic[V]):
    """The last few values computed, per database, write generation and key."""

    def __init__(self, kept: int = 4) -> None:
        self.kept = kept
        self._values: dict[tuple[Hashable, ...], V] = {}
        self._lock = threading.Lock()

    def get(self, conn: Connection, key: Hashable, compute: Callable[[], V]) -> V:
        """The value for ``key``, computed by ``compute`` (on ``conn``) unless one was
        kept for the same database and generation."""
        generation = data_generation(conn)  # before ``compute`` reads any row
        if generation is None:
            return compute()
        engine = conn.engine
        full = (id(engine), str(engine.url), engine.dialect.default_schema_name,
                generation, key)
        with self._lock:
            found = self._values.get(full)
        if found is not None:
            return found
        value = compute()
        with self._lock:
            while len(self._values) >= self.kept:
                self._values.pop(next(iter(self._values)))
            self._values[full] = value
        return value
