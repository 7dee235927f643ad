"""The ledger's state machine: a pure function from (batch, state) to results and totals.

``apply_batch(batch, state, now)`` never mutates its inputs and does no I/O: the store
loads the part of the state a batch can touch (its accounts, the existing transfers
with the batch's ids, the pendings it references and how they were resolved), calls
this function, and writes what it returns. The group-commit writer calls it for several
batches in sequence, feeding each the state the previous one left (``next_state``).

Rules (TigerBeetle's, unless noted):

* Events apply in order; each created transfer gets the next timestamp
  (``max(now, last_timestamp + 1)``, then +1 per created transfer).
* Idempotency first: an id that exists already (in the ledger, or created earlier in
  the same batch) answers ``exists`` when every client field is equal and
  ``exists_with_different_fields`` otherwise, before any other check, so a retry
  answers ``exists`` even if the accounts changed since (TigerBeetle checks the
  accounts first; answering a retry the same way every time matters more here).
  ``exists`` is not a failure: it does not break a linked chain, so a replayed batch
  answers ``exists`` throughout.
* Then, in this order: ``accounts_must_be_different``, ``account_not_found`` (debit
  account, then credit account), ``currency_mismatch`` (the transfer's currency must
  be both accounts' currency), the two-phase checks below, ``account_closed`` (either
  account flagged closed; a void may still release a reservation on a closed
  account), then overflow: ``debits_pending + debits_posted + amount`` of the debit
  account past ``MAX_AMOUNT`` (2^63 - 1, what a BIGINT holds) -> ``overflows_debits``,
  else ``credits_pending + credits_posted + amount`` of the credit account past it ->
  ``overflows_credits`` (TigerBeetle's ``overflows_debits``/``overflows_credits``, and
  its order: before the limits, so an account without limits never answers a funds
  refusal); then the balance limits: with ``debits_must_not_exceed_credits`` on the
  debit account, ``debits_pending + debits_posted + amount > credits_posted`` ->
  ``exceeds_credits``; with ``credits_must_not_exceed_debits`` on the credit account,
  ``credits_pending + credits_posted + amount > debits_posted`` -> ``exceeds_debits``.
  Pending amounts count against the limits, as in TigerBeetle. Keeping pending plus
  posted within a BIGINT keeps each of the four totals within it too. A transfer may
  carry up to ``MAX_TRANSFER_AMOUNT`` (2^128 - 1, as TigerBeetle's u128): one past
  ``MAX_AMOUNT`` on its own answers ``overflows_*`` like a total reached in steps, and a
  post or void carries at most its pending's amount, so no created transfer (nothing
  stored) passes ``MAX_AMOUNT``.
* Two-phase. A ``pending`` transfer moves its amount into ``debits_pending`` /
  ``credits_pending``. A ``post_pending`` or ``void_pending`` transfer names it in
  ``pending_id`` and:

  - must carry the pending's debit and credit accounts (another pair answers
    ``pending_not_found``: there is no such pending between those accounts), its
    currency (``currency_mismatch``); ``pending_not_found`` too when no transfer has
    that id or it is not a pending transfer;
  - ``pending_already_posted`` / ``pending_already_voided`` when it was resolved
    already, ``pending_expired`` when its expiry was journaled or when the event comes
    at or after ``pending.timestamp + timeout_seconds``;
  - a post's amount is at most the pending amount (``exceeds_pending_amount``): it
    posts that amount and releases the whole reservation (a partial post releases the
    rest); a void's amount must equal the pending amount (the void releases exactly
    what was reserved; any other amount is ``exceeds_pending_amount``);
  - code, value_date, user_data and operation_id are the post's or void's own;
    ``timeout_seconds`` is refused at construction;
  - a post is refused on a closed account, a void is not.

  The limits and overflow are not checked again on post or void: neither can raise an
  account's ``pending + posted`` debits or credits. (A post still refuses a posted
  total past a BIGINT with ``overflows_*``: only totals written before that rule, whose
  pending plus posted already passed it, can get there.)
* Expiry is journaled as a void with id ``expiry_id(pending_id)`` and code
  ``expired`` (``transfers.expiry_void``); the store writes these when their time
  comes. Such a void is exempt from the expiry check it exists to record.
* A failed event changes nothing. A linked chain (consecutive events flagged
  ``linked`` plus the first unflagged one after them) is all-or-nothing: when an event
  fails it keeps its own code, the chain's other events answer
  ``linked_event_failed`` and every effect of the chain is undone. A chain still open
  at the end of the batch (its last event is flagged ``linked``) answers
  ``linked_event_chain_open`` for each of its events and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ledger.accounts import Account
from ledger.transfers import (
    MAX_AMOUNT,
    Transfer,
    TransferResult,
    TransferResultCode,
)

__all__ = ["BatchOutcome", "LedgerState", "apply_batch", "apply_batches", "next_state"]

R = TransferResultCode
_OK = (R.CREATED, R.EXISTS)


@dataclass(frozen=True, slots=True)
class LedgerState:
    """What a batch can see of the ledger.

    ``accounts``: every account the batch names (missing ones answer
    ``account_not_found``). ``transfers``: the existing transfers whose ids the batch
    uses and the pendings it references by ``pending_id``. ``resolutions``: for those
    pendings, the post or void that resolved them (keyed by pending id).
    """

    accounts: Mapping[str, Account] = field(default_factory=dict)
    transfers: Mapping[str, Transfer] = field(default_factory=dict)
    resolutions: Mapping[str, Transfer] = field(default_factory=dict)
    last_timestamp: int = 0


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """Per-event results, the transfers created (stamped, in order) and the accounts
    whose totals changed (their new state)."""

    results: tuple[TransferResult, ...]
    created: tuple[Transfer, ...]
    accounts: Mapping[str, Account]
    last_timestamp: int


class _Work:
    """Copy-on-touch working state; inside a linked chain it keeps an undo log."""

    __slots__ = ("clock", "logging", "new_resolutions", "new_transfers", "state", "totals",
                 "undo")

    def __init__(self, state: LedgerState, clock: int) -> None:
        self.state = state
        self.clock = clock
        self.totals: dict[str, list[int]] = {}
        self.new_transfers: dict[str, Transfer] = {}
        self.new_resolutions: dict[str, Transfer] = {}
        self.undo: list[tuple[str, str, tuple[int, int, int, int] | None]] = []
        self.logging = False  # only chains need undoing: a failed single event wrote nothing

    def transfer(self, transfer_id: str) -> Transfer | None:
        found = self.new_transfers.get(transfer_id)
        return found if found is not None else self.state.transfers.get(transfer_id)

    def resolution(self, pending_id: str) -> Transfer | None:
        found = self.new_resolutions.get(pending_id)
        return found if found is not None else self.state.resolutions.get(pending_id)

    def account_totals(self, account: Account) -> list[int]:
        totals = self.totals.get(account.id)
        if totals is None:
            totals = self.totals[account.id] = list(account.totals)
        return totals

    def change(self, account_id: str, totals: list[int], slot: int, delta: int) -> None:
        if self.logging:
            self.undo.append(("account", account_id,
                              (totals[0], totals[1], totals[2], totals[3])))
        totals[slot] += delta

    def create(self, transfer: Transfer) -> None:
        # The checks above keep it so; a BIGINT column could not store more.
        assert transfer.amount <= MAX_AMOUNT, "a created transfer fits a BIGINT"
        self.clock += 1
        stamped = transfer.with_timestamp(self.clock)
        self.new_transfers[stamped.id] = stamped
        if self.logging:
            self.undo.append(("transfer", stamped.id, None))
        if stamped.pending_id is not None:
            self.new_resolutions[stamped.pending_id] = stamped
            if self.logging:
                self.undo.append(("resolution", stamped.pending_id, None))

    def begin_chain(self) -> tuple[int, int]:
        self.logging = True
        return len(self.undo), self.clock

    def end_chain(self, mark: tuple[int, int], failed: bool) -> None:
        size, clock = mark
        if failed:
            while len(self.undo) > size:
                kind, key, totals = self.undo.pop()
                if kind == "account":
                    assert totals is not None
                    self.totals[key][:] = totals
                elif kind == "transfer":
                    del self.new_transfers[key]
                else:
                    del self.new_resolutions[key]
            self.clock = clock
        self.undo.clear()
        self.logging = False


def _apply_event(t: Transfer, work: _Work) -> TransferResultCode:
    existing = work.transfer(t.id)
    if existing is not None:
        return R.EXISTS if existing.same_fields(t) else R.EXISTS_WITH_DIFFERENT_FIELDS
    if t.debit_account_id == t.credit_account_id:
        return R.ACCOUNTS_MUST_BE_DIFFERENT
    accounts = work.state.accounts
    dr = accounts.get(t.debit_account_id)
    cr = accounts.get(t.credit_account_id)
    if dr is None or cr is None:
        return R.ACCOUNT_NOT_FOUND
    if t.currency != dr.currency or t.currency != cr.currency:
        return R.CURRENCY_MISMATCH
    d = work.account_totals(dr)
    c = work.account_totals(cr)
    amount = t.amount

    # Every check comes before the first change: a refused event writes nothing.
    if t.pending_id is not None:  # post_pending or void_pending
        p = work.transfer(t.pending_id)
        if (p is None or not p.pending or p.debit_account_id != t.debit_account_id
                or p.credit_account_id != t.credit_account_id):
            return R.PENDING_NOT_FOUND
        if p.currency != t.currency:
            return R.CURRENCY_MISMATCH
        resolved = work.resolution(p.id)
        if resolved is not None:
            if resolved.is_expiry:
                return R.PENDING_EXPIRED
            return R.PENDING_ALREADY_POSTED if resolved.post_pending else R.PENDING_ALREADY_VOIDED
        expires_at = p.expires_at
        if expires_at is not None and work.clock + 1 >= expires_at and not t.is_expiry:
            return R.PENDING_EXPIRED
        if t.post_pending:
            if amount > p.amount:
                return R.EXCEEDS_PENDING_AMOUNT
            if dr.closed or cr.closed:
                return R.ACCOUNT_CLOSED
            if d[1] + amount > MAX_AMOUNT:
                return R.OVERFLOWS_DEBITS
            if c[3] + amount > MAX_AMOUNT:
                return R.OVERFLOWS_CREDITS
            work.change(dr.id, d, 0, -p.amount)
            work.change(dr.id, d, 1, amount)
            work.change(cr.id, c, 2, -p.amount)
            work.change(cr.id, c, 3, amount)
        else:
            if amount != p.amount:
                return R.EXCEEDS_PENDING_AMOUNT
            work.change(dr.id, d, 0, -p.amount)
            work.change(cr.id, c, 2, -p.amount)
        work.create(t)
        return R.CREATED

    if dr.closed or cr.closed:
        return R.ACCOUNT_CLOSED
    debits = d[0] + d[1] + amount
    credits = c[2] + c[3] + amount
    if debits > MAX_AMOUNT:
        return R.OVERFLOWS_DEBITS
    if credits > MAX_AMOUNT:
        return R.OVERFLOWS_CREDITS
    if dr.debits_must_not_exceed_credits and debits > d[3]:
        return R.EXCEEDS_CREDITS
    if cr.credits_must_not_exceed_debits and credits > c[1]:
        return R.EXCEEDS_DEBITS
    slot = 0 if t.pending else 1  # debits_pending/credits_pending or the posted ones
    work.change(dr.id, d, slot, amount)
    work.change(cr.id, c, slot + 2, amount)
    work.create(t)
    return R.CREATED


def apply_batch(batch: Sequence[Transfer], state: LedgerState, now: int = 0) -> BatchOutcome:
    """Apply ``batch`` to ``state`` at ledger time ``now`` (ns); see the module rules."""
    work = _Work(state, max(now - 1, state.last_timestamp))
    codes: list[TransferResultCode] = []
    n = len(batch)
    i = 0
    while i < n:
        if not batch[i].linked:
            codes.append(_apply_event(batch[i], work))
            i += 1
            continue
        end = i
        while end < n and batch[end].linked:
            end += 1
        if end == n:  # the chain never closes
            codes.extend([R.LINKED_EVENT_CHAIN_OPEN] * (n - i))
            break
        mark = work.begin_chain()
        chain_codes: list[TransferResultCode] = []
        failed_at = -1
        for k in range(i, end + 1):
            code = _apply_event(batch[k], work)
            chain_codes.append(code)
            if code not in _OK:
                failed_at = k - i
                break
        work.end_chain(mark, failed=failed_at >= 0)
        if failed_at >= 0:
            chain_codes = [R.LINKED_EVENT_FAILED] * (end + 1 - i)
            chain_codes[failed_at] = code
        codes.extend(chain_codes)
        i = end + 1

    changed: dict[str, Account] = {}
    for account_id, totals in work.totals.items():
        account = state.accounts[account_id]
        if tuple(totals) != account.totals:
            changed[account_id] = account.with_totals((totals[0], totals[1], totals[2],
                                                       totals[3]))
    results = tuple(TransferResult(t.id, code) for t, code in zip(batch, codes, strict=True))
    return BatchOutcome(results=results, created=tuple(work.new_transfers.values()),
                        accounts=changed, last_timestamp=work.clock)


def next_state(state: LedgerState, outcome: BatchOutcome) -> LedgerState:
    """The state after ``outcome`` (what the next batch of a group sees)."""
    transfers = dict(state.transfers)
    resolutions = dict(state.resolutions)
    for t in outcome.created:
        transfers[t.id] = t
        if t.pending_id is not None:
            resolutions[t.pending_id] = t
    return LedgerState(accounts={**state.accounts, **outcome.accounts}, transfers=transfers,
                       resolutions=resolutions, last_timestamp=outcome.last_timestamp)


def apply_batches(batches: Sequence[Sequence[Transfer]], state: LedgerState,
                  now: int = 0) -> tuple[list[BatchOutcome], LedgerState]:
    """Apply several independent batches in sequence; each keeps its own linked
    semantics and one batch's refusal never fails another."""
    outcomes: list[BatchOutcome] = []
    for batch in batches:
        outcome = apply_batch(batch, state, now)
        outcomes.append(outcome)
        state = next_state(state, outcome)
    return outcomes, state
