"""Transfers: a positive amount moved from a debit account to a credit account.

A transfer's ``id`` is chosen by the client (a UUID; ``ledger.ids.uuid7`` recommended):
sending it again answers ``exists``. Amounts are int minor units of ``currency``.
``timestamp`` is assigned by the ledger when the transfer is created (ns, strictly
increasing over the whole ledger); a transfer built by a client leaves it 0.

Two-phase transfers follow TigerBeetle. A ``pending`` transfer reserves its amount
(``debits_pending`` / ``credits_pending``). It is resolved exactly once, by a transfer
flagged ``post_pending`` or ``void_pending`` whose ``pending_id`` names it, or by expiry
when it has a ``timeout_seconds``. See ``ledger.state_machine`` for the rules on the
fields of a post or void; ``post_pending_of`` and ``void_pending_of`` build them.

Construction validates the shape of a transfer (the part TigerBeetle checks before it
looks at any state) and raises ``ValueError`` for malformed input: a non-UUID id, an
amount that is not a positive int, an unknown currency or flag, conflicting flags, a
``pending_id`` without post/void (or the reverse), a timeout on anything but a pending
transfer. Everything that depends on the ledger's state is a result code instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import NamedTuple

from ledger.ids import normalize_uuid, uuid7
from ledger.money import MAX_MINOR, MoneyError, check_currency

__all__ = [
    "EXPIRED_CODE",
    "EXPIRY_NAMESPACE",
    "MAX_AMOUNT",
    "MAX_BATCH",
    "MAX_TIMEOUT_SECONDS",
    "MAX_TRANSFER_AMOUNT",
    "Transfer",
    "TransferFlag",
    "TransferResult",
    "TransferResultCode",
    "expiry_id",
    "expiry_void",
    "post_pending_of",
    "transfer_flags_from_bits",
    "transfer_flags_to_bits",
    "void_pending_of",
]

MAX_AMOUNT = MAX_MINOR  # what a BIGINT column holds: the most an account's totals reach
# The most one transfer may carry (TigerBeetle's u128). More than MAX_AMOUNT is taken as
# input so that the state machine answers ``overflows_debits`` / ``overflows_credits``
# for it, as for totals reached in steps; such a transfer is never created, so nothing
# stored passes MAX_AMOUNT.
MAX_TRANSFER_AMOUNT = 2**128 - 1
MAX_TIMEOUT_SECONDS = 2**31 - 1
MAX_TEXT = 128
MAX_BATCH = 8190  # as TigerBeetle; the HTTP contract refuses larger requests

# Expiry is journaled as a void with a deterministic id, so it happens at most once and
# verify can recompute every total from the transfers alone.
EXPIRY_NAMESPACE = uuid.UUID("6b1c3c1e-5f0a-4d7e-9a51-8f2f0c9e4a77")
EXPIRED_CODE = "expired"


class TransferFlag(StrEnum):
    LINKED = "linked"
    PENDING = "pending"
    POST_PENDING = "post_pending"
    VOID_PENDING = "void_pending"


_FLAG_BITS = {
    TransferFlag.LINKED: 1,
    TransferFlag.PENDING: 2,
    TransferFlag.POST_PENDING: 4,
    TransferFlag.VOID_PENDING: 8,
}
_BITS_TO_FLAGS = {
    bits: frozenset(f for f, b in _FLAG_BITS.items() if bits & b) for bits in range(16)
}
_TWO_PHASE = frozenset({TransferFlag.PENDING, TransferFlag.POST_PENDING,
                        TransferFlag.VOID_PENDING})


def transfer_flags_to_bits(flags: Iterable[str]) -> int:
    return sum(_FLAG_BITS[TransferFlag(f)] for f in set(flags))


def transfer_flags_from_bits(bits: int) -> frozenset[TransferFlag]:
    return _BITS_TO_FLAGS[bits & 15]


class TransferResultCode(StrEnum):
    """The result of one event of a batch, exactly as the HTTP contract names them."""

    CREATED = "created"
    EXISTS = "exists"
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"
    LINKED_EVENT_FAILED = "linked_event_failed"
    EXCEEDS_CREDITS = "exceeds_credits"
    EXCEEDS_DEBITS = "exceeds_debits"
    ACCOUNT_NOT_FOUND = "account_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    PENDING_NOT_FOUND = "pending_not_found"
    PENDING_ALREADY_POSTED = "pending_already_posted"
    PENDING_ALREADY_VOIDED = "pending_already_voided"
    PENDING_EXPIRED = "pending_expired"
    EXCEEDS_PENDING_AMOUNT = "exceeds_pending_amount"
    ACCOUNT_CLOSED = "account_closed"
    OVERFLOWS_DEBITS = "overflows_debits"
    OVERFLOWS_CREDITS = "overflows_credits"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"


class TransferResult(NamedTuple):
    """One event's answer. ``ok`` for ``created`` and ``exists`` (nothing to redo)."""

    id: str
    result: TransferResultCode

    @property
    def ok(self) -> bool:
        return self.result in (TransferResultCode.CREATED, TransferResultCode.EXISTS)


