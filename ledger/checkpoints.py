"""Signed checkpoints of the chain head: what tells the real journal from an older copy
or from a history rewritten by someone who can write the database.

The chain is plain SHA-256, so whoever can write the database can rewrite a transfer
and recompute every hash after it; and an older copy of the database is a shorter,
self-consistent journal. A checkpoint is a head (``count`` transfers, the ``hash`` of
the last) at a time ``at``, signed with HMAC-SHA256 under a key kept outside the
database. The service keeps each checkpoint twice: a row in the database and a line
appended to a log file outside it (write the line and fsync it first, then the row:
a crash in between leaves only the newest checkpoint in the log, which ``check`` takes
for what it is). ``check_checkpoints`` then finds:

* forged or unsigned checkpoints (a signature that is not the key's);
* checkpoints deleted from the database or from the log (signed, on one side only);
* a journal that does not hold a checkpointed hash at its position: rewritten, rolled
  back to an older copy, or truncated;
* how many transfers come after the last checkpoint the journal matches (``unchecked``:
  nothing vouches for those yet).

Without the key nothing can be authenticated: the status is ``unverifiable``, said
plainly and not a failure, since a restore on a new machine must remain possible.

What it cannot see: a rewrite of transfers after the last checkpoint (they are
``unchecked``), and checkpoints deleted from both the database and the log together
(``unchecked`` then grows past the checkpoint interval, which the caller can flag).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from ledger.chain import GENESIS_HASH
from ledger.verify import JournalHead

__all__ = [
    "MIN_KEY_BYTES",
    "Checkpoint",
    "CheckpointReport",
    "LogContents",
    "check_checkpoints",
    "checkpoint_due",
    "checkpoint_line",
    "format_at",
    "key_from_file",
    "new_key_file",
    "parse_line",
    "parse_log",
    "sign",
    "signature_ok",
    "watch_positions",
]

MIN_KEY_BYTES = 32
_TAG = "filiera-checkpoint"
_VERSION = "v1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_AT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                 r"\.([0-9]{6})Z")
_COUNT = re.compile(r"0|[1-9][0-9]{0,18}")

Status = Literal["ok", "failed", "unverifiable"]


def format_at(at: datetime) -> str:
    """The one spelling of a checkpoint's time that is signed: UTC, microseconds."""
    if at.tzinfo is None:
        raise ValueError("a checkpoint's time must be timezone-aware")
    t = at.astimezone(UTC)
    # Spelled out: strftime's %Y gives years before 1000 fewer than 4 digits.
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:"
            f"{t.second:02d}.{t.microsecond:06d}Z")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A head at a time, with its HMAC-SHA256 signature in hex (``""``: unsigned)."""

    count: int
    hash: str
    at: datetime
    signature: str = ""

    def __post_init__(self) -> None:
        JournalHead(self.count, self.hash)  # validates count and hash
        if not isinstance(self.at, datetime) or self.at.tzinfo is None:
            raise ValueError("a checkpoint's time is a timezone-aware datetime")
        object.__setattr__(self, "at", self.at.astimezone(UTC))
        if self.signature and not _HEX64.fullmatch(self.signature):
            raise ValueError("a checkpoint's signature is 64 lowercase hex digits")

    @property
    def head(self) -> JournalHead:
        return JournalHead(self.count, self.hash)

    def __str__(self) -> str:
        return f"{self.count}:{self.hash} at {format_at(self.at)}"

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "hash": self.hash, "at": format_at(self.at)}


def _message(count: int, digest: str, at: datetime) -> bytes:
    # Tagged and versioned, so a signature made for anything else never passes here.
    return f"{_TAG}|{_VERSION}|{count}|{digest}|{format_at(at)}".encode()


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise ValueError(f"a checkpoint key has at least {MIN_KEY_BYTES} bytes")


def sign(head: JournalHead, at: datetime, key: bytes) -> Checkpoint:
    _check_key(key)
    mac = hmac.new(key, _message(head.count, head.hash, at), hashlib.sha256).hexdigest()
    return Checkpoint(head.count, head.hash, at, mac)


def signature_ok(checkpoint: Checkpoint, key: bytes) -> bool:
    _check_key(key)
    if not checkpoint.signature:
        return False
    mac = hmac.new(key, _message(checkpoint.count, checkpoint.hash, checkpoint.at),
                   hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, checkpoint.signature)


# -- the key file ------------------------------------------------------------------------


def new_key_file() -> bytes:
    """What to write to a new key file (owner-only): 32 random bytes in hex."""
    return secrets.token_hex(32).encode() + b"\n"


def key_from_file(content: bytes) -> bytes:
    """The key in a key file's content (surrounding whitespace is not part of it)."""
    key = content.strip()
    _check_key(key)
    return key


