"""Reports over HTTP and the CLI: every figure checked against the API's own answers.

A small portfolio is built through the API (pool deposit, loans disbursed, repayments,
a late loan, a write-off, guarantees and a call, prepayments with deliveries and a
close, contributions and a grant). Each report is downloaded, read back (openpyxl for
XLSX, polars for CSV and Parquet) and compared, to the cent, with what the test works
out from the API's responses. The totals rows are formulas: LibreOffice (headless)
recalculates them and they must equal the sums the test makes of the cells.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import subprocess
import uuid
from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from tests.api.conftest import Api, eur, make_party

AS_OF = "2026-06-30"
PERIOD = "from=2026-01-01&to=2026-06-30"
RATES = {"current": Decimal(0), "1-30": Decimal("0.10"), "31-60": Decimal("0.25"),
         "61-90": Decimal("0.50"), "90+": Decimal(1)}
ZERO = Decimal("0.00")


# -- helpers ------------------------------------------------------------------------------

def amt(m: dict[str, str]) -> Decimal:
    assert m["currency"] == "EUR"
    return Decimal(m["amount"])


def cent(x: Decimal | Fraction) -> Decimal:
    if isinstance(x, Fraction):
        return Decimal(round(x * 100)) / 100
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def ratio(num: Decimal, den: Decimal) -> Decimal | None:
    """Half-even to 4 places, computed apart from the service (Fraction rounding)."""
    if den == 0:
        return None
    return Decimal(round(Fraction(num) / Fraction(den) * 10_000)) / 10_000


def num(value: Any) -> Decimal | None:
    """A numeric cell as the exact decimal it was written as (openpyxl reads a double)."""
    if value is None:
        return None
    assert isinstance(value, int | float), value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def money(value: Any) -> Decimal:
    d = num(value)
    assert d is not None
    return cent(d)


def bucket(dpd: int) -> str:
    return ("current" if dpd <= 0 else "1-30" if dpd <= 30 else "31-60" if dpd <= 60
            else "61-90" if dpd <= 90 else "90+")


class Table:
    """A data sheet: header row, data rows, and the totals row of SUBTOTAL formulas."""

    def __init__(self, wb: Workbook, title: str) -> None:
        ws = wb[title]
        values = [list(r) for r in ws.iter_rows(values_only=True)]
        self.header = [str(h) for h in values[0]]
        body = values[1:]
        self.total: dict[str, Any] | None = None
        # The totals row: SUBTOTAL formulas (plain zeros under an empty table).
        if body and (any(isinstance(v, str) and v.startswith("=SUBTOTAL") for v in body[-1])
                     or {v for v in body[-1] if v is not None} in ({"Totale", 0},
                                                                    {"Total", 0})):
            self.total = dict(zip(self.header, body.pop(), strict=True))
        self.rows = [dict(zip(self.header, r, strict=True)) for r in body]
        self.title = title

    def by(self, column: str) -> dict[Any, dict[str, Any]]:
        return {r[column]: r for r in self.rows}

    def column_sum(self, column: str) -> Decimal:
        return sum((num(r[column]) or Decimal(0) for r in self.rows), Decimal(0))


def workbook(api: Api, path: str, who: str = "officer") -> tuple[Workbook, bytes]:
    r = api.get(path, who)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert r.headers["content-disposition"].startswith('attachment; filename="')
    return load_workbook(io.BytesIO(r.content)), r.content


def all_pages(api: Api, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        sep = "&" if "?" in path else "?"
        body = api.ok(api.get(f"{path}{sep}limit=500" + (f"&cursor={cursor}" if cursor else "")))
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


# -- the portfolio ------------------------------------------------------------------------

def lender_and_pool(api: Api, deposit: str) -> tuple[str, str]:
    lender = make_party(api, "lender", "Mag2 Finance Milano")
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool}/deposits",
                    {"amount": eur(deposit), "date": "2026-01-02"}), 201)
    return lender, pool


def new_loan(api: Api, lender: str, borrower: str, principal: str, on: str,
             method: str = "french") -> dict[str, Any]:
    loan = api.ok(api.post("/api/loans", {
        "principal": eur(principal), "annual_rate": "3.00", "term_months": 12,
        "method": method, "frequency": "monthly", "disbursement_date": on,
        "borrower_id": borrower, "lender_id": lender}), 201)
    return api.ok(api.post(f"/api/loans/{loan['id']}/disbursement", {"date": on}))  # type: ignore[no-any-return]


def build(api: Api) -> dict[str, Any]:
    s: dict[str, Any] = {}
    s["lender"], s["pool"] = lender_and_pool(api, "100000.00")
    p1, p3, g1 = api.parties["producer"], api.parties["other_producer"], api.parties["gas"]
    p2 = make_party(api, "producer", "Cascina Pezzana", province="MI", municipality="Milano",
                    latitude=45.4642, longitude=9.19, categories=["ortaggi"])
    g2 = make_party(api, "gas", "GAS Bergamo Alta", province="BG", latitude=45.7035,
                    longitude=9.6625, households=30)
    person = make_party(api, "person", "Maria Rossi", province="MI", municipality="Monza")
    s.update(p1=p1, p2=p2, p3=p3, g1=g1, g2=g2, person=person)

    # A: on time; B: one installment then nothing (late); C: written off.
    a = new_loan(api, s["lender"], p1, "12000.00", "2026-01-15")
    for inst in a["schedule"][:5]:
        api.ok(api.post(f"/api/loans/{a['id']}/repayments",
                        {"amount": inst["payment"], "date": inst["due_date"]}))
    b = new_loan(api, s["lender"], p2, "6000.00", "2026-01-15")
    api.ok(api.post(f"/api/loans/{b['id']}/repayments",
                    {"amount": b["schedule"][0]["payment"], "date": "2026-02-15"}))
    c = new_loan(api, s["lender"], p3, "3000.00", "2026-01-15")
    api.ok(api.post(f"/api/loans/{c['id']}/write-off",
                    {"date": "2026-05-31", "note": "azienda chiusa"}))
    s.update(a=a["id"], b=b["id"], c=c["id"])

    # Guarantees: the GAS user pledges on A; on B a GAS and a person, then a call.
    api.ok(api.put(f"/api/parties/{g1}/pledge-capacity", {"amount": eur("5000.00")}, "gas"))
    api.ok(api.put(f"/api/parties/{g2}/pledge-capacity", {"amount": eur("3000.00")}))
    api.ok(api.put(f"/api/parties/{person}/pledge-capacity", {"amount": eur("2000.00")}))
    api.ok(api.post("/api/guarantees", {"loan_id": a["id"], "guarantor_id": g1,
                                        "date": "2025-12-01",
                                        "amount": eur("3000.00")}, "gas"), 201)
    api.ok(api.post("/api/guarantees", {"loan_id": b["id"], "guarantor_id": g2,
                                        "date": "2025-12-01", "amount": eur("2000.00")}), 201)
    api.ok(api.post("/api/guarantees", {"loan_id": b["id"], "guarantor_id": person,
                                        "date": "2025-12-01", "amount": eur("1000.00")}), 201)
    calls = api.ok(api.post(f"/api/loans/{b['id']}/guarantee-calls",
                            {"amount": eur("600.00"), "date": "2026-06-20"}))["calls"]
    assert sorted(amt(c["amount"]) for c in calls) == [Decimal("200.00"), Decimal("400.00")]

    # Prepayments: one with a delivery after the as-of date, one closed with a refund.
    pp1 = api.ok(api.post("/api/prepayments", {"date": "2026-01-10",
        "producer_id": p1, "gas_id": g1, "amount": eur("1500.00"), "product": "Taleggio DOP",
        "unit": "kg", "unit_price": eur("12.50"), "expires_on": "2026-12-31",
        "on_expiry": "rollover"}, "gas"), 201)["id"]
    for day, qty in [("2026-03-10", "20"), ("2026-05-12", "30.5"), ("2026-07-05", "4")]:
        api.ok(api.post(f"/api/prepayments/{pp1}/deliveries", {"date": day, "quantity": qty}))
    pp2 = api.ok(api.post("/api/prepayments", {"date": "2026-01-10",
        "producer_id": p2, "gas_id": g2, "amount": eur("800.00"),
        "product": "Cassetta di verdura", "unit": "cassetta", "unit_price": eur("16.00"),
        "expires_on": "2026-06-30", "on_expiry": "refund"}), 201)["id"]
    api.ok(api.post(f"/api/prepayments/{pp2}/deliveries", {"date": "2026-04-01",
                                                           "quantity": "10"}))
    api.ok(api.post(f"/api/prepayments/{pp2}/close", {"date": "2026-06-25"}))
    s.update(pp1=pp1, pp2=pp2)

    # Solidarity: contributions (one after the as-of date) and a grant.
    api.ok(api.post("/api/contributions", {"gas_id": g1, "amount": eur("100.00"),
                                           "date": "2026-02-01"}, "gas"), 201)
    api.ok(api.post("/api/contributions", {"gas_id": g2, "amount": eur("50.00"),
                                           "date": "2026-03-01", "earmark_producer_id": p2}),
           201)
    api.ok(api.post("/api/contributions", {"gas_id": g1, "amount": eur("20.00"),
                                           "date": "2026-08-01"}, "gas"), 201)
    fund_g2 = api.ok(api.get(f"/api/funds?gas_id={g2}"))["items"][0]["id"]
    api.ok(api.post(f"/api/funds/{fund_g2}/payouts", {
        "producer_id": p2, "amount": eur("40.00"), "date": "2026-04-15", "kind": "grant"}),
        201)
    return s


def loan_as_of(api: Api, loan_id: str, day: str = AS_OF) -> dict[str, Any]:
    return api.ok(api.get(f"/api/loans/{loan_id}?as_of={day}"))  # type: ignore[no-any-return]


def pledges(api: Api, loan_id: str, day: str = AS_OF) -> Decimal:
    body = api.ok(api.get(f"/api/loans/{loan_id}/guarantees?as_of={day}"))
    return sum((amt(g["remaining"]) for g in body["items"] if g["status"] == "active"),
               ZERO)


# -- LibreOffice --------------------------------------------------------------------------

def recalculated(files: dict[str, bytes], tmp: Path) -> dict[str, Workbook]:
    """Each workbook opened, recalculated and saved by LibreOffice, read with values."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is needed: apt-get install libreoffice-calc-nogui"
    src, out = tmp / "src", tmp / "out"
    src.mkdir()
    for name, content in files.items():
        (src / f"{name}.xlsx").write_bytes(content)
    subprocess.run(
        [soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp}/profile",
         "--convert-to", "xlsx", "--outdir", str(out),
         *sorted(str(p) for p in src.iterdir())],
        check=True, capture_output=True, timeout=120)
    return {name: load_workbook(out / f"{name}.xlsx", data_only=True) for name in files}


