"""Group commit: one writer thread turns many small batches into one transaction.

Callers (worker threads, or coroutines on an event loop) hand in a batch and wait.
The writer takes every batch waiting at that moment (up to ``max_batches``), applies
them in sequence with the pure state machine, so each keeps its own linked
all-or-nothing semantics and one batch's refusal never fails another, writes them all
in one transaction, and answers each caller only after the commit. One fsync then
serves many callers. If that transaction fails, each batch is written again alone
(``LedgerStore.submit_batch``, with its retries) so a failure is reported to the caller
whose batch caused it and to no one else; except when the database itself could not be
used (``is_unavailable``: a lost connection, SQLite's lock held past the busy timeout):
then every caller of the group gets that error, to send its batch again (its transfer
ids make a second send harmless), rather than each batch waiting for the database alone.

A batch may bring a ``Companion``: a row of the caller's (the request's audit entry)
written in the transaction that writes the batch, so it commits exactly when the batch
does, without a transaction of its own for the caller to wait for.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from datetime import datetime

from ledger.store import Companion, LedgerStore, is_unavailable
from ledger.transfers import Transfer, TransferResult

__all__ = ["GroupCommitWriter", "WriterClosed"]


class WriterClosed(RuntimeError):
    """The writer was closed before this batch could be written."""


_Request = tuple[list[Transfer], "int | datetime | None", "Companion | None",
                 "Future[list[TransferResult]]"]


class GroupCommitWriter:
    def __init__(self, store: LedgerStore, max_batches: int = 256) -> None:
        if max_batches < 1:
            raise ValueError("max_batches must be at least 1")
        self.store = store
        self.max_batches = max_batches
        self._queue: deque[_Request] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.groups = 0  # transactions written (for benchmarks and tests)
        self.batches = 0
        self._thread = threading.Thread(target=self._run, name="ledger-group-commit",
                                        daemon=True)
        self._thread.start()

    def submit_future(self, transfers: Sequence[Transfer], now: int | datetime | None = None,
                      companion: Companion | None = None) -> Future[list[TransferResult]]:
        """Queue a batch (and its companion row, if any); the future resolves with its
        results after commit."""
        future: Future[list[TransferResult]] = Future()
        with self._cond:
            if self._closed:
                raise WriterClosed("the group-commit writer is closed")
            self._queue.append((list(transfers), now, companion, future))
            self._cond.notify()
        return future

    def submit(self, transfers: Sequence[Transfer], now: int | datetime | None = None,
               companion: Companion | None = None) -> list[TransferResult]:
        """Blocking: write ``transfers`` as one batch and return its results."""
        return self.submit_future(transfers, now, companion).result()

    async def submit_async(self, transfers: Sequence[Transfer],
                           now: int | datetime | None = None,
                           companion: Companion | None = None) -> list[TransferResult]:
        """Await the results without blocking the event loop (the writer thread sets the
        future; ``wrap_future`` hands it over with ``call_soon_threadsafe``)."""
        return await asyncio.wrap_future(self.submit_future(transfers, now, companion))

    def close(self, timeout: float | None = None) -> None:
        """Stop taking batches, write those already queued, stop the thread (``timeout``
        in seconds)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def __enter__(self) -> GroupCommitWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take(self) -> list[_Request] | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if not self._queue:
                return None
            group: list[_Request] = []
            while self._queue and len(group) < self.max_batches:
                group.append(self._queue.popleft())
            return group

    def _run(self) -> None:
        # One connection kept for the groups while they come (no pool ping per group).
        with self.store.holding_connection():
            while True:
                group = self._take()
                if group is None:
                    return
                live = [r for r in group if r[3].set_running_or_notify_cancel()]
                if live:
                    self._write(live)

    def _write(self, group: list[_Request]) -> None:
        # One clock for the group: the latest "now" any caller gave (None = wall clock).
        nows = [r[1] for r in group]
        now = None if any(n is None for n in nows) else max(nows, key=_as_ns)
        try:
            results = self.store.submit_many_batch([r[0] for r in group], now,
                                                   [r[2] for r in group])
        except Exception as exc:
            if len(group) == 1 or is_unavailable(exc):
                for *_, future in group:
                    future.set_exception(exc)
            else:
                self._write_alone(group)
            return
        self.groups += 1
        self.batches += len(group)
        for (*_, future), batch_results in zip(group, results, strict=True):
            future.set_result(batch_results)

    def _write_alone(self, group: list[_Request]) -> None:
        for request in group:
            transfers, now, companion, future = request
            try:
                future.set_result(self.store.submit_batch(transfers, now, companion))
                self.groups += 1
                self.batches += 1
            except Exception as exc:
                future.set_exception(exc)


def _as_ns(now: int | datetime | None) -> int:
    if isinstance(now, datetime):
        return int(now.timestamp()) * 1_000_000_000 + now.microsecond * 1_000
    return now or 0
