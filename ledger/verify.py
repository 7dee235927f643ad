"""Verification: recompute the hash chain and every account's totals from the journal.

``JournalVerifier`` is fed the stored transfers in chain order (it streams: memory grows
with accounts and open pendings, not with the journal), then the stored accounts and
head, and names every mismatch it finds. It shares no code with the state machine on
purpose: it is the independent second computation of the same invariants.

A self-consistent older copy of the database verifies too; what tells it from the real
one is a head known from outside it: ``expect`` (``COUNT:HASH``, as ``filiera verify
--expect-head`` takes it) must be in the journal at that position, and the report gives
the journal's own head to note down. ``ledger.checkpoints`` builds signed heads on it.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.accounts import Account
from ledger.chain import GENESIS_HASH, ChainHead, canonical
from ledger.transfers import Transfer

__all__ = [
    "MAX_PROBLEMS",
    "JournalHead",
    "JournalVerifier",
    "VerifyReport",
    "head_problems",
    "parse_head",
    "verify_journal",
]

MAX_PROBLEMS = 200
_TOTAL_NAMES = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")


_HASH = re.compile(r"[0-9a-f]{64}")
_COUNT = re.compile(r"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True, slots=True)
class JournalHead:
    """A position in the journal: ``count`` transfers, the last one's stored ``hash``
    (``GENESIS_HASH`` for an empty journal)."""

    count: int
    hash: str

    def __post_init__(self) -> None:
        if type(self.count) is not int or not 0 <= self.count <= 2**63 - 1:
            raise ValueError("a head's count is a non-negative int")
        if not isinstance(self.hash, str) or not _HASH.fullmatch(self.hash):
            raise ValueError("a head's hash is 64 lowercase hex digits")
        if self.count == 0 and self.hash != GENESIS_HASH:
            raise ValueError("the head of an empty journal is the genesis hash")

    def __str__(self) -> str:
        return f"{self.count}:{self.hash}"

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "hash": self.hash}


def parse_head(text: str) -> JournalHead:
    """``COUNT:HASH`` (decimal count, 64 lowercase hex digits) or ``ValueError``."""
    count, sep, digest = text.strip().partition(":")
    if not sep or not _COUNT.fullmatch(count):
        raise ValueError(f"expected COUNT:HASH, got {text!r}")
    return JournalHead(int(count), digest.lower())


def head_problems(expected: JournalHead, count: int, hash_at: Mapping[int, str]) -> list[str]:
    """Whether a journal of ``count`` transfers, whose stored hash at position k is
    ``hash_at[k]``, contains ``expected`` at its position. Later transfers are fine
    (the journal grew since); fewer, or another hash there, are not."""
    where = f"expected head {expected}"
    if expected.count > count:
        return [f"{where}: the journal has only {count} transfers (an older copy, "
                "rolled back or truncated)"]
    found = GENESIS_HASH if expected.count == 0 else hash_at.get(expected.count)
    if found is None:
        raise ValueError(f"hash_at lacks position {expected.count}")
    if found != expected.hash:
        return [f"{where}: the journal's hash at position {expected.count} is {found} "
                "(history rewritten or another copy)"]
    return []


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    transfers: int
    accounts: int
    problems: list[str] = field(default_factory=list)
    head: JournalHead = JournalHead(0, GENESIS_HASH)
    # Stored hashes at the positions the verifier was asked to watch (for checkpoints).
    hashes_at: Mapping[int, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The contract's shape: ``{"ok", "transfers", "accounts", "problems", "head":
        {"count", "hash"}}``."""
        return {"ok": self.ok, "transfers": self.transfers, "accounts": self.accounts,
                "problems": list(self.problems), "head": self.head.to_json()}