def _text(value: str | None, name: str, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise ValueError(f"{name} is required")
        return
    if not isinstance(value, str) or len(value) > MAX_TEXT or (required and not value):
        raise ValueError(f"{name} must be a string of at most {MAX_TEXT} characters")


@dataclass(frozen=True)
class Transfer:
    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    currency: str
    code: str = ""
    flags: frozenset[TransferFlag] = field(default_factory=frozenset)
    pending_id: str | None = None
    timeout_seconds: int | None = None
    value_date: date | None = None
    user_data: str | None = None
    operation_id: str | None = None
    timestamp: int = 0
    # Who posted it (the API user of a raw transfer; None for the instruments' legs and
    # the ledger's own expiries). Kept and hashed, but not a client field: a retry by
    # another user answers ``exists``.
    recorded_by: str | None = None

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "id", normalize_uuid(self.id, "transfer id"))
        setattr_(self, "debit_account_id",
                 normalize_uuid(self.debit_account_id, "debit_account_id"))
        setattr_(self, "credit_account_id",
                 normalize_uuid(self.credit_account_id, "credit_account_id"))
        if type(self.amount) is not int or not 0 < self.amount <= MAX_TRANSFER_AMOUNT:
            raise ValueError(f"amount must be a positive int of minor units, got {self.amount!r}")
        try:
            check_currency(self.currency)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None
        _text(self.code, "code")
        _text(self.user_data, "user_data")
        _text(self.operation_id, "operation_id")
        _text(self.recorded_by, "recorded_by")
        if type(self.flags) is not frozenset or not all(
                type(f) is TransferFlag for f in self.flags):
            try:
                setattr_(self, "flags", frozenset(TransferFlag(f) for f in self.flags))
            except (ValueError, TypeError):
                raise ValueError(f"unknown transfer flag in {self.flags!r}") from None
        two_phase = self.flags & _TWO_PHASE
        if len(two_phase) > 1:
            raise ValueError(f"flags {sorted(two_phase)} are mutually exclusive")
        resolves = bool(two_phase) and TransferFlag.PENDING not in two_phase
        if resolves:
            if self.pending_id is None:
                raise ValueError("post_pending and void_pending need a pending_id")
            setattr_(self, "pending_id", normalize_uuid(self.pending_id, "pending_id"))
            if self.pending_id == self.id:
                raise ValueError("a transfer cannot resolve itself")
        elif self.pending_id is not None:
            raise ValueError("pending_id is only for post_pending or void_pending")
        if self.timeout_seconds is not None:
            if TransferFlag.PENDING not in self.flags:
                raise ValueError("timeout_seconds is only for pending transfers")
            if (type(self.timeout_seconds) is not int
                    or not 0 < self.timeout_seconds <= MAX_TIMEOUT_SECONDS):
                raise ValueError("timeout_seconds must be a positive int")
        if self.value_date is not None and not isinstance(self.value_date, date):
            raise ValueError("value_date must be a date")
        if type(self.timestamp) is not int or self.timestamp < 0:
            raise ValueError("timestamp must be a non-negative int")

    @property
    def linked(self) -> bool:
        return TransferFlag.LINKED in self.flags

    @property
    def pending(self) -> bool:
        return TransferFlag.PENDING in self.flags

    @property
    def post_pending(self) -> bool:
        return TransferFlag.POST_PENDING in self.flags

    @property
    def void_pending(self) -> bool:
        return TransferFlag.VOID_PENDING in self.flags

    @property
    def expires_at(self) -> int | None:
        """When a pending transfer with a timeout expires (ns), once it has a timestamp."""
        if self.timeout_seconds is None or not self.pending:
            return None
        return self.timestamp + self.timeout_seconds * 1_000_000_000

    @property
    def is_expiry(self) -> bool:
        """Whether this is the ledger's own void recording a pending's expiry."""
        return (self.void_pending and self.code == EXPIRED_CODE and self.pending_id is not None
                and self.id == expiry_id(self.pending_id))

    def same_fields(self, other: Transfer) -> bool:
        """Whether ``other`` repeats this transfer: every client field equal (not the
        timestamp, nor who recorded it)."""
        return (self.id == other.id
                and self.debit_account_id == other.debit_account_id
                and self.credit_account_id == other.credit_account_id
                and self.amount == other.amount
                and self.currency == other.currency
                and self.code == other.code
                and self.flags == other.flags
                and self.pending_id == other.pending_id
                and self.timeout_seconds == other.timeout_seconds
                and self.value_date == other.value_date
                and self.user_data == other.user_data
                and self.operation_id == other.operation_id)

    def with_timestamp(self, timestamp: int) -> Transfer:
        """A copy stamped with ``timestamp`` (the rest was validated already)."""
        if type(timestamp) is not int or timestamp < 0:
            raise ValueError("timestamp must be a non-negative int")
        # No __slots__ on purpose: copying the instance dict is the fastest way to
        # stamp the thousands of transfers of a batch.
        stamped = object.__new__(Transfer)
        fields = stamped.__dict__
        fields.update(self.__dict__)
        fields["timestamp"] = timestamp
        return stamped


