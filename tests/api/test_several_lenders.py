"""Several lenders on one service (API.md, "Hardening"), beyond the loans themselves:
an officer bound to a lender sees and acts on that lender's pools, categories, match
rules, guarantees, calls, shares, reports and plans only (another lender's: 404); funding
requests stay visible to every officer, belong to the lender whose officer first takes
them under review, and only that lender's officers (or unbound ones) assess them, set
their terms (naming that lender) and fund them (else 403). An officer bound to no
lender, and an admin, see everything."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine

from service.app.auth import create_user
from service.db.engine import write_tx
from tests.api.conftest import PASSWORD, Api, eur, fund_pool, late_loan, make_party

TODAY = "2026-12-06"
EVERYONE = ("officer", "admin")  # bound to no lender: every lender's


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", TODAY)


@dataclass(frozen=True)
class Lenders:
    ours: str
    theirs: str
    our_pool: str
    their_pool: str
    our_loan: str
    their_loan: str
    our_guarantee: str
    their_guarantee: str


def guarantee(api: Api, loan_id: str, guarantor: str, amount: str) -> str:
    gid: str = api.ok(api.post("/api/guarantees", {
        "loan_id": loan_id, "guarantor_id": guarantor, "amount": eur(amount)}), 201)["id"]
    return gid


@pytest.fixture
def lenders(api: Api, engine: Engine) -> Lenders:
    """Two lenders with a pool, a late loan and a guarantee each; ``bound`` is an officer
    of the first, ``bound_other`` one of the second."""
    ours = make_party(api, "lender", "Mag2 Finance Milano")
    theirs = make_party(api, "lender", "Mag Venezia")
    pools = fund_pool(api, ours), fund_pool(api, theirs)
    with write_tx(engine) as conn:
        create_user(conn, "officer.mag2", PASSWORD, "officer", ours)
        create_user(conn, "officer.venezia", PASSWORD, "officer", theirs)
    api.tokens["bound"] = api.login("officer.mag2")
    api.tokens["bound_other"] = api.login("officer.venezia")
    our_loan = late_loan(api, ours, api.parties["producer"], "1200.00")
    their_loan = late_loan(api, theirs, api.parties["other_producer"], "2400.00")
    gas = api.parties["gas"]
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("5000.00")}))
    return Lenders(ours, theirs, pools[0], pools[1], our_loan, their_loan,
                   guarantee(api, our_loan, gas, "600.00"),
                   guarantee(api, their_loan, gas, "900.00"))


def ids(api: Api, path: str, who: str, key: str = "id") -> list[str]:
    return [i[key] for i in api.ok(api.get(path, who))["items"]]


def status(response: Any, expected: int) -> None:
    assert response.status_code == expected, (response.request.url, response.text)


# -- pools, match rules, deposits, categories ---------------------------------------------


def test_pools_match_rules_and_categories_of_another_lender_are_not_found(
        api: Api, lenders: Lenders) -> None:
    L = lenders
    for who in EVERYONE:
        assert ids(api, "/api/pools", who) == [L.our_pool, L.their_pool]
    assert ids(api, "/api/pools", "bound") == [L.our_pool]
    assert ids(api, "/api/pools", "bound_other") == [L.their_pool]
    assert ids(api, f"/api/pools?lender_id={L.theirs}", "bound") == []
    assert api.ok(api.get(f"/api/pools/{L.our_pool}", "bound"))["lender_id"] == L.ours
    status(api.get(f"/api/pools/{L.their_pool}", "bound"), 404)
    status(api.get(f"/api/pools/{L.their_pool}", "bound_other"), 200)

    # Writes: a dedicated pool, a deposit, a match rule, a category of another lender.
    status(api.post("/api/pools", {"lender_id": L.theirs, "name": "Fondo Venezia"},
                    "bound"), 404)
    mine = api.ok(api.post("/api/pools", {"lender_id": L.ours, "name": "Fondo Mag2"},
                           "bound"), 201)["id"]
    status(api.post(f"/api/pools/{L.their_pool}/deposits",
                    {"amount": eur("10.00"), "date": "2026-12-01"}, "bound"), 404)
    status(api.post(f"/api/pools/{mine}/deposits",
                    {"amount": eur("10.00"), "date": "2026-12-01"}, "bound"), 201)
    rule = {"threshold": "0.75", "cap": eur("5000.00")}
    status(api.put(f"/api/pools/{L.their_pool}/match-rule", rule, "bound"), 404)
    api.ok(api.put(f"/api/pools/{L.their_pool}/match-rule", rule, "bound_other"))
    status(api.get(f"/api/pools/{L.their_pool}/match-rule", "bound"), 404)
    status(api.client.delete(f"/api/pools/{L.their_pool}/match-rule",
                             headers=api.headers("bound")), 404)
    assert api.ok(api.get(f"/api/pools/{L.their_pool}/match-rule"))["cap"] == eur("5000.00")
    api.ok(api.put(f"/api/pools/{mine}/match-rule", rule, "bound"))

    category = {"max_principal": eur("20000.00"), "max_term_months": 36,
                "frequencies": ["monthly"]}
    status(api.put(f"/api/lenders/{L.theirs}/categories/agricoltura", category, "bound"), 404)
    status(api.get(f"/api/lenders/{L.theirs}/categories/microcredit", "bound"), 404)
    api.ok(api.put(f"/api/lenders/{L.ours}/categories/agricoltura", category, "bound"))
    for who in ("bound", *EVERYONE):
        api.ok(api.get(f"/api/lenders/{L.ours}/categories/agricoltura", who))
    for who in ("bound_other", *EVERYONE):
        api.ok(api.get(f"/api/lenders/{L.theirs}/categories/microcredit", who))
    status(api.get(f"/api/lenders/{L.theirs}/categories/agricoltura", "officer"), 404)

    # Nothing the refused writes named changed: their pool has its one deposit.
    assert api.ok(api.get(f"/api/pools/{L.their_pool}"))["balance"] == eur("47600.00")
    assert ids(api, "/api/pools", "officer") == [L.our_pool, L.their_pool, mine]
    assert ids(api, "/api/pools", "bound") == [L.our_pool, mine]


def test_guarantees_calls_and_repayments_of_another_lenders_loans(
        api: Api, lenders: Lenders) -> None:
    L = lenders
    for who in EVERYONE:
        assert ids(api, "/api/guarantees", who) == [L.our_guarantee, L.their_guarantee]
    assert ids(api, "/api/guarantees", "bound") == [L.our_guarantee]
    assert ids(api, "/api/guarantees", "bound_other") == [L.their_guarantee]
    assert ids(api, f"/api/guarantees?loan_id={L.their_loan}", "bound") == []
    api.ok(api.get(f"/api/guarantees/{L.our_guarantee}", "bound"))
    gas = api.parties["gas"]
    for r in (
        api.get(f"/api/guarantees/{L.their_guarantee}", "bound"),
        api.post(f"/api/guarantees/{L.their_guarantee}/release", {}, "bound"),
        api.post("/api/guarantees", {"loan_id": L.their_loan, "guarantor_id": gas,
                                     "amount": eur("10.00")}, "bound"),
        api.get(f"/api/loans/{L.their_loan}/guarantees", "bound"),
        api.get(f"/api/loans/{L.their_loan}/guarantee-calls", "bound"),
        api.post(f"/api/loans/{L.their_loan}/guarantee-calls",
                 {"amount": eur("100.00"), "date": "2026-12-01"}, "bound"),
        api.get(f"/api/loans/{L.their_loan}/repayments", "bound"),
        api.post(f"/api/loans/{L.their_loan}/repayments",
                 {"amount": eur("100.00"), "date": "2026-12-01"}, "bound"),
        api.post("/api/loans", {
            "principal": eur("1000.00"), "annual_rate": "5.00", "term_months": 12,
            "method": "french", "frequency": "monthly", "disbursement_date": "2026-12-01",
            "borrower_id": api.parties["producer"], "lender_id": L.theirs}, "bound"),
    ):
        status(r, 404)
    # The loan's own figures and its guarantee are as they were.
    their = api.ok(api.get(f"/api/guarantees/{L.their_guarantee}"))
    assert (their["status"], their["called_amount"]) == ("active", eur("0.00"))
    assert api.ok(api.get(f"/api/loans/{L.their_loan}"))["paid_total"] == eur("0.00")
    assert len(ids(api, "/api/guarantees", "officer")) == 2
    # The bound officer acts on its own lender's loan.
    api.ok(api.post(f"/api/loans/{L.our_loan}/guarantee-calls",
                    {"amount": eur("100.00"), "date": TODAY}, "bound"))
    assert [c["loan_id"] for c in api.ok(api.get(
        f"/api/loans/{L.our_loan}/guarantee-calls", "bound"))["items"]] == [L.our_loan]


def test_shares_of_another_lender(api: Api, lenders: Lenders) -> None:
    L = lenders
    gas = api.parties["gas"]
    share = {"member_id": gas, "amount": eur("250.00"), "date": "2026-11-02"}
    status(api.post("/api/shares", {**share, "lender_id": L.theirs}, "bound"), 404)
    ours = api.ok(api.post("/api/shares", {**share, "lender_id": L.ours}, "bound"), 201)
    theirs = api.ok(api.post("/api/shares", {**share, "lender_id": L.theirs},
                             "bound_other"), 201)
    for who in EVERYONE:
        assert ids(api, "/api/shares", who) == [ours["id"], theirs["id"]]
    page = api.ok(api.get("/api/shares", "bound"))
    assert [s["id"] for s in page["items"]] == [ours["id"]]
    assert page["totals"] == {gas: eur("250.00")}  # its lender's shares only
    assert ids(api, f"/api/shares?lender_id={L.theirs}", "bound") == []
    assert api.ok(api.get("/api/shares", "officer"))["totals"] == {gas: eur("500.00")}


# -- funding requests ----------------------------------------------------------------------


def new_request(api: Api, producer: str = "producer", amount: str = "3000.00") -> str:
    """A request of ``producer`` (a key of ``api.parties``), or of a producer by that
    name with no loan yet, submitted by an officer on its behalf."""
    if producer not in api.parties:
        api.parties[producer] = make_party(api, "producer", producer, categories=["cheese"])
    who = producer if producer in api.tokens else "officer"
    rid: str = api.ok(api.post("/api/requests", {
        "producer_id": api.parties[producer], "amount": eur(amount),
        "purpose": "Una cella frigorifera", "instrument": "loan", "term_months": 24},
        who), 201)["id"]
    return rid


def loan_terms(lender: str | None) -> dict[str, Any]:
    loan: dict[str, Any] = {
        "principal": eur("3000.00"), "annual_rate": "4.00", "term_months": 24,
        "method": "french", "frequency": "monthly", "disbursement_date": "2026-12-01"}
    if lender is not None:
        loan["lender_id"] = lender
    return {"loan": loan}


ASSESSMENT = {"economic_score": 7, "social_score": 8, "notes": "Solido"}


def move(api: Api, rid: str, to: str, who: str) -> Any:
    return api.post(f"/api/requests/{rid}/transitions", {"to": to, "note": "ok"}, who)


def test_a_request_belongs_to_the_lender_whose_officer_first_reviews_it(
        api: Api, lenders: Lenders) -> None:
    L = lenders
    rid = new_request(api)
    for who in ("bound", "bound_other", *EVERYONE):  # every officer sees the request
        assert rid in ids(api, "/api/requests", who)
        body = api.ok(api.get(f"/api/requests/{rid}", who))
        assert "lender_id" not in body and "lender_name" not in body
    claimed = api.ok(move(api, rid, "under_review", "bound"))
    assert (claimed["lender_id"], claimed["lender_name"]) == (L.ours, "Mag2 Finance Milano")
    seen = api.ok(api.get(f"/api/requests/{rid}", "bound_other"))
    assert (seen["lender_id"], seen["lender_name"]) == (L.ours, "Mag2 Finance Milano")
    listed = api.ok(api.get("/api/requests", "bound_other"))["items"]
    assert [i["lender_name"] for i in listed if i["id"] == rid] == ["Mag2 Finance Milano"]

    # The other lender's officer may not move, assess, set terms or fund it.
    status(move(api, rid, "needs_info", "bound_other"), 403)
    status(api.put(f"/api/requests/{rid}/assessment", ASSESSMENT, "bound_other"), 403)
    status(api.put(f"/api/requests/{rid}/terms", loan_terms(L.theirs), "bound_other"), 403)
    status(api.put(f"/api/requests/{rid}/terms", loan_terms(None), "bound_other"), 403)
    # Its lender's officer neither names another lender; nor does an unbound one here.
    status(api.put(f"/api/requests/{rid}/terms", loan_terms(L.theirs), "bound"), 403)
    status(api.put(f"/api/requests/{rid}/terms", loan_terms(L.theirs), "officer"), 403)
    assert api.ok(api.get(f"/api/requests/{rid}"))["terms"] is None
    assert api.ok(api.get(f"/api/requests/{rid}"))["assessment"] is None

    # An unbound officer assesses it; the terms default to the bound officer's lender.
    api.ok(api.put(f"/api/requests/{rid}/assessment", ASSESSMENT, "officer"))
    terms = api.ok(api.put(f"/api/requests/{rid}/terms", loan_terms(None), "bound"))
    assert terms["loan"]["lender_id"] == L.ours
    api.ok(move(api, rid, "approved", "bound"))
    status(api.post(f"/api/requests/{rid}/funding", {"date": "2026-12-01"},
                    "bound_other"), 403)
    assert api.ok(api.get(f"/api/requests/{rid}"))["status"] == "approved"
    funded = api.ok(api.post(f"/api/requests/{rid}/funding", {"date": "2026-12-01"},
                             "bound"))
    assert funded["status"] == "funded"
    loan = api.ok(api.get(f"/api/loans/{funded['instruments']['loan_id']}", "bound"))
    assert loan["lender_id"] == L.ours
    status(api.get(f"/api/loans/{loan['id']}", "bound_other"), 404)


def test_a_request_no_bound_officer_reviewed_belongs_to_no_lender(
        api: Api, lenders: Lenders) -> None:
    L = lenders
    rid = new_request(api)
    body = api.ok(move(api, rid, "under_review", "officer"))
    assert "lender_id" not in body  # an unbound officer claims it for no lender
    # No lender to default to: the loan must name one.
    r = api.put(f"/api/requests/{rid}/terms", loan_terms(None), "officer")
    status(r, 422)
    assert [e["field"] for e in r.json()["errors"]] == ["loan.lender_id"]
    # Any officer may act on it, a bound one with its own lender's loan only.
    api.ok(api.put(f"/api/requests/{rid}/assessment", ASSESSMENT, "bound_other"))
    status(api.put(f"/api/requests/{rid}/terms", loan_terms(L.ours), "bound_other"), 403)
    api.ok(api.put(f"/api/requests/{rid}/terms", loan_terms(L.ours), "officer"))
    api.ok(move(api, rid, "approved", "officer"))
    # The terms lend the first lender's money: the second lender's officer may not fund.
    status(api.post(f"/api/requests/{rid}/funding", {"date": "2026-12-01"},
                    "bound_other"), 403)
    # Back to review by a bound officer: that one claims it.
    rid2 = new_request(api, "other_producer")
    api.ok(move(api, rid2, "under_review", "officer"))
    api.ok(move(api, rid2, "needs_info", "officer"))
    api.ok(move(api, rid2, "submitted", "other_producer"))
    assert api.ok(move(api, rid2, "under_review", "bound_other"))["lender_id"] == L.theirs
    status(move(api, rid2, "rejected", "bound"), 403)
    api.ok(move(api, rid2, "rejected", "admin"))


# -- suggestions, plans, reports -------------------------------------------------------------


def test_loan_suggestions_and_plans_come_from_the_lenders_own_pools(
        api: Api, lenders: Lenders) -> None:
    L = lenders
    rid = new_request(api, "Orto Bioregionale", amount="2000.00")  # never late
    api.ok(move(api, rid, "under_review", "officer"))

    def loan_sources(who: str) -> set[str]:
        items = api.ok(api.get(f"/api/requests/{rid}/opportunities", who))["items"]
        return {i["source_id"] for i in items if i["kind"] == "loan"}

    for who in EVERYONE:
        assert loan_sources(who) == {L.our_pool, L.their_pool}
    assert loan_sources("bound") == {L.our_pool}
    assert loan_sources("bound_other") == {L.their_pool}

    def plan_sources(who: str) -> set[str]:
        plan = api.ok(api.post("/api/matching/plan", {"request_ids": [rid]}, who))
        assert plan["funded"][rid] == eur("2000.00")
        return {a["source_id"] for a in plan["allocations"] if a["kind"] == "loan"}

    assert plan_sources("bound") == {L.our_pool}
    assert plan_sources("bound_other") == {L.their_pool}
    # Unbound: whichever pool the plan picks, and the same again (no kept bound copy).
    every = plan_sources("officer")
    assert every <= {L.our_pool, L.their_pool} and every
    assert plan_sources("officer") == every
    assert loan_sources("officer") == {L.our_pool, L.their_pool}


def test_a_bound_officers_plan_takes_the_requests_its_lender_may_fund(
        api: Api, lenders: Lenders) -> None:
    """By default a plan takes every request under review or approved and not yet
    funded; for a bound officer only those its lender may fund (its lender's, and those
    no lender claimed): another lender's named is refused with 403, as its funding is."""
    L = lenders
    ours = new_request(api, "Orto di Lambrate", amount="2000.00")
    api.ok(move(api, ours, "under_review", "bound"))
    theirs = new_request(api, "Orto del Lido", amount="1500.00")
    api.ok(move(api, theirs, "under_review", "bound_other"))
    free = new_request(api, "Orto Bioregionale", amount="1000.00")
    api.ok(move(api, free, "under_review", "officer"))  # claimed by no lender
    new_request(api, "Orto in attesa", amount="900.00")  # submitted: in no plan

    def planned(who: str, body: Any = None) -> dict[str, Any]:
        plan: dict[str, Any] = api.ok(api.post("/api/matching/plan", body, who))
        assert set(plan["funded"]) == set(plan["unfunded"]) == set(plan["weights"])
        return plan

    asked = {ours: "2000.00", theirs: "1500.00", free: "1000.00"}
    for who, expected, pool in (("bound", {ours, free}, L.our_pool),
                                ("bound_other", {theirs, free}, L.their_pool)):
        plan = planned(who)
        assert set(plan["funded"]) == expected, who
        # Each request fully lent from the officer's own lender's pool, nothing else.
        for rid in expected:
            assert plan["funded"][rid] == eur(asked[rid])
        assert {a["source_id"] for a in plan["allocations"]} == {pool}
        assert {a["request_id"] for a in plan["allocations"]} == expected
    for who in EVERYONE:
        assert set(planned(who)["funded"]) == {ours, theirs, free}

    # Named: its own lender's and unclaimed ones are planned, another lender's is 403.
    assert set(planned("bound", {"request_ids": [ours, free]})["funded"]) == {ours, free}
    for body, who in (({"request_ids": [theirs]}, "bound"),
                      ({"request_ids": [ours, theirs]}, "bound"),
                      ({"request_ids": [ours]}, "bound_other")):
        r = api.post("/api/matching/plan", body, who)
        status(r, 403)
        assert "another lender's request" in r.json()["detail"]
    # Unknown ids are still 422 for a bound officer; every officer may plan any request.
    status(api.post("/api/matching/plan", {"request_ids": [L.our_loan]}, "bound"), 422)
    assert set(planned("officer", {"request_ids": [theirs, ours]})["funded"]) == {
        ours, theirs}


