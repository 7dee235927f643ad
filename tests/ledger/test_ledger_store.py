"""The ledger through the real store, on SQLite and PostgreSQL (the ``engine`` fixture):
the same result-code scenarios as the state machine, two-phase and expiry with the
journal, idempotency across transactions, atomicity with the caller's transaction,
pagination, the append-only guard, and the migration mirroring the store's tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError

from ledger.accounts import Account, AccountFlag, new_account
from ledger.group_commit import GroupCommitWriter
from ledger.ids import uuid7
from ledger.store import (
    PIPELINED_MAX_TRANSFERS,
    Companion,
    LedgerConflict,
    LedgerStore,
    is_unavailable,
    metadata,
)
from ledger.transfers import (
    Transfer,
    TransferFlag,
    TransferResult,
    expiry_id,
    post_pending_of,
    transfer_flags_from_bits,
    void_pending_of,
)
from tests.conftest import PG_URL

SECOND = 1_000_000_000
DMNEC = "debits_must_not_exceed_credits"
CMNED = "credits_must_not_exceed_debits"


def tr(debit: Account, credit: Account, amount: int, *flags: str, currency: str = "EUR",
       **kw: object) -> Transfer:
    return Transfer(id=str(kw.pop("id", uuid7())), debit_account_id=debit.id,
                    credit_account_id=credit.id, amount=amount, currency=currency,
                    flags=frozenset(TransferFlag(f) for f in flags), **kw)  # type: ignore[arg-type]


def make(store: LedgerStore, *specs: tuple[str, ...], currency: str = "EUR") -> list[Account]:
    accounts = [new_account("acct", currency, flags=spec) for spec in specs]
    assert all(r.result == "created" for r in store.create_accounts_batch(accounts))
    return accounts


def submit(store: LedgerStore, batch: list[Transfer], now: int | None = None) -> list[str]:
    return [r.result.value for r in store.submit_batch(batch, now)]


def totals(store: LedgerStore, acct: Account) -> tuple[int, int, int, int]:
    with store.engine.connect() as conn:
        found = store.get_account(conn, acct.id)
    assert found is not None
    return found.totals


def verify_ok(store: LedgerStore) -> int:
    with store.engine.begin() as conn:
        report = store.verify(conn)
    assert report.ok, report.problems
    return report.transfers


@pytest.fixture
def store(engine: Engine) -> LedgerStore:
    return LedgerStore(engine)


# -- accounts ----------------------------------------------------------------------------


def test_create_accounts_results_and_read_back(store: LedgerStore) -> None:
    a = new_account("cash", "EUR", party_id="p-1", flags=[DMNEC])
    b = new_account("fund", "JPY")
    other = Account(id=a.id, code="cash", currency="USD")
    results = store.create_accounts_batch([a, b, a, other])
    assert [r.result.value for r in results] == [
        "created", "created", "exists", "exists_with_different_fields"]
    assert [r.result.value for r in store.create_accounts_batch([b])] == ["exists"]
    with store.engine.connect() as conn:
        found = store.get_accounts(conn, [a.id, b.id, uuid7(), "junk"])
        page, cursor = store.list_accounts(conn, limit=1)
        page2, cursor2 = store.list_accounts(conn, limit=1, cursor=cursor)
        mine, _ = store.list_accounts(conn, party_id="p-1")
    assert set(found) == {a.id, b.id}
    assert found[a.id].same_definition(a) and found[a.id].totals == (0, 0, 0, 0)
    assert found[a.id].debits_must_not_exceed_credits and found[a.id].party_id == "p-1"
    assert [x.id for x in page + page2] == [a.id, b.id] and cursor2 is None
    assert [x.id for x in mine] == [a.id]


def test_account_definitions_are_validated() -> None:
    with pytest.raises(ValueError):
        new_account("x" * 129, "EUR")
    with pytest.raises(ValueError):
        new_account("x", "EURO")
    with pytest.raises(ValueError):
        new_account("x", "EUR", flags=[DMNEC, CMNED])
    with pytest.raises(ValueError):
        new_account("x", "EUR", flags=["overdraft"])


# -- result codes through the store ---------------------------------------------------------


def test_every_result_code_through_the_store(store: LedgerStore) -> None:
    a, b, limited, capped, closed_src = make(store, (), (), (DMNEC,), (CMNED,), ())
    (usd,) = make(store, (), currency="USD")
    closed = Account(id=uuid7(), code="closed", currency="EUR",
                     flags=frozenset({AccountFlag.CLOSED}))
    store.create_accounts_batch([closed])
    ghost = new_account("ghost", "EUR")
    first = tr(a, b, 500)
    pending = tr(b, a, 100, "pending")
    expiring = tr(b, a, 10, "pending", timeout_seconds=5)
    assert submit(store, [first, pending, expiring], now=1000 * SECOND) == ["created"] * 3
    posted = post_pending_of(pending, 30)
    assert submit(store, [posted], now=1001 * SECOND) == ["created"]

    changed = Transfer(id=first.id, debit_account_id=a.id, credit_account_id=b.id,
                       amount=501, currency="EUR")
    cases: list[tuple[Transfer, str]] = [
        (first, "exists"),
        (changed, "exists_with_different_fields"),
        (tr(limited, a, 1), "exceeds_credits"),
        (tr(a, capped, 1), "exceeds_debits"),
        (tr(a, ghost, 1), "account_not_found"),
        (tr(a, usd, 1), "currency_mismatch"),
        (tr(a, a, 1), "accounts_must_be_different"),
        (tr(b, a, 1, "post_pending", pending_id=uuid7()), "pending_not_found"),
        (post_pending_of(pending), "pending_already_posted"),
        (post_pending_of(expiring), "pending_expired"),
        (tr(a, closed, 1), "account_closed"),
    ]
    got = submit(store, [c[0] for c in cases], now=1010 * SECOND)
    assert got == [c[1] for c in cases]

    voidable = tr(b, a, 40, "pending")
    assert submit(store, [voidable, void_pending_of(voidable)], now=1020 * SECOND) == [
        "created", "created"]
    assert submit(store, [void_pending_of(voidable, id=uuid7()),
                          post_pending_of(tr(b, a, 5, "pending"), 1)], now=1021 * SECOND) == [
        "pending_already_voided", "pending_not_found"]
    big = tr(b, a, 20, "pending")
    assert submit(store, [big, post_pending_of(big, 21)]) == ["created",
                                                               "exceeds_pending_amount"]
    chain = [tr(a, b, 1, "linked"), tr(limited, b, 1, "linked"), tr(a, b, 1)]
    assert submit(store, chain) == ["linked_event_failed", "exceeds_credits",
                                    "linked_event_failed"]
    assert submit(store, [tr(a, b, 1, "linked")]) == ["linked_event_chain_open"]
    del closed_src

    # Hand-computed totals: a debited 500, credited 30 posted, 20 pending (big).
    assert totals(store, a) == (0, 500, 20, 30)
    assert totals(store, b) == (20, 30, 0, 500)
    # 3 + 1 + (expiry void) + 2 + 1 created; the failed ones wrote nothing.
    assert verify_ok(store) == 8


def test_partial_post_void_and_balance_through_the_store(store: LedgerStore) -> None:
    guarantor, lender = make(store, (), ())
    pledge = tr(guarantor, lender, 1000, "pending", code="pledge")
    assert submit(store, [pledge]) == ["created"]
    assert totals(store, guarantor) == (1000, 0, 0, 0)
    # A partial call: post 400 and reserve the other 600 again, in one linked batch.
    call = [post_pending_of(pledge, 400, linked=True), tr(guarantor, lender, 600, "pending")]
    assert submit(store, call) == ["created", "created"]
    assert totals(store, guarantor) == (600, 400, 0, 0)
    assert totals(store, lender) == (0, 0, 600, 400)
    assert submit(store, [void_pending_of(call[1])]) == ["created"]
    assert totals(store, lender) == (0, 0, 0, 400)
    with store.engine.connect() as conn:
        acct = store.get_account(conn, lender.id)
        resolution = store.get_resolution(conn, pledge.id)
    assert acct is not None and acct.balance == 400
    assert resolution is not None and resolution.id == call[0].id
    verify_ok(store)


def test_expiry_is_journaled_once(store: LedgerStore) -> None:
    a, b = make(store, (), (DMNEC,))
    t0 = 2_000_000 * SECOND
    assert submit(store, [tr(a, b, 300)], now=t0) == ["created"]
    hold = tr(b, a, 200, "pending", timeout_seconds=60)
    assert submit(store, [hold], now=t0 + SECOND) == ["created"]
    assert totals(store, b) == (200, 0, 0, 300)
    with store.engine.begin() as conn:
        assert store.expire_pending(conn, t0 + 60 * SECOND) == 0  # a second early
        assert store.expire_pending(conn, t0 + 61 * SECOND) == 1
        assert store.expire_pending(conn, t0 + 62 * SECOND) == 0
        void = store.get_transfer(conn, expiry_id(hold.id))
    assert void is not None and void.code == "expired" and void.pending_id == hold.id
    assert void.amount == 200 and TransferFlag.VOID_PENDING in void.flags
    assert totals(store, b) == (0, 0, 0, 300)
    assert submit(store, [post_pending_of(hold)], now=t0 + 63 * SECOND) == ["pending_expired"]
    # A submit releases due pendings by itself before applying the batch, so the
    # reservation no longer blocks the limit.
    hold2 = tr(b, a, 300, "pending", timeout_seconds=1)
    assert submit(store, [hold2], now=t0 + 70 * SECOND) == ["created"]
    assert submit(store, [tr(b, a, 300)], now=t0 + 75 * SECOND) == ["created"]
    assert totals(store, b) == (0, 300, 0, 300)
    assert verify_ok(store) == 6


def test_idempotent_across_transactions_and_ids_normalized(store: LedgerStore) -> None:
    a, b = make(store, (), ())
    batch = [tr(a, b, 7, "linked"), tr(a, b, 8)]
    assert submit(store, batch) == ["created", "created"]
    upper = Transfer(id=batch[1].id.upper(), debit_account_id=a.id.upper(),
                     credit_account_id=b.id, amount=8, currency="EUR")
    assert submit(store, [*batch, upper]) == ["exists", "exists", "exists"]
    assert totals(store, a) == (0, 15, 0, 0)
    assert verify_ok(store) == 2


def test_all_fields_round_trip(store: LedgerStore) -> None:
    a, b = make(store, (), ())
    t = tr(a, b, 12345, "pending", code="disbursement", timeout_seconds=3600,
           value_date=date(2025, 3, 31), user_data="loan:" + uuid7(), operation_id=uuid7())
    assert submit(store, [t], now=5 * SECOND) == ["created"]
    with store.engine.connect() as conn:
        got = store.get_transfer(conn, t.id)
        by_data = store.find_transfers(conn, user_data=t.user_data)
        by_op = store.find_transfers(conn, operation_id=t.operation_id)
        assert store.get_transfer(conn, "not-a-uuid") is None
    assert got is not None and got.same_fields(t) and got.timestamp == 5 * SECOND
    assert got.expires_at == 5 * SECOND + 3600 * SECOND
    assert [x.id for x in by_data] == [t.id] == [x.id for x in by_op]


def test_find_entries_are_find_transfers_as_stored(store: LedgerStore) -> None:
    """A loan's booking sums ``find_entries``: the same rows as ``find_transfers`` by
    ``user_data``, in chain order, with every field as stored; other loans' left out."""
    a, b, c = make(store, (), (), ())
    loan, other = "loan:" + uuid7(), "loan:" + uuid7()
    mine = [tr(a, b, 700, "linked", code="interest", user_data=loan, operation_id=uuid7(),
               value_date=date(2026, 2, 1)),
            tr(b, c, 300, code="principal", user_data=loan)]
    assert submit(store, mine, now=7 * SECOND) == ["created", "created"]
    assert submit(store, [tr(a, c, 5, user_data=other)]) == ["created"]
    assert submit(store, [tr(c, a, 90, code="penalty", user_data=loan,
                             operation_id=uuid7())]) == ["created"]
    with store.engine.connect() as conn:
        entries = store.find_entries(conn, user_data=loan)
        transfers = store.find_transfers(conn, user_data=loan)
        assert store.find_entries(conn, user_data="loan:none") == []
    assert len(entries) == len(transfers) == 3
    for e, t in zip(entries, transfers, strict=True):
        assert (e.id, e.debit_account_id, e.credit_account_id, e.amount, e.currency, e.code,
                e.value_date, e.operation_id, e.timestamp) == (
            t.id, t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.code,
            t.value_date, t.operation_id, t.timestamp)
        assert transfer_flags_from_bits(e.flags) == t.flags
    assert [e.amount for e in entries] == [700, 300, 90]
    assert entries[0].timestamp == 7 * SECOND


