"""Figures computed from many rows, kept while nothing has been written.

A MAG's network, portfolio and arrears are computed from thousands of rows (replaying
every loan as of a date), and officers look at the same page many times between writes.
Each cache here keys what it keeps by the database's write generation
(``service.db.engine.data_generation``), read before any row, so a value is only served
while no transaction that wrote has committed since it was computed: after a write the
next reader computes again, unless the cache also knows a cheap version of the rows its
value is computed from (``VersionedCache``) and that version did not move. Where the
generation cannot be told nothing is kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, Connection, Engine, func, select

from service.db.engine import data_generation, engine_token, is_sqlite, read_tx

V = TypeVar("V")


class ReadCache(Generic[V]):
    """The last few values computed, per database, write generation and key."""

    def __init__(self, kept: int = 4) -> None:
        self.kept = kept
        self._values: dict[tuple[Hashable, ...], V] = {}
        self._lock = threading.Lock()

    def get(self, conn: Connection, key: Hashable, compute: Callable[[Connection], V],
            snapshot: Callable[[Engine], AbstractContextManager[Connection]] = read_tx
            ) -> V:
        """The value for ``key`` unless one was kept for the same database and
        generation; else ``compute`` on a read ``snapshot`` opened after the generation
        was read. Not on ``conn``: its snapshot may have started before (SQLite's starts
        at a transaction's first read), and a value older than its key would be kept."""
        generation = data_generation(conn)
        if generation is None:
            return compute(conn)
        full = (engine_token(conn.engine), generation, key)
        with self._lock:
            found = self._values.get(full)
        if found is not None:
            return found
        with snapshot(conn.engine) as fresh:
            value = compute(fresh)
        with self._lock:
            while len(self._values) >= self.kept:
                self._values.pop(next(iter(self._values)))
            self._values[full] = value
        return value


def appended(conn: Connection, seq: Column[Any]) -> tuple[Any, ...]:
    """A mark of a table whose rows are only ever added (``seq`` its numbering column)
    that moves with every row committed. On SQLite one transaction writes at a time and
    numbers its rows after every committed one: the last number is enough, read from the
    primary key at once. On PostgreSQL a sequence's numbers can commit out of order (a
    later one first): the number of rows too."""
    if is_sqlite(conn):
        return (conn.execute(select(func.max(seq))).scalar(),)
    return tuple(conn.execute(select(func.count(), func.max(seq)).select_from(seq.table)).one())


class VersionedCache(Generic[V]):
    """A ``ReadCache`` whose values outlive writes that do not touch their rows.

    After a write (a new generation) the value is not computed again at once: on a read
    snapshot opened after the generation was read, ``version`` reads in a few cheap
    queries a value that changes with every row the figures are computed from (the
    journal's length, the loan operations'...); while it equals the one read when the
    kept value was computed, that value is still the one ``compute`` would give, and is
    served (and kept under the new generation). Otherwise it is computed on that same
    snapshot. ``version`` must change with every write that can change the value."""

    def __init__(self, version: Callable[[Connection], Hashable], kept: int = 4) -> None:
        self.version = version
        self.kept = kept
        self._by_generation: ReadCache[V] = ReadCache(kept)
        self._by_version: OrderedDict[tuple[Hashable, ...], tuple[Hashable, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn: Connection, key: Hashable, compute: Callable[[Connection], V],
            snapshot: Callable[[Engine], AbstractContextManager[Connection]] = read_tx
            ) -> V:
        if data_generation(conn) is None:  # nothing is kept where writes cannot be told
            return compute(conn)

        def current(fresh: Connection) -> V:
            slot = (engine_token(fresh.engine), key)
            version = self.version(fresh)
            with self._lock:
                found = self._by_version.get(slot)
            if found is not None and found[0] == version:
                return found[1]
            value = compute(fresh)
            with self._lock:
                self._by_version[slot] = (version, value)
                self._by_version.move_to_end(slot)
                while len(self._by_version) > self.kept:
                    self._by_version.popitem(last=False)
            return value
        return self._by_generation.get(conn, key, current, snapshot)


K = TypeVar("K", bound=Hashable)


class Memo(Generic[K, V]):
    """A bounded memo of values that never go stale because their key holds everything
    they are computed from (a loan's row, its operations' ids, the day): kept across
    writes, least recently used first out."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = compute()
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.kept:
                self._values.popitem(last=False)
        return value

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._values

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
