"""Figures kept between writes (service.app.read_cache): the write generation they are
keyed by stays while only reads happen, moves with every committed write, and a page or
an answer read after a write that changes it shows the change (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, func, select

from service.app.read_cache import ReadCache
from service.db.engine import data_generation, read_tx
from service.db.tables import parties
from tests.api.conftest import Api, eur, make_party
from tests.api.test_matching_api import Net, net, opportunities

__all__ = ["net"]

T = TypeVar("T")


def generation(engine: Engine) -> str | None:
    with read_tx(engine) as conn:
        return data_generation(conn)


def quietly(engine: Engine, block: Callable[[], T]) -> T:
    """``block``'s result from an attempt during which nothing else committed. On
    PostgreSQL the generation moves with any write in the cluster (another test run, the
    audit writer finishing a request's record): what a block asserts about a still
    database is asserted on an attempt where it stayed still."""
    for _ in range(50):
        before = generation(engine)
        result = block()
        if generation(engine) == before:
            return result
        time.sleep(0.05)
    raise AssertionError("the database never stayed still for the block")


def test_generation_stays_while_reading_and_moves_after_each_write(
        api: Api, engine: Engine, no_background_commits: None) -> None:
    def reads() -> tuple[str | None, str | None]:
        first = generation(engine)
        with read_tx(engine) as conn:
            conn.execute(select(parties)).all()
        assert api.get("/api/parties").status_code == 200
        return first, generation(engine)

    first, after_reads = quietly(engine, reads)
    assert first is not None and after_reads == first
    make_party(api, "gas", "GAS Valle Seriana")
    second = generation(engine)
    assert second != first
    make_party(api, "gas", "GAS Val Brembana")
    assert generation(engine) not in (first, second)


def test_an_in_memory_database_has_no_generation_and_keeps_nothing() -> None:
    engine = create_engine("sqlite://")
    calls: list[int] = []
    cache: ReadCache[int] = ReadCache()
    with engine.connect() as conn:
        assert data_generation(conn) is None
        for _ in range(2):
            cache.get(conn, "k", lambda _c: calls.append(1) or len(calls))
    assert calls == [1, 1]
    engine.dispose()


def test_a_kept_value_is_computed_again_after_a_write(api: Api, engine: Engine,
                                                     no_background_commits: None) -> None:
    computed: list[int] = []
    caches: list[ReadCache[int]] = []

    def read(key: str) -> int:
        def compute(_conn: Any) -> int:
            computed.append(1)
            return len(computed)
        with read_tx(engine) as conn:
            return caches[-1].get(conn, key, compute)

    def still() -> tuple[int, ...]:
        computed.clear()
        caches.append(ReadCache(kept=2))
        return (read("a"), read("a"), read("b"), read("a"))

    assert quietly(engine, still) == (1, 1, 2, 1)
    done = len(computed)
    make_party(api, "producer", "Apicoltura Brembana")
    assert read("a") == done + 1  # the write moved the generation: computed again
    again = quietly(engine, lambda: (read("a"), read("a")))
    assert again[0] == again[1] > done
    # The oldest entries go first when more keys than kept are asked for: after "a",
    # "b" and "c" push it out, so each of the three is computed (whatever else commits).
    done = len(computed)
    assert (read("b"), read("c"), read("a")) == (done + 1, done + 2, done + 3)


def test_a_value_is_computed_on_a_snapshot_newer_than_its_key(api: Api,
                                                              engine: Engine) -> None:
    """The caller's transaction may have started reading before a write it does not
    see (SQLite's snapshot starts at the first read): what is kept under the newer
    generation must be read after it, not from that older snapshot."""
    cache: ReadCache[int] = ReadCache()

    def count(conn: Any) -> int:
        return int(conn.execute(select(func.count()).select_from(parties)).scalar_one())

    with read_tx(engine) as conn:
        before = count(conn)  # this transaction's snapshot has started
        make_party(api, "gas", "GAS Alta Valle")  # committed on another connection
        assert cache.get(conn, "parties", count) == before + 1
    with read_tx(engine) as conn:
        assert cache.get(conn, "parties", count) == before + 1


def test_opportunities_follow_a_write_that_moves_no_money(api: Api, net: Net) -> None:
    """Pledge capacity, a GAS's households and a party's name are written without any
    ledger transfer: the next opportunities read them all the same."""
    def guarantee_of_q(items: list[dict[str, Any]]) -> dict[str, Any] | None:
        return next((i for i in items if i["kind"] == "guarantee" and
                     i["source_id"] == net.q), None)

    before = opportunities(api, net.r3)
    assert guarantee_of_q(before) is not None
    api.ok(api.put(f"/api/parties/{net.q}/pledge-capacity", {"amount": eur("0.00")}))
    assert guarantee_of_q(opportunities(api, net.r3)) is None
    api.ok(api.put(f"/api/parties/{net.q}/pledge-capacity", {"amount": eur("1200.00")}))
    item = guarantee_of_q(opportunities(api, net.r3))
    assert item is not None and item["suggested_amount"] == eur("1200.00")
    api.ok(api.client.patch(f"/api/parties/{net.q}", json={"name": "Forno Quarenghi"},
                            headers=api.headers("officer")))
    item = guarantee_of_q(opportunities(api, net.r3))
    assert item is not None and item["source_name"] == "Forno Quarenghi"


def test_engine_tokens_are_never_reused(tmp_path: Any) -> None:
    """Figures are kept per engine token, never per ``id(engine)``: a disposed engine's
    id can come back for the next one (tests open many databases with the same loan and
    operation ids), its token never does."""
    import gc

    from service.db.engine import engine_token, make_engine

    seen: set[int] = set()
    for i in range(20):
        engine = make_engine(f"sqlite:///{tmp_path}/db{i % 2}.db")
        token = engine_token(engine)
        assert token == engine_token(engine)
        assert token not in seen
        seen.add(token)
        engine.dispose()
        del engine
        gc.collect()


def test_a_disposed_sqlite_engine_closes_its_watch(tmp_path: Any) -> None:
    """The watch's own connection holds the file open: disposing the engine closes it,
    and an engine used again watches under a new name (nothing kept is taken for now)."""
    import sqlite3

    import pytest

    from service.db import engine as engines

    engine = engines.make_engine(f"sqlite:///{tmp_path}/watched.db")
    before = generation(engine)
    assert before is not None
    watch = engines._WATCHES[engine]
    engine.dispose()
    assert engine not in engines._WATCHES
    with pytest.raises(sqlite3.ProgrammingError):
        watch.conn.execute("PRAGMA data_version")
    after = generation(engine)
    assert after is not None and after.split(":")[:2] != before.split(":")[:2]
    engine.dispose()
