"""Portfolio figures on a hand-made portfolio, each checked against a hand computation."""

from __future__ import annotations

import io
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.portfolio import (
    LoanPosition,
    PortfolioParams,
    aging_bucket,
    loan_allowance_cents,
    portfolio_metrics,
    portfolio_report,
    ratio,
)
from reports.workbook import EURO_FORMAT, write_xlsx

AS_OF = date(2024, 6, 30)


def q4(numerator: int, denominator: int) -> Decimal:
    """Hand formula: the ratio with Decimal division, half-even to 4 places."""
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"),
                                                                 ROUND_HALF_EVEN)


def active(loan_id: str, borrower: str, category: str, outstanding: int, dpd: int,
           restructured: bool = False, pledges: int = 0) -> LoanPosition:
    return LoanPosition(
        loan_id=loan_id, borrower_id=borrower, borrower_name=f"Name {borrower}",
        province="MI", category=category, status="active",
        disbursed_cents=outstanding * 2, outstanding_principal_cents=outstanding,
        overdue_cents=1000 if dpd > 0 else 0, days_past_due=dpd, restructured=restructured,
        guarantee_remaining_cents=pledges)


PORTFOLIO = [
    active("A", "R1", "cheese", 1_000_000, 0),
    active("B", "R2", "bakery", 500_000, 15, pledges=70_000),
    active("C", "R3", "cheese", 300_000, 45, pledges=100_000),
    active("D", "R4", "bakery", 200_000, 75, pledges=50_000),
    active("E", "R5", "farm", 150_000, 120),
    active("F", "R6", "farm", 250_000, 0, restructured=True, pledges=80_000),
    active("K", "R1", "cheese", 123_457, 30),  # 30 days: not yet PAR30
    active("J", "R7", "farm", 76_543, 31),  # 31 days: PAR30
    active("L", "R8", "farm", 10_001, 90),  # 90 days: PAR30, not PAR90
    active("M", "R9", "farm", 9_999, 91),  # 91 days: PAR90
    LoanPosition("G", "R10", "Name R10", "BG", "farm", "repaid", 300_000, 0, 0, 0),
    # Written off in the period; its stale outstanding must not count anywhere.
    LoanPosition("H", "R11", "Name R11", "BG", "farm", "written_off", 500_000, 400_000,
                 400_000, 200, written_off_cents=400_000, written_off_on=date(2024, 3, 15)),
    # Written off before the period.
    LoanPosition("I", "R12", "Name R12", "BG", "farm", "written_off", 200_000, 0, 0, 0,
                 written_off_cents=100_000, written_off_on=date(2023, 11, 1)),
]
GROSS = (1_000_000 + 500_000 + 300_000 + 200_000 + 150_000 + 250_000 + 123_457 + 76_543
         + 10_001 + 9_999)
PAR30 = 300_000 + 200_000 + 150_000 + 250_000 + 76_543 + 10_001 + 9_999
PAR90 = 150_000 + 250_000 + 9_999


def test_par_and_gross_by_hand() -> None:
    m = portfolio_metrics(PORTFOLIO, AS_OF)
    assert GROSS == 2_620_000
    assert m.gross_portfolio_cents == 2_620_000
    assert m.active_loans == 10
    assert m.par30_cents == PAR30 == 996_543
    assert m.par90_cents == PAR90 == 409_999
    assert m.par30 == q4(996_543, 2_620_000) == Decimal("0.3804")
    assert m.par90 == q4(409_999, 2_620_000) == Decimal("0.1565")
    assert m.restructured_cents == 250_000


