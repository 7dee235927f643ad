"""Signed checkpoints of the chain head, written by the running service and checked by
verify (the rules are ``ledger/checkpoints.py``).

The service signs the head with a key kept in a file outside the database
(``FILIERA_CHECKPOINT_KEY``, created owner-only on first serve) at least every 1,000
transfers, every minute with writes, and at shutdown; each checkpoint is appended to a
log file outside the database (``FILIERA_CHECKPOINT_LOG``) and fsynced first, then kept
as a row. A journal rewritten by someone without the key, checkpoints deleted from either
side, or an older copy of the database restored: verify names each.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select

from ledger.checkpoints import (
    Checkpoint,
    CheckpointReport,
    check_checkpoints,
    checkpoint_due,
    checkpoint_line,
    key_from_file,
    new_key_file,
    parse_log,
    sign,
    signature_ok,
    watch_positions,
)
from ledger.store import LedgerStore
from ledger.verify import JournalHead, VerifyReport
from service.db.engine import read_tx, write_tx
from service.db.tables import ledger_checkpoints

log = logging.getLogger("filiera.checkpoints")

TICK_SECONDS = 1.0


def read_key(path: Path | None) -> bytes | None:
    """The key in ``path``, or None when there is no such file."""
    if path is None or not path.is_file():
        return None
    return key_from_file(path.read_bytes())


def ensure_key(path: Path) -> bytes:
    """The key, made (owner-only) when the file does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under another name, then linked into place: a process serving
        # the same database never reads a half-written key, and only one key wins.
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(new_key_file())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = read_key(path)
    assert key is not None
    return key


def stored_checkpoints(conn: Connection) -> list[Checkpoint]:
    rows = conn.execute(select(ledger_checkpoints).order_by(ledger_checkpoints.c.seq))
    return [Checkpoint(int(r["count"]), r["hash"],
                       r["at"] if r["at"].tzinfo else r["at"].replace(tzinfo=UTC),
                       r["signature"])
            for r in rows.mappings()]


def read_log(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    return path.read_text()


def verify_with_checkpoints(conn: Connection, store: LedgerStore, *,
                            expect: JournalHead | None, key_file: Path | None,
                            log_file: Path | None
                            ) -> tuple[VerifyReport, CheckpointReport]:
    """The journal verified, and its checkpoints (database and log) checked against it."""
    stored = stored_checkpoints(conn)
    text = read_log(log_file)
    contents = parse_log(text) if text is not None else None
    logged = contents.checkpoints if contents is not None else ()
    report = store.verify(conn, expect=expect, watch=watch_positions(stored, logged))
    checked = check_checkpoints(journal_count=report.head.count, hash_at=report.hashes_at,
                                stored=stored, log=contents, key=read_key(key_file))
    return report, checked


class CheckpointWriter:
    """Checks the head once a second (one cheap read) and writes a checkpoint when one is
    due; ``close`` writes the last one."""

    def __init__(self, store: LedgerStore, engine: Engine, key_file: Path, log_file: Path,
                 interval: float = TICK_SECONDS) -> None:
        self.store = store
        self.engine = engine
        self.key = ensure_key(key_file)
        self.log_file = log_file
        self.interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="ledger-checkpoints",
                                        daemon=True)
        self.last: Checkpoint | None = self._recover()

    def _recover(self) -> Checkpoint | None:
        """The newest checkpoint, after keeping the row of one that reached the log but not
        the database (the service stopped in between): otherwise the next checkpoint would
        make it look deleted from the database."""
        text = read_log(self.log_file)
        with write_tx(self.engine) as conn:
            stored = stored_checkpoints(conn)
            logged = parse_log(text).checkpoints if text is not None else ()
            head = self.store.get_head(conn)
            count = head.transfer_count if head is not None else 0
            for c in logged:
                if (c not in stored and c.count <= count and c.signature
                        and signature_ok(c, self.key)):
                    conn.execute(insert(ledger_checkpoints).values(
                        count=c.count, hash=c.hash, at=c.at, signature=c.signature))
                    stored.append(c)
        return max(stored, key=lambda c: (c.count, c.at), default=None)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self.write(force=True)
        except Exception as exc:  # shutdown goes on; verify reports what is unchecked
            log.warning("no checkpoint at shutdown: %s", exc)

    def write(self, *, force: bool = False, now: datetime | None = None) -> Checkpoint | None:
        """A checkpoint of the current head when one is due (``force``: whenever the head
        moved since the last one)."""
        now = now or datetime.now(UTC)
        with self._lock:
            with read_tx(self.engine) as conn:
                head = self.store.get_head(conn)
            if head is None:
                return None
            count = head.transfer_count
            moved = self.last is None or count != self.last.count
            if count == 0 or not moved:
                return None
            if not force and not checkpoint_due(count, self.last, now):
                return None
            checkpoint = sign(JournalHead(count, head.last_hash), now, self.key)
            # The log first, on disk, then the row: a crash in between leaves the newest
            # checkpoint in the log only, which verify takes for what it is.
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as out:
                out.write(checkpoint_line(checkpoint))
                out.flush()
                os.fsync(out.fileno())
            with write_tx(self.engine) as conn:
                conn.execute(insert(ledger_checkpoints).values(
                    count=checkpoint.count, hash=checkpoint.hash, at=checkpoint.at,
                    signature=checkpoint.signature))
            self.last = checkpoint
            return checkpoint

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.write()
            except Exception as exc:  # a busy database: the next tick tries again
                log.warning("checkpoint not written: %s", exc)
