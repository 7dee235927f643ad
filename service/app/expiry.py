"""The clock that expires pending transfers when nothing else is written."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from ledger.store import LedgerStore
from service.db.engine import read_tx, write_tx

log = logging.getLogger("filiera.ledger")

EXPIRY_INTERVAL_SECONDS = 1.0


class PendingExpiry:
    """Voids pending transfers whose timeout has passed within about a second, so an
    expired reservation stops counting in account totals even when nothing else is
    written (every write batch also expires what is due on its way in). One cheap read
    of the chain head a tick; a write only when the head says something is due."""

    def __init__(self, store: LedgerStore, engine: Engine,
                 interval: float = EXPIRY_INTERVAL_SECONDS) -> None:
        self.store = store
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-expiry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def tick(self) -> int:
        """Expire what is due now; how many pending transfers were voided."""
        with read_tx(self.engine) as conn:
            head = self.store.get_head(conn)
        if head is None or head.next_expiry is None or head.next_expiry > time.time_ns():
            return 0
        with write_tx(self.engine) as conn:
            return self.store.expire_pending(conn)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception as exc:  # a busy database: the next tick tries again
                log.warning("pending-transfer expiry did not run: %s", exc)
