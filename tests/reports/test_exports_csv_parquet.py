"""CSV (Italian and plain) and Parquet exports read back."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl

from reports.workbook import ColumnSpec, export_frame, write_csv, write_parquet

COLUMNS = (
    ColumnSpec("name", "Nome", "Name", "text"),
    ColumnSpec("amount", "Importo", "Amount", "money"),
    ColumnSpec("on", "Data", "Date", "date"),
    ColumnSpec("share", "Quota", "Share", "percent"),
)


def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {"name": ["Rossi; Figli", "Forno \"Bio\""], "amount": [123_456, -5],
         "on": [date(2024, 1, 5), None], "share": [Decimal("0.1234"), None],
         "extra": [1, 2]},
        schema={"name": pl.String, "amount": pl.Int64, "on": pl.Date,
                "share": pl.Decimal(38, 4), "extra": pl.Int64},
    )


def test_italian_csv() -> None:
    out = io.BytesIO()
    write_csv(frame(), out, italian=True, columns=COLUMNS)
    text = out.getvalue().decode("utf-8")
    assert text.splitlines()[0] == "Nome;Importo;Data;Quota"
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[1] == ["Rossi; Figli", "1234,56", "05/01/2024", "0,1234"]
    assert rows[2] == ["Forno \"Bio\"", "-0,05", "", ""]
    # Read back as Italian numbers: comma -> point gives the exact amounts.
    assert [Decimal(r[1].replace(",", ".")) for r in rows[1:]] == [Decimal("1234.56"),
                                                                  Decimal("-0.05")]


def test_plain_csv_to_path(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(frame(), path, columns=COLUMNS)
    rows = list(csv.reader(path.open(encoding="utf-8")))
    assert rows[0] == ["Name", "Amount", "Date", "Share"]
    assert rows[1] == ["Rossi; Figli", "1234.56", "2024-01-05", "0.1234"]


def test_csv_without_specs_keeps_the_frame() -> None:
    out = io.BytesIO()
    write_csv(frame(), out, italian=True, include_bom=True)
    text = out.getvalue().decode("utf-8")
    assert text.startswith("\ufeffname;amount;on;share;extra")


def test_parquet_round_trip(tmp_path: Path) -> None:
    out = io.BytesIO()
    write_parquet(frame(), out, columns=COLUMNS)
    back = pl.read_parquet(io.BytesIO(out.getvalue()))
    assert back.columns == ["name", "amount", "on", "share"]
    assert back.schema["amount"] == pl.Decimal(38, 2)
    assert back["amount"].to_list() == [Decimal("1234.56"), Decimal("-0.05")]
    assert back["on"].to_list() == [date(2024, 1, 5), None]
    path = tmp_path / "raw.parquet"
    write_parquet(frame(), path)
    assert pl.read_parquet(path).equals(frame())


def test_export_frame_exact_for_large_cents() -> None:
    cents = [10**15 - 1, -(10**12) - 1, 1, 0]
    exported = export_frame(pl.DataFrame({"amount": cents}), (COLUMNS[1],), "it")
    assert exported.columns == ["Importo"]
    assert exported["Importo"].to_list() == [Decimal(c).scaleb(-2) for c in cents]


def test_csv_datetimes_in_utc() -> None:
    spec = (ColumnSpec("ts", "Ora", "Time", "datetime"),)
    rome = pl.DataFrame({"ts": [datetime(2024, 3, 1, 23, 30, tzinfo=UTC)]},
                        schema={"ts": pl.Datetime("us", "Europe/Rome")})
    out = io.BytesIO()
    write_csv(rome, out, italian=True, columns=spec)
    # The header says the zone: the Italian labels no longer do (workbooks say Rome).
    assert out.getvalue().decode().splitlines() == ["Ora (UTC)", "01/03/2024 23:30:00"]


def test_italian_values_on_request() -> None:
    spec = (ColumnSpec("ts", "Ora", "Time", "datetime"),
            ColumnSpec("status", "Stato", "Status", "text", codes="loan_status"),
            ColumnSpec("category", "Categoria", "Category", "text", codes="product_category"))
    frame = pl.DataFrame({"ts": [datetime(2024, 3, 1, 23, 30, tzinfo=UTC),
                                 datetime(2024, 7, 1, 23, 30, tzinfo=UTC)],
                          "status": ["written_off", "active"],
                          "category": ["cheese", "kombucha"]},
                         schema={"ts": pl.Datetime("us", "UTC"), "status": pl.String,
                                 "category": pl.String})
    plain = export_frame(frame, spec, "it")
    assert plain["Stato"].to_list() == ["written_off", "active"]  # codes kept by default
    italian = export_frame(frame, spec, "it", italian_values=True)
    assert italian.columns == ["Ora (ora italiana)", "Stato", "Categoria"]
    # Rome: UTC+1 in March (CET), UTC+2 in July (CEST).
    assert italian["Ora (ora italiana)"].to_list() == [datetime(2024, 3, 2, 0, 30),
                                                      datetime(2024, 7, 2, 1, 30)]
    assert italian["Stato"].to_list() == ["passato a perdita", "attivo"]
    assert italian["Categoria"].to_list() == ["formaggi", "kombucha"]  # unknown: kept
