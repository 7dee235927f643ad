"""The three reads that were slow at MAG scale (issues 17 and 19), each beside a baseline
measured in the same run: the journal workbook, the overdue loan list and the officer's
report page.

* ``GET /api/reports/journal.xlsx`` (every transfer of the year): the real endpoint,
  then the same workbook with openpyxl writing every cell (what it did before the rows
  were spliced in as XML, ``reports/xlsx_rows.py``), and a bare xlsxwriter
  ``constant_memory`` workbook of the same rows and columns (values computed
  beforehand, number formats on the dates and amounts: the writing alone);
* ``GET /api/loans?overdue=true``: the first call (nothing kept yet), p50/p95 of the
  next ones and of calls right after a write (a party's phone changed), beside
  ``GET /api/loans`` (a page of 50) and a bare Litestar endpoint;
* ``GET /report`` on the officer's session: the server's own time (``Server-Timing``),
  right after a write too, beside a bare Litestar page of a 50-row Jinja2 table.

The app runs in process (Litestar's test client) on a copy of a scale database:

    FILIERA_BENCH_SCALE_DB=/path/filiera.db .venv/bin/python bench/scale_hotspots.py

(built with ``FILIERA_TODAY=2026-12-06 filiera demo-data --scale 40``; its -wal/-shm
files are not copied). ``--code DIR`` runs another checkout's code (the commit before,
for the "before" figures) with this script.
"""

from __future__ import annotations

import argparse
import inspect
import io
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TODAY = "2026-12-06"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(call: Callable[[], Any], repeat: int, cpu: list[float] | None = None
          ) -> list[float]:
    """Wall-clock ms of each call; with ``cpu``, the process's CPU ms of each call (every
    thread's: the test client's server too) are added to it, what a machine shared with
    other work changes least."""
    out = []
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        call()
        out.append((time.perf_counter() - started) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - used) * 1000)
    return out


def server_ms(response: Any) -> float:
    found = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
    assert found, "no Server-Timing"
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to run")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--journal-repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(args.code))
    os.environ["FILIERA_TODAY"] = TODAY
    source = os.environ.get("FILIERA_BENCH_SCALE_DB")
    if not source:  # make bench runs every script: this one needs a scale database
        print("scale_hotspots: skipped, FILIERA_BENCH_SCALE_DB names no scale database "
              "(filiera demo-data --scale 40)", file=sys.stderr)
        return
    tmp = Path(tempfile.mkdtemp(prefix="filiera-hotspots-"))
    try:
        shutil.copyfile(source, tmp / "filiera.db")  # without -wal/-shm
        rows = run(tmp / "filiera.db", args.repeat, args.journal_repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"code: {args.code}")
    print("| what | p50 ms | p95 ms | note |")
    print("|---|---|---|---|")
    for what, p50, p95, note in rows:
        print(f"| {what} | {p50:,.0f} | {p95:,.0f} | {note} |")


