"""Figures kept between writes (service.app.read_cache): the write generation they are
keyed by stays while only reads happen, moves with every committed write, and a page or
an answer read after a write that changes it shows the change (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, func, select

from service.app.read_cache import ReadCache
from service.db.engine import data_generation, read_tx
from service.db.tables import parties
from tests.api.conftest import Api, eur, fund_pool, late_loan, make_party
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


def _item(items: list[dict[str, Any]], source: str, kind: str) -> dict[str, Any] | None:
    return next((i for i in items if i["source_id"] == source and i["kind"] == kind), None)


def _outstanding(items: list[dict[str, Any]], pool: str) -> str:
    """What the pool's loan item says the producer already owes its lender."""
    item = _item(items, pool, "loan")
    assert item is not None
    text = next(r for r in item["reasons"] if "already outstanding" in r)
    return text.split(", ")[1].split(" EUR")[0]


def test_a_write_to_each_part_of_the_network_is_seen_next(api: Api, net: Net) -> None:
    """After a write the network's parts that the write left alone are reused (kept by
    their rows): each kind of write still shows on the very next opportunities, and a
    write that changes none of them leaves them as they were."""
    r1 = net.r1
    before = opportunities(api, r1)
    assert _item(before, net.b, "guarantee") is None  # GAS B does not buy from P yet
    # A contact changed: no part of the network moves.
    api.ok(api.client.patch(f"/api/parties/{net.a}", json={"phone": "+39 035 000000"},
                            headers=api.headers("officer")))
    assert opportunities(api, r1) == before

    # A new relationship: GAS B now buys from P, and guarantees for it.
    api.ok(api.post("/api/relationships", {
        "gas_id": net.b, "producer_id": net.p, "since": "2024-01-10",
        "annual_purchases": eur("4000.00")}), 201)
    items = opportunities(api, r1)
    guarantee_b = _item(items, net.b, "guarantee")
    assert guarantee_b is not None
    assert "buys from this producer since 2024 (2 years), 4,000.00 EUR a year" in \
        guarantee_b["reasons"]

    # A rename: the GAS's name in the items and in their reasons.
    api.ok(api.client.patch(f"/api/parties/{net.a}", json={"name": "GAS Bergamo Città"},
                            headers=api.headers("officer")))
    items = opportunities(api, r1)
    prepayment_a = _item(items, net.a, "prepayment")
    assert prepayment_a is not None and prepayment_a["source_name"] == "GAS Bergamo Città"
    fund = _item(items, net.fund_a, "solidarity")
    assert fund is not None
    assert "1,000.00 EUR is not earmarked and GAS Bergamo Città buys here" in fund["reasons"]

    # A contribution: the fund's idle balance.
    api.ok(api.post("/api/contributions", {"gas_id": net.a, "amount": eur("200.00"),
                                           "date": "2026-02-02"}, "gas_a"), 201)
    fund = _item(opportunities(api, r1), net.fund_a, "solidarity")
    assert fund is not None and fund["suggested_amount"] == eur("1700.00")
    assert fund["reasons"][0] == "fund balance 1,700.00 EUR sits idle: proposed first"

    # A loan to P (committed: it counts before it is paid out); a pledge on it: A's
    # free capacity; then its disbursement.
    loan_id = api.ok(api.post("/api/loans", {
        "principal": eur("1200.00"), "annual_rate": "6.00", "term_months": 12,
        "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-15",
        "borrower_id": net.p, "lender_id": net.lender}), 201)["id"]
    items = opportunities(api, r1)
    assert _outstanding(items, net.pool) == "1,200.00"
    guarantee_a = _item(items, net.a, "guarantee")
    assert guarantee_a is not None and guarantee_a["suggested_amount"] == eur("6000.00")
    api.ok(api.post("/api/guarantees", {"loan_id": loan_id, "guarantor_id": net.a,
                                        "amount": eur("1800.00"), "date": "2026-01-10"}),
           201)
    guarantee_a = _item(opportunities(api, r1), net.a, "guarantee")
    assert guarantee_a is not None and guarantee_a["suggested_amount"] == eur("4200.00")
    assert "has 4,200.00 EUR free pledge capacity" in guarantee_a["reasons"]
    pool_item = _item(opportunities(api, r1), net.pool, "loan")
    assert pool_item is not None and "has 15,500.00 EUR free to lend" in pool_item["reasons"]
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    pool_item = _item(opportunities(api, r1), net.pool, "loan")
    assert pool_item is not None and "has 14,300.00 EUR free to lend" in pool_item["reasons"]

    # A repayment: P owes less (the principal part of the payment).
    api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                    {"amount": eur("206.00"), "date": "2026-02-15"}))
    # 206.00 pays installment 1 and most of 2: 194.49 of principal.
    assert _outstanding(opportunities(api, r1), net.pool) == "1,005.51"