def test_aging_buckets_and_allowance_by_hand() -> None:
    m = portfolio_metrics(PORTFOLIO, AS_OF)
    by_bucket = {b.bucket: b for b in m.buckets}
    assert {k: (v.loans, v.outstanding_cents) for k, v in by_bucket.items()} == {
        "current": (2, 1_250_000), "1-30": (2, 623_457), "31-60": (2, 376_543),
        "61-90": (2, 210_001), "90+": (2, 159_999),
    }
    assert by_bucket["1-30"].share == q4(623_457, 2_620_000)
    # Per loan, half-even to the cent: 123457 × 10% = 12345.7 -> 12346;
    # 76543 × 25% = 19135.75 -> 19136; 10001 × 50% = 5000.5 -> 5000 (to even).
    expected = {"current": 0, "1-30": 50_000 + 12_346, "31-60": 75_000 + 19_136,
                "61-90": 100_000 + 5_000, "90+": 150_000 + 9_999}
    assert {k: v.allowance_cents for k, v in by_bucket.items()} == expected
    assert m.allowance_cents == 421_481
    assert m.risk_coverage == q4(421_481, 996_543) == Decimal("0.4229")


def test_guarantee_cover_beside_risk_coverage() -> None:
    m = portfolio_metrics(PORTFOLIO, AS_OF, PortfolioParams(fund_available_cents=200_000))
    # Pledges on PAR30 loans only (C, D, F); B's pledge is on a loan not at risk.
    assert m.par30_pledges_cents == 100_000 + 50_000 + 80_000
    assert m.guarantee_cover_par30 == q4(230_000 + 200_000, 996_543) == Decimal("0.4315")
    assert m.risk_coverage == Decimal("0.4229")  # unchanged by guarantees


def test_write_off_ratio_mean_of_opening_and_closing() -> None:
    m = portfolio_metrics(PORTFOLIO, AS_OF,
                          PortfolioParams(opening_gross_portfolio_cents=2_780_000))
    assert m.period_from == date(2024, 1, 1)
    assert m.written_off_in_period_cents == 400_000  # I (2023) is outside the period
    assert m.average_gross_portfolio_cents == Decimal(2_700_000)
    assert m.write_off_ratio == q4(400_000, 2_700_000) == Decimal("0.1481")


def test_write_off_ratio_given_average_and_period() -> None:
    m = portfolio_metrics(PORTFOLIO, AS_OF, PortfolioParams(
        period_from=date(2023, 1, 1), average_gross_portfolio_cents=4_000_000))
    assert m.written_off_in_period_cents == 500_000
    assert m.write_off_ratio == Decimal("0.1250")
    assert portfolio_metrics(PORTFOLIO, AS_OF).write_off_ratio is None  # no average known


def test_concentration_by_hand() -> None:
    m = portfolio_metrics(PORTFOLIO, AS_OF)
    top = m.by_borrower[0]
    assert (top.key, top.loans, top.outstanding_cents) == ("R1", 2, 1_123_457)
    assert m.largest_borrower_share == q4(1_123_457, 2_620_000) == Decimal("0.4288")
    top5 = 1_123_457 + 500_000 + 300_000 + 250_000 + 200_000
    assert m.top5_borrowers_share == q4(top5, 2_620_000)
    cats = {r.key: (r.loans, r.outstanding_cents, r.par30_cents) for r in m.by_category}
    assert cats == {
        "cheese": (3, 1_423_457, 300_000),
        "bakery": (2, 700_000, 200_000),
        "farm": (5, 496_543, 150_000 + 250_000 + 76_543 + 10_001 + 9_999),
    }


def test_custom_provisioning_rates() -> None:
    rates = {"current": Decimal("1"), "1-30": Decimal("5"), "31-60": Decimal("20"),
             "61-90": Decimal("40"), "90+": Decimal("75")}
    m = portfolio_metrics(PORTFOLIO, AS_OF, PortfolioParams(provisioning_percent=rates))
    # current: 1% of 1,000,000 and of 250,000; the rest per loan, half-even.
    expected = (10_000 + 2_500 + 25_000 + 6_173 + 60_000 + 15_309 + 80_000 + 4_000
                + 112_500 + 7_499)
    assert m.allowance_cents == expected