def check_totals(name: str, original: Workbook, computed: Workbook) -> int:
    """Every SUBTOTAL cell, recalculated, equals the sum of the cells above it."""
    checked = 0
    for title in original.sheetnames:
        if title == "Info":
            continue
        table = Table(original, title)
        if table.total is None:
            continue
        values = list(computed[title].iter_rows(values_only=True))
        total_row = dict(zip(table.header, values[len(table.rows) + 1], strict=True))
        for column, formula in table.total.items():
            if isinstance(formula, str) and formula.startswith("=SUBTOTAL"):
                got = num(total_row[column])
                assert got is not None, (name, title, column)
                assert cent(got) == cent(table.column_sum(column)), (name, title, column)
                checked += 1
    return checked


# -- the tests ----------------------------------------------------------------------------

def test_reports_match_the_api_to_the_cent(api: Api, tmp_path: Path) -> None:
    s = build(api)
    loans = {k: loan_as_of(api, s[k]) for k in ("a", "b", "c")}
    assert loans["c"]["status"] == "written_off"
    # B paid February only; the June call (600.00) settled March and part of April.
    assert loans["a"]["days_past_due"] == 0 and loans["b"]["days_past_due"] == 76
    files: dict[str, bytes] = {}
    totals: dict[str, dict[str, Decimal]] = {}  # expected totals, worked out here

    # ---- portfolio
    wb, files["portfolio"] = workbook(api, f"/api/reports/portfolio.xlsx?as_of={AS_OF}")
    assert wb.sheetnames == ["Sintesi", "Anzianità scaduto", "Per beneficiario",
                             "Per categoria", "Prestiti", "Info"]
    rows = Table(wb, "Prestiti").by("Prestito")
    assert set(rows) == {s["a"], s["b"], s["c"]}
    active = {k: v for k, v in loans.items() if v["status"] == "active"}
    allowance = ZERO
    for key, loan in active.items():
        row = rows[s[key]]
        out = amt(loan["outstanding_principal"])
        assert money(row["Erogato"]) == amt(loan["principal"])
        assert money(row["Capitale residuo"]) == out
        assert money(row["Scaduto non pagato"]) == amt(loan["overdue_amount"])
        assert row["Giorni di ritardo"] == loan["days_past_due"]
        assert money(row["Garanzie residue"]) == pledges(api, s[key])
        rate = RATES[bucket(loan["days_past_due"])]
        assert num(row["Aliquota accantonamento"]) == rate
        assert money(row["Accantonamento"]) == cent(out * rate)
        allowance += cent(out * rate)
    written_off = amt(loans["c"]["written_off_principal"])
    assert written_off == Decimal("3000.00")
    c_row = rows[s["c"]]
    assert c_row["Stato"] == "passato a perdita" and c_row["Capitale residuo"] is None
    assert money(c_row["Passato a perdita"]) == written_off
    assert c_row["Data passaggio a perdita"].date() == date(2026, 5, 31)

    gross = sum((amt(v["outstanding_principal"]) for v in active.values()), ZERO)
    par30 = sum((amt(v["outstanding_principal"]) for v in active.values()
                 if v["days_past_due"] > 30 or v["restructured"]), ZERO)
    par90 = sum((amt(v["outstanding_principal"]) for v in active.values()
                 if v["days_past_due"] > 90 or v["restructured"]), ZERO)
    assert par30 == amt(loans["b"]["outstanding_principal"]) and par90 == ZERO
    # Fund money for PAR30: 100.00 not earmarked (G1, February; August's 20.00 is after
    # the as-of date) + what remains earmarked for B's borrower (50.00 - 40.00 grant).
    fund_money = Decimal("100.00") + Decimal("10.00")
    summary = {r["Indicatore"]: r for r in Table(wb, "Sintesi").rows}
    assert summary["Prestiti attivi"]["Numero"] == 2
    assert money(summary["Portafoglio lordo"]["Importo"]) == gross
    assert money(summary["PAR30"]["Importo"]) == par30
    assert num(summary["PAR30"]["Rapporto"]) == ratio(par30, gross)
    assert num(summary["PAR90"]["Rapporto"]) == ratio(par90, gross)
    assert money(summary["Passato a perdita nel periodo"]["Importo"]) == written_off
    # No loan before 1 January: the average gross portfolio is (0 + gross) / 2.
    assert num(summary["Tasso di perdita"]["Rapporto"]) == ratio(written_off, gross / 2)
    assert money(summary["Accantonamento per perdite"]["Importo"]) == allowance
    assert num(summary["Copertura del rischio (accantonamento / PAR30)"]["Rapporto"]) == \
        ratio(allowance, par30)
    b_pledges = pledges(api, s["b"])
    assert b_pledges == Decimal("2400.00")  # 3,000 pledged - 600 called
    assert money(summary["Garanzie residue sui prestiti PAR30"]["Importo"]) == b_pledges
    assert money(summary["Fondi disponibili"]["Importo"]) == fund_money
    assert num(summary["Copertura garanzie del PAR30"]["Rapporto"]) == \
        ratio(b_pledges + fund_money, par30)
    aging = Table(wb, "Anzianità scaduto").by("Fascia di ritardo")
    assert aging["In regola"]["Prestiti"] == 1
    assert money(aging["61–90 giorni"]["Capitale residuo"]) == par30
    totals["portfolio"] = {"Capitale residuo": gross, "Accantonamento": allowance,
                           "Passato a perdita": written_off}
    loans_table = Table(wb, "Prestiti")
    for column, expected in totals["portfolio"].items():
        assert loans_table.column_sum(column) == expected
    info = {r[0]: r[1] for r in wb["Info"].iter_rows(values_only=True) if r and r[0]}
    assert "30 giorni" in str(info["PAR30"]) and info["as_of"] == AS_OF

    # ---- loan statement of A
    wb, files["loan-statement"] = workbook(
        api, f"/api/reports/loan-statement.xlsx?loan_id={s['a']}&as_of={AS_OF}")
    sched = Table(wb, "Piano e pagamenti")
    api_sched = loans["a"]["schedule"]
    assert [r["Rata"] for r in sched.rows] == [i["number"] for i in api_sched]
    for row, inst in zip(sched.rows, api_sched, strict=True):
        assert row["Scadenza"].date().isoformat() == inst["due_date"]
        assert money(row["Quota capitale"]) == amt(inst["principal"])
        assert money(row["Quota interessi"]) == amt(inst["interest"])
        paid = amt(inst["paid_principal"]) + amt(inst["paid_interest"]) + \
            amt(inst["paid_late_interest"])
        assert money(row["Pagato"]) == paid
        assert money(row["Da pagare"]) == amt(inst["payment"]) + \
            amt(inst["late_interest"]) - paid
        assert money(row["Capitale residuo"]) == amt(inst["balance_after"])
        if paid:
            assert row["Ultimo pagamento"].date().isoformat() == inst["due_date"]
    assert sched.column_sum("Quota capitale") == Decimal("12000.00")
    head = {r["Voce"]: r for r in Table(wb, "Prestito").rows}
    assert money(head["Capitale residuo"]["Importo"]) == amt(loans["a"]["outstanding_principal"])
    assert num(head["TAEG"]["Tasso"]) == Decimal(loans["a"]["apr"]) / 100

    # ---- arrears: only B, with its guarantors to contact
    wb, files["arrears"] = workbook(api, f"/api/reports/arrears.xlsx?as_of={AS_OF}")
    table = Table(wb, "Ritardi")
    assert [r["Prestito"] for r in table.rows] == [s["b"]]
    row = table.rows[0]
    due = [i for i in loans["b"]["schedule"] if i["due_date"] < AS_OF]
    over_p = sum((amt(i["principal"]) - amt(i["paid_principal"]) for i in due), ZERO)
    over_i = sum((amt(i["interest"]) - amt(i["paid_interest"]) for i in due), ZERO)
    assert money(row["Capitale scaduto"]) == over_p
    assert money(row["Interessi scaduti"]) == over_i
    assert money(row["Totale scaduto"]) == amt(loans["b"]["overdue_amount"]) == over_p + over_i
    assert row["Giorni di ritardo"] == loans["b"]["days_past_due"]
    oldest = min(i["due_date"] for i in due
                 if amt(i["payment"]) > amt(i["paid_principal"]) + amt(i["paid_interest"]))
    assert row["Rata più vecchia"].date().isoformat() == oldest
    assert money(row["Garanzie residue"]) == b_pledges
    contacts = Table(wb, "Garanti da contattare")
    assert {r["Garante"]: money(r["Garanzia residua"]) for r in contacts.rows} == {
        "GAS Bergamo Alta": Decimal("1600.00"), "Maria Rossi": Decimal("800.00")}
    assert {r["Comune"] for r in contacts.rows} == {None, "Monza"}

    # ---- guarantees
    wb, files["guarantees"] = workbook(api, f"/api/reports/guarantees.xlsx?as_of={AS_OF}")
    table = Table(wb, "Garanzie")
    api_g = {g["id"]: g for g in all_pages(api, "/api/guarantees")}
    assert set(table.by("Garanzia")) == set(api_g)
    for gid, row in table.by("Garanzia").items():
        g = api_g[gid]
        assert money(row["Impegno"]) == amt(g["amount"])
        assert money(row["Escusso"]) == amt(g["called_amount"])
        assert money(row["Residuo"]) == amt(g["remaining"])
        assert row["Stato"] == "attiva"
    cover = Table(wb, "Copertura per prestito").by("Prestito")
    assert num(cover[s["b"]]["Copertura"]) == ratio(
        b_pledges, amt(loans["b"]["outstanding_principal"]))
    totals["guarantees"] = {"Impegno": Decimal("6000.00"), "Escusso": Decimal("600.00"),
                            "Residuo": Decimal("5400.00")}
    for column, expected in totals["guarantees"].items():
        assert table.column_sum(column) == expected

    # ---- prepayments (the July delivery is after the as-of date)
    wb, files["prepayments"] = workbook(api, f"/api/reports/prepayments.xlsx?as_of={AS_OF}")
    table = Table(wb, "Prefinanziamenti").by("Prefinanziamento")
    assert set(table) == {s["pp1"], s["pp2"]}
    for pid in (s["pp1"], s["pp2"]):
        pp = api.ok(api.get(f"/api/prepayments/{pid}"))
        delivered = sum((amt(d["value"]) for d in pp["deliveries"] if d["date"] <= AS_OF),
                        ZERO)
        settled = amt(pp["settlement"]["amount"]) if pp["status"] == "closed" else ZERO
        row = table[pid]
        assert money(row["Anticipo"]) == amt(pp["paid"])
        assert money(row["Consegnato"]) == delivered
        assert money(row["Regolato a fine stagione"]) == settled
        assert money(row["Merce ancora dovuta"]) == amt(pp["paid"]) - delivered - settled
    assert money(table[s["pp1"]]["Consegnato"]) == Decimal("631.25")  # 250.00 + 381.25
    assert table[s["pp2"]]["Stato"] == "chiuso"
    assert money(table[s["pp2"]]["Regolato a fine stagione"]) == Decimal("640.00")

    # ---- solidarity
    wb, files["solidarity"] = workbook(
        api, f"/api/reports/solidarity.xlsx?as_of={AS_OF}&{PERIOD}")
    table = Table(wb, "Movimenti")
    assert table.column_sum("Entrate") == Decimal("150.00")
    assert table.column_sum("Uscite") == Decimal("40.00")
    by_fund = Table(wb, "Per fondo").rows
    assert sum((num(r["Saldo del periodo"]) or ZERO for r in by_fund), ZERO) == \
        Decimal("110.00")

    # ---- journal: every transfer dated in the period, with account codes
    transfers = all_pages(api, "/api/ledger/transfers")
    in_period = [t for t in transfers
                 if t["value_date"] and "2026-01-01" <= t["value_date"] <= AS_OF]
    wb, files["journal"] = workbook(api, f"/api/reports/journal.xlsx?{PERIOD}")
    table = Table(wb, "Giornale")
    assert [r["Id"] for r in table.rows] == [t["id"] for t in in_period]
    expected_sum = sum((amt(t["amount"]) for t in in_period), ZERO)
    assert table.column_sum("Importo") == expected_sum
    codes: dict[str, str] = {}
    for t in transfers:
        for key in ("debit_account_id", "credit_account_id"):
            if t[key] not in codes:
                codes[t[key]] = api.ok(api.get(f"/api/ledger/accounts/{t[key]}"))["code"]
    # Groups a bookkeeper recognises, from the purpose that starts each code.
    groups = {"pool": "Disponibilità per prestiti", "loan": "Prestiti",
              "interest": "Proventi", "fund": "Fondi di solidarietà",
              "pledge": "Garanzie", "prepayment": "Prefinanziamenti"}
    named = 0
    for row, t in zip(table.rows, in_period, strict=True):
        assert row["Conto dare"] == codes[t["debit_account_id"]]
        assert row["Conto avere"] == codes[t["credit_account_id"]]
        assert money(row["Importo"]) == amt(t["amount"])
        for side in ("dare", "avere"):
            purpose = row[f"Conto {side}"].split(":", 1)[0]
            assert row[f"Descrizione conto {side}"]
            if purpose in groups:
                assert row[f"Gruppo conto {side}"] == groups[purpose], row[f"Conto {side}"]
                named += 1
    assert named > 0

    # ---- trial balance as of: the journal replayed here, posted transfers only
    posted: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for t in transfers:
        day = t["value_date"] or t["timestamp"][:10]
        if day <= AS_OF and "pending" not in t["flags"] and "void_pending" not in t["flags"]:
            posted[codes[t["debit_account_id"]]][0] += amt(t["amount"])
            posted[codes[t["credit_account_id"]]][1] += amt(t["amount"])
    wb, files["trial-balance"] = workbook(
        api, f"/api/reports/trial-balance.xlsx?as_of={AS_OF}")
    table = Table(wb, "Bilancio di verifica")
    for code, row in table.by("Codice conto").items():
        debit, credit = posted.get(code, [ZERO, ZERO])
        assert (money(row["Dare"]), money(row["Avere"])) == (debit, credit), code
        assert money(row["Saldo"]) == debit - credit
        purpose = code.split(":", 1)[0]
        if purpose in groups:
            assert row["Gruppo"] == groups[purpose], code
    assert set(table.by("Codice conto")) >= {c for c, v in posted.items() if any(v)}
    check = Table(wb, "Quadratura").rows
    assert [r["Esito"] for r in check] == ["quadra"]
    assert money(check[0]["Totale dare"]) == sum((v[0] for v in posted.values()), ZERO)

    # Without as_of: the accounts' stored totals, as GET /api/ledger/accounts says.
    wb_now, _ = workbook(api, "/api/reports/trial-balance.xlsx")
    now = Table(wb_now, "Bilancio di verifica").by("Codice conto")
    for account_id, code in codes.items():
        acc = api.ok(api.get(f"/api/ledger/accounts/{account_id}"))
        assert money(now[code]["Dare"]) == amt(acc["debits_posted"])
        assert money(now[code]["Avere"]) == amt(acc["credits_posted"])

    # ---- impact over the year (the prepayments were paid on 2026-01-10)
    year = "from=2026-01-01&to=2026-12-31"
    wb, files["impact"] = workbook(api, f"/api/reports/impact.xlsx?{year}")
    table = Table(wb, "Per produttore").by("Produttore")
    assert set(table) == {"Caseificio Val Taleggio", "Cascina Pezzana", "Cascina Caremma"}
    end = {k: loan_as_of(api, s[k], "2026-12-31") for k in ("a", "b", "c")}
    expect = {
        "Caseificio Val Taleggio": ("a", Decimal("1500.00"), pledges(api, s["a"], "2026-12-31"),
                                    ZERO, 1, 25),
        "Cascina Pezzana": ("b", Decimal("800.00"), pledges(api, s["b"], "2026-12-31"),
                            Decimal("40.00"), 1, 30),
        "Cascina Caremma": ("c", ZERO, ZERO, ZERO, 0, 0),
    }
    for name, (key, prepaid, pledged, solidarity, gas_n, households) in expect.items():
        row = table[name]
        assert row["Prestiti"] == 1
        assert money(row["Credito erogato"]) == amt(end[key]["principal"])
        assert money(row["Capitale residuo"]) == amt(end[key]["outstanding_principal"])
        assert money(row["Prefinanziamenti ricevuti"]) == prepaid
        assert money(row["Garanzie in essere"]) == pledged
        assert money(row["Solidarietà ricevuta"]) == solidarity
        assert (row["GAS serviti"], row["Famiglie servite"]) == (gas_n, households)
    distances = {(r["Produttore"], r["GAS"]): r for r in Table(wb, "Distanze").rows}
    pez = distances[("Cascina Pezzana", "GAS Bergamo Alta")]
    km = Decimal(f"{haversine_km(45.4642, 9.19, 45.7035, 9.6625):.1f}")
    assert num(pez["Distanza (km)"]) == km
    assert (money(pez["Prefinanziato"]), money(pez["Garantito"]),
            money(pez["Contributi vincolati"])) == (Decimal("800.00"), Decimal("1600.00"),
                                                    Decimal("50.00"))
    assert distances[("Caseificio Val Taleggio", "GAS Gasabile Milano Isola")][
        "Distanza (km)"] is None  # no coordinates
    provinces = Table(wb, "Per provincia").by("Provincia")
    assert money(provinces["MI"]["Credito erogato"]) == Decimal("6000.00")
    impact_summary = {r["Indicatore"]: r for r in Table(wb, "Sintesi").rows}
    assert impact_summary["Produttori finanziati"]["Numero"] == 3
    assert impact_summary["Famiglie coinvolte (ogni GAS contato una volta)"]["Numero"] == 55
    assert money(impact_summary["Credito erogato nel periodo"]["Importo"]) == \
        Decimal("21000.00")

    # ---- every totals row, recalculated by LibreOffice, equals the cells' sum
    computed = recalculated(files, tmp_path)
    checked = sum(check_totals(name, load_workbook(io.BytesIO(content)), computed[name])
                  for name, content in files.items())
    assert checked > 40
    for name, expected_totals in totals.items():
        original = load_workbook(io.BytesIO(files[name]))
        title = {"portfolio": "Prestiti", "guarantees": "Garanzie"}[name]
        values = list(computed[name][title].iter_rows(values_only=True))
        header = [str(h) for h in values[0]]
        total_row = dict(zip(header, values[len(Table(original, title).rows) + 1], strict=True))
        for column, expected in expected_totals.items():
            assert money(total_row[column]) == expected, (name, column)


