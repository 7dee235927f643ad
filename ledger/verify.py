"""Verification: recompute the hash chain and every account's totals from the journal.

``JournalVerifier`` is fed the stored transfers in chain order (it streams: memory grows
with accounts and open pendings, not with the journal), then the stored accounts and
head, and names every mismatch it finds. It shares no code with the state machine on
purpose: it is the independent second computation of the same invariants.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ledger.accounts import Account
from ledger.chain import GENESIS_HASH, ChainHead, canonical
from ledger.transfers import Transfer

__all__ = ["MAX_PROBLEMS", "JournalVerifier", "VerifyReport", "verify_journal"]

MAX_PROBLEMS = 200
_TOTAL_NAMES = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    transfers: int
    accounts: int
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The contract's shape: ``{"ok", "transfers", "accounts", "problems"}``."""
        return {"ok": self.ok, "transfers": self.transfers, "accounts": self.accounts,
                "problems": list(self.problems)}


class JournalVerifier:
    def __init__(self, accounts: Iterable[Account]) -> None:
        self.accounts = {a.id: a for a in accounts}
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
        self._replay(t, where)

    def feed_malformed(self, seq: int, transfer_id: str, stored_hash: str,
                       reason: str) -> None:
        """A stored row that is not even a valid transfer (written behind our back)."""
        self.count += 1
        self.problem(f"transfer {transfer_id} (seq {seq}): malformed row: {reason}")
        self.prev_hash = stored_hash

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
        problems = list(self.problems)
        if self.dropped:
            problems.append(f"... and {self.dropped} more problems")
        return VerifyReport(ok=not problems, transfers=self.count,
                            accounts=len(self.accounts), problems=problems)


def verify_journal(rows: Iterable[tuple[int, Transfer, str]], accounts: Iterable[Account],
                   head: ChainHead | None) -> VerifyReport:
    """Verify a whole journal given as ``(seq, transfer, stored_hash)`` in chain order."""
    verifier = JournalVerifier(accounts)
    for seq, transfer, stored_hash in rows:
        verifier.feed(seq, transfer, stored_hash)
    return verifier.finish(head)