def test_a_write_elsewhere_keeps_the_network_and_a_write_to_it_rebuilds_a_part(
        api: Api, net: Net, engine: Engine) -> None:
    """The network read again after a write that changes none of its rows is the one
    kept (lookup tables and all); after a new relationship only that part is new."""
    from datetime import date

    from service.app import matching

    def network() -> Any:
        with read_tx(engine) as conn:
            return matching._network(conn, date(2026, 3, 1))

    first = network()
    api.ok(api.client.patch(f"/api/parties/{net.q}", json={"email": "forno@example.org"},
                            headers=api.headers("officer")))
    assert network() is first
    api.ok(api.post("/api/relationships", {
        "gas_id": net.b, "producer_id": net.q, "since": "2025-03-01",
        "annual_purchases": eur("900.00")}), 201)
    second = network()
    assert second is not first
    assert second.network.gas is first.network.gas  # the parties' rows did not change
    assert second.network.producers is first.network.producers
    assert len(second.network.relationships) == len(first.network.relationships) + 1
    assert second.network.index.rel[net.b, net.q].annual_purchases_cents == 90000


def test_todays_arrears_follow_each_loan_write_and_outlive_other_writes(
        api: Api, monkeypatch: Any) -> None:
    """The desk's arrears (today's, kept): a contact changed leaves them as they were,
    not computed again; a repayment, a new late loan and a late-interest rate each show
    on the very next list."""
    from service.app import lending

    monkeypatch.setenv("FILIERA_TODAY", "2026-06-01")
    computed: list[int] = []
    real = lending.portfolio_arrears

    def counted(conn: Any, as_of: Any) -> Any:
        computed.append(1)
        return real(conn, as_of)
    monkeypatch.setattr(lending, "portfolio_arrears", counted)

    lender = make_party(api, "lender", "Mag2 Finance Milano")
    fund_pool(api, lender)

    def arrears() -> dict[str, tuple[str, int]]:
        return {i["loan_id"]: (i["overdue_amount"]["amount"], i["days_past_due"])
                for i in api.ok(api.get("/api/arrears"))["items"]}

    first = late_loan(api, lender, api.parties["producer"], "1200.00")
    # Four installments of 103.28 due on 15 February to 15 May.
    assert arrears() == {first: ("413.12", 106)}
    done = len(computed)
    api.ok(api.client.patch(f"/api/parties/{api.parties['producer']}",
                            json={"phone": "+39 035 111111"}, headers=api.headers("officer")))
    assert arrears() == {first: ("413.12", 106)}
    assert len(computed) == done  # the loans did not change: not computed again

    api.ok(api.post(f"/api/loans/{first}/repayments",
                    {"amount": eur("103.28"), "date": "2026-05-20"}))
    assert arrears() == {first: ("309.84", 78)}  # the oldest unpaid is now March's

    second = late_loan(api, lender, api.parties["other_producer"], "2400.00")
    assert arrears() == {first: ("309.84", 78), second: ("826.24", 106)}

    api.ok(api.put(f"/api/lenders/{lender}/categories/microcredit",
                   {"max_principal": eur("20000.00"), "max_term_months": 84,
                    "frequencies": ["monthly"], "late_interest_rate": "10.00"}))
    late = arrears()
    assert late.keys() == {first, second}
    assert Decimal(late[first][0]) > Decimal("309.84")  # late interest accrues now
    assert Decimal(late[second][0]) > Decimal("826.24")


def test_a_versioned_value_outlives_writes_that_leave_its_version(api: Api,
                                                                  engine: Engine) -> None:
    """``VersionedCache``: after a write the version is read again; while it is the same
    the kept value is served, once it moves the value is computed again (on the fresh
    snapshot it was read on); an in-memory database keeps nothing."""
    from service.app.read_cache import VersionedCache

    def version(conn: Any) -> Any:
        return tuple(conn.execute(select(func.count(), func.max(parties.c.seq))
                                  .select_from(parties)).one())

    calls: list[int] = []

    def names(conn: Any) -> list[str]:
        calls.append(1)
        return sorted(conn.execute(select(parties.c.name)).scalars())

    cache: VersionedCache[list[str]] = VersionedCache(version)

    def read() -> list[str]:
        with read_tx(engine) as conn:
            return cache.get(conn, "names", names)

    first = read()
    assert len(calls) == 1
    pid = make_party(api, "gas", "GAS Valle Imagna")
    after = read()  # a new party: the version moved
    assert after == sorted([*first, "GAS Valle Imagna"]) and len(calls) == 2
    api.ok(api.client.patch(f"/api/parties/{pid}", json={"phone": "+39 035 222222"},
                            headers=api.headers("officer")))
    assert read() == after and len(calls) == 2  # the same version: kept

    memory = create_engine("sqlite://")
    with memory.connect() as conn:
        memory_cache: VersionedCache[int] = VersionedCache(lambda _c: 1)
        assert [memory_cache.get(conn, "k", lambda _c: len(calls)) for _ in range(2)] == [2, 2]
        calls.append(1)
        assert memory_cache.get(conn, "k", lambda _c: len(calls)) == 3
    memory.dispose()
