"""Whether the service can reach its database (``GET /health``, public)."""

from __future__ import annotations

from typing import Literal

import msgspec
from sqlalchemy import text

from service.app.context import AppContext
from service.db.engine import read_tx


class HealthOut(msgspec.Struct):
    status: Literal["ok", "error"]
    database: str  # "ok", or the start of the database's error


def check_health(ctx: AppContext) -> tuple[int, HealthOut]:
    """200 when a ``SELECT 1`` answers, else 503 with the error; it never raises. Asked
    in a read transaction, closed on return: a bare connection would begin SQLite's
    write transaction (BEGIN IMMEDIATE) and wait behind any writer."""
    try:
        with read_tx(ctx.engine) as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # the health check reports, it never raises
        return 503, HealthOut("error", str(exc)[:200])
    return 200, HealthOut("ok", "ok")
