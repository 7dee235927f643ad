"""``verify`` recomputes the chain and the totals from the journal: it passes on an
honest ledger and names what was changed behind the application's back (raw SQL with
the append-only trigger disabled first)."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, text

from ledger.accounts import Account, new_account
from ledger.ids import uuid7
from ledger.store import LedgerStore
from ledger.transfers import Transfer, TransferFlag, post_pending_of
from ledger.verify import VerifyReport


def tr(debit: Account, credit: Account, amount: int, *flags: str) -> Transfer:
    return Transfer(id=uuid7(), debit_account_id=debit.id, credit_account_id=credit.id,
                    amount=amount, currency="EUR",
                    flags=frozenset(TransferFlag(f) for f in flags))


@pytest.fixture
def ledger(engine: Engine) -> tuple[LedgerStore, list[Transfer]]:
    """Six transfers (seq 1..6) between two accounts, with a posted pending."""
    store = LedgerStore(engine)
    a = new_account("a", "EUR")
    b = new_account("b", "EUR", flags=["debits_must_not_exceed_credits"])
    store.create_accounts_batch([a, b])
    pending = tr(b, a, 40, "pending")
    sent = [tr(a, b, 100), tr(a, b, 200), pending, tr(b, a, 50), post_pending_of(pending, 25),
            tr(a, b, 300)]
    assert all(r.result == "created" for r in store.submit_batch(sent))
    return store, sent


def report(store: LedgerStore) -> VerifyReport:
    with store.engine.begin() as conn:
        return store.verify(conn)


def tamper(store: LedgerStore, *statements: str) -> None:
    """Run raw SQL with the journal's append-only triggers out of the way."""
    with store.engine.begin() as conn:
        _disable_guard(conn)
        for statement in statements:
            conn.execute(text(statement))


def _disable_guard(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE ledger_transfers DISABLE TRIGGER "
                          "ledger_transfers_append_only"))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS ledger_transfers_no_update"))
        conn.execute(text("DROP TRIGGER IF EXISTS ledger_transfers_no_delete"))


def test_honest_ledger_verifies(ledger: tuple[LedgerStore, list[Transfer]]) -> None:
    store, _sent = ledger
    got = report(store)
    assert got.ok and got.problems == []
    assert (got.transfers, got.accounts) == (6, 2)
    with store.engine.connect() as conn:
        last = conn.execute(text("SELECT hash FROM ledger_transfers ORDER BY seq DESC")).first()
    assert last is not None
    assert got.to_json() == {"ok": True, "transfers": 6, "accounts": 2, "problems": [],
                             "head": {"count": 6, "hash": last[0]}}


def test_changed_amount_is_caught(ledger: tuple[LedgerStore, list[Transfer]]) -> None:
    store, sent = ledger
    tamper(store, f"UPDATE ledger_transfers SET amount = 201 WHERE id = '{sent[1].id}'")
    got = report(store)
    assert not got.ok
    assert any(sent[1].id in p and "hash mismatch" in p for p in got.problems)
    # The totals no longer match the journal either: b's credits read 600, sum to 601.
    assert any("credits_posted is 600 but the journal sums to 601" in p for p in got.problems)


def test_deleted_row_is_caught(ledger: tuple[LedgerStore, list[Transfer]]) -> None:
    store, sent = ledger
    tamper(store, f"DELETE FROM ledger_transfers WHERE id = '{sent[3].id}'")
    got = report(store)
    assert not got.ok and got.transfers == 5
    assert any(sent[4].id in p and "deleted, inserted or reordered" in p for p in got.problems)
    assert any("transfer_count is 6 but the journal has 5" in p for p in got.problems)


def test_truncated_tail_is_caught(ledger: tuple[LedgerStore, list[Transfer]]) -> None:
    store, sent = ledger
    tamper(store, f"DELETE FROM ledger_transfers WHERE id = '{sent[5].id}'")
    got = report(store)
    assert not got.ok
    assert any("last_hash differs" in p for p in got.problems)
    assert any("transfer_count is 6 but the journal has 5" in p for p in got.problems)


def test_reordered_rows_are_caught(ledger: tuple[LedgerStore, list[Transfer]]) -> None:
    store, sent = ledger
    # Swap the positions of the first two rows (their content and hashes stay intact).
    tamper(store,
           "UPDATE ledger_transfers SET seq = -1 WHERE seq = 1",
           "UPDATE ledger_transfers SET seq = 1 WHERE seq = 2",
           "UPDATE ledger_transfers SET seq = 2 WHERE seq = -1")
    got = report(store)
    assert not got.ok
    assert any(sent[1].id in p and "hash mismatch" in p for p in got.problems)
    assert any("not after the previous" in p for p in got.problems)


def test_changed_account_totals_and_zero_sum_are_caught(
        ledger: tuple[LedgerStore, list[Transfer]]) -> None:
    store, sent = ledger
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 "
                          "WHERE id = :id"), {"id": sent[0].credit_account_id})
    got = report(store)
    assert not got.ok
    assert any("credits_posted is 601 but the journal sums to 600" in p for p in got.problems)
    assert any("currency EUR: debits_posted" in p for p in got.problems)


def test_row_inserted_behind_the_back_is_caught(
        ledger: tuple[LedgerStore, list[Transfer]]) -> None:
    store, sent = ledger
    t = sent[0]
    tamper(store,
           "INSERT INTO ledger_transfers (seq, id, debit_account_id, credit_account_id, "
           "amount, currency, code, flags, timestamp, hash) VALUES "
           f"(7, '{uuid7()}', '{t.debit_account_id}', '{t.credit_account_id}', 5, 'EUR', '', "
           f"0, 9223372036854775000, '{'a' * 64}')")
    got = report(store)
    assert not got.ok and got.transfers == 7
    assert any("transfer_count is 6 but the journal has 7" in p for p in got.problems)
    assert any("hash mismatch" in p for p in got.problems)


def test_who_recorded_a_transfer_is_hashed_and_a_change_is_caught(engine: Engine) -> None:
    store = LedgerStore(engine)
    a, b = new_account("a", "EUR"), new_account("b", "EUR")
    store.create_accounts_batch([a, b])
    posted = Transfer(id=uuid7(), debit_account_id=a.id, credit_account_id=b.id, amount=7,
                      currency="EUR", recorded_by="officer")
    legacy = Transfer(id=uuid7(), debit_account_id=a.id, credit_account_id=b.id, amount=8,
                      currency="EUR")
    assert [r.result for r in store.submit_batch([posted, legacy])] == ["created"] * 2
    with engine.connect() as conn:
        assert store.get_transfer(conn, posted.id).recorded_by == "officer"  # type: ignore[union-attr]
        assert store.get_transfer(conn, legacy.id).recorded_by is None  # type: ignore[union-attr]
    assert report(store).ok
    tamper(store, f"UPDATE ledger_transfers SET recorded_by = 'admin' WHERE id = '{posted.id}'")
    got = report(store)
    assert not got.ok and any(posted.id in p and "hash mismatch" in p for p in got.problems)
    tamper(store, f"UPDATE ledger_transfers SET recorded_by = 'officer' WHERE id = '{posted.id}'",
           f"UPDATE ledger_transfers SET recorded_by = 'x' WHERE id = '{legacy.id}'")
    got = report(store)
    assert not got.ok and any(legacy.id in p and "hash mismatch" in p for p in got.problems)
    assert not any(posted.id in p for p in got.problems)
