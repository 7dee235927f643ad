"""Every report of items shows each item's reference in a column of its own."""

from __future__ import annotations

import io

import polars as pl
import pytest
from openpyxl import load_workbook

from tests.api.conftest import Api, eur
from tests.api.test_instruments_api import capacity, setup_loan


def sheet(api: Api, name: str, query: str = "") -> pl.DataFrame:
    r = api.get(f"/api/reports/{name}.csv?lang=en&{query}")
    assert r.status_code == 200, r.text
    return pl.read_csv(io.BytesIO(r.content), infer_schema_length=0)


def test_reports_carry_references(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    producer, gas = api.parties["producer"], api.parties["gas"]
    _, _, loan_id = setup_loan(api, principal="1200.00", annual_rate="0.00", term_months=12)
    capacity(api, gas, "500.00", "gas")
    g = api.ok(api.post("/api/guarantees", {"loan_id": loan_id, "guarantor_id": gas,
                                            "amount": eur("500.00"), "date": "2026-01-10"},
                        "gas"), 201)
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    pre = api.ok(api.post("/api/prepayments", {
        "producer_id": producer, "gas_id": gas, "amount": eur("30.00"), "product": "Riso",
        "unit": "kg", "unit_price": eur("3.00"), "expires_on": "2026-12-31",
        "on_expiry": "refund", "date": "2026-03-01"}), 201)
    con = api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("50.00"),
                                                 "date": "2026-06-01"}, "gas"), 201)
    pay = api.ok(api.post(f"/api/funds/{con['fund_id']}/payouts", {
        "producer_id": producer, "amount": eur("5.00"), "date": "2026-06-02",
        "kind": "grant"}), 201)
    req = api.ok(api.post("/api/requests", {
        "producer_id": producer, "amount": eur("3000.00"), "purpose": "a cellar",
        "instrument": "loan", "term_months": 12, "gas_ids": [gas]}, "producer"), 201)
    loan_ref = api.ok(api.get(f"/api/loans/{loan_id}"))["reference"]
    day = "as_of=2026-06-30"

    portfolio = sheet(api, "portfolio", day)
    assert dict(zip(portfolio["Loan"], portfolio["Reference"], strict=True)) == {
        loan_id: loan_ref}
    arrears = sheet(api, "arrears", day)  # nothing paid since 2026-02-15: late
    assert arrears["Reference"].to_list() == [loan_ref]
    contacts = sheet(api, "arrears", f"{day}&sheet=guarantors-to-contact")
    assert contacts["Reference"].to_list() == [loan_ref]
    guarantees = sheet(api, "guarantees", day)
    assert guarantees.select("Reference", "Loan reference").rows() == [
        (g["reference"], loan_ref)]
    prepayments = sheet(api, "prepayments", day)
    assert prepayments["Reference"].to_list() == [pre["reference"]]
    solidarity = sheet(api, "solidarity", f"{day}&from=2026-01-01&to=2026-06-30")
    assert sorted(solidarity["Reference"].to_list()) == sorted([con["reference"],
                                                               pay["reference"]])
    # In: the contribution, out: the payout, each on its own row with its reference.
    by_ref = {r["Reference"]: r for r in solidarity.iter_rows(named=True)}
    assert by_ref[con["reference"]]["In"] == "50.00"
    assert by_ref[pay["reference"]]["Out"] == "5.00"
    requests = sheet(api, "requests")
    assert requests["Reference"].to_list() == [req["reference"]]


def test_loan_statement_names_its_loan_reference(api: Api,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    _, _, loan_id = setup_loan(api, principal="1200.00", annual_rate="0.00", term_months=12)
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    loan = api.ok(api.get(f"/api/loans/{loan_id}"))
    r = api.get(f"/api/reports/loan-statement.xlsx?loan_id={loan_id}&as_of=2026-06-30")
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    info = {row[0]: row[1] for row in wb["Info"].iter_rows(values_only=True) if row and row[0]}
    assert info["reference"] == loan["reference"] == "PRE-2026-0001"


def test_workbooks_put_references_and_names_first_and_ids_last(api: Api) -> None:
    """People read the workbook and the PDF: who and which contract first, ids last.
    CSV and Parquet, read by programs, keep their columns where they were."""
    from tests.api.test_reports_api import AS_OF, Table, build, workbook

    s = build(api)
    wb, _ = workbook(api, f"/api/reports/portfolio.xlsx?as_of={AS_OF}")
    loans = Table(wb, "Prestiti")
    assert loans.header[:2] == ["Riferimento", "Beneficiario"]
    assert loans.header[-1] == "Prestito"
    refs = {api.ok(api.get(f"/api/loans/{s[k]}"))["reference"]: s[k] for k in "abc"}
    assert {r["Riferimento"]: r["Prestito"] for r in loans.rows} == refs
    borrowers = Table(wb, "Per beneficiario")
    assert borrowers.header[0] == "Beneficiario" and borrowers.header[-1] == "Codice"
    wb, _ = workbook(api, f"/api/reports/guarantees.xlsx?as_of={AS_OF}")
    guarantees = Table(wb, "Garanzie")
    assert guarantees.header[:3] == ["Riferimento", "Riferimento prestito", "Beneficiario"]
    assert guarantees.header[-2:] == ["Garanzia", "Prestito"]
    wb, _ = workbook(api, f"/api/reports/arrears.xlsx?as_of={AS_OF}")
    for title in ("Ritardi", "Garanti da contattare"):
        header = Table(wb, title).header
        assert header[:2] == ["Riferimento", "Beneficiario"], title
        assert header[-1] == "Prestito", title
    # Programs: the columns as they were, the reference after them.
    r = api.get(f"/api/reports/portfolio.csv?as_of={AS_OF}")
    header = r.text.splitlines()[0].split(",")
    assert header[:2] == ["Prestito", "Beneficiario"] and header[-1] == "Riferimento"
