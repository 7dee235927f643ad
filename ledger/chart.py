"""The chart of accounts the instruments post to.

Every instrument account has a deterministic id derived from its purpose and owner, so
any module can name it without a lookup and re-creating it is idempotent. Sign
convention as TigerBeetle: money moves from the debit account to the credit account and
``balance = credits_posted - debits_posted``.

==================  ======================================  ==========================
account             balance means                           flag
==================  ======================================  ==========================
pool                money available to lend                 debits <= credits
pool-funding        minus everything deposited in the pool  -
loan                outstanding principal                   debits <= credits
loan-payments       minus what the borrower paid (interest, -
                    penalties, recoveries)
loan-covered        principal settled by guarantees/funds   -
interest, penalty   the lender's income                     -
loss                principal written off                   -
recovery            money received after a write-off        -
pledge              a guarantor's capacity not yet pledged  debits <= credits
pledge-limit        minus the capacity granted              -
guarantee           called under that guarantee, not yet    debits <= credits
                    spent on the loan (zero after a call)
fund                a fund's money not earmarked            debits <= credits
earmark             a fund's money earmarked for a producer debits <= credits
gas-external        minus what a GAS paid in (prepayments,  -
                    contributions, shares)
member-external     minus what a member subscribed          -
prepayment          prepaid value still owed in goods       debits <= credits
producer-goods      value of the goods a producer delivered -
==================  ======================================  ==========================
"""

from __future__ import annotations

import uuid

from ledger.accounts import Account, AccountFlag

CHART_NAMESPACE = uuid.UUID("2f6c1d0e-8a43-4f55-b3a9-5e2c7d1b9f10")
TRANSFER_NAMESPACE = uuid.UUID("a3d9e6f2-0b7c-4c1e-8d25-6f4b2e9a7c31")

LIMITED = frozenset({AccountFlag.DEBITS_MUST_NOT_EXCEED_CREDITS})

_LIMITED_PURPOSES = {"pool", "loan", "pledge", "guarantee", "fund", "earmark", "prepayment"}


def account_id(purpose: str, *owners: str) -> str:
    return str(uuid.uuid5(CHART_NAMESPACE, ":".join((purpose, *owners))))


def account(purpose: str, *owners: str, party_id: str | None = None,
            currency: str = "EUR") -> Account:
    """The definition of an instrument account (zero totals)."""
    flags = LIMITED if purpose in _LIMITED_PURPOSES else frozenset()
    code = f"{purpose}:{':'.join(owners)}"
    return Account(id=account_id(purpose, *owners), code=code[:128], currency=currency,
                   party_id=party_id, flags=flags)


def leg_id(operation_id: str, leg: str) -> str:
    """Deterministic transfer id of one leg of a business operation (so a replayed
    command produces the same transfers, which the ledger answers ``exists``)."""
    return str(uuid.uuid5(TRANSFER_NAMESPACE, f"{operation_id}:{leg}"))
