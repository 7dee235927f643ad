"""Matching over HTTP on a small hand-made network whose suggestions and optimal plan are
worked out by hand below (MatchingConfig's default weights and limits).

The network, as of 2026-03-01:

* producer P (cheese, 45.70 N 9.60 E) asks 14,000.00 (mixed; weight (8 + 6) / 20 = 0.7);
  producer P2 (vegetables) asks 8,000.00 (loan; weight (9 + 9) / 20 = 0.9);
* GAS A (30 households, 45.80 N 9.60 E: 11.12 km north of P) buys from P since
  2019-09-15 (6 years), 8,000.00 a year, 18 households; it also buys from producer Q
  (45.60 N, 11.12 km south of P). A declared interest in prepaying 4,500.00 of P's
  request, has 6,000.00 of pledge capacity, subscribed 3,000.00 of shares, and its fund
  holds 1,000.00 plus 500.00 earmarked for P;
* GAS B (20 households, 45.70 N 9.80 E: about 15.5 km east of P) buys vegetables from
  P2 since 2023-01-10 (3 years), 3,000.00 a year; it prepaid 5,000.00 to P2 (so 1,000.00
  of its 6,000.00 prepayment budget is left), has 6,000.00 of pledge capacity and
  2,500.00 of shares; Q has 3,000.00 of pledge capacity;
* the lender's general pool holds 10,000.00 deposited + 5,500.00 of shares = 15,500.00;
  its microcredit category: at most 20,000.00, loans <= 2 x the buying GAS's shares,
  guarantees >= 150% of a loan.

The optimal plan, by hand: P's request can use at most A 4,500 (declared) + B 1,000
(budget) + the fund 1,500 + a loan of 6,000 (2 x 3,000 shares), backed by A 6,000 + Q
3,000 = 9,000 = 150% of it: 13,000.00 funded, 1,000.00 not. P2's loan is capped by B's
6,000 of pledges at 6,000 / 1.5 = 4,000 (below its 5,000 share cap): 4,000.00 funded,
4,000.00 not. Nothing competes (the pool lends 10,000 of 15,500), so this is the only
optimum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import numpy_financial as npf
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from service.app.auth import create_user
from service.db.engine import write_tx
from tests.api.conftest import PASSWORD, Api, eur, make_party, new_id

AS_OF = "2026-03-01"
R_KM = 6371.0088
P_AT = (45.70, 9.60)
A_AT = (45.80, 9.60)
B_AT = (45.70, 9.80)
Q_AT = (45.60, 9.60)


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance by the haversine formula, written out here."""
    la1, lo1, la2, lo2 = (math.radians(x) for x in (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin(
        (lo2 - lo1) / 2) ** 2
    return 2 * R_KM * math.asin(math.sqrt(h))


def score(coverage: float, tie: float, proximity: float, idle: float, interest: float,
          record: float) -> float:
    """The weighted sum of MatchingConfig's default weights (they add up to 1)."""
    return round(0.25 * coverage + 0.30 * tie + 0.15 * proximity + 0.15 * idle
                 + 0.10 * interest + 0.05 * record, 4)


@dataclass
class Net:
    p: str
    p2: str
    q: str
    a: str
    b: str
    lender: str
    pool: str
    fund_a: str
    r1: str
    r2: str
    r3: str


def user(api: Api, engine: Engine, name: str, role: str, party: str) -> None:
    with write_tx(engine) as conn:
        create_user(conn, name, PASSWORD, role, party)
    api.tokens[name] = api.login(name)


def request(api: Api, producer: str, amount: str, instrument: str, gas_ids: list[str],
            who: str) -> str:
    body = {"producer_id": producer, "amount": eur(amount), "purpose": "new equipment",
            "instrument": instrument, "term_months": 24, "gas_ids": gas_ids}
    rid: str = api.ok(api.post("/api/requests", body, who), 201)["id"]
    return rid


def move(api: Api, rid: str, *targets: str) -> None:
    for to in targets:
        api.ok(api.post(f"/api/requests/{rid}/transitions", {"to": to, "note": ""}))


@pytest.fixture
def net(api: Api, engine: Engine) -> Net:
    p = make_party(api, "producer", "Caseificio Pusterla", categories=["cheese"],
                   latitude=P_AT[0], longitude=P_AT[1])
    p2 = make_party(api, "producer", "Orto Bassa", categories=["vegetables"],
                    latitude=45.70, longitude=9.85)
    q = make_party(api, "producer", "Panificio Quarenghi", categories=["bread"],
                   latitude=Q_AT[0], longitude=Q_AT[1])
    a = make_party(api, "gas", "GAS Bergamo Alta", households=30, latitude=A_AT[0],
                   longitude=A_AT[1])
    b = make_party(api, "gas", "GAS Treviglio", households=20, latitude=B_AT[0],
                   longitude=B_AT[1])
    for name, role, party in (("prod_p", "producer", p), ("prod_p2", "producer", p2),
                              ("gas_a", "gas", a), ("gas_b", "gas", b)):
        user(api, engine, name, role, party)
    for gas, producer, since, yearly, households in (
            (a, p, "2019-09-15", "8000.00", 18), (a, q, "2020-05-01", "2000.00", None),
            (b, p2, "2023-01-10", "3000.00", None)):
        body: dict[str, Any] = {"gas_id": gas, "producer_id": producer, "since": since,
                                "annual_purchases": eur(yearly)}
        if households is not None:
            body["households_buying"] = households
        api.ok(api.post("/api/relationships", body), 201)
    lender = make_party(api, "lender", "Mag2 Finance Milano")
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.put(f"/api/lenders/{lender}/categories/microcredit", {
        "max_principal": eur("20000.00"), "max_term_months": 84,
        "frequencies": ["monthly", "quarterly"], "min_coverage": "1.50",
        "share_multiple": "2"}))
    api.ok(api.post(f"/api/pools/{pool}/deposits", {"amount": eur("10000.00"),
                                                    "date": "2026-01-10"}), 201)
    for member, amount in ((a, "3000.00"), (b, "2500.00")):
        api.ok(api.post("/api/shares", {"member_id": member, "lender_id": lender,
                                        "amount": eur(amount), "date": "2026-01-12"}), 201)
    for party, amount in ((a, "6000.00"), (b, "6000.00"), (q, "3000.00")):
        api.ok(api.put(f"/api/parties/{party}/pledge-capacity", {"amount": eur(amount)}))
    api.ok(api.post("/api/contributions", {"gas_id": a, "amount": eur("1000.00"),
                                           "date": "2026-02-01"}, "gas_a"), 201)
    api.ok(api.post("/api/contributions", {"gas_id": a, "amount": eur("500.00"),
                                           "date": "2026-02-01", "earmark_producer_id": p},
                    "gas_a"), 201)
    fund_a = next(f["id"] for f in api.ok(api.get("/api/funds"))["items"]
                  if f["gas_id"] == a)
    api.ok(api.post("/api/prepayments", {"date": "2025-12-01",
        "producer_id": p2, "gas_id": b, "amount": eur("5000.00"), "product": "verdura",
        "unit": "cassetta", "unit_price": eur("25.00"), "expires_on": "2026-12-31",
        "on_expiry": "refund"}, "gas_b"), 201)

    r1 = request(api, p, "14000.00", "mixed", [a], "prod_p")
    r2 = request(api, p2, "8000.00", "loan", [], "prod_p2")
    r3 = request(api, p, "2000.00", "loan", [a], "prod_p")
    move(api, r1, "under_review")
    api.ok(api.put(f"/api/requests/{r1}/assessment",
                   {"economic_score": 8, "social_score": 6, "notes": "good"}))
    move(api, r2, "under_review")
    api.ok(api.put(f"/api/requests/{r2}/assessment",
                   {"economic_score": 9, "social_score": 9, "notes": "very good"}))
    move(api, r2, "approved")
    api.ok(api.post(f"/api/requests/{r1}/interests",
                    {"kind": "prepayment", "amount": eur("4500.00")}, "gas_a"), 201)
    return Net(p, p2, q, a, b, lender, pool, fund_a, r1, r2, r3)


def opportunities(api: Api, rid: str, who: str = "officer") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.ok(api.get(
        f"/api/requests/{rid}/opportunities?as_of={AS_OF}", who))["items"]
    return items


def expected_r1(n: Net) -> list[tuple[str, str, str, float, list[str]]]:
    """P's request, by hand: (source, kind, amount, score, reasons), best first."""
    d_a = km(P_AT, A_AT)
    d_b = km(P_AT, B_AT)
    d_q = km(P_AT, Q_AT)
    tie_a = 0.5 * 6 / 10 + 0.3 * 8000 / 10000 + 0.2 * 18 / 30  # 6 years, 8,000 a year, 18/30
    since = ["buys from this producer since 2019 (6 years), 8,000.00 EUR a year",
             "18 of its 30 households buy from it"]
    record = "the producer has no loan history and no arrears"
    return [
        # the fund's balance is idle money: first, whatever the scores
        (n.fund_a, "solidarity", "1500.00",
         score(1500 / 14000, 1.0, 1 - d_a / 30, 1.0, 0, 1),
         ["fund balance 1,500.00 EUR sits idle: proposed first",
          "500.00 EUR is earmarked for this producer",
          "1,000.00 EUR is not earmarked and GAS Bergamo Alta buys here", *since,
          f"{d_a:.0f} km away"]),
        (n.a, "prepayment", "4500.00", score(4500 / 14000, tie_a, 1 - d_a / 30, 0, 1, 1),
         [*since, "named by the producer in the request",
          "declared interest in prepaying 4,500.00 EUR", f"{d_a:.0f} km away",
          "30 households", "sized at its declared 4,500.00 EUR"]),
        (n.a, "guarantee", "6000.00", score(6000 / 21000, tie_a, 1 - d_a / 30, 0, 0, 1),
         ["has 6,000.00 EUR free pledge capacity", *since, f"{d_a:.0f} km away",
          "sized at 150% of the request: 21,000.00 EUR", record]),
        # 2 x A's 3,000 of shares; tie = 2 x 3,000 / 14,000
        (n.pool, "loan", "6000.00", score(6000 / 14000, 6000 / 14000, 0.5, 0, 0, 1),
         ["has 15,500.00 EUR free to lend",
          "per-borrower cap 20,000.00 EUR, 0.00 EUR already outstanding with this lender",
          "the producer and its GAS subscribed 3,000.00 EUR of shares: cap 2 x = "
          "6,000.00 EUR", record]),
        (n.q, "guarantee", "3000.00", score(3000 / 21000, 0.3, 1 - d_q / 30, 0, 0, 1),
         ["has 3,000.00 EUR free pledge capacity",
          "a producer that also sells to GAS Bergamo Alta", f"{d_q:.0f} km away",
          "sized at 150% of the request: 21,000.00 EUR", record]),
        # a newcomer: 25% of 20 x 300.00 = 1,500.00, cut to the 1,000.00 budget left
        (n.b, "prepayment", "1000.00", score(1000 / 14000, 0.1, 1 - d_b / 30, 0, 0, 1),
         ["buys nothing of this category yet: demand no one serves", f"{d_b:.0f} km away",
          "20 households",
          "sized at 25% of 20 households x 300.00 EUR, as it does not buy from this "
          "producer yet: 1,500.00 EUR",
          "its GAS-wide budget leaves 1,000.00 EUR of fresh money"]),
    ]


def test_opportunities_by_hand_and_who_sees_them(api: Api, net: Net) -> None:
    items = opportunities(api, net.r1)
    want = expected_r1(net)
    assert [(i["source_id"], i["kind"]) for i in items] == [(w[0], w[1]) for w in want]
    for item, (_, _, amount, expected_score, reasons) in zip(items, want, strict=True):
        assert item["suggested_amount"] == eur(amount)
        assert item["score"] == pytest.approx(expected_score, abs=1e-4)
        assert 0 <= item["score"] <= 1
        assert item["reasons"] == reasons
    assert round(km(P_AT, A_AT)) == 11 and round(km(P_AT, B_AT)) == 16
    # the requesting producer sees every item; another producer not even the request
    assert opportunities(api, net.r1, "prod_p") == items
    assert api.get(f"/api/requests/{net.r1}/opportunities", "prod_p2").status_code == 404
    # GAS A (named) sees the items of its own GAS and its fund only; GAS B is not named
    mine = opportunities(api, net.r1, "gas_a")
    assert [(i["source_id"], i["kind"]) for i in mine] == [
        (net.fund_a, "solidarity"), (net.a, "prepayment"), (net.a, "guarantee")]
    assert mine == [i for i in items if i["source_id"] in (net.a, net.fund_a)]
    assert api.get(f"/api/requests/{net.r1}/opportunities", "gas_b").status_code == 404
    assert api.get(f"/api/requests/{new_id()}/opportunities").status_code == 404
    assert api.get("/api/requests/nope/opportunities").status_code == 404
    assert api.get(f"/api/requests/{net.r1}/opportunities", None).status_code == 401
    r = api.get(f"/api/requests/{net.r1}/opportunities?as_of=2026-02-30")
    assert r.status_code == 422


def test_loan_request_gets_loans_guarantees_not_prepayments(api: Api, net: Net) -> None:
    items = opportunities(api, net.r2, "prod_p2")
    d_b = km((45.70, 9.85), B_AT)
    tie_b = 0.5 * 3 / 10 + 0.3 * 3000 / 10000 + 0.2 * 1  # 3 years, all 20 households
    # B's fund is empty (nothing to suggest); a loan request takes no prepayment.
    # the loan scores 0.25 x 5/8 + 0.30 x 5/8 + 0.15 x 0.5 + 0.05 = 0.46875, the
    # guarantee 0.25 x 0.5 + 0.30 x 0.44 + 0.15 x (1 - 3.9 km / 30) + 0.05 = 0.4375
    assert [(i["source_id"], i["kind"], i["suggested_amount"]) for i in items] == [
        (net.pool, "loan", eur("5000.00")), (net.b, "guarantee", eur("6000.00"))]
    assert items[0]["score"] == pytest.approx(
        score(5000 / 8000, 5000 / 8000, 0.5, 0, 0, 1), abs=1e-4)
    assert items[1]["score"] == pytest.approx(
        score(6000 / 12000, tie_b, 1 - d_b / 30, 0, 0, 1), abs=1e-4)
    assert ("the producer and its GAS subscribed 2,500.00 EUR of shares: cap 2 x = "
            "5,000.00 EUR") in items[0]["reasons"]
    assert items[1]["reasons"][:2] == [
        "has 6,000.00 EUR free pledge capacity",
        "buys from this producer since 2023 (3 years), 3,000.00 EUR a year"]
    # GAS B is not named in P2's request: it may not see it, nor its suggestions
    assert api.get(f"/api/requests/{net.r2}/opportunities", "gas_b").status_code == 404


def test_plan_is_the_hand_solved_optimum(api: Api, net: Net) -> None:
    plan = api.ok(api.post("/api/matching/plan", {"as_of": AS_OF}))
    rows = {(a["request_id"], a["source_id"], a["kind"]): a["amount"]
            for a in plan["allocations"]}
    assert len(rows) == len(plan["allocations"])  # one row per request, source and kind
    assert rows == {
        (net.r1, net.a, "prepayment"): eur("4500.00"),
        (net.r1, net.b, "prepayment"): eur("1000.00"),
        (net.r1, net.pool, "loan"): eur("6000.00"),
        (net.r1, net.fund_a, "solidarity"): eur("1500.00"),
        (net.r1, net.a, "guarantee"): eur("6000.00"),
        (net.r1, net.q, "guarantee"): eur("3000.00"),
        (net.r2, net.pool, "loan"): eur("4000.00"),
        (net.r2, net.b, "guarantee"): eur("6000.00"),
    }
    # r3 is only submitted: not in the default plan
    assert plan["funded"] == {net.r1: eur("13000.00"), net.r2: eur("4000.00")}
    assert plan["unfunded"] == {net.r1: eur("1000.00"), net.r2: eur("4000.00")}
    for rid, asked in ((net.r1, 1_400_000), (net.r2, 800_000)):
        funded = sum(int(Decimal(a["amount"]["amount"]) * 100) for a in plan["allocations"]
                     if a["request_id"] == rid and a["kind"] != "guarantee")
        assert funded == int(Decimal(plan["funded"][rid]["amount"]) * 100)
        assert funded + int(Decimal(plan["unfunded"][rid]["amount"]) * 100) == asked
    assert "maximize" in plan["objective"] and "\n" not in plan["objective"]
    assert plan["weights"] == {net.r1: "0.70", net.r2: "0.90"}
    # what stops the rest: P2's guarantors; for P, the share cap, A's declared amount and
    # B's budget (and the fund, emptied)
    assert [lim["code"] for lim in plan["binding"][net.r2]] == ["guarantee_coverage"]
    assert {lim["code"] for lim in plan["binding"][net.r1]} >= {
        "share_cap", "source_cap", "gas_budget"}
    assert any("6,000.00 EUR left" in lim["detail"] for lim in plan["binding"][net.r1])
    # Each limit names its source beside the id, as every party, pool or fund is named.
    assert any(lim["source_id"] for lims in plan["binding"].values() for lim in lims)
    for lim in [lim for lims in plan["binding"].values() for lim in lims]:
        if lim["source_id"] is None:
            assert lim["source_name"] is None
            continue
        found = [api.get(f"/api/{kind}/{lim['source_id']}")
                 for kind in ("parties", "pools", "funds")]
        (named,) = [r.json()["name"] for r in found if r.status_code == 200]
        assert lim["source_name"] == named
    # no body at all: the default set (dated today, which changes no amount here)
    today = api.ok(api.client.post("/api/matching/plan", headers=api.headers("officer")))
    assert today["funded"] == plan["funded"] and today["unfunded"] == plan["unfunded"]
    # only P2's request: the same loan, backed the same way
    alone = api.ok(api.post("/api/matching/plan", {"request_ids": [net.r2],
                                                    "as_of": AS_OF}))
    assert alone["funded"] == {net.r2: eur("4000.00")}
    assert {(a["source_id"], a["kind"], a["amount"]["amount"])
            for a in alone["allocations"]} == {(net.pool, "loan", "4000.00"),
                                                (net.b, "guarantee", "6000.00")}


def test_plan_refusals(api: Api, net: Net) -> None:
    assert api.post("/api/matching/plan", {}, "gas_a").status_code == 403
    assert api.post("/api/matching/plan", {}, "prod_p").status_code == 403
    assert api.post("/api/matching/plan", {}, None).status_code == 401
    unknown = new_id()
    r = api.post("/api/matching/plan", {"request_ids": [net.r1, unknown]})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "request_ids.1", "message": f"no request {unknown}"}]
    r = api.post("/api/matching/plan", {"request_ids": [net.r3, net.r1]})
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["field"] == "request_ids.0" and net.r3 in error["message"]
    assert "submitted" in error["message"]
    for body in ({"request_ids": ["x"]}, {"request_ids": "x"}, {"colour": 1},
                 {"as_of": "2026-13-01"}):
        assert api.post("/api/matching/plan", body).status_code == 422, body
    # a request that left review is no longer planned
    move(api, net.r1, "rejected")
    r = api.post("/api/matching/plan", {"request_ids": [net.r1]})
    assert r.status_code == 422 and "rejected" in r.json()["errors"][0]["message"]
    empty = api.ok(api.post("/api/matching/plan", {"request_ids": []}))
    assert empty["allocations"] == [] and empty["funded"] == {} and empty["unfunded"] == {}