def test_submit_joins_the_callers_transaction(store: LedgerStore) -> None:
    a, b = make(store, (), ())
    t = tr(a, b, 100)
    with pytest.raises(RuntimeError), store.engine.begin() as conn:
        store.create_accounts(conn, [new_account("later", "EUR")])
        assert [r.result.value for r in store.submit(conn, [t])] == ["created"]
        raise RuntimeError("the service's own write failed")
    assert totals(store, a) == (0, 0, 0, 0)
    with store.engine.connect() as conn:
        assert store.get_transfer(conn, t.id) is None
        assert store.get_head(conn) is not None
    assert submit(store, [t]) == ["created"]  # nothing remembered from the rollback
    assert verify_ok(store) == 1


def test_list_transfers_pages_oldest_first(store: LedgerStore) -> None:
    a, b, c = make(store, (), (), ())
    sent = [tr(a, b, n) if n % 2 else tr(b, c, n) for n in range(1, 8)]
    assert submit(store, sent) == ["created"] * 7
    with store.engine.connect() as conn:
        pages: list[list[str]] = []
        cursor: str | None = None
        while True:
            items, cursor = store.list_transfers(conn, limit=3, cursor=cursor)
            pages.append([t.id for t in items])
            if cursor is None:
                break
        only_a, next_a = store.list_transfers(conn, account_id=a.id, limit=50)
        with pytest.raises(ValueError):
            store.list_transfers(conn, cursor="!!!")
        with pytest.raises(ValueError):
            store.list_transfers(conn, limit=501)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for page in pages for i in page] == [t.id for t in sent]
    assert [t.amount for t in only_a] == [1, 3, 5, 7] and next_a is None


