"""The MAG-scale network the printed-report tests run on, built once per session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import date
from io import StringIO
from pathlib import Path

import pytest

from service.cli.main import main

# A fixed today: the network (start dates, payments, what is late) is the same every run.
SCALE_TODAY = date(2026, 6, 30)


@dataclass(frozen=True)
class ScaleNetwork:
    """``filiera demo-data --scale 40`` in its own SQLite database (``var_dir``)."""

    var_dir: Path
    today: date
    seconds: float  # how long the build took, for the report of the test's time


@pytest.fixture(scope="session")
def scale_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleNetwork]:
    """The demo data plus 500 GAS, 2,000 producers and 3,000 disbursed loans with their
    repayments, guarantees and prepayments (about a minute): built once, read only."""
    var_dir = tmp_path_factory.mktemp("scale-network")
    started = time.perf_counter()
    with pytest.MonkeyPatch.context() as env, redirect_stdout(StringIO()) as out:
        env.setenv("FILIERA_VAR_DIR", str(var_dir))
        env.setenv("FILIERA_TODAY", SCALE_TODAY.isoformat())
        env.delenv("FILIERA_DATABASE_URL", raising=False)
        assert main(["db", "upgrade"]) == 0
        assert main(["demo-data", "--quiet", "--scale", "40"]) == 0
    assert "scale network loaded: 500 GAS, 2000 producers, 3000 loans" in out.getvalue()
    yield ScaleNetwork(var_dir, SCALE_TODAY, time.perf_counter() - started)
