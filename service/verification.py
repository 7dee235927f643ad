"""``filiera verify`` and ``GET /api/ledger/verify``: the journal checked end to end."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from service.db import read_tx


def verify_all(engine: Engine) -> dict[str, Any]:
    from ledger.store import LedgerStore

    store = LedgerStore(engine)
    with read_tx(engine) as conn:
        report = store.verify(conn)
    return {"ok": report.ok, "transfers": report.transfers, "accounts": report.accounts,
            "problems": list(report.problems)}