# -- the log file --------------------------------------------------------------------------


def checkpoint_line(checkpoint: Checkpoint) -> str:
    """One line of the log (newline included): tag, version, count, hash, time,
    signature (``-`` when unsigned)."""
    c = checkpoint
    return f"{_TAG} {_VERSION} {c.count} {c.hash} {format_at(c.at)} {c.signature or '-'}\n"


def parse_line(line: str) -> Checkpoint:
    """A checkpoint from one log line (its newline optional), or ``ValueError``."""
    parts = line.removesuffix("\n").split(" ")
    if len(parts) != 6 or parts[0] != _TAG or parts[1] != _VERSION:
        raise ValueError("not a checkpoint line")
    _, _, count, digest, at, signature = parts
    when_parts = _AT.fullmatch(at)
    if not _COUNT.fullmatch(count) or when_parts is None:
        raise ValueError("bad count or time")
    try:
        y, mo, d, h, mi, sec, us = (int(g) for g in when_parts.groups())
        when = datetime(y, mo, d, h, mi, sec, us, tzinfo=UTC)
    except ValueError:
        raise ValueError("bad time") from None
    if signature == "-":
        signature = ""
    elif not _HEX64.fullmatch(signature):
        raise ValueError("bad signature")
    return Checkpoint(int(count), digest, when, signature)


@dataclass(frozen=True, slots=True)
class LogContents:
    """A log file read: its checkpoints in order, the lines that are not checkpoints
    (as ``"line N: reason"``), and whether the last line lacks its newline (an append
    cut short by a crash: ignored, not a checkpoint)."""

    checkpoints: tuple[Checkpoint, ...]
    malformed: tuple[str, ...] = ()
    torn_tail: bool = False


def parse_log(text: str) -> LogContents:
    lines = text.split("\n")
    torn = lines[-1] != ""  # text not ending in a newline
    found: list[Checkpoint] = []
    malformed: list[str] = []
    for number, line in enumerate(lines[:-1], start=1):
        try:
            found.append(parse_line(line))
        except ValueError as exc:
            malformed.append(f"line {number}: {exc}")
    return LogContents(tuple(found), tuple(malformed), torn)


# -- when to write one -----------------------------------------------------------------------


def checkpoint_due(count: int, last: Checkpoint | None, now: datetime, *, every: int = 1000,
                   interval: timedelta = timedelta(minutes=1)) -> bool:
    """Whether the head at ``count`` needs a checkpoint: it moved since ``last`` and
    by ``every`` transfers, or ``interval`` has passed (API.md: at least every 1,000
    transfers and every minute with writes; at shutdown, call ``sign`` regardless)."""
    if last is None:
        return count > 0
    if count == last.count:
        return False
    return count - last.count >= every or now - last.at >= interval


# -- checking ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckpointReport:
    """``status``: ``ok``, ``failed`` (``problems`` says why) or ``unverifiable`` (no
    key: nothing authenticated, not a failure). ``last``: the newest checkpoint the
    journal matches (signed, when a key was given); ``unchecked``: transfers after it.
    ``notes``: what is worth knowing but proves nothing wrong."""

    status: Status
    checkpoints: int
    last: Checkpoint | None
    unchecked: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "checkpoints": self.checkpoints,
                "last": None if self.last is None else self.last.to_json(),
                "unchecked": self.unchecked, "problems": list(self.problems),
                "notes": list(self.notes)}


