"""Several lenders on one service (API.md, "Hardening"): an officer bound to a lender
sees that lender's loans only, in ``GET /api/loans``, ``GET /api/arrears``, a loan's own
page (another lender's loan: 404) and the arrears report; an officer bound to no
lender, and an admin, see every lender's."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import Engine

from service.app.auth import create_user
from service.db.engine import write_tx
from tests.api.conftest import Api, eur, fund_pool, late_loan, make_party

TODAY = "2026-12-06"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", TODAY)


def test_a_bound_officer_sees_its_lenders_loans_only(api: Api, engine: Engine) -> None:
    ours = make_party(api, "lender", "Mag2 Finance Milano")
    theirs = make_party(api, "lender", "Mag Venezia")
    fund_pool(api, ours)
    fund_pool(api, theirs)
    mine = late_loan(api, ours, api.parties["producer"], "1200.00")
    other = late_loan(api, theirs, api.parties["other_producer"], "2400.00")
    with write_tx(engine) as conn:
        create_user(conn, "officer.mag2", "correct-horse-battery", "officer", ours)
    api.tokens["bound"] = api.login("officer.mag2")

    def ids(path: str, who: str) -> list[str]:
        return [i.get("loan_id", i.get("id")) for i in api.ok(api.get(path, who))["items"]]

    for who in ("officer", "admin"):  # not bound: every lender's loans
        assert ids("/api/loans", who) == [mine, other]
        assert sorted(ids("/api/arrears", who)) == sorted([mine, other])
    assert ids("/api/loans", "bound") == [mine]
    assert ids("/api/loans?overdue=true", "bound") == [mine]
    assert ids(f"/api/loans?lender_id={theirs}", "bound") == []
    assert ids("/api/arrears", "bound") == [mine]
    assert ids(f"/api/arrears?lender_id={theirs}", "bound") == []
    # Both loans are late: the filter, not the figures, leaves the other out.
    assert ids("/api/arrears?lender_id=" + theirs, "officer") == [other]

    assert api.ok(api.get(f"/api/loans/{mine}", "bound"))["lender_id"] == ours
    for path in (f"/api/loans/{other}", f"/api/loans/{other}/repayments",
                 f"/api/reports/loan-statement.csv?loan_id={other}"):
        refused = api.get(path, "bound")
        assert refused.status_code == 404, (path, refused.text)
    r = api.post(f"/api/loans/{other}/repayments",
                 {"amount": eur("10.00"), "date": "2026-12-01"}, "bound")
    assert r.status_code == 404, r.text
    assert api.ok(api.get(f"/api/loans/{other}"))["paid_total"] == eur("0.00")

    def report_loans(who: str) -> set[str]:
        r = api.get("/api/reports/arrears.csv", who)
        assert r.status_code == 200, r.text
        return {row["Prestito"] for row in csv.DictReader(io.StringIO(r.text))}

    assert report_loans("officer") == {mine, other}
    assert report_loans("bound") == {mine}
