"""``GET /api/loans?overdue=...`` reads each loan's kept arrears (lending.arrears_by_loan):
after a payment, a back-dated payment and a reversal the list follows, and it always
equals the unfiltered list filtered by hand on the figures each loan shows."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_loan_summary import lender_with_money, loan, pay


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")


def listed(api: Api, query: str, limit: int) -> list[dict[str, Any]]:
    """Every page of the list, ``limit`` loans at a time."""
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = api.ok(api.get(f"/api/loans?{query}&limit={limit}{cursor}"))
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        cursor = f"&cursor={page['next_cursor']}"


def by_hand(api: Api, day: str, late: bool, min_days: int = 0) -> list[str]:
    every = listed(api, f"as_of={day}", 500)
    return [i["id"] for i in every if (i["overdue_amount"]["amount"] != "0.00") == late
            and i["days_past_due"] >= min_days]


def check(api: Api, day: str) -> list[str]:
    late = [i["id"] for i in listed(api, f"as_of={day}&overdue=true", 2)]
    assert late == by_hand(api, day, True)
    assert [i["id"] for i in listed(api, f"as_of={day}&overdue=false", 3)] == \
        by_hand(api, day, False)
    assert [i["id"] for i in listed(api, f"as_of={day}&min_days_past_due=40", 1)] == \
        by_hand(api, day, True, 40)
    return late


def test_overdue_list_follows_payments_and_reversals(api: Api) -> None:
    lender = lender_with_money(api)
    loans = [loan(api, lender)["id"] for _ in range(7)]
    for lid in loans[::2]:  # every other one pays its first two installments on time
        for month in (2, 3):
            pay(api, lid, "100.00", f"2026-{month:02d}-15")
    day = "2026-03-20"
    assert check(api, day) == loans[1::2]
    assert check(api, "2026-12-06") == loans  # nobody paid after March
    # A payment back-dated before the day makes a late loan current that day; its
    # reversal makes it late again. The lists read after each write follow.
    made = pay(api, loans[1], "200.00", "2026-03-16")
    assert check(api, day) == loans[3::2]
    repayment = made["repayment"]["id"]
    api.ok(api.post(f"/api/loans/{loans[1]}/repayments/{repayment}/reversal",
                    {"reason": "returned by the bank"}))
    assert check(api, day) == loans[1::2]


def each_read_alone(api: Api, query: str) -> list[dict[str, Any]]:
    """The list's loans, each checked against the loan read alone on the same day (which
    replays it from its operations: nothing kept)."""
    items = listed(api, query, 2)
    day = dict(p.split("=") for p in query.split("&")).get("as_of", "2026-12-06")
    for item in items:
        assert item == api.ok(api.get(f"/api/loans/{item['id']}?as_of={day}")), item["id"]
    return items


def test_listed_loans_are_the_loans_read_alone_after_every_write(api: Api) -> None:
    # The lists keep each loan as of a day (and the day's arrears until a write): a
    # payment, a reversal and a new name of the borrower or lender must all show.
    lender = lender_with_money(api)
    loans = [loan(api, lender)["id"] for _ in range(5)]
    pay(api, loans[0], "100.00", "2026-02-15")
    for query in ("as_of=2026-03-20", "as_of=2026-03-20&overdue=true", "overdue=true",
                  "overdue=false", "min_days_past_due=100"):
        each_read_alone(api, query)
    assert {i["id"] for i in each_read_alone(api, "overdue=true")} == set(loans)
    made = pay(api, loans[1], "1200.00", "2026-02-15")  # all of it: current every day
    assert loans[1] not in {i["id"] for i in each_read_alone(api, "overdue=true")}
    assert loans[1] in {i["id"] for i in each_read_alone(api, "overdue=false")}
    api.ok(api.post(f"/api/loans/{loans[1]}/repayments/{made['repayment']['id']}/reversal",
                    {"reason": "returned by the bank"}))
    assert loans[1] in {i["id"] for i in each_read_alone(api, "overdue=true")}
    for party, name in ((api.parties["producer"], "Nuovo Nome Srl"),
                        (lender, "Mag Rinominata")):
        api.ok(api.client.patch(f"/api/parties/{party}", json={"name": name},
                                headers=api.headers("officer")))
    for query in ("overdue=true", "as_of=2026-03-20", "as_of=2026-03-20&overdue=true"):
        items = each_read_alone(api, query)
        assert {(i["borrower_name"], i["lender_name"]) for i in items} == {
            ("Nuovo Nome Srl", "Mag Rinominata")}