def test_journal_is_append_only_in_the_database(store: LedgerStore) -> None:
    a, b = make(store, (), ())
    assert submit(store, [tr(a, b, 5)]) == ["created"]
    for statement in ("UPDATE ledger_transfers SET amount = 6",
                      "DELETE FROM ledger_transfers"):
        with pytest.raises(DBAPIError), store.engine.begin() as conn:
            conn.execute(text(statement))
    assert verify_ok(store) == 1


def test_conflicts_are_retried_then_reported_as_conflict(store: LedgerStore,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    a, b = make(store, (), ())
    real_submit = store.submit_many
    calls = {"n": 0}

    class Locked(Exception):
        sqlstate = "40P01"

    def flaky(conn: object, batches: object, now: object = None, companions: object = ()
              ) -> object:
        calls["n"] += 1
        if calls["n"] < 3:
            raise OperationalError("SELECT", {}, Locked("deadlock detected"))
        return real_submit(conn, batches, now, companions)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "submit_many", flaky)
    assert submit(store, [tr(a, b, 1)]) == ["created"] and calls["n"] == 3

    def always_deadlocked(conn: object, batches: object, now: object = None,
                          companions: object = ()) -> object:
        calls["n"] += 1
        raise OperationalError("SELECT", {}, Locked("deadlock detected"))

    calls["n"] = 0
    monkeypatch.setattr(store, "submit_many", always_deadlocked)
    with pytest.raises(LedgerConflict):
        store.submit_batch([tr(a, b, 1)])
    assert calls["n"] == store.retries

    # SQLite's lock still taken after the busy timeout (already waited): not tried again,
    # the caller learns at once that the database is unavailable.
    def locked(conn: object, batches: object, now: object = None, companions: object = ()
               ) -> object:
        calls["n"] += 1
        raise OperationalError("BEGIN", {}, Exception("database is locked"))

    calls["n"] = 0
    monkeypatch.setattr(store, "submit_many", locked)
    with pytest.raises(OperationalError) as caught:
        store.submit_batch([tr(a, b, 1)])
    assert calls["n"] == 1 and is_unavailable(caught.value)


