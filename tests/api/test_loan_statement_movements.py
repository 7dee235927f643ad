"""The loan statement's movements (issue 18): every operation on the loan, in value-date
order, each payment split as the API splits it, with a running principal balance.

Everything is compared with the API's own answers: the repayments list (reference,
value date, recording time, allocation), the loan as of the date (outstanding and
written-off principal, the schedule's principal paid), the guarantees and payouts. The
running balance is recomputed here from the disbursement and the principal parts, and
must end on the loan's outstanding principal.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pypdfium2 as pdfium

from tests.api.conftest import Api, eur
from tests.api.test_reports_api import (
    AS_OF,
    Table,
    all_pages,
    amt,
    build,
    lender_and_pool,
    loan_as_of,
    money,
    new_loan,
    workbook,
)

ZERO = Decimal("0.00")
ROME = ZoneInfo("Europe/Rome")
MONEY_COLUMNS = ("Erogato", "Ricevuto", "Penali", "Interessi", "Capitale", "Eccedenza",
                 "Recupero", "Passato a perdita")


def movements(api: Api, loan_id: str, who: str = "officer") -> list[dict[str, Any]]:
    wb, _ = workbook(api, f"/api/reports/loan-statement.xlsx?loan_id={loan_id}&as_of={AS_OF}",
                     who)
    table = Table(wb, "Movimenti")
    assert table.header == ["Data valuta", "Registrato il", "Operazione", "Riferimento",
                            "Descrizione", *MONEY_COLUMNS, "Capitale residuo"]
    rows = []
    for r in table.rows:
        row = {k: (money(v) if v is not None else ZERO) if k in MONEY_COLUMNS
               or k == "Capitale residuo" else v for k, v in r.items()}
        row["Data valuta"] = r["Data valuta"].date()
        rows.append(row)
    assert table.total is not None  # totals of every amount column
    return rows


def repayments(api: Api, loan_id: str) -> list[dict[str, Any]]:
    return all_pages(api, f"/api/loans/{loan_id}/repayments")


def check_running_balance(rows: list[dict[str, Any]]) -> Decimal:
    """Recompute the balance row by row; return the last one."""
    balance = ZERO
    for row in rows:
        balance += row["Erogato"] - row["Capitale"] - row["Passato a perdita"]
        assert row["Capitale residuo"] == balance, row
        # A payment splits exactly into its parts.
        parts = (row["Penali"] + row["Interessi"] + row["Capitale"] + row["Eccedenza"]
                 + row["Recupero"])
        assert parts == row["Ricevuto"], row
    return balance


def check_repayments(api: Api, loan_id: str, rows: list[dict[str, Any]]) -> None:
    listed = [r for r in rows if r["Operazione"] in ("rimborso", "recupero dopo la perdita")
              and r["Riferimento"] and r["Riferimento"].startswith("RIM-")]
    paid = repayments(api, loan_id)
    assert [r["Riferimento"] for r in listed] == [p["reference"] for p in paid]
    for row, p in zip(listed, paid, strict=True):
        a = p["allocation"]
        assert row["Data valuta"].isoformat() == p["date"]
        assert row["Ricevuto"] == amt(p["amount"])
        assert row["Penali"] == amt(a["penalty"])
        assert row["Interessi"] == amt(a["interest"])
        assert row["Capitale"] == amt(a["principal"])
        assert row["Eccedenza"] == amt(a["excess"])
        assert row["Recupero"] == (amt(a["recovery"]) if "recovery" in a else ZERO)
        recorded = datetime.fromisoformat(p["recorded_at"].replace("Z", "+00:00"))
        assert row["Registrato il"].date() == recorded.astimezone(ROME).date()


def test_movements_reconcile_with_the_loan(api: Api) -> None:
    s = build(api)
    for key in ("a", "b", "c"):
        loan = loan_as_of(api, s[key])
        rows = movements(api, s[key])
        assert rows[0]["Operazione"] == "erogazione"
        assert rows[0]["Riferimento"] == loan["reference"]
        assert rows[0]["Erogato"] == amt(loan["principal"])
        assert rows[0]["Data valuta"].isoformat() == loan["disbursed_on"]
        days = [r["Data valuta"] for r in rows]
        assert days == sorted(days)
        last = check_running_balance(rows)
        assert last == amt(loan["outstanding_principal"]), key
        repaid = sum((r["Capitale"] for r in rows), ZERO)
        # Principal repaid: what the schedule says was paid of it, and what the
        # disbursement less the outstanding and the written-off principal leaves.
        assert repaid == sum((amt(i["paid_principal"]) for i in loan["schedule"]), ZERO)
        assert repaid == amt(loan["principal"]) - amt(loan["outstanding_principal"]) \
            - amt(loan["written_off_principal"])
        check_repayments(api, s[key], rows)

    # A: five installments paid on their due dates.
    a = movements(api, s["a"])
    assert [r["Operazione"] for r in a] == ["erogazione"] + ["rimborso"] * 5
    # B: one repayment, then the June call split between its two guarantors.
    b = movements(api, s["b"])
    calls = [r for r in b if r["Operazione"] == "pagamento del garante (escussione)"]
    pledges = {g["reference"]: g for g in api.ok(api.get(
        f"/api/loans/{s['b']}/guarantees"))["items"]}
    assert sorted(r["Ricevuto"] for r in calls) == [Decimal("200.00"), Decimal("400.00")]
    for r in calls:
        g = pledges[r["Riferimento"]]
        assert r["Data valuta"] == date(2026, 6, 20)
        assert amt(g["called_amount"]) == r["Ricevuto"]
        assert r["Descrizione"] in ("GAS Bergamo Alta", "Maria Rossi")
    # C: written off on 31 May with all its principal.
    c = movements(api, s["c"])
    loan_c = loan_as_of(api, s["c"])
    assert [r["Operazione"] for r in c] == ["erogazione", "passaggio a perdita"]
    assert c[-1]["Passato a perdita"] == amt(loan_c["written_off_principal"]) \
        == Decimal("3000.00")
    assert c[-1]["Descrizione"] == "azienda chiusa" and c[-1]["Capitale residuo"] == ZERO


def test_reschedule_loss_cover_write_off_and_recovery(api: Api) -> None:
    lender, _ = lender_and_pool(api, "20000.00")
    producer, gas = api.parties["producer"], api.parties["gas"]
    loan = new_loan(api, lender, producer, "6000.00", "2026-01-15")
    lid = loan["id"]
    api.ok(api.post(f"/api/loans/{lid}/repayments",
                    {"amount": loan["schedule"][0]["payment"], "date": "2026-02-15"}))
    api.ok(api.post(f"/api/loans/{lid}/reschedule", {
        "date": "2026-03-01", "note": "grandinata", "added_grace_periods": 2}))
    api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("300.00"),
                                           "date": "2026-02-01"}, "gas"), 201)
    fund = api.ok(api.get(f"/api/funds?gas_id={gas}"))["items"][0]
    cover = api.ok(api.post(f"/api/funds/{fund['id']}/payouts", {
        "producer_id": producer, "amount": eur("250.00"), "date": "2026-04-10",
        "kind": "loss_cover", "loan_id": lid}), 201)
    api.ok(api.post(f"/api/loans/{lid}/write-off", {"date": "2026-04-30",
                                                   "note": "raccolto perduto"}))
    api.ok(api.post(f"/api/loans/{lid}/repayments", {"amount": eur("100.00"),
                                                     "date": "2026-05-15"}))
    after = loan_as_of(api, lid)
    rows = movements(api, lid)
    assert [r["Operazione"] for r in rows] == [
        "erogazione", "rimborso", "rinegoziazione del piano",
        "copertura dal fondo di solidarietà", "passaggio a perdita",
        "recupero dopo la perdita"]
    assert "grandinata" in rows[2]["Descrizione"] and "2" in rows[2]["Descrizione"]
    assert rows[3]["Riferimento"] == cover["reference"]
    assert fund["name"] in rows[3]["Descrizione"]
    assert rows[3]["Ricevuto"] == Decimal("250.00")
    assert rows[4]["Passato a perdita"] == amt(after["written_off_principal"])
    assert check_running_balance(rows) == ZERO == amt(after["outstanding_principal"])
    # The principal repaid before the write-off, and the write-off, make up the loan.
    assert sum((r["Capitale"] for r in rows), ZERO) + rows[4]["Passato a perdita"] \
        == Decimal("6000.00")
    check_repayments(api, lid, rows)
    recovery = rows[-1]
    assert recovery["Recupero"] + recovery["Eccedenza"] == Decimal("100.00")
    assert recovery["Recupero"] == amt(repayments(api, lid)[-1]["allocation"]["recovery"])

    # As of the day before the write-off: no write-off, no recovery, and the balance is
    # the loan's outstanding principal then.
    wb, _ = workbook(api, f"/api/reports/loan-statement.xlsx?loan_id={lid}&as_of=2026-04-29")
    earlier = Table(wb, "Movimenti").rows
    assert len(earlier) == 4
    then = loan_as_of(api, lid, "2026-04-29")
    assert money(earlier[-1]["Capitale residuo"]) == amt(then["outstanding_principal"])


def test_movements_in_the_pdf_and_for_the_producer(api: Api) -> None:
    s = build(api)
    rows = movements(api, s["a"], "producer")  # the borrower's own statement
    assert len(rows) == 6
    r = api.get(f"/api/reports/loan-statement.pdf?loan_id={s['a']}&as_of={AS_OF}")
    assert r.status_code == 200
    doc = pdfium.PdfDocument(io.BytesIO(r.content))
    text = "\n".join(page.get_textpage().get_text_range() for page in doc)
    assert "Movimenti" in text
    for p in repayments(api, s["a"]):
        assert p["reference"] in text
    # CSV of the one sheet, by its English name.
    r = api.get(f"/api/reports/loan-statement.csv?loan_id={s['a']}&as_of={AS_OF}"
                "&sheet=movements&lang=en")
    assert r.status_code == 200
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("Value date,Recorded on,Operation,Reference")
    assert len(lines) == 1 + 6 and lines[1].split(",")[2] == "disbursement"


def test_a_reversed_repayment_is_listed_marked_and_moves_nothing(api: Api) -> None:
    s = build(api)
    paid = repayments(api, s["a"])
    second = paid[1]
    r = api.post(f"/api/loans/{s['a']}/repayments/{second['id']}/reversal",
                 {"reason": "registrato sul prestito sbagliato"})
    assert r.status_code == 200, r.text
    rows = movements(api, s["a"])
    marked = [row for row in rows if row["Riferimento"] == second["reference"]]
    assert len(marked) == 1
    assert str(marked[0]["Descrizione"]).startswith("STORNATO")
    assert marked[0]["Capitale"] == ZERO
    # The balance still reconciles with the loan as the reversal left it.
    live = [row for row in rows if not str(row["Descrizione"] or "").startswith("STORNATO")]
    assert check_running_balance(live) == amt(loan_as_of(api, s["a"])[
        "outstanding_principal"])
    assert rows[-1]["Capitale residuo"] == amt(loan_as_of(api, s["a"])["outstanding_principal"])
