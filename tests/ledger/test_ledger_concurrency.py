"""Concurrent writers: 8 threads (each its own connection) post 500 transfers each
between a few accounts that must not go negative, with linked chains, pendings and
duplicates (their own and other threads'). Afterwards the limits held, every currency
sums to zero, every id exists once, the totals equal a recomputation from what the
clients were told was created, and verify is ok. Directly through the store, and
through the group-commit writer."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from ledger.accounts import Account, new_account
from ledger.group_commit import GroupCommitWriter
from ledger.ids import uuid7
from ledger.store import LedgerStore, is_unavailable, ledger_transfers
from ledger.transfers import Transfer, TransferFlag, TransferResult, post_pending_of

THREADS = 8
PER_THREAD = 500
FUNDING = 3_000

Submit = Callable[[Sequence[Transfer]], list[TransferResult]]


def tr(debit: Account, credit: Account, amount: int, *flags: TransferFlag) -> Transfer:
    return Transfer(id=uuid7(), debit_account_id=debit.id, credit_account_id=credit.id,
                    amount=amount, currency="EUR", flags=frozenset(flags))


def setup(store: LedgerStore) -> tuple[Account, list[Account]]:
    bank = new_account("bank", "EUR")
    limited = [new_account(f"member-{i}", "EUR", flags=["debits_must_not_exceed_credits"])
               for i in range(4)]
    store.create_accounts_batch([bank, *limited])
    funding = [tr(bank, acct, FUNDING) for acct in limited]
    assert all(r.result == "created" for r in store.submit_batch(funding))
    return bank, limited


def worker(seed: int, submit: Submit, accounts: list[Account], shared: list[Transfer],
           lock: threading.Lock, log: list[tuple[Transfer, str]]) -> None:
    rng = random.Random(seed)
    mine: list[Transfer] = []
    open_pendings: list[Transfer] = []
    sent = 0
    while sent < PER_THREAD:
        batch: list[Transfer] = []
        while len(batch) < 10:
            roll = rng.random()
            d, c = rng.sample(accounts, 2)
            if roll < 0.15 and mine:  # a duplicate of ours or another thread's
                with lock:
                    pool = shared if rng.random() < 0.5 and shared else mine
                    batch.append(rng.choice(pool))
            elif roll < 0.35:  # a linked chain of two or three
                size = rng.choice([2, 3])
                chain = [tr(d, c, rng.randint(1, 400), TransferFlag.LINKED)
                         for _ in range(size - 1)]
                chain.append(tr(c, d, rng.randint(1, 400)))
                batch.extend(chain)
            elif roll < 0.45:
                p = tr(d, c, rng.randint(1, 300), TransferFlag.PENDING)
                batch.append(p)
                open_pendings.append(p)
            elif roll < 0.55 and open_pendings:
                p = open_pendings.pop(rng.randrange(len(open_pendings)))
                batch.append(post_pending_of(p, rng.randint(1, p.amount)))
            else:
                batch.append(tr(d, c, rng.randint(1, 300)))
        results = submit(batch)
        assert [r.id for r in results] == [t.id for t in batch]
        log.extend((t, r.result.value) for t, r in zip(batch, results, strict=True))
        mine.extend(batch)
        with lock:
            shared.extend(batch[:3])
        sent += len(batch)


def run(submit: Submit, accounts: list[Account]) -> list[tuple[Transfer, str]]:
    shared: list[Transfer] = []
    lock = threading.Lock()
    logs: list[list[tuple[Transfer, str]]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            worker(i, submit, accounts, shared, lock, logs[i])
        except BaseException as exc:  # surfaced below: a thread must not fail silently
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return [entry for log in logs for entry in log]


def check(store: LedgerStore, bank: Account, limited: list[Account],
          log: list[tuple[Transfer, str]]) -> None:
    created = [t for t, result in log if result == "created"]
    counts = Counter(t.id for t in created)
    assert all(n == 1 for n in counts.values()), "an id was created twice"
    assert {result for _, result in log} <= {
        "created", "exists", "exceeds_credits", "linked_event_failed",
        "pending_already_posted", "pending_not_found",  # a post of a refused pending
        "linked_event_chain_open"}  # a repeated linked event sent last
    # Refused or repeated events never answered "created": recompute from the clients'
    # own record (funding first, then what each was told was created).
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    sums[bank.id][1] += FUNDING * len(limited)
    for acct in limited:
        sums[acct.id][3] += FUNDING
    pendings = {t.id: t for t in created if TransferFlag.PENDING in t.flags}
    for t in created:
        d, c = sums[t.debit_account_id], sums[t.credit_account_id]
        if t.pending_id is not None:
            p = pendings[t.pending_id]
            d[0] -= p.amount
            c[2] -= p.amount
            d[1] += t.amount
            c[3] += t.amount
        elif TransferFlag.PENDING in t.flags:
            d[0] += t.amount
            c[2] += t.amount
        else:
            d[1] += t.amount
            c[3] += t.amount
    with store.engine.begin() as conn:
        accounts = store.get_accounts(conn, [bank.id, *(a.id for a in limited)])
        rows = conn.execute(select(ledger_transfers.c.id, func.count())
                            .group_by(ledger_transfers.c.id)).all()
        report = store.verify(conn)
    for acct in accounts.values():
        assert list(acct.totals) == sums[acct.id], acct.code
        if acct.debits_must_not_exceed_credits:
            assert acct.debits_pending + acct.debits_posted <= acct.credits_posted
    assert sum(a.debits_posted for a in accounts.values()) == sum(
        a.credits_posted for a in accounts.values())
    assert sum(a.debits_pending for a in accounts.values()) == sum(
        a.credits_pending for a in accounts.values())
    assert all(n == 1 for _, n in rows)
    assert len(rows) == len(counts) + len(limited)  # plus the funding transfers
    assert report.ok, report.problems
    # The workload really contended: some transfers were refused by the limit.
    assert sum(1 for _, r in log if r == "exceeds_credits") > 0
    assert sum(1 for _, r in log if r == "exists") > 0


def test_concurrent_writers_through_the_store(engine: Engine) -> None:
    store = LedgerStore(engine)
    bank, limited = setup(store)
    log = run(store.submit_batch, limited)
    check(store, bank, limited, log)


def test_concurrent_writers_through_group_commit(engine: Engine) -> None:
    store = LedgerStore(engine)
    bank, limited = setup(store)
    calls: list[int] = []

    with GroupCommitWriter(store) as writer:
        def counted(batch: Sequence[Transfer]) -> list[TransferResult]:
            calls.append(len(batch))
            return writer.submit(batch)

        log = run(counted, limited)
        groups, batches = writer.groups, writer.batches
    check(store, bank, limited, log)
    assert batches == len(calls) and 1 <= groups <= batches


def test_group_commit_attributes_a_failure_to_its_own_batch(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the group's transaction fails, each batch is written alone: the one that
    fails gets the exception, the others their results."""
    store = LedgerStore(engine)
    _bank, limited = setup(store)
    a, b = limited[0], limited[1]
    poison = tr(a, b, 7)
    release = threading.Event()
    real_many, real_one = store.submit_many_batch, store.submit_batch

    def many(batches: Sequence[Sequence[Transfer]], now: object = None,
             companions: object = ()) -> list[list[TransferResult]]:
        release.wait(10)  # hold the first group so the others queue up behind it
        if any(poison in batch for batch in batches):
            raise RuntimeError("group transaction failed")
        return real_many(batches)

    def one(batch: Sequence[Transfer], now: object = None, companion: object = None
            ) -> list[TransferResult]:
        if poison in batch:
            raise RuntimeError("this batch's own failure")
        return real_one(batch)

    monkeypatch.setattr(store, "submit_many_batch", many)
    monkeypatch.setattr(store, "submit_batch", one)
    with GroupCommitWriter(store) as writer:
        futures = [writer.submit_future([tr(a, b, 1)])]
        futures += [writer.submit_future([tr(a, b, 1)]) for _ in range(3)]
        futures.append(writer.submit_future([poison]))
        futures += [writer.submit_future([tr(a, b, 1)]) for _ in range(3)]
        release.set()
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result(timeout=30)[0].result.value)
            except RuntimeError as exc:
                outcomes.append(str(exc))
    assert outcomes == ["created"] * 4 + ["this batch's own failure"] + ["created"] * 3
    with store.engine.connect() as conn:
        got = store.get_account(conn, a.id)
    assert got is not None and got.debits_posted == 7


