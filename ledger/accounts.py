"""Accounts: who holds what, in which currency, with which balance limits.

An account keeps four totals in integer minor units, as TigerBeetle does: debits and
credits, each pending (reserved by two-phase transfers) and posted. Its balance is
``credits_posted - debits_posted``. Flags limit what transfers may do to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import IntFlag, StrEnum

from ledger.ids import normalize_uuid, uuid7
from ledger.money import MoneyError, check_currency

__all__ = [
    "MAX_CODE_LENGTH",
    "Account",
    "AccountFlag",
    "AccountResult",
    "CreateAccountResult",
    "account_flags_from_bits",
    "account_flags_to_bits",
    "new_account",
]

MAX_CODE_LENGTH = 128


class AccountFlag(StrEnum):
    DEBITS_MUST_NOT_EXCEED_CREDITS = "debits_must_not_exceed_credits"
    CREDITS_MUST_NOT_EXCEED_DEBITS = "credits_must_not_exceed_debits"
    CLOSED = "closed"


class _Bits(IntFlag):
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1
    CREDITS_MUST_NOT_EXCEED_DEBITS = 2
    CLOSED = 4


_FLAG_BITS = {
    AccountFlag.DEBITS_MUST_NOT_EXCEED_CREDITS: int(_Bits.DEBITS_MUST_NOT_EXCEED_CREDITS),
    AccountFlag.CREDITS_MUST_NOT_EXCEED_DEBITS: int(_Bits.CREDITS_MUST_NOT_EXCEED_DEBITS),
    AccountFlag.CLOSED: int(_Bits.CLOSED),
}


def account_flags_to_bits(flags: Iterable[str]) -> int:
    return sum(_FLAG_BITS[AccountFlag(f)] for f in set(flags))


def account_flags_from_bits(bits: int) -> frozenset[AccountFlag]:
    return frozenset(f for f, b in _FLAG_BITS.items() if bits & b)


class CreateAccountResult(StrEnum):
    CREATED = "created"
    EXISTS = "exists"
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"


@dataclass(frozen=True, slots=True)
class AccountResult:
    id: str
    result: CreateAccountResult


@dataclass(frozen=True, slots=True)
class Account:
    """An account and its totals (all int minor units of ``currency``).

    Construction validates and normalizes: ``id`` a UUID, ``code`` a label of at most
    128 characters, ``currency`` an ISO 4217 code, flags from ``AccountFlag`` (the two
    limit flags are mutually exclusive, as in TigerBeetle: together they would refuse
    every transfer). Invalid input raises ``ValueError``.
    """

    id: str
    code: str
    currency: str
    party_id: str | None = None
    flags: frozenset[AccountFlag] = field(default_factory=frozenset)
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    timestamp: int = 0  # ns when created (set by the store)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", normalize_uuid(self.id, "account id"))
        if not isinstance(self.code, str) or not self.code or len(self.code) > MAX_CODE_LENGTH:
            raise ValueError(f"account code must be 1 to {MAX_CODE_LENGTH} characters")
        try:
            check_currency(self.currency)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None
        if self.party_id is not None and (
            not isinstance(self.party_id, str) or not self.party_id or len(self.party_id) > 36
        ):
            raise ValueError("party_id must be a non-empty string of at most 36 characters")
        try:
            flags = frozenset(AccountFlag(f) for f in self.flags)
        except ValueError:
            raise ValueError(f"unknown account flag in {sorted(self.flags)!r}") from None
        if {AccountFlag.DEBITS_MUST_NOT_EXCEED_CREDITS,
                AccountFlag.CREDITS_MUST_NOT_EXCEED_DEBITS} <= flags:
            raise ValueError("debits_must_not_exceed_credits and credits_must_not_exceed_debits "
                             "are mutually exclusive")
        object.__setattr__(self, "flags", flags)
        for name in ("debits_pending", "debits_posted", "credits_pending", "credits_posted",
                     "timestamp"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"{name} must be a non-negative int")

    @property
    def balance(self) -> int:
        """Posted credits minus posted debits (may be negative)."""
        return self.credits_posted - self.debits_posted

    @property
    def debits_must_not_exceed_credits(self) -> bool:
        return AccountFlag.DEBITS_MUST_NOT_EXCEED_CREDITS in self.flags

    @property
    def credits_must_not_exceed_debits(self) -> bool:
        return AccountFlag.CREDITS_MUST_NOT_EXCEED_DEBITS in self.flags

    @property
    def closed(self) -> bool:
        return AccountFlag.CLOSED in self.flags

    @property
    def totals(self) -> tuple[int, int, int, int]:
        """(debits_pending, debits_posted, credits_pending, credits_posted)."""
        return (self.debits_pending, self.debits_posted, self.credits_pending,
                self.credits_posted)

    def with_totals(self, totals: tuple[int, int, int, int]) -> Account:
        dp, dpo, cp, cpo = totals
        return replace(self, debits_pending=dp, debits_posted=dpo, credits_pending=cp,
                       credits_posted=cpo)

    def same_definition(self, other: Account) -> bool:
        """Whether two accounts agree on every field a client chooses (not the totals)."""
        return (self.id == other.id and self.code == other.code
                and self.currency == other.currency and self.party_id == other.party_id
                and self.flags == other.flags)


def new_account(code: str, currency: str, *, party_id: str | None = None,
                flags: Iterable[str] = (), id: str | None = None) -> Account:
    """A new account definition with zero totals (a UUIDv7 id unless one is given)."""
    return Account(id=id or uuid7(), code=code, currency=currency, party_id=party_id,
                   flags=frozenset(AccountFlag(f) for f in flags))
