"""``filiera import gdxp FILE... [--gas-id ID] [--dry-run]``: the API's answer as JSON,
exit 0; a refused file exits 1 and writes nothing of itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from service.app.common import now_utc
from service.cli import gdxp as cli_gdxp
from service.cli.main import main
from service.db.engine import write_tx
from service.db.tables import parties, relationships
from tests.gdxp.conftest import document, encode, piva, product, supplier

VAT = piva("1234567001")
GAS_ID = "0b9f3c1e-2a4d-4e5f-8a6b-7c8d9e0f1a2b"


@pytest.fixture
def run(engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("FILIERA_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(cli_gdxp, "open_engine", lambda: engine)
    with write_tx(engine) as conn:
        conn.execute(insert(parties).values(id=GAS_ID, kind="gas", name="GAS di Prova",
                                            vat_number=piva("7654321002"),
                                            created_at=now_utc()))

    def call(*args: str) -> int:
        return main(["import", "gdxp", *args])

    return call


def _file(tmp_path: Path, name: str = "gas.json", **kw: Any) -> str:
    blocks = [supplier("Cascina Bio", VAT, [product("Mele", "0.84", "10")],
                       order={"phase": "booking", "deliveryDate": "2020-01-25"})]
    path = tmp_path / name
    path.write_bytes(encode(document(blocks, **kw)))
    return str(path)


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(parties)).scalar_one(),
                conn.execute(select(func.count()).select_from(relationships)).scalar_one())


def test_the_cli_prints_the_answer_and_a_second_run_changes_nothing(
        run: Any, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path)
    assert run(path, "--gas-id", GAS_ID, "--dry-run") == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] is True and dry["producers"]["created"][0]["id"] is None
    assert _counts(engine) == (1, 0)
    assert run(path, "--gas-id", GAS_ID) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["gas_id"] == GAS_ID
    assert answer["relationships"]["created"][0]["annual_purchases"] == {
        "amount": "8.40", "currency": "EUR"}
    assert _counts(engine) == (2, 1)
    assert run(path, path, "--gas-id", GAS_ID) == 0
    again = json.loads(capsys.readouterr().out)
    assert [a["producers"]["created"] + a["producers"]["updated"] for a in again] == [[], []]
    assert _counts(engine) == (2, 1)


def test_a_refused_file_exits_1_and_the_others_are_imported(
        run: Any, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"protocolVersion": 1.0}')
    good = _file(tmp_path, subject={"name": "GAS di Prova", "vatNumber": piva("7654321002")})
    assert run(str(bad), good) == 1
    captured = capsys.readouterr()
    assert "bad.json" in captured.err and "creationDate: is required" in captured.err
    (answer,) = json.loads(captured.out)
    assert answer["gas_id"] == GAS_ID  # matched by the subject's partita IVA
    assert _counts(engine) == (2, 1)


def test_a_missing_file_is_an_error(run: Any, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert run(str(tmp_path / "none.json")) == 2
    assert "none.json" in capsys.readouterr().err


def test_an_import_is_audited_and_a_dry_run_is_not(
        run: Any, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from service.db.tables import audit_log

    path = _file(tmp_path)
    assert run(path, "--gas-id", GAS_ID, "--dry-run") == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"protocolVersion": 1.0}')
    assert run(str(bad), "--gas-id", GAS_ID) == 1  # refused: nothing written, not listed
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 0
    assert run(path, "--gas-id", GAS_ID) == 0
    answer = json.loads(capsys.readouterr().out.split("\n}\n")[-2] + "\n}")
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log)).all()
    assert [(r.channel, r.operation, r.kind, r.outcome, r.http_request_id) for r in rows] == [
        ("cli", "filiera import gdxp", "imports", 0, None)]
    producer = answer["producers"]["created"][0]["id"]
    relationship = answer["relationships"]["created"][0]["id"]
    assert json.loads(rows[0].ids) == [GAS_ID, producer, relationship]
    assert json.loads(rows[0].changes) == {"file": path}
