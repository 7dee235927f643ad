"""The journal streamed through openpyxl's write-only mode, and the trial balance."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest

from reports.journal import (
    JournalRow,
    TrialBalanceRow,
    journal_frame,
    journal_report,
    trial_balance_check,
    trial_balance_report,
)
from reports.workbook import DATETIME_FORMATS, EURO_FORMAT, write_xlsx, write_xlsx_streaming

ROWS = 20_000
START = datetime(2024, 1, 1, tzinfo=UTC)


def amount(i: int) -> int:
    return (i * 7919) % 1_000_000 + 1


def transfers(n: int) -> Iterator[JournalRow]:
    for i in range(n):
        yield JournalRow(
            id=f"t{i:07d}", timestamp=START + timedelta(seconds=37 * i),
            debit_account=f"D{i % 50:03d}", credit_account=f"C{i % 37:03d}",
            amount_minor=amount(i), currency="EUR", code=f"code-{i % 10}",
            flags=("linked",) if i % 3 == 0 else ())


def test_streamed_journal_of_20000_rows() -> None:
    consumed = 0

    def counted() -> Iterator[JournalRow]:
        nonlocal consumed
        for row in transfers(ROWS):
            consumed += 1
            yield row

    report = journal_report(counted(), period_from=date(2024, 1, 1),
                            period_to=date(2024, 12, 31))
    out = io.BytesIO()
    write_xlsx_streaming(report, out)
    assert consumed == ROWS

    wb = openpyxl.load_workbook(io.BytesIO(out.getvalue()), read_only=True)
    assert wb.sheetnames == ["Giornale", "Info"]
    ws = wb["Giornale"]
    rows = ws.iter_rows()
    header = next(rows)
    assert [c.value for c in header][:5] == ["Id", "Data e ora", "Conto dare",
                                            "Conto avere", "Importo"]
    assert header[0].font.b is True
    total_cents = 0
    count = 0
    last = None
    for i, row in enumerate(rows):
        if row[0].value == "Totale":
            last = row
            break
        count += 1
        total_cents += round(Decimal(repr(row[4].value)) * 100)
        if i in (0, 1, 12_345, ROWS - 1):
            assert row[0].value == f"t{i:07d}"
            # Italian workbook: Rome time, one hour ahead of UTC in January (CET).
            assert row[1].value == datetime(2024, 1, 1, 1) + timedelta(seconds=37 * i)
            assert row[1].number_format == DATETIME_FORMATS["it"]
            assert row[4].number_format == EURO_FORMAT
            assert round(Decimal(repr(row[4].value)) * 100) == amount(i)
            assert row[7].value == ("collegato" if i % 3 == 0 else None)
    assert count == ROWS
    assert last is not None
    assert last[4].value == f"=SUBTOTAL(9,E2:E{ROWS + 1})"
    assert total_cents == sum(amount(i) for i in range(ROWS))
    wb.close()

    # Sheet-level settings, from the sheet's XML (the full reader is slow on 20,000 rows).
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert re.search(r'<pane [^>]*topLeftCell="A2"[^>]*state="frozen"', xml) or re.search(
        r'<pane [^>]*state="frozen"[^>]*topLeftCell="A2"', xml)
    assert f'<autoFilter ref="A1:H{ROWS + 1}"' in xml
    assert xml.count("<row ") == ROWS + 2


def test_journal_rejects_other_currencies_unless_asked() -> None:
    rows = [JournalRow("x", START, "a", "b", 1234, "JPY", 1)]
    with pytest.raises(ValueError, match="euro_only"):
        write_xlsx_streaming(journal_report(iter(rows)), io.BytesIO())
    out = io.BytesIO()
    write_xlsx_streaming(journal_report(iter(rows), euro_only=False), out)
    ws = openpyxl.load_workbook(io.BytesIO(out.getvalue()))["Giornale"]
    assert ws["E2"].value == 1234  # yen have no decimals
    assert ws["E3"].value is None  # no total across currencies


def test_journal_frame() -> None:
    frame = journal_frame(transfers(10))
    assert frame.height == 10
    assert frame["amount"].sum() == sum(amount(i) for i in range(10))
    assert frame["flags"][0] == "linked"


ACCOUNTS = [
    TrialBalanceRow("1000", "Cassa MAG", "EUR", 5_000_000, 1_250_000),
    TrialBalanceRow("2000", "Prestito Rossi", "EUR", 1_250_000, 250_050),
    TrialBalanceRow("3000", "Capitale sociale", "EUR", 0, 4_749_950),
]


def test_trial_balance_check() -> None:
    (check,) = trial_balance_check(ACCOUNTS)
    assert (check.debits_minor, check.credits_minor) == (6_250_000, 6_250_000)
    assert check.balanced
    broken = [*ACCOUNTS, TrialBalanceRow("4000", "x", "EUR", 1, 0),
              TrialBalanceRow("9", "y", "USD", 3, 3)]
    checks = {c.currency: c for c in trial_balance_check(broken)}
    assert not checks["EUR"].balanced
    assert checks["USD"].balanced


def test_trial_balance_workbook() -> None:
    out = io.BytesIO()
    write_xlsx(trial_balance_report(ACCOUNTS, date(2024, 6, 30)), out)
    wb = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    ws = wb["Bilancio di verifica"]
    # Codes outside the ledger's chart: group "other", named as given, sorted by name.
    assert [ws.cell(r, 1).value for r in range(2, 5)] == ["Altri conti"] * 3
    assert [ws.cell(r, 2).value for r in range(2, 5)] == ["Capitale sociale", "Cassa MAG",
                                                         "Prestito Rossi"]
    balances = [round(Decimal(repr(ws.cell(r, 6).value)) * 100) for r in range(2, 5)]
    assert balances == [-4_749_950, 5_000_000 - 1_250_000, 1_250_000 - 250_050]
    assert sum(balances) == 0
    assert ws["F5"].value == "=SUBTOTAL(9,F2:F4)"
    check = wb["Quadratura"]
    assert [c.value for c in check[2]] == ["EUR", 62500, 62500, 0, "quadra"]
