"""The lending use cases called directly, as the CLI and the web pages will call them (no
HTTP): figures checked against hand computations, replays against the first answer."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_EVEN, Decimal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from service.app import categories, loans, parties, pools, shares, terms
from service.app.auth import Principal
from service.app.common import MoneyIn
from service.app.context import AppContext
from service.app.errors import Conflict, Forbidden, NotFound
from service.app.views import Money
from service.bootstrap import build_context
from service.settings import Settings

OFFICER = Principal("officer", "officer", None)
PRODUCER_USER = "producer-user"


def eur(amount: str) -> MoneyIn:
    return MoneyIn(amount, "EUR")


def euros(m: Money) -> Decimal:
    assert m.currency == "EUR"
    return Decimal(m.amount)


def cent(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@pytest.fixture
def ctx(engine: Engine) -> AppContext:
    return build_context(Settings(database_url="unused", secret_key="k" * 48), engine)


def party(ctx: AppContext, kind: str, name: str) -> str:
    status, out = parties.create_party(ctx, OFFICER, parties.PartyIn(kind=kind, name=name))
    assert status == 201
    return out.id


def general_pool(ctx: AppContext, lender_id: str) -> str:
    page = pools.list_pools(ctx, OFFICER, lender_id, None, None)
    assert [p.general for p in page.items] == [True]
    return page.items[0].id


TERMS = dict(principal=eur("10000.00"), annual_rate="3.00", term_months=12, method="french",
             frequency="monthly", disbursement_date="2026-01-15")


def test_a_loan_lives_through_the_use_cases_alone(ctx: AppContext) -> None:
    lender = party(ctx, "lender", "Mag2 Finance")
    producer = party(ctx, "producer", "Cascina")
    pool_id = general_pool(ctx, lender)
    status, dep = pools.deposit_into_pool(ctx, OFFICER, pool_id, pools.DepositIn(
        amount=eur("15000.00"), date="2026-01-10"))
    assert status == 201 and euros(dep.amount) == Decimal("15000.00")

    status, loan = loans.create_loan(ctx, OFFICER, loans.LoanIn(
        **TERMS, borrower_id=producer, lender_id=lender))
    assert status == 201 and loan.status == "approved" and loan.pool_id == pool_id
    status, loan = loans.record_disbursement(ctx, OFFICER, loan.id, loans.DisbursementIn(
        date="2026-01-15"))
    assert status == 200 and loan.status == "active"

    # The annuity by hand: r = 3% / 12, payment = P r / (1 - (1 + r)^-12).
    r = Decimal("0.03") / 12
    payment = cent(Decimal(10000) * r / (1 - (1 + r) ** -12))
    interest = cent(Decimal(10000) * r)
    assert (payment, interest) == (Decimal("846.94"), Decimal("25.00"))
    body = loans.RepaymentIn(amount=eur(str(payment)), date="2026-02-15", id=str(uuid.uuid4()))
    status, paid = loans.record_repayment(ctx, OFFICER, loan.id, body)
    assert status == 200
    assert euros(paid.allocation.interest) == interest
    assert euros(paid.allocation.principal) == payment - interest
    assert euros(paid.loan.outstanding_principal) == 10000 - (payment - interest)
    pool = pools.read_pool(ctx, OFFICER, pool_id)
    # The principal goes back to the pool, the interest to the lender's income.
    assert euros(pool.balance) == 15000 - 10000 + payment - interest
    assert euros(pool.lent) == 10000 - (payment - interest)

    # The same command again answers the same record and moves nothing.
    again = loans.record_repayment(ctx, OFFICER, loan.id, body)
    assert again == (200, paid)
    assert pools.read_pool(ctx, OFFICER, pool_id) == pool

    # As of the day before the first due date nothing was overdue; a month after the
    # second one, its installment is: one payment, 30 days past due.
    late = loans.read_loan(ctx, OFFICER, loan.id, "2026-04-14")
    assert euros(late.overdue_amount) == payment and late.days_past_due == 30


def test_refusals_come_in_the_contract_order(ctx: AppContext) -> None:
    lender = party(ctx, "lender", "Mag2 Finance")
    producer = party(ctx, "producer", "Cascina")
    other = party(ctx, "producer", "Altra")
    _, loan = loans.create_loan(ctx, OFFICER, loans.LoanIn(
        **TERMS, borrower_id=producer, lender_id=lender))
    owner = Principal(PRODUCER_USER, "producer", producer)
    stranger = Principal("other", "producer", other)
    body = loans.DisbursementIn(date="2026-01-15")
    with pytest.raises(NotFound):  # not the stranger's loan: it does not exist for it
        loans.record_disbursement(ctx, stranger, loan.id, body)
    with pytest.raises(Forbidden):  # the borrower sees it but may not disburse it
        loans.record_disbursement(ctx, owner, loan.id, body)
    with pytest.raises(Conflict) as refused:  # the pool is empty
        loans.record_disbursement(ctx, OFFICER, loan.id, body)
    assert refused.value.code == "insufficient_funds"
    with pytest.raises(NotFound):
        pools.read_pool(ctx, owner, general_pool(ctx, lender))


def test_a_category_refuses_terms_beyond_its_limits(ctx: AppContext) -> None:
    lender = party(ctx, "lender", "Mag2 Finance")
    producer = party(ctx, "producer", "Cascina")
    saved = categories.set_category(ctx, OFFICER, lender, "piccoli", categories.CategoryIn(
        max_principal=eur("5000.00"), max_term_months=24, frequencies=["monthly"],
        usury_threshold="2.50"))
    assert (saved.max_principal, saved.usury_threshold) == (Money("5000.00", "EUR"), "2.50")
    assert categories.read_category(ctx, OFFICER, lender, "piccoli") == saved
    small = {**TERMS, "principal": eur("4000.00")}
    with pytest.raises(Conflict) as refused:  # TAEG (1 + 3%/12)^12 - 1 = 3.04%: above 2.50
        loans.create_loan(ctx, OFFICER, loans.LoanIn(
            **small, borrower_id=producer, lender_id=lender,
            category="piccoli"))
    assert refused.value.code == "usury_threshold_exceeded"
    with pytest.raises(Conflict) as refused:
        loans.create_loan(ctx, OFFICER, loans.LoanIn(
            **{**TERMS, "annual_rate": "1.00"}, borrower_id=producer, lender_id=lender,
            category="piccoli"))
    assert refused.value.code == "loan_limit_exceeded"


def test_a_simulation_needs_no_database() -> None:
    out = terms.simulate_loan(terms.TermsIn(**TERMS))
    assert sum(euros(i.principal) for i in out.installments) == Decimal("10000.00")
    assert out.total_payment == Money(str(sum(euros(i.payment) for i in out.installments)),
                                      "EUR")


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 500_000)), min_size=1,
                max_size=7),
       st.integers(1, 4))
def test_share_totals_are_the_sum_over_every_page(ctx: AppContext,
                                                  subscribed: list[tuple[int, int]],
                                                  limit: int) -> None:
    # Each example has a lender of its own: the filter keeps the examples apart.
    lender = party(ctx, "lender", "Mag")
    members = [party(ctx, kind, kind) for kind in ("gas", "person", "producer")]
    for who, cents in subscribed:
        amount = f"{cents // 100}.{cents % 100:02d}"
        status, _ = shares.subscribe_share(ctx, OFFICER, shares.ShareIn(
            member_id=members[who], lender_id=lender, amount=eur(amount), date="2026-02-01"))
        assert status == 201
    expected: dict[str, Decimal] = {}
    for who, cents in subscribed:
        expected[members[who]] = expected.get(members[who], Decimal(0)) + Decimal(cents) / 100
    seen: list[shares.ShareOut] = []
    cursor = None
    while True:
        page = shares.list_shares(ctx, OFFICER, None, lender, limit, cursor)
        assert {m: euros(t) for m, t in page.totals.items()} == expected
        seen += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [(s.member_id, euros(s.amount)) for s in seen] == [
        (members[who], Decimal(cents) / 100) for who, cents in subscribed]
    # Every share went into the lender's general pool.
    pool = pools.read_pool(ctx, OFFICER, general_pool(ctx, lender))
    assert euros(pool.balance) == sum(expected.values())
    assert msgspec.json.decode(msgspec.json.encode(page), type=shares.SharePage) == page
