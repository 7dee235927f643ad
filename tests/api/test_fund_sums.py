"""A page of funds sums each fund's entries in the database (``fund_states_on``): the
same figures as ``ledger.as_of.fund_on`` over every entry, on every day."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, select

from ledger.as_of import fund_on
from service.app import funds
from service.db.engine import read_tx
from service.db.tables import funds as funds_table
from tests.api.conftest import Api, eur
from tests.api.test_reversals import contribute, fund_of, reverse


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")


def test_summed_fund_states_equal_the_entries_replayed(api: Api, engine: Engine) -> None:
    producer, other = api.parties["producer"], api.parties["other_producer"]
    contribute(api, "100.00", "2026-03-01", earmark_producer_id=producer)
    contribute(api, "40.00", "2026-03-05", earmark_producer_id=producer)
    contribute(api, "70.00", "2026-03-01", earmark_producer_id=other)
    contribute(api, "100.00", "2026-03-01")
    contribute(api, "25.00", "2026-05-01")
    gone = contribute(api, "33.00", "2026-03-02")
    api.ok(reverse(api, f"/api/contributions/{gone['id']}"))
    fund = fund_of(api)
    grant = {"producer_id": producer, "kind": "grant"}
    # From the producer's earmark (140.00) and 10.00 not earmarked; then only money not
    # earmarked (the earmark is spent); then a payout reversed.
    api.ok(api.post(f"/api/funds/{fund['id']}/payouts",
                    {**grant, "amount": eur("150.00"), "date": "2026-04-01"}), 201)
    api.ok(api.post(f"/api/funds/{fund['id']}/payouts",
                    {**grant, "amount": eur("20.00"), "date": "2026-06-01"}), 201)
    undone = api.ok(api.post(f"/api/funds/{fund['id']}/payouts",
                             {**grant, "amount": eur("5.00"), "date": "2026-06-02"}), 201)
    api.ok(reverse(api, f"/api/funds/{fund['id']}/payouts/{undone['id']}"))
    with read_tx(engine) as conn:
        rows = conn.execute(select(funds_table).order_by(funds_table.c.seq)).all()
        assert len(rows) >= 2  # the GAS's fund and another GAS's, with nothing in it
        for day in (date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 5),
                    date(2026, 4, 1), date(2026, 5, 31), date(2026, 6, 1),
                    date(2026, 12, 6)):
            summed = funds.fund_states_on(conn, rows, day)
            for row in rows:
                assert summed[row.id] == fund_on(*funds._fund_entries(conn, row, day), day)
        mine = funds.fund_states_on(conn, rows, date(2026, 12, 6))[fund["id"]]
    # 100 + 40 + 70 + 100 + 25 in, 150 + 20 out: 165.00, 70.00 of it the other's earmark;
    # the producer's earmark spent whole is still named (with nothing in it).
    assert (mine.general, mine.earmarks) == (9_500, {other: 7_000, producer: 0})
    listed = fund_of(api)
    assert listed == api.ok(api.get(f"/api/funds/{fund['id']}"))
    assert listed["balance"] == eur("165.00") and listed["earmarked"] == {other: eur("70.00")}
    assert fund_of(api, as_of="2026-04-01")["balance"] == eur("160.00")