def test_csv_italian_and_parquet_read_back(api: Api) -> None:
    s = build(api)
    loans = {k: loan_as_of(api, s[k]) for k in ("a", "b")}
    r = api.get(f"/api/reports/portfolio.csv?as_of={AS_OF}&italian=true")
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == \
        f'attachment; filename="portfolio_{AS_OF}.csv"'
    text = r.content.decode()
    assert text.splitlines()[0].startswith("Prestito;Beneficiario;")
    frame = pl.read_csv(io.BytesIO(r.content), separator=";", decimal_comma=True,
                        infer_schema_length=0)
    rows = {row["Prestito"]: row for row in frame.iter_rows(named=True)}
    for key, loan in loans.items():
        # Decimal comma, no thousands separator: "11.012,34" never appears.
        assert rows[s[key]]["Capitale residuo"] == \
            loan["outstanding_principal"]["amount"].replace(".", ",")
    assert rows[s["c"]]["Data passaggio a perdita"] == "31/05/2026"

    # English headers and plain CSV on request.
    r = api.get(f"/api/reports/prepayments.csv?as_of={AS_OF}&lang=en")
    frame = pl.read_csv(io.BytesIO(r.content), infer_schema_length=0)
    assert frame.columns[:3] == ["Prepayment", "GAS", "Producer"]
    assert dict(zip(frame["Prepayment"], frame["Delivered"], strict=True))[s["pp1"]] == "631.25"

    # Parquet keeps keys as column names and money as exact Decimal(38, 2) euros.
    r = api.get(f"/api/reports/prepayments.parquet?as_of={AS_OF}")
    assert r.headers["content-type"] == "application/vnd.apache.parquet"
    frame = pl.read_parquet(io.BytesIO(r.content))
    assert frame.schema["advance"] == pl.Decimal(38, 2)
    got = {row["prepayment_id"]: row for row in frame.iter_rows(named=True)}
    assert got[s["pp1"]]["owed"] == Decimal("868.75")
    assert got[s["pp2"]]["settled"] == Decimal("640.00")

    # Another sheet of a workbook, and the streamed journal in both formats.
    r = api.get(f"/api/reports/portfolio.parquet?as_of={AS_OF}&sheet=aging")
    aging = pl.read_parquet(io.BytesIO(r.content))
    assert aging["loans"].sum() == 2
    transfers = all_pages(api, "/api/ledger/transfers")
    after = [t for t in transfers if t["value_date"] and t["value_date"] >= "2026-03-01"
             and t["value_date"] <= "2026-06-30"]
    r = api.get("/api/reports/journal.parquet?from=2026-03-01&to=2026-06-30")
    journal = pl.read_parquet(io.BytesIO(r.content))
    assert journal["id"].to_list() == [t["id"] for t in after]
    assert journal["amount"].sum() == sum((amt(t["amount"]) for t in after), ZERO)
    r = api.get("/api/reports/journal.csv?from=2026-03-01&to=2026-06-30&italian=true")
    journal_csv = pl.read_csv(io.BytesIO(r.content), separator=";", decimal_comma=True,
                              infer_schema_length=0)
    assert journal_csv.height == len(after)
    assert journal_csv["Data valuta"][0] == datetime.fromisoformat(
        after[0]["value_date"]).strftime("%d/%m/%Y")


