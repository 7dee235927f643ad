"""Loans on the ledger: which transfers each loan operation books.

Every payment towards a loan (the borrower's repayment, a guarantee call, a fund's loss
cover) is split by the repayment rules into penalty, interest and principal. The
transfers book those parts; when a backdated payment changes how earlier-recorded
payments split, ``compensations`` books the difference as new transfers (never edits),
attributed to the payment whose split changed. Replaying the same operations in any
entry order therefore leaves the same balances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from ledger.accounts import Account
from ledger.chart import account_id, leg_id
from ledger.transfers import Transfer, TransferFlag

CURRENCY = "EUR"
COMPONENTS = ("penalty", "interest", "principal", "recovery", "write_off")
Booked = dict[tuple[str, str], int]  # (event id, component) -> cents


@dataclass(frozen=True)
class LoanAccounts:
    """The accounts one loan's operations touch."""

    loan: str
    payments: str  # the borrower's side: interest, penalties, recoveries come from here
    covered: str  # principal settled by guarantees or funds (internal payers)
    pool: str
    interest: str
    penalty: str
    loss: str
    recovery: str

    @classmethod
    def of(cls, loan_id: str, pool_id: str, lender_id: str) -> LoanAccounts:
        return cls(
            loan=account_id("loan", loan_id),
            payments=account_id("loan-payments", loan_id),
            covered=account_id("loan-covered", loan_id),
            pool=account_id("pool", pool_id),
            interest=account_id("interest", lender_id),
            penalty=account_id("penalty", lender_id),
            loss=account_id("loss", lender_id),
            recovery=account_id("recovery", lender_id),
        )


@dataclass(frozen=True)
class Payer:
    """Who pays an event: the borrower (external money) or an account of ours (a
    guarantee's called capacity, a solidarity fund or one of its earmarks)."""

    account: str | None = None  # None: the borrower

    def source(self, accounts: LoanAccounts) -> str:
        return self.account or accounts.payments


@dataclass(frozen=True)
class Parts:
    penalty: int = 0
    interest: int = 0
    principal: int = 0
    recovery: int = 0
    write_off: int = 0

    def get(self, component: str) -> int:
        value: int = getattr(self, component)
        return value


def _transfer(op_id: str, leg: str, debit: str, credit: str, amount: int, code: str,
              user_data: str, event_id: str, value_date: date) -> Transfer:
    return Transfer(id=leg_id(op_id, leg), debit_account_id=debit, credit_account_id=credit,
                    amount=amount, currency=CURRENCY, code=code,
                    flags=frozenset({TransferFlag.LINKED}), value_date=value_date,
                    user_data=user_data, operation_id=event_id)


def legs(accounts: LoanAccounts, payer: Payer, component: str, amount: int
         ) -> list[tuple[str, str, str]]:
    """(leg suffix, debit, credit) moving ``amount`` (>0) of ``component`` in its normal
    direction; a negative amount is the same legs reversed."""
    src = payer.source(accounts)
    if component == "penalty":
        pairs = [("", src, accounts.penalty)]
    elif component == "interest":
        pairs = [("", src, accounts.interest)]
    elif component == "recovery":
        pairs = [("", src, accounts.recovery)]
    elif component == "write_off":
        pairs = [("", accounts.loan, accounts.loss)]
    elif component == "principal":
        if payer.account is None:
            # The borrower's principal comes back into the pool.
            pairs = [("", accounts.loan, accounts.pool)]
        else:
            # An internal payer's money goes into the pool, and the loan is settled.
            pairs = [(":cash", payer.account, accounts.pool),
                     (":settle", accounts.loan, accounts.covered)]
    else:
        raise ValueError(f"unknown component {component!r}")
    if amount < 0:
        return [(suffix, credit, debit) for suffix, debit, credit in pairs]
    return pairs


def disbursement(op_id: str, accounts: LoanAccounts, principal: int, on: date,
                 user_data: str) -> list[Transfer]:
    """The pool pays the principal out (refused by the pool's limit if it is short)."""
    return [_transfer(op_id, "disburse", accounts.pool, accounts.loan, principal,
                      "disbursement", user_data, op_id, on)]


