"""``filiera demo-data --scale``: the MAG-scale network the page benchmarks run on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from service.cli.main import main


def test_scale_network_adds_what_it_says_and_the_ledger_verifies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FILIERA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    assert main(["db", "upgrade"]) == 0
    assert main(["demo-data", "--quiet", "--scale", "4,9,12"]) == 0
    assert "scale network loaded: 4 GAS, 9 producers, 12 loans" in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "filiera.db") as db:
        kinds = dict(db.execute("SELECT kind, count(*) FROM parties GROUP BY kind").fetchall())
        demo_gas = db.execute("SELECT count(*) FROM parties WHERE kind = 'gas' AND "
                              "created_by = 'demo'").fetchone()[0]
        scale_loans = db.execute("SELECT count(*), sum(status = 'active') FROM loans "
                                 "WHERE created_by = 'scale'").fetchone()
        relationships = db.execute("SELECT count(*) FROM relationships WHERE "
                                   "created_by = 'scale'").fetchone()[0]
    assert kinds["gas"] == demo_gas + 4
    assert scale_loans == (12, 12)
    # Each producer is bought from by two or three GAS.
    assert 9 * 2 <= relationships <= 9 * 3
    assert main(["verify"]) == 0


def test_scale_takes_three_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_VAR_DIR", str(tmp_path))
    with pytest.raises(SystemExit):
        main(["demo-data", "--scale", "500,2000"])