def watch_positions(*groups: Iterable[Checkpoint]) -> set[int]:
    """The journal positions whose hashes ``check_checkpoints`` needs (pass them to
    ``LedgerStore.verify(watch=...)``)."""
    return {c.count for group in groups for c in group}


def _journal_problem(c: Checkpoint, journal_count: int,
                     hash_at: Mapping[int, str]) -> str | None:
    if c.count > journal_count:
        return (f"checkpoint {c}: the journal has only {journal_count} transfers (an older "
                "copy restored, rolled back or truncated)")
    found = GENESIS_HASH if c.count == 0 else hash_at.get(c.count)
    if found is None:
        raise ValueError(f"hash_at lacks position {c.count}")
    if found != c.hash:
        return (f"checkpoint {c}: the journal's hash at position {c.count} is {found} "
                "(history rewritten, or rolled back and written again)")
    return None


def check_checkpoints(*, journal_count: int, hash_at: Mapping[int, str],
                      stored: Sequence[Checkpoint], log: LogContents | None,
                      key: bytes | None) -> CheckpointReport:
    """Check the checkpoints in the database (``stored``) and in the log file (``log``;
    ``None`` when there is no log to read) against each other and against a journal of
    ``journal_count`` transfers whose stored hash at position k is ``hash_at[k]`` (at
    least at every checkpoint's position that is within the journal; see
    ``watch_positions``), under ``key`` (``None``: not available)."""
    in_db = set(stored)
    in_log = set(log.checkpoints) if log is not None else set()
    every = sorted(in_db | in_log, key=lambda c: (c.count, c.at, c.hash, c.signature))
    problems: list[str] = []
    notes: list[str] = []
    if log is None:
        notes.append("no checkpoint log to read: checkpoints deleted from the database "
                     "cannot be told from ones never written")
    elif log.torn_tail:
        notes.append("the checkpoint log's last line is incomplete (an append cut short) "
                     "and was ignored")
    if not every:
        notes.append("no checkpoints yet")

    if key is None:
        mismatched = [p for c in every
                      if (p := _journal_problem(c, journal_count, hash_at)) is not None]
        notes.insert(0, f"no checkpoint key: {len(every)} checkpoints cannot be verified, "
                        "so a journal rewritten by whoever can write the database, or an "
                        "older copy, would go unnoticed")
        notes += [f"unauthenticated: {p}" for p in mismatched]
        if log is not None:
            notes += [f"checkpoint log {m}" for m in log.malformed]
        return CheckpointReport("unverifiable", len(every), None, journal_count,
                                problems, notes)

    if log is not None:
        problems += [f"checkpoint log {m} (not written by the service)"
                     for m in log.malformed]
    valid: list[Checkpoint] = []
    for c in every:
        where = " and ".join(name for name, side in (("database", in_db), ("log", in_log))
                             if c in side)
        if not c.signature:
            problems.append(f"checkpoint {c} in the {where} is unsigned")
        elif not signature_ok(c, key):
            problems.append(f"checkpoint {c} in the {where} is forged (its signature is "
                            "not the key's)")
        else:
            valid.append(c)
    newest = max(valid, key=lambda c: (c.count, c.at), default=None)
    for c in valid:
        if log is not None and c in in_db and c not in in_log:
            problems.append(f"checkpoint {c} is in the database but not in the log "
                            "(deleted from the log)")
        if c not in in_db:
            if c is newest:
                # Logged first, then a crash before the database row was committed.
                notes.append(f"checkpoint {c}, the newest, is only in the log (its "
                             "database row was not committed)")
            else:
                problems.append(f"checkpoint {c} is in the log but not in the database "
                                "(deleted from the database)")
    matching: list[Checkpoint] = []
    for c in valid:
        problem = _journal_problem(c, journal_count, hash_at)
        if problem is None:
            matching.append(c)
        else:
            problems.append(problem)
    last = max(matching, key=lambda c: (c.count, c.at), default=None)
    unchecked = journal_count - (last.count if last is not None else 0)
    return CheckpointReport("failed" if problems else "ok", len(every), last, unchecked,
                            problems, notes)
