"""Identifiers: time-ordered UUIDv7 (RFC 9562) for everything the ledger stores.

Any UUID is accepted as an id; UUIDv7 is recommended because ids created close in time
sort close together, which keeps B-tree inserts at the right edge of the index.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

__all__ = ["is_uuid", "normalize_uuid", "uuid7"]

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> str:
    """A new UUIDv7 string; ids made by this process are strictly increasing.

    48 bits of Unix milliseconds, then a 12-bit counter (random start each millisecond,
    method 1 of RFC 9562 section 6.2) so ids made within one millisecond still sort in
    creation order, then 62 random bits.
    """
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x7FF  # leave room to count
        else:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


def is_uuid(value: object) -> bool:
    """True when ``value`` is a UUID string in canonical lowercase hyphenated form."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def normalize_uuid(value: object, field: str = "id") -> str:
    """The canonical lowercase form of a UUID string; ``ValueError`` for anything else."""
    if not isinstance(value, str) or len(value) != 36:
        raise ValueError(f"{field} must be a UUID string, got {value!r}")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{field} must be a UUID string, got {value!r}") from None
