"""SQLite writers of one process queue on a lock before BEGIN IMMEDIATE (``write_tx``):
one at a time, in turn; a writer queued longer than the busy timeout asks SQLite as
before, and a write transaction opened inside another still meets SQLite's lock."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from service.db.engine import _writer_queue, make_engine, write_tx


def test_writers_take_turns_and_a_stuck_queue_falls_back_to_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}", sqlite_busy_timeout_ms=1000)
    try:
        with write_tx(engine) as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
        order: list[str] = []
        inside = threading.Event()

        def first() -> None:
            with write_tx(engine) as conn:
                inside.set()
                order.append("first in")
                # Longer than the busy timeout (SQLite alone refuses the second writer
                # then), shorter than the queue's wait and SQLite's after it.
                time.sleep(1.5)
                conn.execute(text("INSERT INTO t VALUES (1)"))
                order.append("first out")

        thread = threading.Thread(target=first)
        thread.start()
        inside.wait(5)
        # Queued behind the first (not refused by SQLite after its 1 s busy timeout).
        with write_tx(engine) as conn:
            order.append("second in")
            conn.execute(text("INSERT INTO t VALUES (2)"))
        thread.join()
        assert order == ["first in", "first out", "second in"]

        # The queue held (by a thread that never reaches SQLite) past the busy timeout:
        # the writer stops waiting for it and writes, SQLite being free.
        queue = _writer_queue(engine)
        assert queue is not None and queue[1] == pytest.approx(1.0)
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with queue[0]:
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait(5)
        started = time.monotonic()
        with write_tx(engine) as conn:
            conn.execute(text("INSERT INTO t VALUES (3)"))
        assert 0.9 <= time.monotonic() - started < 10
        release.set()
        holder.join()

        # A write transaction inside another: the queue lets the same thread by, and
        # SQLite refuses it after its busy timeout, as it did without the queue.
        with write_tx(engine), pytest.raises(OperationalError, match="locked"), \
                write_tx(engine) as inner:
            inner.execute(text("INSERT INTO t VALUES (4)"))
        with write_tx(engine) as conn:
            assert [r[0] for r in conn.execute(text("SELECT n FROM t ORDER BY n"))] == \
                [1, 2, 3]
    finally:
        engine.dispose()
