"""The chain head in verify: the journal's own head in the report, and an expected head
``COUNT:HASH`` that a rolled-back, truncated or rewritten copy does not contain."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from ledger.accounts import new_account
from ledger.ids import uuid7
from ledger.store import LedgerStore
from ledger.transfers import Transfer
from ledger.verify import JournalHead, VerifyReport, head_problems, parse_head
from service.db.engine import make_engine

ZERO = "0" * 64


def fill(store: LedgerStore, n: int) -> None:
    a, b = new_account("a", "EUR"), new_account("b", "EUR")
    store.create_accounts_batch([a, b])
    batch = [Transfer(id=uuid7(), debit_account_id=a.id, credit_account_id=b.id,
                      amount=100 + k, currency="EUR") for k in range(n)]
    assert {r.result.value for r in store.submit_batch(batch)} == {"created"}


def stored_hashes(store: LedgerStore) -> list[str]:
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT hash FROM ledger_transfers "
                                                "ORDER BY seq"))]


def verify(store: LedgerStore, expect: JournalHead | None = None,
           watch: Sequence[int] = ()) -> VerifyReport:
    with store.engine.begin() as conn:
        return store.verify(conn, expect=expect, watch=watch)


# -- parsing -----------------------------------------------------------------------------


def test_parse_head_round_trip_and_refusals() -> None:
    h = "ab" * 32
    assert parse_head(f"12:{h}") == JournalHead(12, h)
    assert parse_head(f" 12:{h.upper()}\n") == JournalHead(12, h)
    assert str(JournalHead(12, h)) == f"12:{h}"
    assert parse_head(f"0:{ZERO}") == JournalHead(0, ZERO)
    for bad in ("", "12", f"12;{h}", f"-1:{h}", f"012:{h}", f"1.0:{h}", f"12:{h[:-1]}",
                f"12:{h}0", f"12:{'g' * 64}", f"0:{h}", f"１２:{h}", f"{2**63}:{h}"):
        with pytest.raises(ValueError):
            parse_head(bad)


# -- the pure check ----------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 30), at=st.integers(0, 40), flip=st.booleans())
def test_head_problems_against_a_hand_built_chain(n: int, at: int, flip: bool) -> None:
    # An independent chain: sha256 of the previous hash and a position.
    chain = [ZERO]
    for k in range(1, max(n, at) + 1):
        chain.append(hashlib.sha256(f"{chain[-1]}|{k}".encode()).hexdigest())
    expected_hash = chain[at] if at > 0 else ZERO
    if flip and at > 0:
        expected_hash = hashlib.sha256(b"another history").hexdigest()
    expected = JournalHead(at, expected_hash)
    hash_at = {k: chain[k] for k in range(1, n + 1)}
    problems = head_problems(expected, n, hash_at)
    if at > n:
        assert len(problems) == 1 and f"has only {n} transfers" in problems[0]
    elif flip and at > 0:
        assert len(problems) == 1 and f"hash at position {at}" in problems[0]
    else:
        assert problems == []


# -- through the store -------------------------------------------------------------------


def test_report_head_is_the_journals_last_hash(engine: Engine) -> None:
    store = LedgerStore(engine)
    empty = verify(store)
    assert empty.head == JournalHead(0, ZERO)
    fill(store, 5)
    hashes = stored_hashes(store)
    got = verify(store, watch=[2, 5, 9])
    assert got.ok and got.head == JournalHead(5, hashes[-1])
    assert got.to_json()["head"] == {"count": 5, "hash": hashes[4]}
    assert got.hashes_at == {2: hashes[1], 5: hashes[4]}


def test_expected_heads_inside_the_journal_pass(engine: Engine) -> None:
    store = LedgerStore(engine)
    fill(store, 6)
    hashes = stored_hashes(store)
    for count in (0, 1, 4, 6):
        expect = JournalHead(count, hashes[count - 1] if count else ZERO)
        assert verify(store, expect=expect).ok


def test_expected_head_beyond_the_journal_fails(engine: Engine) -> None:
    store = LedgerStore(engine)
    fill(store, 3)
    got = verify(store, expect=JournalHead(5, "cd" * 32))
    assert not got.ok
    assert got.problems == [
        f"expected head 5:{'cd' * 32}: the journal has only 3 transfers (an older copy, "
        "rolled back or truncated)"]


def test_expected_head_with_another_hash_fails(engine: Engine) -> None:
    store = LedgerStore(engine)
    fill(store, 3)
    got = verify(store, expect=JournalHead(2, "cd" * 32))
    assert not got.ok and len(got.problems) == 1
    assert "hash at position 2" in got.problems[0]


def test_an_older_copy_of_the_database_verifies_alone_but_not_against_its_head(
        tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "live.db"
    shutil.copyfile(sqlite_template, path)
    live = make_engine(f"sqlite:///{path}")
    store = LedgerStore(live)
    fill(store, 4)
    live.dispose()  # the copy below is the whole database (WAL checkpointed on close)
    shutil.copyfile(path, tmp_path / "older.db")
    live = make_engine(f"sqlite:///{path}")
    store = LedgerStore(live)
    fill(store, 3)
    noted = verify(store).head
    live.dispose()

    older = LedgerStore(make_engine(f"sqlite:///{tmp_path / 'older.db'}"))
    alone = verify(older)
    assert alone.ok and alone.head.count == 4
    against = verify(older, expect=noted)
    assert not against.ok
    assert "the journal has only 4 transfers" in against.problems[0]
    older.engine.dispose()
