"""``LedgerStore.journal_entries``: the journal report's read of a period, on SQLite and
PostgreSQL, against the rule applied to every stored transfer by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine

from ledger.accounts import new_account
from ledger.ids import uuid7
from ledger.store import LedgerStore
from ledger.transfers import Transfer, TransferFlag, transfer_flags_from_bits

FIRST, LAST = date(2026, 3, 1), date(2026, 3, 31)


def test_the_period_by_value_date_else_the_utc_day_recorded(engine: Engine) -> None:
    store = LedgerStore(engine)
    a, b = new_account("a", "EUR"), new_account("b", "EUR")
    store.create_accounts_batch([a, b])
    # Recorded on 28 February 23:59:59.999999 UTC, on 1 March 00:00 UTC, ... 1 April.
    moments = [datetime(2026, 2, 28, 23, 59, 59, 999_999, UTC), datetime(2026, 3, 1, tzinfo=UTC),
               datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)]
    value_dates = [None, date(2026, 2, 28), FIRST, LAST, date(2026, 4, 1), date(2026, 3, 15)]
    made: list[Transfer] = []
    for i, when in enumerate(moments):
        for j, value in enumerate(value_dates):
            t = Transfer(id=uuid7(), debit_account_id=a.id, credit_account_id=b.id,
                         amount=100 * i + j + 1, currency="EUR", code=f"c{j}",
                         value_date=value, operation_id=f"op-{i}-{j}" if j % 2 else None,
                         flags=frozenset({TransferFlag.LINKED}) if j == 2 else frozenset())
            made.append(t)
        batch = made[-len(value_dates):]
        # The linked one closes its chain with the next transfer (not linked).
        store.submit_batch(batch, when)

    def day(t: Transfer) -> date:
        if t.value_date is not None:
            return t.value_date
        return datetime.fromtimestamp(t.timestamp // 1_000_000_000, UTC).date()

    with engine.connect() as conn:
        stored, cursor = store.list_transfers(conn, limit=500)
        assert cursor is None and len(stored) == len(made)
        expected = [t for t in stored if FIRST <= day(t) <= LAST]
        for page in (1, 2, 7, 2_000):  # pages of the read must not lose or repeat one
            got = list(store.journal_entries(conn, FIRST, LAST, page=page))
            assert [g.id for g in got] == [t.id for t in expected]
        for g, t in zip(got, expected, strict=True):
            assert (g.debit_account_id, g.credit_account_id, g.amount, g.currency, g.code,
                    g.value_date, g.operation_id, g.timestamp) == (
                t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.code,
                t.value_date, t.operation_id, t.timestamp)
            assert transfer_flags_from_bits(g.flags) == t.flags
    # The boundaries themselves: recorded at 23:59:59.999999 on 28 February is out,
    # at midnight on 1 April is out, value dates decide over the recording day.
    assert len(expected) == 3 * 4 + 2  # dates in the period, 4 times; no date: 2 of 4