def test_par_and_aging_on_a_hand_built_portfolio(api: Api) -> None:
    """Bullet loans owe their whole principal until maturity; with no payment at all the
    days past due count from the first interest date, so every answer is known."""
    lender, _ = lender_and_pool(api, "200000.00")
    producer = api.parties["producer"]
    # (principal, disbursed) -> first due one month later; as of 30 June 2026:
    book = [("10000.00", "2026-06-01"),   # due 1 July: current
            ("20000.00", "2026-05-10"),   # due 10 June: 20 days, 1-30
            ("30000.00", "2026-04-20"),   # due 20 May: 41 days, 31-60
            ("15000.00", "2026-03-25"),   # due 25 April: 66 days, 61-90
            ("25000.00", "2026-02-15")]   # due 15 March: 107 days, 90+
    for principal, on in book:
        new_loan(api, lender, producer, principal, on, method="bullet")
    # A current loan restructured counts at risk all the same.
    restructured = new_loan(api, lender, api.parties["other_producer"], "5000.00",
                            "2026-06-05")
    api.ok(api.post(f"/api/loans/{restructured['id']}/reschedule", {
        "date": "2026-06-20", "note": "grandinata", "added_grace_periods": 1}))
    wb, _ = workbook(api, f"/api/reports/portfolio.xlsx?as_of={AS_OF}")
    summary = {r["Indicatore"]: r for r in Table(wb, "Sintesi").rows}
    assert money(summary["Portafoglio lordo"]["Importo"]) == Decimal("105000.00")
    assert money(summary["PAR30"]["Importo"]) == Decimal("75000.00")  # 30+15+25 + 5
    assert num(summary["PAR30"]["Rapporto"]) == Decimal("0.7143")  # 75/105
    assert money(summary["PAR90"]["Importo"]) == Decimal("30000.00")  # 25 + 5
    assert num(summary["PAR90"]["Rapporto"]) == Decimal("0.2857")  # 30/105
    # 0% + 10% of 20,000 + 25% of 30,000 + 50% of 15,000 + 100% of 25,000; restructured
    # but current: 0%.
    assert money(summary["Accantonamento per perdite"]["Importo"]) == Decimal("42000.00")
    assert num(summary["Copertura del rischio (accantonamento / PAR30)"]["Rapporto"]) == \
        Decimal("0.56")
    assert money(summary["Prestiti ristrutturati"]["Importo"]) == Decimal("5000.00")
    aging = {r["Fascia di ritardo"]: r for r in Table(wb, "Anzianità scaduto").rows}
    expected = {"In regola": (2, "15000.00", "0.00"), "1–30 giorni": (1, "20000.00", "2000.00"),
                "31–60 giorni": (1, "30000.00", "7500.00"),
                "61–90 giorni": (1, "15000.00", "7500.00"),
                "oltre 90 giorni": (1, "25000.00", "25000.00")}
    for label, (count, outstanding, allowance) in expected.items():
        row = aging[label]
        assert row["Prestiti"] == count
        assert money(row["Capitale residuo"]) == Decimal(outstanding)
        assert money(row["Accantonamento"]) == Decimal(allowance)
    days = sorted(r["Giorni di ritardo"] for r in Table(wb, "Prestiti").rows)
    assert days == [0, 0, 20, 41, 66, 107]
    # The same portfolio a month earlier: only the oldest loan was late (77 days).
    wb, _ = workbook(api, "/api/reports/portfolio.xlsx?as_of=2026-05-31")
    summary = {r["Indicatore"]: r for r in Table(wb, "Sintesi").rows}
    assert money(summary["Portafoglio lordo"]["Importo"]) == Decimal("90000.00")
    assert money(summary["PAR30"]["Importo"]) == Decimal("40000.00")  # 25,000 + 15,000
    assert money(summary["PAR90"]["Importo"]) == ZERO