def test_migration_mirrors_the_store_tables(really_migrated_engine: Engine) -> None:
    engine = really_migrated_engine
    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(columns) == {c.name for c in table.columns}, table.name
        for column in table.columns:
            assert columns[column.name]["nullable"] == column.nullable, column.name
        indexes = {ix["name"] for ix in inspector.get_indexes(table.name)}
        assert {ix.name for ix in table.indexes} <= indexes


def test_hash_of_a_transfer_without_recorded_by_is_the_v1_form() -> None:
    """Transfers journaled before ``recorded_by`` existed keep their hashes: the form is
    written out here by hand, field by field, as version 1 defined it."""
    import hashlib

    from ledger.chain import GENESIS_HASH, link_hash

    t = Transfer(id="01890a5d-ac96-774b-bcce-b302099a8057",
                 debit_account_id="01890a5d-ac96-774b-bcce-b302099a8058",
                 credit_account_id="01890a5d-ac96-774b-bcce-b302099a8059", amount=1234,
                 currency="EUR", code="rata", user_data="loan:1", timestamp=42)
    v1 = ("v1|3|42|01890a5d-ac96-774b-bcce-b302099a8057|01890a5d-ac96-774b-bcce-b302099a8058"
          "|01890a5d-ac96-774b-bcce-b302099a8059|1234|EUR|4:rata||~|~|~|6:loan:1|~")
    assert link_hash(GENESIS_HASH, t, 3) == hashlib.sha256(
        (GENESIS_HASH + v1).encode()).hexdigest()
    signed = replace(t, recorded_by="officer")
    assert link_hash(GENESIS_HASH, signed, 3) == hashlib.sha256(
        (GENESIS_HASH + v1 + "|r7:officer").encode()).hexdigest()
    assert signed.same_fields(t)  # who recorded it is not a client field


