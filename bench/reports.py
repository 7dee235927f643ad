"""Bench: report workbooks against plain openpyxl write-only and xlsxwriter constant_memory.

Each case runs in its own subprocess, so its peak resident memory (ru_maxrss) is its own;
the `idle` case (imports only) is the floor every process pays. Cases:

* portfolio of 10,000 loans: our full report (5 sheets + Info) in normal and write-only
  mode, beside the loans sheet alone written directly with openpyxl write-only and with
  xlsxwriter constant_memory; and the same report as an A4 PDF (fpdf2), beside the
  write-only workbook;
* journal of N transfers (default 200,000; --rows 1000000): our streamed journal beside
  the same rows written directly with openpyxl write-only (plain values, and with the
  same per-cell number formats) and with xlsxwriter constant_memory (same formats).

    .venv/bin/python bench/reports.py [--rows 1000000] [--loans 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.money import minor_to_decimal
from reports.journal import JournalRow, journal_report
from reports.pdf import write_pdf
from reports.portfolio import LoanPosition, PortfolioParams, portfolio_report
from reports.workbook import (
    DATE_FORMATS,
    DATETIME_FORMATS,
    EURO_FORMAT,
    write_xlsx,
    write_xlsx_streaming,
)

START = datetime(2024, 1, 1, tzinfo=UTC)
AS_OF = date(2024, 6, 30)


def transfers(n: int) -> Iterator[JournalRow]:
    for i in range(n):
        yield JournalRow(
            id=f"{i:08x}-0000-4000-8000-{i:012x}", timestamp=START + timedelta(seconds=7 * i),
            debit_account=f"1.{i % 997:04d}", credit_account=f"2.{i % 991:04d}",
            amount_minor=(i * 7919) % 5_000_000 + 1, currency="EUR", code=i % 12,
            flags=("linked",) if i % 3 == 0 else ())


def journal_values(n: int) -> Iterator[tuple[object, ...]]:
    # What a direct writer would put in the cells: the same conversions as ours.
    for r in transfers(n):
        yield (r.id, r.timestamp.replace(tzinfo=None), r.debit_account, r.credit_account,
               minor_to_decimal(r.amount_minor, "EUR"), r.currency, r.code,
               ", ".join(r.flags))


JOURNAL_HEADER = ("Id", "Data e ora (UTC)", "Conto dare", "Conto avere", "Importo", "Valuta",
                  "Causale", "Flag")
JOURNAL_FORMATS = {1: DATETIME_FORMATS["it"], 4: EURO_FORMAT}


def positions(n: int) -> list[LoanPosition]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        status = rng.choices(["active", "repaid", "written_off"], [85, 12, 3])[0]
        outstanding = rng.randrange(100_000, 7_500_000) if status == "active" else 0
        dpd = rng.choice([0] * 8 + [rng.randrange(1, 400)]) if status == "active" else 0
        out.append(LoanPosition(
            loan_id=f"L{i:06d}", borrower_id=f"B{i % 7000:05d}",
            borrower_name=f"Produttore {i % 7000}", province=rng.choice(["MI", "BG", "CO"]),
            category=rng.choice(["caseificio", "forno", "orto", "vigna", "apicoltura"]),
            status=status, disbursed_cents=outstanding + rng.randrange(0, 500_000),
            outstanding_principal_cents=outstanding,
            overdue_cents=rng.randrange(0, 50_000) if dpd else 0, days_past_due=dpd,
            restructured=rng.random() < 0.02, guarantee_remaining_cents=outstanding // 2,
            written_off_cents=rng.randrange(1, 1_000_000) if status == "written_off" else 0,
            written_off_on=date(2024, 3, 1) if status == "written_off" else None))
    return out


def loan_values(ps: list[LoanPosition]) -> list[tuple[object, ...]]:
    report = portfolio_report(ps, AS_OF)
    sheet = next(s for s in report.sheets if s.name == "Prestiti")
    frame = sheet.frame  # type: ignore[union-attr]
    money = {i for i, c in enumerate(sheet.columns) if c.kind == "money"}
    rows = []
    for row in frame.iter_rows():
        rows.append(tuple(minor_to_decimal(v, "EUR") if i in money and v is not None else v
                          for i, v in enumerate(row)))
    return rows


# ---------------------------------------------------------------- direct writers


def openpyxl_direct(path: str, header: tuple[str, ...], rows: Iterator[tuple[object, ...]],
                    formats: dict[int, str] | None) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Data")
    ws.freeze_panes = "A2"
    head = []
    for text in header:
        cell = WriteOnlyCell(ws, text)
        cell.font = Font(bold=True)
        head.append(cell)
    ws.append(head)
    for row in rows:
        if formats:
            values: list[object] = list(row)
            for index, fmt in formats.items():
                if values[index] is not None:
                    cell = WriteOnlyCell(ws, values[index])
                    cell.number_format = fmt
                    values[index] = cell
            ws.append(values)
        else:
            ws.append(row)
    wb.save(path)


def xlsxwriter_direct(path: str, header: tuple[str, ...], rows: Iterator[tuple[object, ...]],
                      formats: dict[int, str]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(path, {"constant_memory": True})
    ws = wb.add_worksheet("Data")
    bold = wb.add_format({"bold": True})
    fmts = {i: wb.add_format({"num_format": f}) for i, f in formats.items()}
    ws.freeze_panes(1, 0)
    ws.write_row(0, 0, header, bold)
    r = 0
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            fmt = fmts.get(c)
            if isinstance(value, datetime | date):
                ws.write_datetime(r, c, value, fmt)
            elif isinstance(value, int | Decimal):
                ws.write_number(r, c, value, fmt)
            else:
                ws.write_string(r, c, str(value), fmt)
    ws.autofilter(0, 0, r, len(header) - 1)
    wb.close()


# ---------------------------------------------------------------- cases


def run_case(case: str, rows: int, loans: int, path: str) -> None:
    if case == "idle":
        return
    if case.startswith("portfolio"):
        ps = positions(loans)
        if case == "portfolio/filiera":
            write_xlsx(portfolio_report(ps, AS_OF, PortfolioParams()), path)
        elif case == "portfolio/filiera-streaming":
            write_xlsx_streaming(portfolio_report(ps, AS_OF, PortfolioParams()), path)
        elif case == "portfolio/filiera-pdf":
            write_pdf(portfolio_report(ps, AS_OF, PortfolioParams()), path)
        else:
            report = portfolio_report(ps, AS_OF)
            sheet = next(s for s in report.sheets if s.name == "Prestiti")
            header = tuple(c.label_it for c in sheet.columns)
            formats = {i: EURO_FORMAT for i, c in enumerate(sheet.columns) if c.kind == "money"}
            formats |= {i: DATE_FORMATS["it"] for i, c in enumerate(sheet.columns)
                        if c.kind == "date"}
            values = loan_values(ps)
            if case == "portfolio/openpyxl":
                openpyxl_direct(path, header, iter(values), formats)
            else:
                xlsxwriter_direct(path, header, iter(values), formats)
        return
    if case == "journal/filiera":
        write_xlsx_streaming(journal_report(transfers(rows)), path)
    elif case == "journal/openpyxl-plain":
        openpyxl_direct(path, JOURNAL_HEADER, journal_values(rows), None)
    elif case == "journal/openpyxl":
        openpyxl_direct(path, JOURNAL_HEADER, journal_values(rows), JOURNAL_FORMATS)
    elif case == "journal/xlsxwriter":
        xlsxwriter_direct(path, JOURNAL_HEADER, journal_values(rows), JOURNAL_FORMATS)
    else:
        raise SystemExit(f"unknown case {case}")


# (case, the baseline its time is compared with); baselines run first.
CASES = [
    ("idle", None),
    ("portfolio/openpyxl", None),
    ("portfolio/xlsxwriter", "portfolio/openpyxl"),
    ("portfolio/filiera", "portfolio/openpyxl"),
    ("portfolio/filiera-streaming", "portfolio/openpyxl"),
    ("portfolio/filiera-pdf", "portfolio/filiera-streaming"),
    ("journal/openpyxl-plain", None),
    ("journal/openpyxl", "journal/openpyxl-plain"),
    ("journal/xlsxwriter", "journal/openpyxl"),
    ("journal/filiera", "journal/openpyxl"),
]


def child(case: str, rows: int, loans: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.xlsx")
        started = time.perf_counter()
        run_case(case, rows, loans, path)
        seconds = time.perf_counter() - started
        size = os.path.getsize(path) if os.path.exists(path) else 0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024, "bytes": size}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="journal transfers")
    parser.add_argument("--loans", type=int, default=10_000, help="portfolio loans")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        child(args.case, args.rows, args.loans)
        return
    results: dict[str, dict[str, float]] = {}
    print(f"loans={args.loans} journal rows={args.rows}  (each case in its own process)")
    print(f"{'case':30} {'seconds':>8} {'peak MiB':>9} {'file MiB':>9} {'rows/s':>9}"
          f"  {'time vs baseline':>24}")
    for case, baseline in CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--case", case, "--rows", str(args.rows),
             "--loans", str(args.loans)], check=True, capture_output=True, text=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results[case] = result
        n = args.loans if case.startswith("portfolio") else args.rows
        rate = f"{n / result['seconds']:9.0f}" if case != "idle" else f"{'':9}"
        vs = ""
        if baseline:
            vs = f"{result['seconds'] / results[baseline]['seconds']:5.2f}x {baseline}"
        print(f"{case:30} {result['seconds']:8.2f} {result['peak_mib']:9.1f} "
              f"{result['bytes'] / 2**20:9.2f} {rate}  {vs:>24}")


if __name__ == "__main__":
    main()