def run(db: Path, repeat: int, journal_repeat: int) -> list[tuple[str, float, float, str]]:
    import logging

    from litestar import Litestar, get
    from litestar.testing import TestClient

    from service.app import reports
    from service.db.engine import make_engine
    from service.http.app import create_app
    from service.settings import Settings

    logging.getLogger("httpx").setLevel(logging.WARNING)
    rows: list[tuple[str, float, float, str]] = []

    @get("/list", sync_to_thread=False)
    def bare_list() -> dict[str, Any]:
        return {"items": [{"id": str(i), "name": f"Azienda {i}", "amount": f"{i}.00"}
                          for i in range(50)]}

    with TestClient(Litestar([bare_list])) as bare:
        bare.get("/list")
        times = timed(lambda: bare.get("/list"), repeat * 5)
        rows.append(("baseline: bare Litestar endpoint, 50 items", pct(times, .5),
                     pct(times, .95), "in process"))

    url = f"sqlite:///{db}"
    engine = make_engine(url)
    app = create_app(Settings(url, "bench-" + "k" * 48, log_level="WARNING"), engine=engine)
    with TestClient(app) as client:
        token = client.post("/api/auth/token", json={"username": "officer",
                                                      "password": "officer-demo-2026"})
        h = {"Authorization": f"Bearer {token.json()['access_token']}"}

        # -- the journal workbook
        journal = f"/api/reports/journal.xlsx?from=2026-01-01&to={TODAY}"
        r = client.get(journal, headers=h)
        assert r.status_code == 200, r.text[:300]
        cpu: list[float] = []
        times = timed(lambda: client.get(journal, headers=h).content, journal_repeat, cpu)
        ctx = app.state.ctx
        req = reports.parse_request(reports.find_report("journal", "xlsx"), "xlsx",
                                    {"from": "2026-01-01", "to": TODAY})
        with reports.snapshot(engine) as conn:
            built = reports.build_report(conn, req, ctx.store)
            assert isinstance(built, reports.StreamedReport)
            values = [tuple(v) for v in built.rows]
        columns = built.columns
        rows.append((f"journal.xlsx: the endpoint ({len(values):,} transfers, "
                     f"{len(columns)} columns)", pct(times, .5), pct(times, .95),
                     f"aim 2,000; CPU p50 {pct(cpu, .5):,.0f}"))
        rows.append(openpyxl_cells(engine, ctx, req, reports, journal_repeat))
        rows.append(xlsxwriter_rows(values, columns, journal_repeat))

        # -- the overdue list
        first = timed(lambda: client.get("/api/loans?overdue=true", headers=h), 1)
        times = timed(lambda: client.get("/api/loans?overdue=true", headers=h), repeat)
        late = client.get("/api/loans?overdue=true", headers=h).json()["items"]
        rows.append((f"GET /api/loans?overdue=true ({len(late)} loans)", pct(times, .5),
                     pct(times, .95), f"first call {first[0]:,.0f}"))
        party = client.get("/api/parties?kind=producer&limit=1", headers=h).json()["items"][0]
        after_write = []
        for i in range(max(5, repeat // 4)):
            client.patch(f"/api/parties/{party['id']}", headers=h,
                         json={"phone": f"+39 02 1234 {5500 + i:04d}"})
            after_write += timed(lambda: client.get("/api/loans?overdue=true", headers=h), 1)
        rows.append(("GET /api/loans?overdue=true right after a write", pct(after_write, .5),
                     pct(after_write, .95), "a party's phone changed before each call"))
        times = timed(lambda: client.get("/api/loans", headers=h), repeat)
        rows.append(("GET /api/loans (a page of 50, unfiltered)", pct(times, .5),
                     pct(times, .95), ""))

        # -- the officer's report page
        page = client.get("/accedi").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        r = client.post("/accedi", data={"csrf_token": csrf.group(1), "username": "officer",
                                         "password": "officer-demo-2026", "next": "/"},
                        follow_redirects=False)
        assert r.status_code == 303
        client.get("/report")
        served = [server_ms(client.get("/report")) for _ in range(repeat)]
        size = len(client.get("/report").content)
        party = client.get("/api/parties?kind=producer&limit=1", headers=h).json()["items"][0]
        after_write = []
        for i in range(max(5, repeat // 4)):
            client.patch(f"/api/parties/{party['id']}", headers=h,
                         json={"phone": f"+39 02 1234 {5600 + i:04d}"})
            after_write.append(server_ms(client.get("/report")))
        rows.append((f"GET /report (officer, {size / 1e6:.1f} MB of HTML)", pct(served, .5),
                     pct(served, .95), f"right after a write: p50 {pct(after_write, .5):,.0f}"))
    engine.dispose()
    return rows


def openpyxl_cells(engine: Any, ctx: Any, req: Any, reports: Any, repeat: int
                   ) -> tuple[str, float, float, str]:
    """The same workbook with openpyxl writing every cell (before the splice)."""
    from reports.workbook import people_first, write_xlsx_streaming

    if "spliced_rows" not in inspect.signature(write_xlsx_streaming).parameters:
        return ("journal.xlsx, openpyxl writing every cell", 0.0, 0.0,
                "this checkout has no other writer")

    def once() -> None:
        with reports.snapshot(engine) as conn:
            built = reports.build_report(conn, req, ctx.store)
            write_xlsx_streaming(people_first(built.report), io.BytesIO(), req.lang,
                                 spliced_rows=False)
    times = timed(once, max(1, repeat - 1))
    return ("journal.xlsx, openpyxl writing every cell (the writer before)",
            pct(times, .5), pct(times, .95), "same rows, read and converted the same")


def xlsxwriter_rows(values: list[tuple[object, ...]], columns: Any, repeat: int
                    ) -> tuple[str, float, float, str]:
    """Bare xlsxwriter, constant memory: the same rows and columns, formats on the
    numbers and dates, values already computed (the writing alone)."""
    from datetime import UTC, date, datetime
    from decimal import Decimal

    import xlsxwriter

    def cell(value: object) -> object:
        if isinstance(value, datetime):
            return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value).scaleb(-2)
        return value
    ready = [tuple(cell(v) for v in row) for row in values]

    def once() -> None:
        out = io.BytesIO()
        wb = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": False})
        ws = wb.add_worksheet("Giornale")
        money = wb.add_format({"num_format": '#,##0.00 "€"'})
        day = wb.add_format({"num_format": "dd/mm/yyyy"})
        moment = wb.add_format({"num_format": "dd/mm/yyyy hh:mm:ss"})
        ws.write_row(0, 0, [c.label_it for c in columns])
        for r, row in enumerate(ready, start=1):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, datetime):
                    ws.write_datetime(r, c, value, moment)
                elif isinstance(value, date):
                    ws.write_datetime(r, c, datetime(value.year, value.month, value.day), day)
                elif isinstance(value, Decimal):
                    ws.write_number(r, c, float(value), money)
                else:
                    ws.write_string(r, c, str(value))
        wb.close()
    cpu: list[float] = []
    times = timed(once, repeat, cpu)
    return ("baseline: bare xlsxwriter constant_memory, the same rows",
            pct(times, .5), pct(times, .95), f"writing only; CPU p50 {pct(cpu, .5):,.0f}")


if __name__ == "__main__":
    main()