def test_empty_portfolio_ratios_are_not_available() -> None:
    m = portfolio_metrics([], AS_OF, PortfolioParams(opening_gross_portfolio_cents=0))
    assert (m.par30, m.par90, m.risk_coverage, m.write_off_ratio,
            m.guarantee_cover_par30, m.largest_borrower_share) == (None,) * 6


def test_ratio_and_buckets_edges() -> None:
    assert ratio(5, 20_000) == Decimal("0.0002")  # 2.5 ten-thousandths -> to even
    assert ratio(15, 20_000) == Decimal("0.0008")  # 7.5 -> 8
    assert ratio(1, 3) == Decimal("0.3333")
    assert ratio(7, 0) is None
    assert [aging_bucket(d) for d in (0, 1, 30, 31, 60, 61, 90, 91)] == [
        "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+"]
    assert loan_allowance_cents(5, Decimal("50")) == 2  # 2.5 -> 2
    assert loan_allowance_cents(7, Decimal("50")) == 4  # 3.5 -> 4


positions = st.builds(
    LoanPosition, loan_id=st.uuids().map(str), borrower_id=st.sampled_from("abcde"),
    borrower_name=st.just("n"), province=st.just("MI"),
    category=st.sampled_from(["cheese", "farm"]),
    status=st.sampled_from(["active", "active", "repaid", "written_off"]),
    disbursed_cents=st.integers(0, 10**9), outstanding_principal_cents=st.integers(0, 10**9),
    overdue_cents=st.integers(0, 10**7), days_past_due=st.integers(0, 400),
    restructured=st.booleans(), guarantee_remaining_cents=st.integers(0, 10**8))


@settings(max_examples=60, deadline=None)
@given(st.lists(positions, max_size=25))
def test_invariants(ps: list[LoanPosition]) -> None:
    m = portfolio_metrics(ps, AS_OF)
    gross = sum(p.outstanding_principal_cents for p in ps if p.status == "active")
    assert sum(b.outstanding_cents for b in m.buckets) == m.gross_portfolio_cents == gross
    assert sum(r.outstanding_cents for r in m.by_borrower) == gross
    assert sum(r.outstanding_cents for r in m.by_category) == gross
    assert 0 <= m.par90_cents <= m.par30_cents <= gross
    assert 0 <= m.allowance_cents <= gross
    if gross:
        assert m.par30 == q4(m.par30_cents, gross)


def test_portfolio_workbook_figures() -> None:
    report = portfolio_report(PORTFOLIO, AS_OF, PortfolioParams(fund_available_cents=200_000))
    out = io.BytesIO()
    write_xlsx(report, out)
    wb = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    assert wb.sheetnames == ["Sintesi", "Anzianità scaduto", "Per beneficiario",
                             "Per categoria", "Prestiti", "Info"]
    summary = {row[0]: row[1:] for row in wb["Sintesi"].iter_rows(min_row=2, values_only=True)}
    assert summary["PAR30"][:2] == (9965.43, 0.3804)
    assert summary["PAR90"][:2] == (4099.99, 0.1565)
    assert summary["Accantonamento per perdite"][0] == 4214.81
    assert summary["Tasso di perdita"][3] == "n/d"
    aging = wb["Anzianità scaduto"]
    assert len(aging._charts) == 1
    assert aging["C7"].value == "=SUBTOTAL(9,C2:C6)"
    assert aging["C2"].number_format == EURO_FORMAT
    assert sum(round(aging.cell(row, 3).value * 100) for row in range(2, 7)) == GROSS
    loans = wb["Prestiti"]
    assert loans.max_row == len(PORTFOLIO) + 2  # header + loans + totals
    info = [row for row in wb["Info"].iter_rows(values_only=True)]
    formulas = {r[0]: r[1] for r in info if r[0] in {"PAR30", "Copertura del rischio"}}
    assert "30 giorni" in formulas["PAR30"] and "ristrutturati" in formulas["PAR30"]
    assert formulas["Copertura del rischio"] == "accantonamento / importo PAR30"
    assert any(r[0] == "as_of" and r[1] == "2024-06-30" for r in info)
