"""Closing the books serialises with money operations on both engines (API.md, "Closed
periods"): the one ``books_closed`` row exists from the migrations (a NULL date), every
operation reads it under a shared lock and the close is an UPDATE of it under an
exclusive one, so the first close waits for an operation under way, and an operation
starting during a close waits for it and then sees the closed period."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import Engine, select, update

from service.app.auth import Principal
from service.app.books import ClosedThroughIn, close_books, closed_through, refuse_closed
from service.app.errors import Conflict
from service.bootstrap import build_context
from service.db.engine import write_tx
from service.db.tables import books_closed
from service.settings import Settings

ADMIN = Principal("admin", "admin", None)
WAIT = 0.6  # seconds a blocked transaction is given to (wrongly) get through


def test_the_row_exists_after_the_migrations_with_no_date(
        really_migrated_engine: Engine) -> None:
    engine = really_migrated_engine
    with engine.connect() as conn:
        rows = conn.execute(select(books_closed)).all()
        assert [(r.id, r.closed_through, r.closed_at, r.closed_by) for r in rows] == [
            (1, None, None, None)]
        assert closed_through(conn) is None


def test_the_first_close_waits_for_an_operation_under_way(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    ctx = build_context(Settings("unused", "k" * 48), engine)
    checked, closed = threading.Event(), threading.Event()
    order: list[str] = []
    failures: list[BaseException] = []

    def operation() -> None:
        try:
            with write_tx(engine) as conn:
                refuse_closed(conn, date(2026, 3, 15))  # open: passes, holds the row
                checked.set()
                time.sleep(WAIT)
                order.append("operation committed" if not closed.is_set()
                             else "close got through first")
        except BaseException as exc:  # reported below
            failures.append(exc)
            checked.set()

    def close() -> None:
        checked.wait(10)
        close_books(ctx, ADMIN, ClosedThroughIn("2026-03-31"))
        closed.set()
        order.append("close committed")

    threads = [threading.Thread(target=operation), threading.Thread(target=close)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures, failures
    assert order == ["operation committed", "close committed"]
    with engine.connect() as conn:
        assert closed_through(conn) == date(2026, 3, 31)
        assert conn.execute(select(books_closed.c.closed_by)).scalar_one() == "admin"


def test_an_operation_during_a_close_waits_and_then_sees_the_period_closed(
        engine: Engine) -> None:
    started, outcome = threading.Event(), []

    def operation() -> None:
        started.set()
        try:
            with write_tx(engine) as conn:
                refuse_closed(conn, date(2026, 3, 15))
            outcome.append("recorded")
        except Conflict as exc:
            outcome.append(exc.code)

    with write_tx(engine) as conn:  # a close in flight: the row locked and changed
        conn.execute(select(books_closed).where(books_closed.c.id == 1).with_for_update())
        conn.execute(update(books_closed).where(books_closed.c.id == 1).values(
            closed_through=date(2026, 3, 31)))
        thread = threading.Thread(target=operation)
        thread.start()
        started.wait(10)
        time.sleep(WAIT)
        assert outcome == []  # still waiting for the close
    thread.join(30)
    assert outcome == ["period_closed"]
