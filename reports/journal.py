"""Ledger reports: the journal of transfers (streamed) and the trial balance."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import polars as pl

from ledger.money import currency_exponent, minor_to_decimal
from reports._frames import col, frame_of
from reports.accounts import ACCOUNT_GROUPS, AccountLabel, account_label
from reports.workbook import (
    ColumnKind,
    ColumnSpec,
    FormulaNote,
    Lang,
    Report,
    ReportSheet,
    StreamSheet,
)

__all__ = [
    "JOURNAL_COLUMNS",
    "CurrencyCheck",
    "JournalRow",
    "TrialBalanceRow",
    "journal_frame",
    "journal_report",
    "journal_sheet",
    "trial_balance_check",
    "trial_balance_report",
]


@dataclass(frozen=True)
class JournalRow:
    id: str
    timestamp: datetime
    debit_account: str  # account code
    credit_account: str
    amount_minor: int
    currency: str
    code: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrialBalanceRow:
    account_code: str
    account_name: str  # "" -> the chart's name for the code (reports.accounts)
    currency: str
    debits_posted_minor: int
    credits_posted_minor: int
    owner_name: str = ""  # the party (pool, fund ...) the account belongs to

    def label(self, lang: Lang) -> AccountLabel:
        label = account_label(self.account_code, self.owner_name, lang)
        if self.account_name:
            return AccountLabel(label.purpose, label.group, label.group_name,
                                self.account_name)
        return label


@dataclass(frozen=True)
class CurrencyCheck:
    currency: str
    debits_minor: int
    credits_minor: int

    @property
    def balanced(self) -> bool:
        return self.debits_minor == self.credits_minor


JOURNAL_COLUMNS = (
    col("id", "Id", "Id", "text", "identificativo scelto dal client", "client-chosen id"),
    col("timestamp", "Data e ora", "Timestamp (UTC)", "datetime", "ora italiana (Europe/Rome)",
        "UTC"),
    col("debit_account", "Conto dare", "Debit account", "text", "codice del conto addebitato",
        "code of the account debited"),
    col("credit_account", "Conto avere", "Credit account", "text",
        "codice del conto accreditato", "code of the account credited"),
    col("amount", "Importo", "Amount", "money", total="sum"),
    col("currency", "Valuta", "Currency", "text"),
    col("code", "Causale", "Code", "text", "codice dell'operazione", "operation code",
        codes="transfer_code"),
    col("flags", "Flag", "Flags", "text",
        "collegato, in sospeso, conferma o annullamento del sospeso",
        "pending, post_pending, void_pending, linked", codes="transfer_flags"),
)
# Other currencies than EUR: the amount is a plain decimal in the currency's unit.
_JOURNAL_COLUMNS_ANY = tuple(
    col(c.key, c.label_it, c.label_en, "decimal", c.description_it, c.description_en)
    if c.key == "amount" else c for c in JOURNAL_COLUMNS)


def journal_sheet(rows: Iterable[JournalRow], *, euro_only: bool = True) -> StreamSheet:
    """The journal as a one-pass stream sheet for ``write_xlsx_streaming``.

    With ``euro_only`` (the instruments are in EUR) amounts are euro cells with a total;
    a row in another currency then raises. Without it amounts are plain decimals in each
    row's currency, and there is no total (it would add up different currencies).
    """

    def values() -> Iterator[tuple[object, ...]]:
        for r in rows:
            if euro_only:
                if r.currency != "EUR":
                    raise ValueError(f"transfer {r.id} is in {r.currency}; use euro_only=False")
                amount: object = r.amount_minor  # int cents: the money cell converts it
            else:
                amount = minor_to_decimal(r.amount_minor, r.currency)
            yield (r.id, r.timestamp, r.debit_account, r.credit_account, amount, r.currency,
                   r.code, ", ".join(r.flags))

    columns = JOURNAL_COLUMNS if euro_only else _JOURNAL_COLUMNS_ANY
    return StreamSheet("Giornale", columns, values(), "Journal")


def journal_frame(rows: Iterable[JournalRow]) -> pl.DataFrame:
    """The journal as a frame (amount in minor units of each row's currency)."""
    listed = list(rows)
    return pl.DataFrame(
        {
            "id": [r.id for r in listed],
            "timestamp": [r.timestamp for r in listed],
            "debit_account": [r.debit_account for r in listed],
            "credit_account": [r.credit_account for r in listed],
            "amount": [r.amount_minor for r in listed],
            "currency": [r.currency for r in listed],
            "code": [r.code for r in listed],
            "flags": [", ".join(r.flags) for r in listed],
        },
        schema={"id": pl.String, "timestamp": pl.Datetime("us", "UTC"),
                "debit_account": pl.String, "credit_account": pl.String, "amount": pl.Int64,
                "currency": pl.String, "code": pl.String, "flags": pl.String},
    )


def journal_report(rows: Iterable[JournalRow], *, period_from: date | None = None,
                   period_to: date | None = None, euro_only: bool = True,
                   generated_at: datetime | None = None,
                   filters: Mapping[str, str] | None = None) -> Report:
    """A report over a one-pass row stream: write it once, with ``write_xlsx_streaming``."""
    parameters = {k: v.isoformat() for k, v in (("from", period_from), ("to", period_to))
                  if v is not None}
    return Report(
        name="journal", title_it="Libro giornale", title_en="Journal",
        sheets=(journal_sheet(rows, euro_only=euro_only),),
        parameters={**parameters, **(filters or {})}, as_of=period_to,
        period_from=period_from, period_to=period_to, generated_at=generated_at,
        formulas=(FormulaNote("Totale importi", "Total amount",
                              "somma degli importi dei movimenti visibili (SUBTOTALE)",
                              "sum of the amounts of the visible transfers (SUBTOTAL)"),),
    )


# ---------------------------------------------------------------- trial balance


def trial_balance_check(rows: Iterable[TrialBalanceRow]) -> tuple[CurrencyCheck, ...]:
    """Total debits and credits posted per currency; double entry wants them equal."""
    totals: dict[str, list[int]] = {}
    for r in rows:
        entry = totals.setdefault(r.currency, [0, 0])
        entry[0] += r.debits_posted_minor
        entry[1] += r.credits_posted_minor
    return tuple(CurrencyCheck(c, d, k) for c, (d, k) in sorted(totals.items()))


def trial_balance_report(rows: Sequence[TrialBalanceRow], as_of: date, *,
                         generated_at: datetime | None = None, lang: Lang = "it",
                         filters: Mapping[str, str] | None = None) -> Report:
    """Per account: debits and credits posted, balance (debits − credits); and the check.

    All in EUR: euro cells with totals. Several currencies: plain decimals in each
    currency and no column totals (the check sheet totals per currency instead).
    """
    labels = {r.account_code: r.label(lang) for r in rows}
    order = {g: i for i, g in enumerate(ACCOUNT_GROUPS)}
    # A bookkeeper reads by group (pools, loans, income ...), then by account.
    rows = sorted(rows, key=lambda r: (r.currency, order[labels[r.account_code].group],
                                       labels[r.account_code].name, r.account_code))
    euro = all(r.currency == "EUR" for r in rows)
    kind: ColumnKind = "money" if euro else "decimal"
    total: Literal["sum"] | None = "sum" if euro else None
    columns = (
        col("group", "Gruppo", "Group", "text", codes="account_group"),
        col("account_name", "Conto", "Account", "text"),
        col("currency", "Valuta", "Currency", "text"),
        col("debits", "Dare", "Debits", kind, "totale addebitato (movimenti registrati)",
            "total debited (posted transfers)", total),
        col("credits", "Avere", "Credits", kind, "totale accreditato (movimenti registrati)",
            "total credited (posted transfers)", total),
        col("balance", "Saldo", "Balance", kind, "dare − avere", "debits − credits", total),
        col("account_code", "Codice conto", "Account code", "text",
            "codice del conto nel registro", "the account's code in the ledger"),
    )

    def amount(minor: int, currency: str) -> object:
        return minor if euro else minor_to_decimal(minor, currency)

    frame = frame_of(rows, columns, {
        "group": lambda r: labels[r.account_code].group,
        "account_code": lambda r: r.account_code,
        "account_name": lambda r: labels[r.account_code].name,
        "currency": lambda r: r.currency,
        "debits": lambda r: amount(r.debits_posted_minor, r.currency),
        "credits": lambda r: amount(r.credits_posted_minor, r.currency),
        "balance": lambda r: amount(r.debits_posted_minor - r.credits_posted_minor,
                                    r.currency),
    }) if euro else _decimal_frame(rows, labels)
    group_columns, group_frame = _group_subtotals(rows, labels, euro, kind, total)

    checks = trial_balance_check(rows)
    ok, wrong = ("quadra", "NON QUADRA") if lang == "it" else ("balanced", "NOT BALANCED")
    check_columns = (
        col("currency", "Valuta", "Currency", "text"),
        col("debits", "Totale dare", "Total debits", kind),
        col("credits", "Totale avere", "Total credits", kind),
        col("difference", "Differenza", "Difference", kind, "dare − avere: deve essere zero",
            "debits − credits: must be zero"),
        col("result", "Esito", "Result", "text"),
    )
    check_frame = pl.DataFrame(
        {
            "currency": [c.currency for c in checks],
            "debits": [amount(c.debits_minor, c.currency) for c in checks],
            "credits": [amount(c.credits_minor, c.currency) for c in checks],
            "difference": [amount(c.debits_minor - c.credits_minor, c.currency)
                           for c in checks],
            "result": [ok if c.balanced else wrong for c in checks],
        },
        schema={"currency": pl.String, "debits": _amount_dtype(euro),
                "credits": _amount_dtype(euro), "difference": _amount_dtype(euro),
                "result": pl.String},
    )
    return Report(
        name="trial-balance", title_it="Bilancio di verifica", title_en="Trial balance",
        sheets=(ReportSheet("Bilancio di verifica", columns, frame, "Trial balance"),
                ReportSheet("Per gruppo", group_columns, group_frame, "By group"),
                ReportSheet("Quadratura", check_columns, check_frame, "Check")),
        parameters={"as_of": as_of.isoformat(), **(filters or {})}, as_of=as_of,
        generated_at=generated_at,
        formulas=(
            FormulaNote("Saldo", "Balance", "dare − avere del conto",
                        "the account's debits − credits"),
            FormulaNote("Per gruppo", "By group",
                        "per valuta e gruppo del piano dei conti: somma di dare, avere e saldo "
                        "dei suoi conti",
                        "per currency and group of the chart of accounts: sum of its "
                        "accounts' debits, credits and balances"),
            FormulaNote("Quadratura", "Check",
                        "per valuta: somma del dare = somma dell'avere (partita doppia)",
                        "per currency: sum of debits = sum of credits (double entry)"),
        ),
    )


def _amount_dtype(euro: bool) -> pl.DataType:
    return pl.Int64() if euro else pl.Decimal(38, 6)


def _group_subtotals(rows: Sequence[TrialBalanceRow], labels: Mapping[str, AccountLabel],
                     euro: bool, kind: ColumnKind, total: Literal["sum"] | None
                     ) -> tuple[tuple[ColumnSpec, ...], pl.DataFrame]:
    """Debits, credits and balance per currency and account group, in group order."""
    sums: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        entry = sums.setdefault((r.currency, labels[r.account_code].group), [0, 0, 0])
        entry[0] += 1
        entry[1] += r.debits_posted_minor
        entry[2] += r.credits_posted_minor
    columns = (
        col("currency", "Valuta", "Currency", "text"),
        col("group", "Gruppo", "Group", "text", codes="account_group"),
        col("accounts", "Conti", "Accounts", "int", total="sum"),
        col("debits", "Dare", "Debits", kind, total=total),
        col("credits", "Avere", "Credits", kind, total=total),
        col("balance", "Saldo", "Balance", kind, "dare − avere", "debits − credits", total),
    )

    def amount(minor: int, currency: str) -> object:
        return minor if euro else minor_to_decimal(minor, currency)

    keys = list(sums)  # rows are sorted by currency and group already
    dtype = _amount_dtype(euro)
    frame = pl.DataFrame(
        {
            "currency": [c for c, _ in keys],
            "group": [g for _, g in keys],
            "accounts": [sums[k][0] for k in keys],
            "debits": [amount(sums[k][1], k[0]) for k in keys],
            "credits": [amount(sums[k][2], k[0]) for k in keys],
            "balance": [amount(sums[k][1] - sums[k][2], k[0]) for k in keys],
        },
        schema={"currency": pl.String, "group": pl.String, "accounts": pl.Int64,
                "debits": dtype, "credits": dtype, "balance": dtype},
    )
    return columns, frame


def _decimal_frame(rows: Sequence[TrialBalanceRow],
                   labels: Mapping[str, AccountLabel]) -> pl.DataFrame:
    # Each currency keeps its own decimals; the column holds up to 6 (enough for ISO 4217).
    def dec(minor: int, currency: str) -> object:
        return minor_to_decimal(minor, currency)

    max_exp = max((currency_exponent(r.currency) for r in rows), default=2)
    dtype = pl.Decimal(38, max(max_exp, 2))
    return pl.DataFrame(
        {
            "group": [labels[r.account_code].group for r in rows],
            "account_code": [r.account_code for r in rows],
            "account_name": [labels[r.account_code].name for r in rows],
            "currency": [r.currency for r in rows],
            "debits": [dec(r.debits_posted_minor, r.currency) for r in rows],
            "credits": [dec(r.credits_posted_minor, r.currency) for r in rows],
            "balance": [dec(r.debits_posted_minor - r.credits_posted_minor, r.currency)
                        for r in rows],
        },
        schema={"group": pl.String, "account_code": pl.String, "account_name": pl.String,
                "currency": pl.String, "debits": dtype, "credits": dtype, "balance": dtype},
    )