class Leg(Protocol):
    """What ``booked`` reads of a stored transfer: a ``Transfer``, or the store's plain
    ``JournalEntry`` (no checked ``Transfer`` built for each of a loan's rows)."""

    @property
    def debit_account_id(self) -> str: ...
    @property
    def credit_account_id(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def operation_id(self) -> str | None: ...


def booked(transfers: Iterable[Leg], accounts: LoanAccounts) -> Booked:
    """What the journal holds per (event, component), signed by direction."""
    totals: Booked = defaultdict(int)
    anchor = {"penalty": accounts.penalty, "interest": accounts.interest,
              "recovery": accounts.recovery, "write_off": accounts.loss}
    for t in transfers:
        if t.code not in COMPONENTS or t.operation_id is None:
            continue
        if t.code == "principal":
            # Count the loan side only (internal payers book two legs).
            if t.debit_account_id == accounts.loan:
                totals[(t.operation_id, t.code)] += t.amount
            elif t.credit_account_id == accounts.loan:
                totals[(t.operation_id, t.code)] -= t.amount
            continue
        target = anchor[t.code]
        if t.credit_account_id == target:
            totals[(t.operation_id, t.code)] += t.amount
        elif t.debit_account_id == target:
            totals[(t.operation_id, t.code)] -= t.amount
    return dict(totals)


def compensations(op_id: str, accounts: LoanAccounts, target: Mapping[str, Parts],
                  payers: Mapping[str, Payer], already: Booked, value_dates: Mapping[str, date],
                  user_data: str) -> list[Transfer]:
    """Transfers that bring the journal from ``already`` to ``target`` for every event.

    Each is attributed (``operation_id``) to the event whose split it corrects, so the
    journal always sums to the current split; ids derive from ``op_id`` (the command
    that caused them), so replaying that command books nothing twice.
    """
    out: list[Transfer] = []
    events = sorted(set(target) | {event for event, _ in already})
    for event in events:
        parts = target.get(event, Parts())
        payer = payers[event]
        for component in COMPONENTS:
            delta = parts.get(component) - already.get((event, component), 0)
            if delta == 0:
                continue
            for suffix, debit, credit in legs(accounts, payer, component, delta):
                out.append(_transfer(op_id, f"{event}:{component}{suffix}", debit, credit,
                                     abs(delta), component, user_data, event,
                                     value_dates.get(event, date.min)))
    return close_chain(out)


def close_chain(transfers: list[Transfer]) -> list[Transfer]:
    """One linked chain: every event flagged ``linked`` but the last (all or nothing)."""
    from dataclasses import replace

    if not transfers:
        return transfers
    last = transfers[-1]
    return [*transfers[:-1], replace(last, flags=last.flags - {TransferFlag.LINKED})]


def feasible_order(transfers: Iterable[Transfer], accounts: Mapping[str, Account],
                   before: Iterable[Transfer] = ()) -> list[Transfer] | None:
    """The posted ``transfers`` in an order in which no account with a balance limit goes
    past it after any one of them, keeping the given order wherever it already works
    (the ledger checks every transfer in turn, even inside a linked chain, so a
    correction that refills an account must come before one that draws on it).

    ``accounts``: the limited accounts as they stand (others have no limit); ``before``:
    transfers of the same batch that go first, as given (their posted and pending
    amounts count). Each step takes the first transfer that fits; None when none does
    (the caller then keeps its order and the ledger refuses, as it would have anyway).
    """
    totals = {a.id: list(a.totals) for a in accounts.values()}
    flags = {a.id: (a.debits_must_not_exceed_credits, a.credits_must_not_exceed_debits)
             for a in accounts.values()}
    for t in before:
        if TransferFlag.VOID_PENDING in t.flags:
            continue
        slot = 0 if TransferFlag.PENDING in t.flags else 1
        if t.debit_account_id in totals:
            totals[t.debit_account_id][slot] += t.amount
        if t.credit_account_id in totals:
            totals[t.credit_account_id][slot + 2] += t.amount

    def fits(t: Transfer) -> bool:
        d = totals.get(t.debit_account_id)
        if d is not None and flags[t.debit_account_id][0] and d[0] + d[1] + t.amount > d[3]:
            return False
        c = totals.get(t.credit_account_id)
        return not (c is not None and flags[t.credit_account_id][1]
                    and c[2] + c[3] + t.amount > c[1])

    left = list(transfers)
    out: list[Transfer] = []
    while left:
        k = next((i for i, t in enumerate(left) if fits(t)), None)
        if k is None:
            return None
        t = left.pop(k)
        if t.debit_account_id in totals:
            totals[t.debit_account_id][1] += t.amount
        if t.credit_account_id in totals:
            totals[t.credit_account_id][3] += t.amount
        out.append(t)
    return out


def chained(transfers: Iterable[Transfer]) -> list[Transfer]:
    """``transfers`` as one linked chain, whatever their flags were (see ``close_chain``)."""
    from dataclasses import replace

    return close_chain([replace(t, flags=t.flags | {TransferFlag.LINKED}) for t in transfers])