def csv_text(api: Api, name: str, who: str) -> str:
    r = api.get(f"/api/reports/{name}.csv", who)
    assert r.status_code == 200, r.text
    text: str = r.text
    return text


def test_lender_wide_reports_cover_the_bound_officers_lender_only(
        api: Api, lenders: Lenders) -> None:
    L = lenders
    for who, seen, unseen in (("bound", (L.our_loan,), (L.their_loan,)),
                              ("bound_other", (L.their_loan,), (L.our_loan,)),
                              ("officer", (L.our_loan, L.their_loan), ()),
                              ("admin", (L.our_loan, L.their_loan), ())):
        portfolio = csv_text(api, "portfolio", who)
        rows = list(csv.reader(io.StringIO(portfolio)))
        assert len(rows) == 1 + len(seen)
        assert all(i in portfolio for i in seen) and not any(i in portfolio for i in unseen)
        guarantees = csv_text(api, "guarantees", who)
        mine = {L.our_loan: L.our_guarantee, L.their_loan: L.their_guarantee}
        assert all(mine[i] in guarantees for i in seen)
        assert not any(mine[i] in guarantees for i in unseen)
        impact = csv_text(api, "impact", who)  # by producer name
        borrowers = {L.our_loan: "Caseificio Val Taleggio", L.their_loan: "Cascina Caremma"}
        assert all(borrowers[i] in impact for i in seen)
        assert not any(borrowers[i] in impact for i in unseen)
    # Another lender's loan named as a filter: 404, as its statement.
    status(api.get(f"/api/reports/loan-statement.csv?loan_id={L.their_loan}", "bound"), 404)
    status(api.get(f"/api/reports/loan-statement.csv?loan_id={L.our_loan}", "bound"), 200)