def test_group_commit_fails_the_whole_group_when_the_database_is_unavailable(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lost connection (or SQLite's lock past the busy timeout) is no batch's own
    fault: every caller of the group gets it at once, none is written alone (each alone
    would wait for the database again), and each may send its batch again."""
    store = LedgerStore(engine)
    _bank, limited = setup(store)
    a, b = limited[0], limited[1]
    release = threading.Event()
    alone: list[int] = []

    def many(batches: Sequence[Sequence[Transfer]], now: object = None,
             companions: object = ()) -> list[list[TransferResult]]:
        release.wait(10)  # hold the first group so the others queue up behind it
        raise OperationalError("COMMIT", {}, Exception("server closed the connection "
                                                       "unexpectedly"))

    def one(batch: Sequence[Transfer], now: object = None, companion: object = None
            ) -> list[TransferResult]:
        alone.append(len(batch))
        raise AssertionError("not written alone")

    monkeypatch.setattr(store, "submit_many_batch", many)
    monkeypatch.setattr(store, "submit_batch", one)
    sent = [[tr(a, b, 1)] for _ in range(6)]
    with GroupCommitWriter(store) as writer:
        futures = [writer.submit_future(batch) for batch in sent]
        release.set()
        errors = [future.exception(timeout=30) for future in futures]
    assert all(isinstance(e, OperationalError) and is_unavailable(e) for e in errors), errors
    assert alone == []
    monkeypatch.undo()
    # Sent again, each is written once.
    with GroupCommitWriter(store) as writer:
        again = [writer.submit(batch)[0].result.value for batch in sent]
    assert again == ["created"] * 6
    with store.engine.connect() as conn:
        got = store.get_account(conn, a.id)
    assert got is not None and got.debits_posted == 6


def test_group_commit_from_an_event_loop(engine: Engine) -> None:
    store = LedgerStore(engine)
    _bank, limited = setup(store)
    a, b = limited[0], limited[1]

    async def main(writer: GroupCommitWriter) -> list[list[TransferResult]]:
        batches = [[tr(a, b, 1)] for _ in range(40)]
        # One batch that must fail alone without failing its neighbours.
        batches.append([tr(a, b, 10 * FUNDING)])
        return await asyncio.gather(*(writer.submit_async(batch) for batch in batches))

    with GroupCommitWriter(store) as writer:
        results = asyncio.run(main(writer))
    assert [r[0].result.value for r in results] == ["created"] * 40 + ["exceeds_credits"]
    with store.engine.connect() as conn:
        got = store.get_account(conn, a.id)
    assert got is not None and got.debits_posted == 40
