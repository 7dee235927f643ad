"""Dates outside 1900-01-01 .. 2199-12-31 are a 422 naming the field, never a 500 from
date arithmetic running off the calendar."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, eur

TERMS = {"principal": eur("1000.00"), "annual_rate": "3.00", "term_months": 12,
         "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-15"}


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "2200-01-01", "9999-12-31"])
def test_out_of_range_dates_are_422(api: Api, day: str) -> None:
    r = api.post("/api/loans/simulate", {**TERMS, "disbursement_date": day})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "disbursement_date"
    r = api.get(f"/api/reports/portfolio.csv?as_of=2026-09-10&from={day}")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "from"
    r = api.get(f"/api/reports/portfolio.csv?as_of={day}")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of"
    r = api.post("/api/matching/plan", {"as_of": day})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of"


def test_the_ends_of_the_range_are_accepted(api: Api) -> None:
    api.ok(api.post("/api/loans/simulate", {**TERMS, "disbursement_date": "1900-01-01"}))
    assert api.get("/api/reports/portfolio.csv?as_of=2026-09-10&from=1900-01-01"
                   ).status_code == 200
    assert api.get("/api/reports/portfolio.csv?as_of=2199-12-31").status_code == 200