def workbook_text(api: Api, name: str, who: str) -> tuple[str, set[str]]:
    """Every cell of every sheet of the report's workbook, as one text; and the lenders
    its printed headers name."""
    r = api.get(f"/api/reports/{name}.xlsx", who)
    assert r.status_code == 200, r.text
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    cells = [str(c) for ws in wb.worksheets
             for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    return "\n".join(cells), {ws.oddHeader.right.text for ws in wb.worksheets}


def detail_total(api: Api, name: str, who: str, column: str) -> Decimal:
    """The sum of ``column`` over the detail rows of the report's CSV."""
    rows = list(csv.DictReader(io.StringIO(csv_text(api, name, who))))
    assert rows and column in rows[0], list(rows[0]) if rows else name
    return sum((Decimal(r[column]) for r in rows), Decimal(0))


@pytest.mark.parametrize("name", ["portfolio", "arrears", "guarantees", "impact"])
def test_each_lender_wide_report_leaves_the_other_lenders_out(
        api: Api, lenders: Lenders, name: str) -> None:
    """Officer of lender A: none of lender B's loans, guarantees or borrowers in any
    sheet of the report, its figures A's alone, and A named in the printed header; an
    unbound officer: both lenders'. (The journal and trial balance are the whole ledger
    for everyone: see the README's reports section.)"""
    L = lenders
    loan = {lid: api.ok(api.get(f"/api/loans/{lid}")) for lid in (L.our_loan, L.their_loan)}
    pledge = {gid: api.ok(api.get(f"/api/guarantees/{gid}"))
              for gid in (L.our_guarantee, L.their_guarantee)}
    guarantee_of = {L.our_loan: L.our_guarantee, L.their_loan: L.their_guarantee}

    def marks(lid: str) -> list[str]:
        """What shows a loan in this report: its reference, its borrower, its
        guarantee's reference."""
        by_report = {
            "portfolio": [loan[lid]["reference"], loan[lid]["borrower_name"]],
            "arrears": [loan[lid]["reference"], loan[lid]["borrower_name"]],
            "guarantees": [pledge[guarantee_of[lid]]["reference"], loan[lid]["reference"]],
            "impact": [loan[lid]["borrower_name"]],
        }
        return by_report[name]

    def outstanding(lids: tuple[str, ...]) -> Decimal:
        return sum((Decimal(loan[i]["outstanding_principal"]["amount"]) for i in lids),
                   Decimal(0))

    column = "Impegno" if name == "guarantees" else "Capitale residuo"
    for who, seen, unseen, header in (
            ("bound", (L.our_loan,), (L.their_loan,), {"Mag2 Finance Milano"}),
            ("bound_other", (L.their_loan,), (L.our_loan,), {"Mag Venezia"}),
            ("officer", (L.our_loan, L.their_loan), (), {"Mag Venezia, Mag2 Finance Milano"}),
    ):
        text, headers = workbook_text(api, name, who)
        for lid in seen:
            assert all(m in text for m in marks(lid)), (who, marks(lid))
        for lid in unseen:
            assert not any(m in text for m in marks(lid)), (who, marks(lid))
        assert headers == header, who
        # The figures: the loans it sees, as the loans API gives them.
        expected = (sum((Decimal(pledge[guarantee_of[i]]["amount"]["amount"]) for i in seen),
                        Decimal(0)) if name == "guarantees" else outstanding(seen))
        assert detail_total(api, name, who, column) == expected, who