def post_pending_of(pending: Transfer, amount: int | None = None, *, id: str | None = None,
                    code: str | None = None, linked: bool = False,
                    value_date: date | None = None, user_data: str | None = None,
                    operation_id: str | None = None) -> Transfer:
    """Post ``amount`` (default: all) of ``pending``; the rest of it is released."""
    flags = {TransferFlag.POST_PENDING} | ({TransferFlag.LINKED} if linked else set())
    return Transfer(
        id=id or uuid7(), debit_account_id=pending.debit_account_id,
        credit_account_id=pending.credit_account_id,
        amount=pending.amount if amount is None else amount, currency=pending.currency,
        code=pending.code if code is None else code, flags=frozenset(flags),
        pending_id=pending.id, value_date=value_date,
        user_data=pending.user_data if user_data is None else user_data,
        operation_id=operation_id,
    )


def void_pending_of(pending: Transfer, *, id: str | None = None, code: str | None = None,
                    linked: bool = False, value_date: date | None = None,
                    user_data: str | None = None,
                    operation_id: str | None = None) -> Transfer:
    """Void ``pending``: release its whole reservation."""
    flags = {TransferFlag.VOID_PENDING} | ({TransferFlag.LINKED} if linked else set())
    return Transfer(
        id=id or uuid7(), debit_account_id=pending.debit_account_id,
        credit_account_id=pending.credit_account_id, amount=pending.amount,
        currency=pending.currency, code=pending.code if code is None else code,
        flags=frozenset(flags), pending_id=pending.id, value_date=value_date,
        user_data=pending.user_data if user_data is None else user_data,
        operation_id=operation_id,
    )


def expiry_id(pending_id: str) -> str:
    """The deterministic id of the void that records ``pending_id``'s expiry."""
    return str(uuid.uuid5(EXPIRY_NAMESPACE, pending_id))


def expiry_void(pending: Transfer) -> Transfer:
    """The system void that releases an expired pending transfer."""
    return void_pending_of(pending, id=expiry_id(pending.id), code=EXPIRED_CODE,
                           user_data=pending.user_data)