class JournalVerifier:
    """``expect``: a head the journal must contain (see ``head_problems``); ``watch``:
    positions whose stored hashes the report keeps in ``hashes_at``."""

    def __init__(self, accounts: Iterable[Account], *, expect: JournalHead | None = None,
                 watch: Iterable[int] = ()) -> None:
        self.accounts = {a.id: a for a in accounts}
        self.expect = expect
        self.watch = set(watch) | ({expect.count} if expect is not None else set())
        self.hashes_at: dict[int, str] = {}
        self.totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.open_pendings: dict[str, Transfer] = {}
        self.resolved: set[str] = set()
        self.problems: list[str] = []
        self.dropped = 0
        self.count = 0
        self.prev_hash = GENESIS_HASH
        self.prev_timestamp = -1

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        else:
            self.dropped += 1

    def feed(self, seq: int, t: Transfer, stored_hash: str) -> None:
        """The next stored transfer: its position, content and stored hash."""
        self.count += 1
        where = f"transfer {t.id} (seq {seq})"
        if seq != self.count:
            self.problem(f"{where}: at position {self.count} of the journal; a row was "
                         "deleted, inserted or reordered")
        if t.timestamp <= self.prev_timestamp:
            self.problem(f"{where}: timestamp {t.timestamp} not after the previous "
                         f"{self.prev_timestamp}")
        self.prev_timestamp = t.timestamp
        # Link from the previous *stored* hash: one altered row is one problem, not all.
        expected = hashlib.sha256(self.prev_hash.encode() + canonical(t, seq)).hexdigest()
        if expected != stored_hash:
            self.problem(f"{where}: hash mismatch (content changed, or the previous row "
                         "was removed or moved)")
        self.prev_hash = stored_hash
        if self.count in self.watch:
            self.hashes_at[self.count] = stored_hash
        self._replay(t, where)

    def feed_malformed(self, seq: int, transfer_id: str, stored_hash: str,
                       reason: str) -> None:
        """A stored row that is not even a valid transfer (written behind our back)."""
        self.count += 1
        self.problem(f"transfer {transfer_id} (seq {seq}): malformed row: {reason}")
        self.prev_hash = stored_hash
        if self.count in self.watch:
            self.hashes_at[self.count] = stored_hash

    def _replay(self, t: Transfer, where: str) -> None:
        dr = self.accounts.get(t.debit_account_id)
        cr = self.accounts.get(t.credit_account_id)
        if dr is None or cr is None:
            self.problem(f"{where}: names an account that does not exist")
            return
        if t.debit_account_id == t.credit_account_id:
            self.problem(f"{where}: debits and credits the same account")
        if not t.currency == dr.currency == cr.currency:
            self.problem(f"{where}: currency {t.currency} differs from its accounts'")
        d = self.totals[dr.id]
        c = self.totals[cr.id]
        if t.pending_id is not None:
            p = self.open_pendings.pop(t.pending_id, None)
            if p is None:
                state = "already resolved" if t.pending_id in self.resolved else "not found"
                self.problem(f"{where}: resolves pending {t.pending_id}, {state}")
                return
            self.resolved.add(p.id)
            if (p.debit_account_id, p.credit_account_id) != (dr.id, cr.id):
                self.problem(f"{where}: accounts differ from pending {p.id}'s")
            expires_at = p.expires_at
            if expires_at is not None and t.timestamp >= expires_at and not t.is_expiry:
                self.problem(f"{where}: resolves pending {p.id} after it expired")
            d[0] -= p.amount
            c[2] -= p.amount
            if t.post_pending:
                if t.amount > p.amount:
                    self.problem(f"{where}: posts more than pending {p.id} reserved")
                d[1] += t.amount
                c[3] += t.amount
            elif t.amount != p.amount:
                self.problem(f"{where}: voids an amount other than pending {p.id}'s")
            return
        if t.pending:
            self.open_pendings[t.id] = t
            d[0] += t.amount
            c[2] += t.amount
        else:
            d[1] += t.amount
            c[3] += t.amount
        if dr.debits_must_not_exceed_credits and d[0] + d[1] > d[3]:
            self.problem(f"{where}: account {dr.id} debits exceed its credits")
        if cr.credits_must_not_exceed_debits and c[2] + c[3] > c[1]:
            self.problem(f"{where}: account {cr.id} credits exceed its debits")

    def finish(self, head: ChainHead | None) -> VerifyReport:
        """Compare the stored accounts and head with what the journal says."""
        if head is None:
            self.problem("head: the chain head record is missing")
        else:
            if head.transfer_count != self.count:
                self.problem(f"head: transfer_count is {head.transfer_count} but the journal "
                             f"has {self.count} transfers")
            if head.last_hash != self.prev_hash:
                self.problem("head: last_hash differs from the journal's last hash "
                             "(the tail was truncated or changed)")
            due = [p.expires_at for p in self.open_pendings.values()
                   if p.expires_at is not None]
            if due and (head.next_expiry is None or head.next_expiry > min(due)):
                self.problem(f"head: next_expiry {head.next_expiry} is after an open "
                             f"pending's expiry {min(due)} (it would never expire)")
            last_ts = max(self.prev_timestamp, 0)
            if head.last_timestamp != last_ts:
                self.problem(f"head: last_timestamp is {head.last_timestamp} but the "
                             f"journal's last is {last_ts}")
        by_currency: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for account in self.accounts.values():
            recomputed = self.totals.get(account.id, [0, 0, 0, 0])
            for name, stored, computed in zip(_TOTAL_NAMES, account.totals, recomputed,
                                              strict=True):
                if stored != computed:
                    self.problem(f"account {account.id}: {name} is {stored} but the journal "
                                 f"sums to {computed}")
            sums = by_currency[account.currency]
            for k in range(4):
                sums[k] += account.totals[k]
        for currency, (dp, dpo, cp, cpo) in sorted(by_currency.items()):
            if dpo != cpo:
                self.problem(f"currency {currency}: debits_posted {dpo} != credits_posted "
                             f"{cpo}")
            if dp != cp:
                self.problem(f"currency {currency}: debits_pending {dp} != credits_pending "
                             f"{cp}")
        if self.expect is not None:
            for text in head_problems(self.expect, self.count, self.hashes_at):
                self.problem(text)
        problems = list(self.problems)
        if self.dropped:
            problems.append(f"... and {self.dropped} more problems")
        return VerifyReport(ok=not problems, transfers=self.count,
                            accounts=len(self.accounts), problems=problems,
                            head=JournalHead(self.count, self.prev_hash),
                            hashes_at=dict(self.hashes_at))


def verify_journal(rows: Iterable[tuple[int, Transfer, str]], accounts: Iterable[Account],
                   head: ChainHead | None, *, expect: JournalHead | None = None,
                   watch: Iterable[int] = ()) -> VerifyReport:
    """Verify a whole journal given as ``(seq, transfer, stored_hash)`` in chain order."""
    verifier = JournalVerifier(accounts, expect=expect, watch=watch)
    for seq, transfer, stored_hash in rows:
        verifier.feed(seq, transfer, stored_hash)
    return verifier.finish(head)