def test_roles_scopes_and_bad_requests(api: Api) -> None:
    s = build(api)
    listing = {i["name"]: i for i in api.ok(api.get("/api/reports"))["items"]}
    assert {"portfolio", "loan-statement", "arrears", "guarantees", "prepayments",
            "solidarity", "journal", "trial-balance", "impact"} <= set(listing)
    assert [p["name"] for p in listing["loan-statement"]["parameters"]] == ["loan_id", "as_of"]
    assert listing["journal"]["urls"]["csv"] == "/api/reports/journal.csv"
    producer = {i["name"]: i for i in api.ok(api.get("/api/reports", "producer"))["items"]}
    assert set(producer) == {"loan-statement", "prepayments"}
    assert producer["prepayments"]["scope"] == {"producer_id": s["p1"]}
    assert "producer_id" not in [p["name"] for p in producer["prepayments"]["parameters"]]
    gas = {i["name"] for i in api.ok(api.get("/api/reports?lang=en", "gas"))["items"]}
    assert gas == {"prepayments", "solidarity"}

    assert api.get("/api/reports/portfolio.xlsx", "producer").status_code == 403
    assert api.get(f"/api/reports/loan-statement.xlsx?loan_id={s['a']}", "gas").status_code \
        == 403
    assert api.get("/api/reports/journal.csv", "gas").status_code == 403
    r = api.get(f"/api/reports/loan-statement.xlsx?loan_id={s['c']}", "producer")
    assert r.status_code == 404  # C is another producer's loan
    assert api.get("/api/reports/arrears.pdf").status_code == 404  # only two print as PDF
    assert api.get("/api/reports/balance-sheet.xlsx").status_code == 404
    assert api.get("/api/reports/portfolio").status_code == 404
    r = api.get(f"/api/reports/loan-statement.xlsx?loan_id={s['a']}", "producer")
    assert r.status_code == 200
    # Prepayments: a producer and a GAS see their own only; another party's id: 404.
    for who in ("producer", "gas"):  # PP1 is between these two; PP2 is neither's
        r = api.get(f"/api/reports/prepayments.parquet?as_of={AS_OF}", who)
        ids = pl.read_parquet(io.BytesIO(r.content))["prepayment_id"].to_list()
        assert ids == [s["pp1"]], who
    r = api.get(f"/api/reports/prepayments.csv?producer_id={s['p2']}", "producer")
    assert r.status_code == 404
    r = api.get(f"/api/reports/solidarity.parquet?as_of={AS_OF}&{PERIOD}", "gas")
    solidarity = pl.read_parquet(io.BytesIO(r.content))
    assert solidarity["amount_in"].sum() == Decimal("100.00")  # G1's own contribution
    assert api.get(f"/api/reports/solidarity.csv?gas_id={s['g2']}", "gas").status_code == 404

    for path, field in [
        ("/api/reports/portfolio.xlsx?as_of=2026-02-30", "as_of"),
        ("/api/reports/portfolio.xlsx?as_of=30/06/2026", "as_of"),
        ("/api/reports/loan-statement.xlsx", "loan_id"),
        ("/api/reports/loan-statement.xlsx?loan_id=42", "loan_id"),
        ("/api/reports/journal.csv?from=2026-07-01&to=2026-06-30", "from"),
        ("/api/reports/portfolio.xlsx?as_of=2026-06-30&to=2026-07-31", "to"),
        ("/api/reports/portfolio.xlsx?gas_id=" + s["g1"], "gas_id"),
        ("/api/reports/trial-balance.csv?from=2026-01-01", "from"),
        ("/api/reports/portfolio.xlsx?lang=de", "lang"),
        ("/api/reports/portfolio.csv?italian=maybe", "italian"),
        ("/api/reports/portfolio.csv?sheet=nope", "sheet"),
    ]:
        r = api.get(path)
        assert r.status_code == 422, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in r.json()["errors"]], (path, r.json())
    assert api.get("/api/reports/portfolio.xlsx?as_of=2026-02-30", "producer").status_code \
        == 422  # bad input before the role check
    assert api.get(f"/api/reports/portfolio.xlsx?producer_id={s['g1']}").status_code == 404
    assert api.get("/api/reports/portfolio.xlsx", None).status_code == 401


