"""Signed checkpoints: signatures against a hand-made HMAC, the log line format, and the
check that finds an older copy of the journal, a history rewritten with recomputed
SHA-256 hashes by someone without the key, and checkpoints deleted from either side."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from ledger.accounts import new_account
from ledger.chain import chain_hashes
from ledger.checkpoints import (
    Checkpoint,
    CheckpointReport,
    LogContents,
    check_checkpoints,
    checkpoint_due,
    checkpoint_line,
    key_from_file,
    new_key_file,
    parse_line,
    parse_log,
    sign,
    signature_ok,
    watch_positions,
)
from ledger.ids import uuid7
from ledger.store import LedgerStore
from ledger.transfers import Transfer
from ledger.verify import JournalHead, VerifyReport

KEY = b"k" * 32
OTHER_KEY = b"x" * 32
ZERO = "0" * 64
T0 = datetime(2026, 12, 6, 13, 0, tzinfo=UTC)


def hand_chain(n: int, salt: str = "") -> dict[int, str]:
    """An independent stand-in journal: position -> hash."""
    hashes: dict[int, str] = {}
    prev = ZERO
    for k in range(1, n + 1):
        prev = hashlib.sha256(f"{prev}|{k}|{salt}".encode()).hexdigest()
        hashes[k] = prev
    return hashes


def hand_mac(key: bytes, count: int, digest: str, at: str) -> str:
    message = f"filiera-checkpoint|v1|{count}|{digest}|{at}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed(chain: dict[int, str], *counts: int, key: bytes = KEY) -> list[Checkpoint]:
    return [sign(JournalHead(c, chain[c] if c else ZERO), T0 + timedelta(minutes=c), key)
            for c in counts]


def log_of(checkpoints: list[Checkpoint]) -> LogContents:
    return parse_log("".join(checkpoint_line(c) for c in checkpoints))


# -- signing and the line format -------------------------------------------------------------


def test_signature_is_hmac_sha256_of_the_tagged_head() -> None:
    digest = "ab" * 32
    c = sign(JournalHead(5, digest), T0, KEY)
    assert c.signature == hand_mac(KEY, 5, digest, "2026-12-06T13:00:00.000000Z")
    assert signature_ok(c, KEY) and not signature_ok(c, OTHER_KEY)
    # Any field changed breaks it.
    for forged in (Checkpoint(6, digest, T0, c.signature),
                   Checkpoint(5, "cd" * 32, T0, c.signature),
                   Checkpoint(5, digest, T0 + timedelta(microseconds=1), c.signature),
                   Checkpoint(5, digest, T0)):
        assert not signature_ok(forged, KEY)
    # The same instant in another zone is the same checkpoint.
    rome = timezone(timedelta(hours=1))
    assert signature_ok(Checkpoint(5, digest, T0.astimezone(rome), c.signature), KEY)


def test_log_line_worked_example_and_round_trip() -> None:
    digest = "ab" * 32
    c = sign(JournalHead(5, digest), T0, KEY)
    mac = hand_mac(KEY, 5, digest, "2026-12-06T13:00:00.000000Z")
    line = checkpoint_line(c)
    assert line == f"filiera-checkpoint v1 5 {digest} 2026-12-06T13:00:00.000000Z {mac}\n"
    assert parse_line(line) == c
    unsigned = Checkpoint(0, ZERO, T0)
    assert checkpoint_line(unsigned).endswith(" -\n") and parse_line(
        checkpoint_line(unsigned)) == unsigned


@settings(max_examples=100, deadline=None)
@given(count=st.integers(1, 2**63 - 1), digest=st.text("0123456789abcdef", min_size=64,
                                                       max_size=64),
       at=st.datetimes(timezones=st.just(UTC)))
def test_lines_round_trip(count: int, digest: str, at: datetime) -> None:
    c = sign(JournalHead(count, digest), at, KEY)
    assert parse_line(checkpoint_line(c)) == c and signature_ok(parse_line(checkpoint_line(c)),
                                                                 KEY)


def test_bad_lines_are_refused() -> None:
    good = checkpoint_line(sign(JournalHead(5, "ab" * 32), T0, KEY)).rstrip("\n")
    parts = good.split(" ")
    bad = [
        "", "hello", good + " extra", good.replace("v1", "v2"),
        " ".join([*parts[:2], "05", *parts[3:]]),
        " ".join([*parts[:2], "-5", *parts[3:]]),
        " ".join([*parts[:3], "AB" * 32, *parts[4:]]),
        " ".join([*parts[:4], "2026-12-06T13:00:00Z", parts[5]]),
        " ".join([*parts[:4], "2026-13-06T13:00:00.000000Z", parts[5]]),
        " ".join([*parts[:5], parts[5][:-1]]),
        " ".join([*parts[:2], "0", "ab" * 32, *parts[4:]]),  # count 0 is the genesis hash
    ]
    for line in bad:
        with pytest.raises(ValueError):
            parse_line(line)


def test_parse_log_names_malformed_lines_and_a_torn_tail() -> None:
    a, b = signed(hand_chain(3), 1, 3)
    content = checkpoint_line(a) + "garbage\n" + checkpoint_line(b) + checkpoint_line(b)[:30]
    got = parse_log(content)
    assert got.checkpoints == (a, b)
    assert got.malformed == ("line 2: not a checkpoint line",)
    assert got.torn_tail
    assert parse_log("") == LogContents((), (), False)


def test_key_file() -> None:
    content = new_key_file()
    assert len(content) == 65 and content.endswith(b"\n")
    assert int(content, 16) >= 0
    assert key_from_file(content) == content[:64]
    assert key_from_file(b"  " + KEY + b"\r\n") == KEY
    for short in (b"", b"x" * 31, b"   " + b"x" * 31 + b"\n"):
        with pytest.raises(ValueError):
            key_from_file(short)
    with pytest.raises(ValueError):
        sign(JournalHead(0, ZERO), T0, b"short")


def test_checkpoint_due() -> None:
    last = Checkpoint(100, "ab" * 32, T0)
    assert not checkpoint_due(0, None, T0)
    assert checkpoint_due(1, None, T0)
    assert not checkpoint_due(100, last, T0 + timedelta(hours=1))  # no writes since
    assert not checkpoint_due(1099, last, T0 + timedelta(seconds=59))
    assert checkpoint_due(1100, last, T0 + timedelta(seconds=1))
    assert checkpoint_due(101, last, T0 + timedelta(minutes=1))
    assert checkpoint_due(150, last, T0 + timedelta(seconds=10), every=50)


# -- checking, on a hand-built journal ----------------------------------------------------------


def check(journal: dict[int, str], stored: list[Checkpoint], logged: list[Checkpoint] | None,
          key: bytes | None = KEY) -> CheckpointReport:
    return check_checkpoints(journal_count=len(journal), hash_at=journal, stored=stored,
                             log=None if logged is None else log_of(logged), key=key)


def test_honest_journal_passes_and_counts_unchecked_transfers() -> None:
    journal = hand_chain(2500)
    cps = signed(journal, 1000, 2000)
    got = check(journal, cps, cps)
    assert got.status == "ok" and got.ok and got.problems == [] and got.notes == []
    assert got.last == cps[1] and got.unchecked == 500 and got.checkpoints == 2
    assert got.to_json()["last"] == {"count": 2000, "hash": journal[2000],
                                     "at": "2026-12-07T22:20:00.000000Z"}  # +2000 min


def test_no_checkpoints_yet_is_ok_and_all_unchecked() -> None:
    got = check(hand_chain(7), [], [])
    assert got.status == "ok" and got.unchecked == 7 and got.last is None
    assert got.notes == ["no checkpoints yet"]


def test_an_older_copy_of_the_journal_is_detected() -> None:
    journal = hand_chain(30)
    cps = signed(journal, 10, 20, 30)
    older = {k: v for k, v in journal.items() if k <= 25}  # a copy from before 26..30
    got = check(older, cps, cps)
    assert got.status == "failed" and not got.ok
    assert got.problems == [f"checkpoint {cps[2]}: the journal has only 25 transfers (an "
                            "older copy restored, rolled back or truncated)"]
    assert got.last == cps[1] and got.unchecked == 5


def test_an_older_copy_written_on_afterwards_is_detected() -> None:
    journal = hand_chain(30)
    cps = signed(journal, 10, 20, 30)
    # Restored at 15, then 20 new transfers: same length again, another history.
    forked = {**{k: v for k, v in journal.items() if k <= 15},
              **{k: v for k, v in hand_chain(35, salt="fork").items() if k > 15}}
    got = check(forked, cps, cps)
    assert got.status == "failed" and len(got.problems) == 2
    assert all("history rewritten, or rolled back" in p for p in got.problems)
    assert got.last == cps[0] and got.unchecked == 25


def test_history_rewritten_without_the_key_is_detected() -> None:
    journal = hand_chain(20)
    cps = signed(journal, 10, 20)
    # Transfer 7 changed and every hash after it recomputed: a consistent chain.
    rewritten = {**{k: v for k, v in journal.items() if k < 7},
                 **{k: v for k, v in hand_chain(20, salt="rewrite").items() if k >= 7}}
    got = check(rewritten, cps, cps)
    assert got.status == "failed" and len(got.problems) == 2
    assert f"position 10 is {rewritten[10]}" in got.problems[0]
    assert got.last is None and got.unchecked == 20
    # Re-signing the checkpoints without the key only adds forgeries.
    resigned = signed(rewritten, 10, 20, key=OTHER_KEY)
    got = check(rewritten, resigned, cps)
    assert got.status == "failed"
    assert sum("forged" in p for p in got.problems) == 2
    assert sum("deleted from the log" in p for p in got.problems) == 0  # forged: not trusted
    assert sum("history rewritten" in p for p in got.problems) == 2  # the log still tells


def test_checkpoints_deleted_from_the_database_are_detected() -> None:
    journal = hand_chain(30)
    cps = signed(journal, 10, 20, 30)
    got = check(journal, [cps[0], cps[2]], cps)
    assert got.status == "failed"
    assert got.problems == [f"checkpoint {cps[1]} is in the log but not in the database "
                            "(deleted from the database)"]
    got = check(journal, [], cps)
    assert got.status == "failed" and len(got.problems) == 2  # 10 and 20; 30 is the newest


def test_checkpoints_deleted_from_the_log_are_detected() -> None:
    journal = hand_chain(30)
    cps = signed(journal, 10, 20, 30)
    got = check(journal, cps, [cps[0], cps[2]])
    assert got.problems == [f"checkpoint {cps[1]} is in the database but not in the log "
                            "(deleted from the log)"]


def test_newest_checkpoint_only_in_the_log_is_a_crash_not_a_deletion() -> None:
    journal = hand_chain(30)
    cps = signed(journal, 10, 20)
    got = check(journal, cps[:1], cps)
    assert got.status == "ok" and got.last == cps[1] and got.unchecked == 10
    assert got.notes == [f"checkpoint {cps[1]}, the newest, is only in the log (its "
                         "database row was not committed)"]


def test_unsigned_and_forged_checkpoints_fail() -> None:
    journal = hand_chain(20)
    honest = signed(journal, 10)[0]
    unsigned = Checkpoint(20, journal[20], T0)
    forged = Checkpoint(20, journal[20], T0, hand_mac(OTHER_KEY, 20, journal[20],
                                                      "2026-12-06T13:00:00.000000Z"))
    got = check(journal, [honest, unsigned], [honest, unsigned])
    assert got.problems == [f"checkpoint {unsigned} in the database and log is unsigned"]
    got = check(journal, [honest, forged], [honest])
    assert got.problems == [f"checkpoint {forged} in the database is forged (its signature "
                            "is not the key's)"]
    assert got.last == honest and got.unchecked == 10


def test_a_log_edited_by_hand_fails() -> None:
    journal = hand_chain(10)
    cps = signed(journal, 10)
    log = parse_log(checkpoint_line(cps[0]) + "# my note\n")
    got = check_checkpoints(journal_count=10, hash_at=journal, stored=cps, log=log, key=KEY)
    assert got.problems == ["checkpoint log line 2: not a checkpoint line (not written by "
                            "the service)"]


def test_without_a_log_file_the_database_checkpoints_are_still_checked() -> None:
    journal = hand_chain(20)
    cps = signed(journal, 10, 20)
    got = check({k: v for k, v in journal.items() if k <= 15}, cps, None)
    assert got.status == "failed" and "only 15 transfers" in got.problems[0]
    assert got.notes[0].startswith("no checkpoint log to read")


def test_without_the_key_checkpoints_are_unverifiable_not_a_failure() -> None:
    journal = hand_chain(30)
    cps = signed(journal, 10, 20, 30)
    older = {k: v for k, v in journal.items() if k <= 25}
    got = check(older, cps, cps, key=None)
    assert got.status == "unverifiable" and got.ok and got.problems == []
    assert got.unchecked == 25 and got.last is None
    assert got.notes[0].startswith("no checkpoint key: 3 checkpoints cannot be verified")
    assert any(n.startswith("unauthenticated: checkpoint") and "only 25" in n
               for n in got.notes)
    assert got.to_json()["status"] == "unverifiable"


def test_watch_positions() -> None:
    cps = signed(hand_chain(30), 10, 20)
    assert watch_positions(cps, signed(hand_chain(30), 20, 30)) == {10, 20, 30}


# -- through the store: the journal rewritten or rolled back by SQL --------------------------


def _fill(store: LedgerStore, n: int) -> None:
    a, b = new_account("a", "EUR"), new_account("b", "EUR")
    store.create_accounts_batch([a, b])
    for k in range(n):
        batch = [Transfer(id=uuid7(), debit_account_id=a.id, credit_account_id=b.id,
                          amount=100 + k, currency="EUR")]
        assert store.submit_batch(batch)[0].result.value == "created"


def _verify(store: LedgerStore, watch: Iterable[int] = ()) -> VerifyReport:
    with store.engine.begin() as conn:
        return store.verify(conn, watch=watch)


def _sql(store: LedgerStore, *statements: str, params: list[dict[str, object]] | None = None
         ) -> None:
    """Raw SQL with the journal's append-only guard out of the way: the attacker."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE ledger_transfers DISABLE TRIGGER "
                              "ledger_transfers_append_only"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_transfers_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_transfers_no_delete"))
        for statement in statements:
            conn.execute(text(statement), params or {})
        # Totals made to agree with the journal again, and the head with its tail.
        conn.execute(text(
            "UPDATE ledger_accounts SET "
            "debits_posted = (SELECT COALESCE(SUM(amount), 0) FROM ledger_transfers "
            "WHERE debit_account_id = ledger_accounts.id), "
            "credits_posted = (SELECT COALESCE(SUM(amount), 0) FROM ledger_transfers "
            "WHERE credit_account_id = ledger_accounts.id)"))
        conn.execute(text(
            "UPDATE ledger_head SET "
            "transfer_count = (SELECT COUNT(*) FROM ledger_transfers), "
            "last_hash = (SELECT hash FROM ledger_transfers ORDER BY seq DESC LIMIT 1), "
            "last_timestamp = (SELECT MAX(timestamp) FROM ledger_transfers)"))


