"""The demo network holds a case for every screen an officer opens (issue 14): a loan
about 40 days late, a restructured loan paid on time since, and a funding request
waiting at each step of the workflow, the approved one with terms ready to fund. All
read back through the API the officer uses, and ``verify`` is ok. On SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine

from service.app.demo import DEMO_USERS, demo_id, load_demo_data
from service.bootstrap import build_context
from service.http.app import create_app
from service.settings import Settings

TODAY = date(2026, 12, 6)
PASSWORDS = {user: password for user, password, _, _ in DEMO_USERS}


class Officer:
    def __init__(self, client: TestClient[Any]) -> None:
        r = client.post("/api/auth/token", json={"username": "officer",
                                                  "password": PASSWORDS["officer"]})
        assert r.status_code == 200, r.text
        self.client = client
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def get(self, path: str) -> Any:
        r = self.client.get(path, headers=self.headers)
        assert r.status_code == 200, (path, r.text)
        return r.json()

    def post(self, path: str, body: Any) -> Any:
        r = self.client.post(path, json=body, headers=self.headers)
        assert r.status_code == 200, (path, r.text)
        return r.json()


@pytest.fixture
def officer(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Officer]:
    monkeypatch.setenv("FILIERA_TODAY", TODAY.isoformat())
    settings = Settings("unused", "k" * 48)
    load_demo_data(build_context(settings, engine), progress=False)
    with TestClient(create_app(settings, engine=engine)) as client:
        yield Officer(client)


def euros(money: dict[str, str]) -> Decimal:
    assert money["currency"] == "EUR"
    return Decimal(money["amount"])


def test_a_loan_about_forty_days_late_and_one_restructured(officer: Officer) -> None:
    late = officer.get("/api/loans?min_days_past_due=31")["items"]
    in_bucket = [x for x in late if 31 <= x["days_past_due"] <= 60]
    assert [x["id"] for x in in_bucket] == [demo_id("loan:taleggio")]
    cheese = in_bucket[0]
    # Its 19th installment is the oldest unpaid: due on the 27th of October.
    oldest = cheese["schedule"][18]
    assert oldest["due_date"] == "2026-10-27" and oldest["status"] != "paid"
    assert cheese["days_past_due"] == (TODAY - date(2026, 10, 27)).days == 40
    arrears = officer.get("/api/arrears")["items"]
    assert {a["days_past_due"] for a in arrears if a["loan_id"] == cheese["id"]} == {40}
    assert cheese["reference"] in {a["reference"] for a in arrears}

    loans = officer.get("/api/loans?status=active&limit=100")["items"]
    restructured = [x for x in loans if x["restructured"]]
    assert [x["id"] for x in restructured] == [demo_id("loan:latte")]
    milk = restructured[0]
    assert milk["borrower_name"] == "Latteria Sociale Valtorta"
    assert milk["days_past_due"] == 0 and euros(milk["overdue_amount"]) == 0
    # 48 installments, four interest-only ones added from May: 52, the 8th-11th (May to
    # August 2026) repaying no principal.
    schedule = milk["schedule"]
    assert len(schedule) == 52
    assert [euros(i["principal"]) for i in schedule[7:11]] == [Decimal(0)] * 4
    assert all(euros(i["principal"]) > 0 for i in schedule[:7] + schedule[11:])
    assert [i["due_date"] for i in schedule[7:11]] == [
        "2026-05-20", "2026-06-20", "2026-07-20", "2026-08-20"]
    # Everything due by today is paid: the 14 installments due from October 2025 to
    # November 2026, and the principal left is what those did not repay.
    due = [i for i in schedule if date.fromisoformat(i["due_date"]) <= TODAY]
    assert len(due) == 14 and all(i["status"] == "paid" for i in due)
    repaid = sum((euros(i["principal"]) for i in due), Decimal(0))
    assert euros(milk["outstanding_principal"]) == Decimal("20000.00") - repaid


def test_a_request_waits_at_each_step(officer: Officer) -> None:
    by_status = {status: officer.get(f"/api/requests?status={status}")["items"]
                 for status in ("submitted", "under_review", "needs_info", "approved")}
    assert {s: len(items) for s, items in by_status.items()} == {
        "submitted": 1, "under_review": 1, "needs_info": 1, "approved": 2}
    mag2 = demo_id("Mag2 Finance Milano")
    # Everything past "submitted" was taken under review by Mag2's officer: Mag2's.
    for status in ("under_review", "needs_info", "approved"):
        assert all(r.get("lender_id") == mag2 for r in by_status[status]), status
    waiting = officer.get(f"/api/requests/{by_status['needs_info'][0]['id']}")
    assert "bilancio" in waiting["history"][-1]["note"]

    approved = {r["id"]: officer.get(f"/api/requests/{r['id']}")
                for r in by_status["approved"]}
    assert all(r["assessment"] is not None for r in approved.values())
    ready = [r for r in approved.values() if r["terms"] is not None]
    assert [r["id"] for r in ready] == [demo_id("req:franciacorta")]
    request = ready[0]
    loan_terms = request["terms"]["loan"]
    assert loan_terms["lender_id"] == mag2 and euros(loan_terms["principal"]) == 10_000

    # Ready to fund: the officer funds it today and gets the package the terms describe.
    funded = officer.post(f"/api/requests/{request['id']}/funding",
                          {"date": TODAY.isoformat()})
    assert funded["status"] == "funded"
    loan = officer.get(f"/api/loans/{funded['instruments']['loan_id']}")
    assert loan["status"] == "active" and euros(loan["principal"]) == Decimal("10000.00")
    assert loan["borrower_name"] == "Cantina Franciacorta Solidale"
    pledged = officer.get(f"/api/loans/{loan['id']}/guarantees")["items"]
    assert [(g["guarantor_name"], euros(g["amount"])) for g in pledged] == [
        ("GAS Brescia Leonessa", Decimal("3000.00"))]
    assert officer.get("/api/ledger/verify")["ok"] is True


def test_the_demo_books_verify(officer: Officer) -> None:
    result = officer.get("/api/ledger/verify")
    assert result["ok"] is True and result["problems"] == []