def test_total_balance_adds_posted_balances_only(store: LedgerStore) -> None:
    """The database's sum is the sum of each account's own balance (credits - debits,
    posted only): a pending transfer counts nowhere, unknown and malformed ids add
    nothing, an id named twice counts once."""
    a, b, c, d = make(store, (), (), (), ())
    assert submit(store, [tr(a, b, 700), tr(b, c, 250), tr(c, a, 40)]) == ["created"] * 3
    assert submit(store, [tr(a, d, 999, "pending")]) == ["created"]
    with store.engine.connect() as conn:
        accounts = store.get_accounts(conn, [a.id, b.id, c.id, d.id])
        # a: -700 + 40; b: +700 - 250; c: +250 - 40; d: nothing posted.
        assert [accounts[x.id].balance for x in (a, b, c, d)] == [-660, 450, 210, 0]
        assert store.total_balance(conn, [a.id, b.id]) == -660 + 450
        assert store.total_balance(conn, [b.id, c.id, d.id, b.id, uuid7(), "junk"]) == 660
        assert store.total_balance(conn, []) == 0


def pipelined_groups(store: LedgerStore, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """On PostgreSQL, a list that says for each group whether it took the two round
    trip path (``True``) or fell back to the general one; stays empty on SQLite."""
    taken: list[bool] = []
    if store._postgres:
        real = store._submit_many_postgres

        def spy(*args: object, **kwargs: object) -> object:
            results = real(*args, **kwargs)  # type: ignore[arg-type]
            taken.append(results is not None)
            return results

        monkeypatch.setattr(store, "_submit_many_postgres", spy)
    return taken


def test_groups_give_the_same_results_on_every_path(engine: Engine,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups of batches written together (what the group-commit writer sends): linked
    chains failing whole, limits seen across the group's batches, a pending posted by a
    later batch of the same group, a resend, and an expiry falling due. The results,
    totals and journal are the same on SQLite's path and PostgreSQL's two round trips
    (taken here for the first two groups; the third has an expiry due, which the
    general path journals)."""
    store = LedgerStore(engine)
    bank, lim = make(store, (), (DMNEC,))
    taken = pipelined_groups(store, monkeypatch)
    t0 = 1_800_000_000 * SECOND
    first = tr(bank, lim, 100)
    pending = tr(lim, bank, 30, "pending", timeout_seconds=10)
    group1 = [[first], [tr(lim, bank, 60, "linked"), tr(lim, bank, 50)], [pending],
              [tr(lim, bank, 80)], [post_pending_of(pending, 20)], [first]]
    codes = [[r.result.value for r in batch] for batch in store.submit_many_batch(group1, t0)]
    assert codes == [["created"], ["linked_event_failed", "exceeds_credits"], ["created"],
                     ["exceeds_credits"], ["created"], ["exists"]]
    short = tr(lim, bank, 5, "pending", timeout_seconds=1)
    group2 = [[post_pending_of(pending)], [void_pending_of(pending)], [short]]
    codes = [[r.result.value for r in batch]
             for batch in store.submit_many_batch(group2, t0 + SECOND)]
    assert codes == [["pending_already_posted"], ["pending_already_posted"], ["created"]]
    codes = [[r.result.value for r in batch]
             for batch in store.submit_many_batch([[tr(bank, lim, 1)]], t0 + 5 * SECOND)]
    assert codes == [["created"]]
    assert totals(store, lim) == (0, 20, 0, 101)
    assert totals(store, bank) == (0, 101, 0, 20)
    with store.engine.connect() as conn:
        assert store.get_resolution(conn, short.id) is not None  # expired: voided
    assert verify_ok(store) == 6
    if store._postgres:
        assert taken == [True, True, False]


def test_a_held_connection_serves_its_threads_groups_until_idle_or_failed(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The group-commit writer's thread keeps one connection between its transactions
    (no pool checkout, no ping on PostgreSQL, each time); unused for a while, or after a
    failed transaction, the next one takes a connection from the pool afresh."""
    import time

    from sqlalchemy import event

    import ledger.store as store_module

    store = LedgerStore(engine)
    bank, other = make(store, (), ())
    checkouts: list[int] = []

    def checkout(*args: object) -> None:
        checkouts.append(1)

    event.listen(engine, "checkout", checkout)
    try:
        with store.holding_connection():
            for _ in range(3):
                assert submit(store, [tr(bank, other, 1)]) == ["created"]
            assert len(checkouts) == 1
            monkeypatch.setattr(store_module, "HELD_IDLE_SECONDS", 0.0)
            time.sleep(0.01)
            assert submit(store, [tr(bank, other, 1)]) == ["created"]
            assert len(checkouts) == 2
            monkeypatch.setattr(store_module, "HELD_IDLE_SECONDS", 60.0)

            def broken(*args: object, **kwargs: object) -> None:
                raise OperationalError("SELECT", {}, Exception("server closed the "
                                                               "connection unexpectedly"))

            with monkeypatch.context() as patch:
                patch.setattr(store, "submit_many", broken)
                with pytest.raises(OperationalError):
                    store.submit_batch([tr(bank, other, 1)])
            assert submit(store, [tr(bank, other, 1)]) == ["created"]
            assert len(checkouts) == 3
        assert submit(store, [tr(bank, other, 1)]) == ["created"]  # the pool's again
        assert len(checkouts) == 4
    finally:
        event.remove(engine, "checkout", checkout)
    assert totals(store, other)[3] == 6


# -- companions: the caller's rows committed with a batch -----------------------------------

NOTES = Table("ledger_test_notes", MetaData(),
              Column("key", String(36), primary_key=True),
              Column("at", DateTime(timezone=True), nullable=False),
              Column("made", Text, nullable=False),
              Column("refused", Integer, nullable=False),
              Column("label", String(8)))


@pytest.fixture
def notes(engine: Engine) -> Iterator[Table]:
    NOTES.metadata.create_all(engine)
    yield NOTES
    NOTES.metadata.drop_all(engine)


def note(label: str | None = "n", made: bool = True) -> tuple[str, Companion]:
    """A companion listing the transfers its batch created (``made=False``: a row the
    database refuses, its NOT NULL column empty)."""
    key = uuid7()

    def row(results: list[TransferResult]) -> dict[str, Any]:
        ids = [r.id for r in results if r.result == "created"]
        return {"key": key, "at": datetime.now(UTC), "made": json.dumps(ids) if made else None,
                "refused": sum(not r.ok for r in results), "label": label}

    return key, Companion(NOTES, row)


def noted(engine: Engine) -> dict[str, tuple[list[str], int, str | None]]:
    with engine.connect() as conn:
        return {r.key: (json.loads(r.made), r.refused, r.label)
                for r in conn.execute(select(NOTES))}


def test_companion_rows_commit_with_their_batches_on_every_path(
        store: LedgerStore, notes: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch's companion row is made from that batch's results and written in the
    group's transaction: on PostgreSQL's two round trips (a group whose batches are
    created, refused, and one without a companion), and on the general path (an expiry
    due; a batch over the pipelined size), which SQLite always takes."""
    bank, lim = make(store, (), (DMNEC,))
    taken = pipelined_groups(store, monkeypatch)
    t0 = 1_800_000_000 * SECOND
    (k1, c1), (k2, c2) = note(), note(label=None)
    funding, too_much, other = tr(bank, lim, 100), tr(lim, bank, 500), tr(bank, lim, 1)
    codes = [[r.result.value for r in batch] for batch in store.submit_many_batch(
        [[funding], [too_much], [other]], t0, [c1, c2])]
    assert codes == [["created"], ["exceeds_credits"], ["created"]]
    assert noted(store.engine) == {k1: ([funding.id], 0, "n"), k2: ([], 1, None)}
    pending = tr(lim, bank, 5, "pending", timeout_seconds=1)
    k3, c3 = note()
    assert [r.result.value for r in store.submit_batch([pending], t0 + SECOND, c3)] == [
        "created"]
    k4, c4 = note()  # the pending's expiry is due: the general path
    later = tr(bank, lim, 2)
    assert [r.result.value for r in store.submit_batch([later], t0 + 5 * SECOND, c4)] == [
        "created"]
    k5, c5 = note()
    big = [tr(bank, lim, 1) for _ in range(PIPELINED_MAX_TRANSFERS + 1)]
    store.submit_batch(big, t0 + 6 * SECOND, c5)
    rows = noted(store.engine)
    assert rows[k3] == ([pending.id], 0, "n") and rows[k4] == ([later.id], 0, "n")
    assert rows[k5] == ([t.id for t in big], 0, "n") and len(rows) == 5
    with store.engine.connect() as conn:
        assert store.get_resolution(conn, pending.id) is not None  # expired: voided
    assert verify_ok(store) == 2 + 1 + 1 + 1 + len(big)  # the void of the expiry too
    if store._postgres:
        assert taken == [True, True, False]


def test_a_companion_row_the_database_refuses_fails_its_batch_alone(
        store: LedgerStore, notes: Table) -> None:
    """The row is in the batch's transaction: when the database refuses it, the batch's
    transfers are not written either (on every path); through the group-commit writer
    that batch's caller gets the error and the others of its group their results."""
    bank, other = make(store, (), ())
    for size in (1, PIPELINED_MAX_TRANSFERS + 1):
        _, bad = note(made=False)
        batch = [tr(bank, other, 1) for _ in range(size)]
        with pytest.raises(DBAPIError) as caught:
            store.submit_batch(batch, companion=bad)
        assert not is_unavailable(caught.value)
        with store.engine.connect() as conn:
            assert all(store.get_transfer(conn, t.id) is None for t in batch)
    if store._postgres:  # an over-long value is refused, not cut by the arrays' casts
        _, long = note(label="x" * 9)
        with pytest.raises(DBAPIError):
            store.submit_batch([tr(bank, other, 1)], companion=long)
    assert noted(store.engine) == {}
    sent = [(tr(bank, other, 1), note(made=k != 2)) for k in range(5)]
    with GroupCommitWriter(store) as writer:
        futures = [writer.submit_future([t], companion=c) for t, (_, c) in sent]
        outcomes = [f.exception(timeout=30) or f.result()[0].result.value for f in futures]
    assert [o if isinstance(o, str) else "refused" for o in outcomes] == [
        "created", "created", "refused", "created", "created"]
    assert sorted(noted(store.engine)) == sorted(key for k, (_, (key, _)) in enumerate(sent)
                                                 if k != 2)
    assert verify_ok(store) == 4


@pytest.mark.parametrize("backend", ["postgresql"] if PG_URL else [])
def test_postgresql_probes_the_journal_by_its_indexes_without_statistics(
        store: LedgerStore) -> None:
    """The group's reads look the batches' ids up in the journal's unique indexes, one
    lookup an id, even before the journal was ever analyzed (a new or restored database):
    "id = ANY(array)" scanned the whole journal there for every group."""
    from ledger.store import _PG_RESOLUTIONS, _PG_TRANSFERS

    bank, other = make(store, (), ())
    for _ in range(12):
        store.submit_batch([tr(bank, other, 1) for _ in range(PIPELINED_MAX_TRANSFERS)])
    ids = [uuid7() for _ in range(64)]
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = 'ledger_transfers'::regclass"
        ).scalar_one() < 0  # never analyzed
        for sql in (_PG_TRANSFERS, _PG_RESOLUTIONS):
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql, (ids,)))
            assert "Index Scan" in plan and "Seq Scan on ledger_transfers" not in plan, plan