def _checkpoints_now(store: LedgerStore, *counts: int) -> list[Checkpoint]:
    report = _verify(store, set(counts))
    return [sign(JournalHead(c, report.hashes_at[c]), T0, KEY) for c in counts]


def _check(store: LedgerStore, cps: list[Checkpoint]) -> CheckpointReport:
    report = _verify(store, watch_positions(cps))
    assert report.ok, report.problems  # verify alone sees nothing wrong
    return check_checkpoints(journal_count=report.head.count, hash_at=report.hashes_at,
                             stored=cps, log=log_of(cps), key=KEY)


def test_store_journal_rewritten_with_recomputed_hashes_is_detected(engine: Engine) -> None:
    store = LedgerStore(engine)
    _fill(store, 8)
    cps = _checkpoints_now(store, 4, 8)
    assert _check(store, cps).status == "ok"
    # The attacker lowers transfer 3 and recomputes every hash from it on.
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, hash FROM ledger_transfers ORDER BY seq")).all()
        journal, _ = store.list_transfers(conn, limit=500)
    changed = [replace(t, amount=1) if k == 2 else t for k, t in enumerate(journal)]
    hashes = chain_hashes(rows[1].hash, changed[2:], 3)
    _sql(store, "UPDATE ledger_transfers SET amount = 1 WHERE seq = 3",
         *[f"UPDATE ledger_transfers SET hash = '{h}' WHERE seq = {3 + k}"
           for k, h in enumerate(hashes)])
    got = _check(store, cps)
    assert got.status == "failed"
    assert len(got.problems) == 2 and all("history rewritten" in p for p in got.problems)
    assert got.unchecked == 8


def test_store_rolled_back_to_an_older_state_is_detected(engine: Engine) -> None:
    store = LedgerStore(engine)
    _fill(store, 8)
    cps = _checkpoints_now(store, 4, 8)
    _sql(store, "DELETE FROM ledger_transfers WHERE seq > 6")
    got = _check(store, cps)
    assert got.status == "failed" and got.last == cps[0] and got.unchecked == 2
    assert got.problems == [f"checkpoint {cps[1]}: the journal has only 6 transfers (an "
                            "older copy restored, rolled back or truncated)"]