def test_cli_report_writes_the_file(api: Api, db_url: tuple[str, str | None], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from service.cli.main import main

    s = build(api)
    url, schema = db_url
    if schema:  # the test's PostgreSQL schema, as the CLI's connection would find it
        url = f"{url}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("FILIERA_DATABASE_URL", url)
    monkeypatch.setenv("FILIERA_SECRET_KEY", "cli-test-" + "x" * 40)
    out = tmp_path / "statement.xlsx"
    assert main(["report", "loan-statement", "--loan-id", s["b"], "--as-of", AS_OF,
                 "--out", str(out)]) == 0
    wb = load_workbook(out)
    head = {r["Voce"]: r for r in Table(wb, "Prestito").rows}
    assert money(head["Scaduto non pagato"]["Importo"]) == \
        amt(loan_as_of(api, s["b"])["overdue_amount"])
    csv_out = tmp_path / "arrears.csv"
    assert main(["report", "arrears", "--as-of", AS_OF, "--italian-csv", "--lang", "en",
                 "--out", str(csv_out)]) == 0
    frame = pl.read_csv(csv_out, separator=";", decimal_comma=True, infer_schema_length=0)
    assert frame["Loan"].to_list() == [s["b"]]
    assert main(["report", "arrears", "--out", str(tmp_path / "p.pdf")]) == 2
    assert main(["report", "portfolio", "--as-of", "yesterday",
                 "--out", str(tmp_path / "p.xlsx")]) == 2
    assert not (tmp_path / "p.xlsx").exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temporary left


def test_requests_report(api: Api) -> None:
    lender, _ = lender_and_pool(api, "50000.00")
    producer, gas = api.parties["producer"], api.parties["gas"]
    base = {"producer_id": producer, "purpose": "nuova cella di stagionatura",
            "instrument": "mixed", "term_months": 12}
    first = api.ok(api.post("/api/requests", {**base, "amount": eur("9000.00")},
                            "producer"), 201)["id"]
    second = api.ok(api.post("/api/requests", {**base, "amount": eur("4000.00"),
                                               "instrument": "loan"}), 201)["id"]
    api.ok(api.post(f"/api/requests/{first}/transitions", {"to": "under_review"}))
    api.ok(api.put(f"/api/requests/{first}/assessment", {
        "economic_score": 7, "social_score": 9, "notes": "filiera corta, bilancio sano"}))
    api.ok(api.put(f"/api/requests/{first}/terms", {
        "loan": {"lender_id": lender, "principal": eur("6000.00"), "annual_rate": "3.00",
                 "term_months": 12, "method": "french", "frequency": "monthly",
                 "disbursement_date": "2026-03-01"},
        "prepayments": [{"gas_id": gas, "amount": eur("2500.00"), "product": "Taleggio",
                         "unit": "kg", "unit_price": eur("12.50"),
                         "expires_on": "2026-12-31", "on_expiry": "refund"}]}))
    api.ok(api.post(f"/api/requests/{first}/transitions", {"to": "approved",
                                                           "note": "delibera CdA"}))
    api.ok(api.post(f"/api/requests/{first}/funding", {"date": "2026-03-01"}))
    today = date.today().isoformat()
    wb, _ = workbook(api, f"/api/reports/requests.xlsx?from={today}&to={today}")
    rows = Table(wb, "Richieste").by("Richiesta")
    assert set(rows) == {first, second}
    funded = api.ok(api.get(f"/api/requests/{first}"))
    assert funded["status"] == "funded"
    assert rows[first]["Stato"] == "finanziata"  # the Italian of the code
    assert money(rows[first]["Richiesto"]) == Decimal("9000.00")
    assert money(rows[first]["Concesso"]) == Decimal("8500.00")  # loan + prepayment
    assert num(rows[first]["Concesso %"]) == ratio(Decimal("8500"), Decimal("9000"))
    assert (num(rows[first]["Valutazione economica"]),
            num(rows[first]["Valutazione socio-ambientale"])) == (7, 9)
    assert rows[first]["Decisa il"].date().isoformat() == today
    assert rows[second]["Stato"] == "inviata" and rows[second]["Concesso"] == 0
    assert rows[second]["Valutazione economica"] is None
    # A period before they were recorded has none.
    wb, _ = workbook(api, "/api/reports/requests.xlsx?from=2026-01-01&to=2026-01-31")
    assert Table(wb, "Richieste").rows == []
    assert api.get("/api/reports/requests.xlsx", "producer").status_code == 403


def test_journal_reads_the_ledger_page_by_page_in_any_currency(api: Api) -> None:
    """1,203 raw transfers (more than two pages of the ledger), one in USD: every one
    comes out, amounts as plain decimals in their currency (no euro total)."""
    def account(code: str, currency: str) -> str:
        return api.ok(api.post("/api/ledger/accounts",  # type: ignore[no-any-return]
                               {"code": code, "currency": currency}), 201)["id"]

    cash, bank = account("cassa", "EUR"), account("banca", "EUR")
    usd_a, usd_b = account("usd-a", "USD"), account("usd-b", "USD")
    batch = [{"id": str(uuid.uuid4()), "debit_account_id": bank,
              "credit_account_id": cash, "amount": eur(f"{1 + i % 7}.{i % 100:02d}"),
              "code": "giroconto"} for i in range(1202)]
    batch.append({"id": str(uuid.uuid4()), "debit_account_id": usd_a,
                  "credit_account_id": usd_b, "amount": {"amount": "12.50",
                                                         "currency": "USD"}})
    results = api.ok(api.post("/api/ledger/transfers", batch))["results"]
    assert {r["result"] for r in results} == {"created"}
    today = date.today()
    period = f"from={today.replace(day=1).isoformat()}&to={today.isoformat()}"
    r = api.get(f"/api/reports/journal.csv?{period}")
    frame = pl.read_csv(io.BytesIO(r.content), infer_schema_length=0)
    assert frame["Id"].to_list() == [t["id"] for t in batch]
    euro = sum((Decimal(t["amount"]["amount"]) for t in batch[:-1]), ZERO)  # type: ignore[index]
    amounts = frame.filter(pl.col("Valuta") == "EUR")["Importo"].to_list()
    assert sum((Decimal(a) for a in amounts), ZERO) == euro
    assert frame.filter(pl.col("Valuta") == "USD")["Importo"].to_list() == ["12.50"]
    wb, _ = workbook(api, f"/api/reports/journal.xlsx?{period}")
    table = Table(wb, "Giornale")
    assert len(table.rows) == 1203 and table.total is None  # no sum across currencies
    tb, _ = workbook(api, "/api/reports/trial-balance.xlsx")
    check = {r["Valuta"]: r for r in Table(tb, "Quadratura").rows}
    assert num(check["EUR"]["Totale dare"]) == euro and check["EUR"]["Esito"] == "quadra"
    assert num(check["USD"]["Totale avere"]) == Decimal("12.50")


# -- configurable provisioning rates ------------------------------------------------------

# One bullet loan per aging bucket as of AS_OF (no payment: days count from the first
# due date, one month after disbursement), plus a current loan restructured.
HAND_BOOK = [("10000.00", "2026-06-01", "current"),   # due 1 July
             ("20000.01", "2026-05-10", "1-30"),      # due 10 June: 20 days
             ("30000.03", "2026-04-20", "31-60"),     # due 20 May: 41 days
             ("12345.67", "2026-03-25", "61-90"),     # due 25 April: 66 days
             ("25000.00", "2026-02-15", "90+")]       # due 15 March: 107 days
CUSTOM = "1.5,12.25,30,66.67,100"  # percent, for current, 1-30, 31-60, 61-90, 90+
CUSTOM_RATES = dict(zip(("current", "1-30", "31-60", "61-90", "90+"),
                        (Decimal(p) / 100 for p in CUSTOM.split(",")), strict=True))


def hand_built_book(api: Api) -> None:
    lender, _ = lender_and_pool(api, "200000.00")
    for principal, on, _bucket in HAND_BOOK:
        new_loan(api, lender, api.parties["producer"], principal, on, method="bullet")
    restructured = new_loan(api, lender, api.parties["other_producer"], "4999.99",
                            "2026-06-05")
    api.ok(api.post(f"/api/loans/{restructured['id']}/reschedule", {
        "date": "2026-06-20", "note": "grandinata", "added_grace_periods": 1}))


def custom_allowance() -> dict[str, Decimal]:
    """Outstanding × rate per loan, half-even to the cent, summed per bucket, by hand:
    current 10,000.00 × 1.5% = 150.00 and 4,999.99 × 1.5% = 74.99985 -> 75.00;
    20,000.01 × 12.25% = 2,450.001225 -> 2,450.00; 30,000.03 × 30% = 9,000.009 -> 9,000.01;
    12,345.67 × 66.67% = 8,230.858189 -> 8,230.86; 25,000.00 × 100% = 25,000.00."""
    out = defaultdict(lambda: ZERO)
    for principal, _on, b in [*HAND_BOOK, ("4999.99", "", "current")]:
        out[b] += cent(Decimal(principal) * CUSTOM_RATES[b])
    assert dict(out) == {"current": Decimal("225.00"), "1-30": Decimal("2450.00"),
                         "31-60": Decimal("9000.01"), "61-90": Decimal("8230.86"),
                         "90+": Decimal("25000.00")}
    return dict(out)


def info_parameters(wb: Workbook) -> dict[str, Any]:
    return {r[0]: r[1] for r in wb["Info"].iter_rows(values_only=True) if r and r[0]}


def test_portfolio_with_custom_provisioning_rates(api: Api) -> None:
    hand_built_book(api)
    expected = custom_allowance()
    total = sum(expected.values(), ZERO)
    assert total == Decimal("44905.87")
    wb, _ = workbook(api, f"/api/reports/portfolio.xlsx?as_of={AS_OF}&provisioning={CUSTOM}")
    summary = {r["Indicatore"]: r for r in Table(wb, "Sintesi").rows}
    assert money(summary["Accantonamento per perdite"]["Importo"]) == total
    par30 = Decimal("30000.03") + Decimal("12345.67") + Decimal("25000.00") \
        + Decimal("4999.99")  # > 30 days, plus the restructured loan
    assert money(summary["PAR30"]["Importo"]) == par30
    assert num(summary["Copertura del rischio (accantonamento / PAR30)"]["Rapporto"]) == \
        ratio(total, par30)
    labels = {"In regola": "current", "1–30 giorni": "1-30", "31–60 giorni": "31-60",
              "61–90 giorni": "61-90", "oltre 90 giorni": "90+"}
    aging = {labels[r["Fascia di ritardo"]]: r for r in Table(wb, "Anzianità scaduto").rows}
    for b, allowance in expected.items():
        assert num(aging[b]["Aliquota accantonamento"]) == CUSTOM_RATES[b], b
        assert money(aging[b]["Accantonamento"]) == allowance, b
    loans = Table(wb, "Prestiti").rows
    assert sum((money(r["Accantonamento"]) for r in loans), ZERO) == total
    assert {num(r["Aliquota accantonamento"]) for r in loans} == set(CUSTOM_RATES.values())
    assert info_parameters(wb)["provisioning_percent"] == \
        "current: 1.5%, 1-30: 12.25%, 31-60: 30%, 61-90: 66.67%, 90+: 100%"

    # Without the parameter: the default rates, stated on the Info sheet too.
    wb, _ = workbook(api, f"/api/reports/portfolio.xlsx?as_of={AS_OF}")
    default = sum((cent(Decimal(p) * RATES[b]) for p, _on, b in HAND_BOOK), ZERO)
    assert default == Decimal("2000.00") + Decimal("7500.01") + Decimal("6172.84") \
        + Decimal("25000.00")  # 6,172.835 -> 6,172.84 (half-even)
    summary = {r["Indicatore"]: r for r in Table(wb, "Sintesi").rows}
    assert money(summary["Accantonamento per perdite"]["Importo"]) == default
    assert info_parameters(wb)["provisioning_percent"] == \
        "current: 0%, 1-30: 10%, 31-60: 25%, 61-90: 50%, 90+: 100%"

    # The same rates on the aging sheet as Parquet; spaces after the commas are fine.
    r = api.get(f"/api/reports/portfolio.parquet?as_of={AS_OF}&sheet=aging"
                "&provisioning=1.5, 12.25, 30, 66.67, 100")
    assert r.status_code == 200, r.text
    frame = pl.read_parquet(io.BytesIO(r.content))
    assert frame["allowance"].sum() == total

    # The listing names the parameter for the portfolio only.
    listing = {i["name"]: i for i in api.ok(api.get("/api/reports"))["items"]}
    params = {p["name"]: p for p in listing["portfolio"]["parameters"]}
    assert params["provisioning"]["kind"] == "percentages"
    assert not params["provisioning"]["required"]
    assert all("provisioning" not in [p["name"] for p in i["parameters"]]
               for name, i in listing.items() if name != "portfolio")


@pytest.mark.parametrize("query", [
    "provisioning=0,10,25,50",              # four rates
    "provisioning=0,10,25,50,100,100",      # six
    "provisioning=0,10,25,50,100.01",       # over 100
    "provisioning=0,10,25,50,101",
    "provisioning=0,-10,25,50,100",         # negative
    "provisioning=0,10.125,25,50,100",      # three decimals
    "provisioning=0,10,25,50,1e2",
    "provisioning=0,10,,50,100",            # one missing
    "provisioning=0;10;25;50;100",
    "provisioning=0,10%,25,50,100",
    "provisioning=",
    "provisioning=0,10,25,50,NaN",
])
def test_bad_provisioning_is_refused(api: Api, query: str) -> None:
    r = api.get(f"/api/reports/portfolio.xlsx?as_of={AS_OF}&{query}")
    assert r.status_code == 422, (query, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["provisioning"], r.json()


def test_provisioning_only_for_the_portfolio(api: Api) -> None:
    for path in ("arrears.xlsx", "guarantees.csv", "journal.csv", "trial-balance.xlsx"):
        r = api.get(f"/api/reports/{path}?provisioning=0,10,25,50,100")
        assert r.status_code == 422, (path, r.text)
        assert [e["field"] for e in r.json()["errors"]] == ["provisioning"], r.json()
        assert "not a parameter" in r.json()["errors"][0]["message"]


def test_cli_provisioning_flag(api: Api, db_url: tuple[str, str | None], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    from service.cli.main import main

    hand_built_book(api)
    url, schema = db_url
    if schema:
        url = f"{url}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("FILIERA_DATABASE_URL", url)
    monkeypatch.setenv("FILIERA_SECRET_KEY", "cli-test-" + "x" * 40)
    out = tmp_path / "portfolio.xlsx"
    assert main(["report", "portfolio", "--as-of", AS_OF, "--provisioning", CUSTOM,
                 "--out", str(out)]) == 0
    wb = load_workbook(out)
    summary = {r["Indicatore"]: r for r in Table(wb, "Sintesi").rows}
    assert money(summary["Accantonamento per perdite"]["Importo"]) == \
        sum(custom_allowance().values(), ZERO)
    assert info_parameters(wb)["provisioning_percent"].startswith("current: 1.5%, 1-30: 12.25%")
    bad = tmp_path / "bad.xlsx"
    assert main(["report", "portfolio", "--provisioning", "0,10,25,50",
                 "--out", str(bad)]) == 2
    assert main(["report", "arrears", "--provisioning", CUSTOM, "--out", str(bad)]) == 2
    assert not bad.exists()


def test_period_reports_take_as_of_as_the_default_end(api: Api) -> None:
    build(api)
    for name in ("journal", "impact", "requests"):
        by_as_of = api.get(f"/api/reports/{name}.csv?as_of={AS_OF}&lang=en")
        by_to = api.get(f"/api/reports/{name}.csv?to={AS_OF}&lang=en")
        assert by_as_of.status_code == 200 and by_to.status_code == 200, by_as_of.text
        assert by_as_of.content == by_to.content, name
        r = api.get(f"/api/reports/{name}.csv?as_of=2026-03-01&to=2026-03-02")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to"


def test_plain_csv_timestamps_are_rfc3339_utc(api: Api) -> None:
    import csv
    import io
    import re

    build(api)
    r = api.get(f"/api/reports/journal.csv?as_of={AS_OF}&lang=en")
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert rows
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
    assert all(stamp.fullmatch(row["Recorded at (UTC)"]) for row in rows), rows[0]


def test_write_off_ratio_averages_over_the_period_not_the_as_of_date(api: Api) -> None:
    build(api)
    end = "2026-05-31"  # C is written off that day; the as-of date is a month later
    listed = api.ok(api.get(f"/api/loans?as_of={end}&limit=500"))["items"]
    closing = sum((amt(v["outstanding_principal"]) for v in listed
                   if v["status"] == "active"), ZERO)
    at_as_of = sum((amt(v["outstanding_principal"]) for v in
                    api.ok(api.get(f"/api/loans?as_of={AS_OF}&limit=500"))["items"]
                    if v["status"] == "active"), ZERO)
    assert closing != at_as_of  # repayments in June: the two ends differ
    wb, _ = workbook(api, f"/api/reports/portfolio.xlsx?as_of={AS_OF}&from=2026-01-01&to={end}")
    summary = {r["Indicatore"]: r for r in Table(wb, "Sintesi").rows}
    assert money(summary["Passato a perdita nel periodo"]["Importo"]) == Decimal("3000.00")
    # No loan before 1 January: the average is (0 + gross on 31 May) / 2.
    assert num(summary["Tasso di perdita"]["Rapporto"]) == \
        ratio(Decimal("3000.00"), closing / 2)


def test_loan_statement_cells_are_typed_and_match_the_loan_even_written_off(api: Api) -> None:
    s = build(api)
    for key in ("b", "c"):  # B is late, C written off
        loan = loan_as_of(api, s[key])
        wb, _ = workbook(api, f"/api/reports/loan-statement.xlsx?loan_id={s[key]}&as_of={AS_OF}")
        head = {r["Voce"]: r for r in Table(wb, "Prestito").rows}
        assert money(head["Scaduto non pagato"]["Importo"]) == amt(loan["overdue_amount"])
        assert head["Giorni di ritardo"]["Numero"] == loan["days_past_due"]
        assert isinstance(head["Giorni di ritardo"]["Numero"], int)
        assert head["Erogato il"]["Data"].date().isoformat() == loan["disbursed_on"]
    assert loan_as_of(api, s["c"])["days_past_due"] > 0  # the case that was 0 before


def test_the_arrears_report_says_how_to_reach_each_guarantor(api: Api) -> None:
    build(api)
    gas = next(p for p in all_pages(api, "/api/parties?kind=gas")
               if p["name"] == "GAS Bergamo Alta")
    r = api.client.patch(f"/api/parties/{gas['id']}", headers=api.headers("officer"),
                         json={"phone": "035 123 4567", "email": "tesoreria@gas.example",
                               "address": "Via Colleoni 1", "postal_code": "24129"})
    assert r.status_code == 200, r.text
    wb, _ = workbook(api, f"/api/reports/arrears.xlsx?as_of={AS_OF}")
    contacts = {row["Garante"]: row for row in Table(wb, "Garanti da contattare").rows}
    row = contacts["GAS Bergamo Alta"]
    assert (row["Telefono"], row["Email"], row["Indirizzo"]) == (
        "+390351234567", "tesoreria@gas.example", "Via Colleoni 1 24129")
    assert contacts["Maria Rossi"]["Telefono"] is None


def test_csv_and_parquet_write_italian_values_only_when_lang_it_is_asked(api: Api) -> None:
    build(api)
    path = f"/api/reports/portfolio.csv?as_of={AS_OF}&sheet=loans"
    plain = api.get(path)
    assert plain.status_code == 200, plain.text
    italian = api.get(path + "&lang=it")
    assert italian.status_code == 200
    plain_rows = list(csv.DictReader(io.StringIO(plain.text)))
    it_rows = list(csv.DictReader(io.StringIO(italian.text)))
    status_plain = next(k for k in plain_rows[0] if k in ("Stato", "status", "Status"))
    assert {r[status_plain] for r in plain_rows} <= {"active", "repaid", "written_off",
                                                     "approved"}
    assert {r[status_plain] for r in it_rows} <= {"attivo", "rimborsato",
                                                  "passato a perdita", "approvato"}
    assert len(plain_rows) == len(it_rows)
    # Parquet likewise.
    frame = pl.read_parquet(io.BytesIO(api.get(
        f"/api/reports/portfolio.parquet?as_of={AS_OF}&sheet=loans&lang=it").content))
    assert set(frame["status"].to_list()) <= {"attivo", "rimborsato", "passato a perdita",
                                              "approvato"}