def test_a_plan_names_a_bad_request_id_and_a_bad_day_at_once(api: Api) -> None:
    r = api.post("/api/matching/plan", {"request_ids": [new_id(), "x"], "as_of": "2026-13-01"})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["request_ids.1", "as_of"]
    # 422 before 403: a GAS user's bad body is named too.
    assert api.post("/api/matching/plan", {"as_of": "soon"}, "gas").status_code == 422


def test_arrears_block_loans_and_show_in_reasons(api: Api, net: Net) -> None:
    """A loan to P2 of 2,000.00 at 6% over 24 months, disbursed 2025-06-01 and never
    repaid: on 2026-03-01 the eight installments due 2025-07-01 .. 2026-02-01 are overdue
    (the one due that day is not yet), the oldest 243 days."""
    loan = api.ok(api.post("/api/loans", {
        "borrower_id": net.p2, "lender_id": net.lender, "principal": eur("2000.00"),
        "annual_rate": "6.00", "term_months": 24, "method": "french",
        "frequency": "monthly", "disbursement_date": "2025-06-01"}), 201)
    api.ok(api.post("/api/guarantees", {"loan_id": loan["id"], "guarantor_id": net.b,
                                        "date": "2025-06-01", "amount": eur("3000.00")}), 201)
    api.ok(api.post(f"/api/loans/{loan['id']}/disbursement", {"date": "2025-06-01"}))
    pmt = Decimal(str(-npf.pmt(0.06 / 12, 24, 2000))).quantize(Decimal("0.01"),
                                                                  ROUND_HALF_EVEN)
    overdue = 8 * pmt  # due 2025-07-01 .. 2026-02-01
    items = opportunities(api, net.r2)
    assert all(i["kind"] != "loan" for i in items)  # over 30 days past due: no loan
    [guarantee] = [i for i in items if i["kind"] == "guarantee"]
    # B pledged 3,000.00 of its 6,000.00 to the loan
    assert guarantee["suggested_amount"] == eur("3000.00")
    assert guarantee["reasons"][-1] == (
        f"the producer is 243 days past due with {overdue:,} EUR in arrears")
    plan = api.ok(api.post("/api/matching/plan", {"request_ids": [net.r2], "as_of": AS_OF}))
    assert plan["funded"] == {net.r2: eur("0.00")}
    assert "arrears" in {lim["code"] for lim in plan["binding"][net.r2]}


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_match_and_plan(api: Api, net: Net, db_url: tuple[str, str | None],
                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    import service.cli.matching
    from service.cli.main import main
    from service.db.engine import make_engine

    url, schema = db_url  # PostgreSQL tests run in a schema the URL cannot name
    monkeypatch.setattr(service.cli.matching, "_engine",
                        lambda: make_engine(url, schema=schema))
    assert main(["match", net.r1, "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"Opportunities for request {net.r1} (6, best first)"
    rows = [ln for ln in lines if ln[:3].strip().isdigit()]
    assert [r.split()[1] for r in rows] == ["solidarity", "prepayment", "guarantee", "loan",
                                            "guarantee", "prepayment"]
    assert "1500.00" in rows[0] and "Fondo di solidarietà GAS Bergamo Alta" in rows[0]
    assert "- declared interest in prepaying 4,500.00 EUR" in out
    assert "- 18 of its 30 households buy from it" in out
    assert main(["match", new_id()]) == 2
    assert "not found" in capsys.readouterr().err

    target = tmp_path / "plan.xlsx"
    assert main(["plan", "--out", str(target), "--as-of", AS_OF, "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "plan of 2 requests" in out and "8 allocations" in out
    assert "funded 17,000.00 EUR, unfunded 5,000.00 EUR" in out
    wb = load_workbook(target)
    sheet = wb["Allocations"]
    header = [c.value for c in sheet[1]]
    amount_col = header.index("Amount")
    kind_col = header.index("Kind")
    amounts = [(r[kind_col].value, r[amount_col].value)
               for r in sheet.iter_rows(min_row=2) if r[0].value in (net.r1, net.r2)]
    assert all(isinstance(v, int | float) for _, v in amounts)  # numbers, not text
    assert sum(Decimal(str(v)) for k, v in amounts if k != "guarantee") == Decimal("17000")
    requests = wb["Requests"]
    head = [c.value for c in requests[1]]
    by_id = {r[0].value: r for r in requests.iter_rows(min_row=2)}
    assert by_id[net.r2][head.index("Unfunded")].value == 4000
    assert by_id[net.r1][head.index("Funded")].value == 13000
    assert main(["plan", "--request-id", net.r3, "--out", str(target)]) == 2
    assert "submitted" in capsys.readouterr().err
    assert main(["plan", "--out", str(tmp_path / "plan.csv")]) == 2


def test_match_funding_rule_is_its_own_suggestion(api: Api, net: Net) -> None:
    rule = api.ok(api.put(f"/api/pools/{net.pool}/match-rule",
                          {"threshold": "0.25", "cap": eur("2000.00")}))
    assert rule["threshold"] == "0.25" and rule["cap"] == eur("2000.00")
    assert api.put(f"/api/pools/{net.pool}/match-rule",
                   {"threshold": "1.5", "cap": eur("2000.00")}).status_code == 422
    assert api.get(f"/api/pools/{net.pool}/match-rule", "gas_a").status_code == 404
    items = opportunities(api, net.r1)
    top_ups = [i for i in items if i.get("match_rule_pool_id") == net.pool]
    assert len(top_ups) == 1
    # 25% of the 14,000.00 request is 3,500.00; the pool tops up at most 2,000.00.
    assert top_ups[0]["suggested_amount"] == eur("2000.00")
    assert any("match funding" in r and "25%" in r and "2,000.00" in r
               for r in top_ups[0]["reasons"]), top_ups[0]["reasons"]
    # A loan request gets no top-up: the rule is for mixed requests.
    assert not [i for i in opportunities(api, net.r3) if i.get("match_rule_pool_id")]
    assert api.client.delete(f"/api/pools/{net.pool}/match-rule",
                             headers=api.headers("officer")).status_code == 204
    assert not [i for i in opportunities(api, net.r1) if i.get("match_rule_pool_id")]


def test_person_of_a_buying_gas_is_suggested_as_guarantor(api: Api, net: Net) -> None:
    """A person in GAS A (which buys from P) with 2,500.00 of pledge capacity, 0.05 degrees
    north of P: a guarantor for P's 2,000.00 loan request r3. Its tie is 0.6 x A's tie;
    the guarantee needed is 150% of 2,000.00 = 3,000.00, so it covers 2,500 / 3,000.
    Persons of GAS B (which does not buy from P), with no GAS, or with nothing free are
    not suggested."""
    m_at = (45.75, 9.60)

    def person(name: str, gas_ids: list[str], capacity: str | None, **extra: Any) -> str:
        pid = make_party(api, "person", name, gas_ids=gas_ids, **extra)
        if capacity is not None:
            api.ok(api.put(f"/api/parties/{pid}/pledge-capacity", {"amount": eur(capacity)}))
        return pid

    member = person("Giulia Colleoni", [net.a], "2500.00", latitude=m_at[0],
                    longitude=m_at[1])
    of_b = person("Paolo Treviglio", [net.b], "4000.00")
    loner = person("Sara Sola", [], "4000.00")
    empty = person("Marco Vuoto", [net.a], "0.00")
    items = opportunities(api, net.r3)
    by_source = {i["source_id"]: i for i in items if i["kind"] == "guarantee"}
    assert member in by_source
    assert not {of_b, loner, empty} & set(by_source)
    item = by_source[member]
    d_m = km(P_AT, m_at)
    tie_a = 0.5 * 6 / 10 + 0.3 * 8000 / 10000 + 0.2 * 18 / 30
    assert item["suggested_amount"] == eur("2500.00")
    assert item["source_name"] == "Giulia Colleoni"
    assert item["score"] == pytest.approx(
        score(2500 / 3000, 0.6 * tie_a, 1 - d_m / 30, 0, 0, 1), abs=1e-4)
    assert item["reasons"] == [
        "has 2,500.00 EUR free pledge capacity",
        "member of GAS Bergamo Alta, which buys from this producer",
        f"{d_m:.0f} km away",
        "sized at 150% of the request: 3,000.00 EUR",
        "the producer has no loan history and no arrears"]
    assert round(d_m) == 6
    # the person is GAS A's member: A's user sees the party (not the person's suggestion,
    # which is not A's own money)
    assert api.get(f"/api/parties/{member}", "gas_a").status_code == 200
    assert api.get(f"/api/parties/{of_b}", "gas_a").status_code == 404
    assert member not in {i["source_id"] for i in opportunities(api, net.r3, "gas_a")}


def test_a_second_lender_without_minimum_coverage_lends_without_guarantees(
        api: Api, net: Net) -> None:
    # Mag2 (the fixture's lender) asks 150%; a second lender asks nothing. P2's 8,000
    # loan request is then funded by the second lender alone, with no pledge, and what
    # Mag2 would need cover for is not asked.
    other = make_party(api, "lender", "MAG Verona")
    pool = api.ok(api.get(f"/api/pools?lender_id={other}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool}/deposits", {"amount": eur("8000.00"),
                                                    "date": "2026-01-10"}), 201)
    plan = api.ok(api.post("/api/matching/plan", {"request_ids": [net.r2], "as_of": AS_OF}))
    assert plan["funded"] == {net.r2: eur("8000.00")}
    assert {(a["source_id"], a["kind"], a["amount"]["amount"])
            for a in plan["allocations"]} == {(pool, "loan", "8000.00")}


def test_terms_naming_a_category_without_minimum_need_no_guarantees(
        api: Api, net: Net) -> None:
    # The lender's microcredit asks 150%; a second category asks nothing. Terms that
    # name it fix the loan's category: the plan lends without pledges (4,000 before,
    # held by B's 6,000 of capacity at 150%), up to the share cap: 2 x B's 2,500.
    api.ok(api.put(f"/api/lenders/{net.lender}/categories/senza-garanzie", {
        "max_principal": eur("20000.00"), "max_term_months": 84,
        "frequencies": ["monthly"]}))
    api.ok(api.put(f"/api/requests/{net.r2}/terms", {"loan": {
        "lender_id": net.lender, "category": "senza-garanzie",
        "principal": eur("8000.00"), "annual_rate": "3.00", "term_months": 24,
        "method": "french", "frequency": "monthly", "disbursement_date": "2026-03-01"}}))
    plan = api.ok(api.post("/api/matching/plan", {"request_ids": [net.r2], "as_of": AS_OF}))
    assert {(a["source_id"], a["kind"], a["amount"]["amount"])
            for a in plan["allocations"]} == {(net.pool, "loan", "5000.00")}
    assert [lim["code"] for lim in plan["binding"][net.r2]] == ["share_cap"]
