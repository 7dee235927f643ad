"""A form sent while SQLite's write lock is held by someone else past the busy timeout:
an Italian 503 page with `Retry-After` saying to send the form again, nothing recorded;
the same form sent again (its hidden operation id) records it once."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from litestar.testing import TestClient

from service.http.app import create_app
from service.settings import Settings
from tests.web.conftest import Web
from tests.web.pages import parse
from tests.web.test_gas_pages import contributions, fund


@pytest.fixture
def quick(demo_template: Path, tmp_path: Path) -> Iterator[tuple[Web, Path]]:
    """The demo service built from its settings, with a 300 ms busy timeout."""
    path = tmp_path / "filiera.db"
    shutil.copyfile(demo_template, path)
    settings = Settings(database_url=f"sqlite:///{path}", secret_key="w" * 48,
                        sqlite_busy_timeout_ms=300)
    app = create_app(settings)
    with TestClient(app) as client:
        client.follow_redirects = False
        yield Web(client, app.state.ctx.engine), path


def test_a_form_sent_while_the_database_is_locked_is_refused_then_recorded_once(
        quick: tuple[Web, Path]) -> None:
    web, path = quick
    web.login("gas.gasabile")
    before = Decimal(fund(web).balance.amount)
    count = len(contributions(web))
    form = web.page("/fondo").form("Registra contributo")
    data = form.data({"Importo": "12,30", "Nota": "Riprova"})
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        r = web.client.post(form.action, data=data)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.headers["content-type"].startswith("text/html")
    assert "invia di nuovo il modulo" in parse(r.text).text
    assert len(contributions(web)) == count

    for _ in range(2):  # sent again, twice: recorded once
        again = web.client.post(form.action, data=data)
        assert again.status_code == 303, again.text[:2000]
    assert len(contributions(web)) == count + 1
    assert Decimal(fund(web).balance.amount) - before == Decimal("12.30")
