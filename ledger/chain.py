"""The journal's hash chain: each transfer's hash covers its predecessor's.

``hash_n = sha256(hash_{n-1} + canonical(transfer_n))`` in hex, starting from
``GENESIS_HASH``. The canonical form covers every field a client chose plus the
ledger's timestamp and the transfer's position (``seq``), each length-prefixed so no
two different transfers encode alike; who recorded it is appended when known (older
transfers, without it, keep their hashes). The head record keeps the last hash, the count
and the last timestamp, so a changed field, a deleted, inserted or reordered row and
a truncated tail are all detected by recomputing the chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.transfers import Transfer

__all__ = ["GENESIS_HASH", "ChainHead", "canonical", "chain_hashes", "link_hash"]

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The chain's head: last hash, how many transfers, the last timestamp; and for
    expiry, the ledger time up to which expiries have been journaled and a lower bound
    on the next one (``None``: no pending with a timeout is open), so a batch looks for
    expired pendings only when one may be due."""

    last_hash: str = GENESIS_HASH
    transfer_count: int = 0
    last_timestamp: int = 0
    expired_through: int = 0
    next_expiry: int | None = None


def _field(value: str | None) -> str:
    return "~" if value is None else f"{len(value)}:{value}"


def canonical(transfer: Transfer, seq: int) -> bytes:
    """The bytes a transfer's hash covers (stable across versions: never reorder)."""
    t = transfer
    parts = (
        f"v1|{seq}|{t.timestamp}",
        t.id, t.debit_account_id, t.credit_account_id,
        str(t.amount), t.currency, _field(t.code),
        ",".join(sorted(t.flags)),
        _field(t.pending_id),
        "~" if t.timeout_seconds is None else str(t.timeout_seconds),
        "~" if t.value_date is None else t.value_date.isoformat(),
        _field(t.user_data), _field(t.operation_id),
    )
    text = "|".join(parts)
    if t.recorded_by is not None:
        text += "|r" + _field(t.recorded_by)
    return text.encode()


def link_hash(prev_hash: str, transfer: Transfer, seq: int) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(transfer, seq)).hexdigest()


def chain_hashes(prev_hash: str, transfers: Iterable[Transfer], first_seq: int) -> list[str]:
    """Hashes of ``transfers`` appended after ``prev_hash``, from position ``first_seq``."""
    hashes: list[str] = []
    h = prev_hash
    seq = first_seq
    for t in transfers:
        h = hashlib.sha256(h.encode() + canonical(t, seq)).hexdigest()
        hashes.append(h)
        seq += 1
    return hashes
