"""The chart of accounts as a bookkeeper reads it: each ledger account's group and name.

The ledger names its accounts ``purpose:owner...`` (ledger/chart.py). The purpose says
what the balance means and so which group the account belongs to; the owner is a party
(or pool, loan, fund) whose name the caller knows. Accounts made by hand through the raw
ledger API (any code) fall in the group ``other`` under their own code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from reports.italian import CATALOGUE, text

__all__ = [
    "ACCOUNT_GROUPS",
    "PURPOSE_GROUPS",
    "AccountGroup",
    "AccountLabel",
    "account_label",
    "account_purpose",
]

AccountGroup = Literal[
    "pools", "loans", "income", "losses", "funds", "pledges", "prepayments", "shares", "other",
]
# The order groups are listed in: where money comes from, where it goes, what backs it.
ACCOUNT_GROUPS: tuple[AccountGroup, ...] = get_args(AccountGroup)

PURPOSE_GROUPS: Mapping[str, AccountGroup] = {
    "pool": "pools",
    "pool-funding": "pools",
    "loan": "loans",
    "loan-payments": "loans",
    "loan-covered": "loans",
    "interest": "income",
    "penalty": "income",
    "recovery": "income",
    "loss": "losses",
    "fund": "funds",
    "earmark": "funds",
    "producer-grants": "funds",
    # What a GAS paid in; most of it goes to funds (contributions), the rest is matched
    # by the prepayment and share accounts on the other side of each transfer.
    "gas-external": "funds",
    "member-external": "shares",
    "pledge": "pledges",
    "pledge-limit": "pledges",
    "guarantee": "pledges",
    "prepayment": "prepayments",
    "producer-goods": "prepayments",
}


@dataclass(frozen=True)
class AccountLabel:
    purpose: str
    group: AccountGroup
    group_name: str
    name: str


def account_purpose(code: str) -> str:
    return code.split(":", 1)[0]


def account_label(code: str, owner_name: str = "",
                  lang: Literal["it", "en"] = "it") -> AccountLabel:
    """Group and name of the account with ``code``; ``owner_name`` is added to the name.

    Italian: ``"Prestito: capitale da rimborsare · Caseificio Val Taleggio"``. English
    keeps the purpose code (``"loan · Caseificio Val Taleggio"``), as the catalogue does.
    """
    purpose = account_purpose(code)
    group = PURPOSE_GROUPS.get(purpose, "other")
    # An account made by hand through the raw ledger API: its code is all we know.
    name = text("account", purpose, lang) if purpose in CATALOGUE["account"] else code
    if owner_name:
        name = f"{name} · {owner_name}"
    return AccountLabel(purpose, group, text("account_group", group, lang), name)
