"""Server time of every web page, on the demo data and on a MAG-scale network, beside a
bare Litestar page rendering a Jinja2 table in the same run.

Each server is its own process (uvicorn, one worker, loopback). Every page is asked for
N times in a row by its user (session cookie from /accedi); the table shows the server's
own time (``Server-Timing: app;dur=``) p50/p95 and the client's p95.

    .venv/bin/python bench/pages.py [--scale 500,2000,3000] [--repeat 30]

``FILIERA_BENCH_SCALE_DB=path/filiera.db`` uses a copy of a scale database built before
instead of building one (about a minute).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from ledger_http import free_port  # noqa: E402

PY = sys.executable
BIN = Path(PY).parent
DEMO = {"officer": "officer-demo-2026", "caseificio": "producer-demo-2026",
        "gas.gasabile": "gas-demo-2026"}

BARE_APP = '''
import time
from pathlib import Path
from litestar import Litestar, get
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template import TemplateConfig

HERE = Path(__file__).parent
ROWS = [{"ref": f"PRE-2026-{i:04d}", "name": f"Azienda {i}", "amount": f"{i * 1000},00"}
        for i in range(50)]

@get("/page")
def page() -> Template:
    return Template(template_name="page.html", context={"rows": ROWS},
                    media_type="text/html")

app = Litestar([page], template_config=TemplateConfig(directory=HERE,
                                                      engine=JinjaTemplateEngine))
'''
BARE_TEMPLATE = '''<!doctype html><html lang="it"><body><main><h1>Prestiti</h1><table>
{% for r in rows %}<tr><td>{{ r.ref }}</td><td>{{ r.name }}</td><td>{{ r.amount }} €</td></tr>
{% endfor %}</table></main></body></html>'''


def serve(cwd: Path, args: list[str], env: dict[str, str]) -> tuple[Any, str]:
    port = free_port()
    proc = subprocess.Popen([*args, "--host", "127.0.0.1", "--port", str(port)], cwd=cwd,
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            httpx.get(base + "/health", timeout=0.5)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(client: httpx.Client, path: str, repeat: int) -> tuple[int, list[float], list[float]]:
    server: list[float] = []
    wall: list[float] = []
    status = 0
    for _ in range(repeat):
        started = time.perf_counter()
        r = client.get(path)
        wall.append((time.perf_counter() - started) * 1000)
        status = r.status_code
        found = re.search(r"dur=([0-9.]+)", r.headers.get("server-timing", ""))
        if found:
            server.append(float(found.group(1)))
    return status, server, wall


def after_writes(client: httpx.Client, path: str, writer: Any, repeat: int) -> list[float]:
    """The server's time of ``path`` asked right after a write (a contact of a party
    changed through the API): what the first visitor after any change waits, since the
    figures kept between writes are computed again."""
    server: list[float] = []
    for i in range(repeat):
        writer(i)
        r = client.get(path)
        found = re.search(r"dur=([0-9.]+)", r.headers.get("server-timing", ""))
        if found:
            server.append(float(found.group(1)))
    return server


def contact_writer(base: str, party_id: str) -> Any:
    token = httpx.post(base + "/api/auth/token", json={
        "username": "officer", "password": DEMO["officer"]}).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}

    def write(i: int) -> None:
        r = httpx.patch(f"{base}/api/parties/{party_id}", headers=h, timeout=30,
                        json={"phone": f"+39 02 1234 {5600 + i % 400:04d}"})
        assert r.status_code == 200, r.text[:300]
    return write


def login(base: str, user: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    page = client.get("/accedi").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on /accedi"
    r = client.post("/accedi", data={"csrf_token": token.group(1), "username": user,
                                     "password": DEMO[user], "next": "/"})
    assert r.status_code == 303, r.text[:300]
    return client


def ids(base: str) -> dict[str, str]:
    """One id of each kind the pages with ids need (through the API)."""
    token = httpx.post(base + "/api/auth/token", json={
        "username": "officer", "password": DEMO["officer"]}).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}

    def first(path: str) -> str:
        items = httpx.get(base + path, headers=h, timeout=30).json()["items"]
        return str(items[0]["id"]) if items else "none"

    return {"loan": first("/api/loans?limit=1"), "request": first("/api/requests?limit=1"),
            "prepayment": first("/api/prepayments?limit=1"),
            "party": first("/api/parties?limit=1&kind=producer")}


def pages(found: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("officer", "/"), ("officer", "/richieste"), ("officer", f"/richieste/{found['request']}"),
        ("officer", "/prestiti"), ("officer", f"/prestiti/{found['loan']}"),
        ("officer", "/portafoglio"), ("officer", "/portafoglio?as_of=2026-06-30"),
        ("officer", "/report"), ("officer", "/soggetti"),
        ("officer", f"/soggetti/{found['party']}"), ("officer", "/piano"),
        ("officer", f"/prefinanziamenti/{found['prepayment']}"),
        ("caseificio", "/"), ("caseificio", "/richieste"), ("caseificio", "/prestiti"),
        ("caseificio", "/prefinanziamenti"),
        ("gas.gasabile", "/"), ("gas.gasabile", "/fondo"), ("gas.gasabile", "/garanzie"),
        ("gas.gasabile", "/prefinanziamenti"),
        ("caseificio", "/simulatore?importo=10000&tasso=4&durata=36&periodicita=monthly"
                       "&metodo=french&preammortamento=0&data_erogazione=2026-12-06&calcola=1"),
    ]


def run_service(label: str, scale: str | None, repeat: int, tmp: Path) -> list[tuple[Any, ...]]:
    var = tmp / label
    var.mkdir()
    env = {"FILIERA_VAR_DIR": str(var), "FILIERA_LOG_LEVEL": "WARNING"}
    filiera = str(BIN / "filiera")
    subprocess.run([filiera, "db", "upgrade"], env={**os.environ, **env}, check=True,
                   stdout=subprocess.DEVNULL)
    started = time.perf_counter()
    kept = os.environ.get("FILIERA_BENCH_SCALE_DB")
    if scale and kept:  # a scale database built before (filiera demo-data --scale)
        shutil.copyfile(kept, var / "filiera.db")
    else:
        cmd = [filiera, "demo-data", "--quiet", *(["--scale", scale] if scale else [])]
        subprocess.run(cmd, env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)
    print(f"{label}: data loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    proc, base = serve(ROOT, [filiera, "serve"], env)
    rows: list[tuple[Any, ...]] = []
    try:
        found = ids(base)
        clients = {user: login(base, user) for user in DEMO}
        writer = contact_writer(base, found["party"])
        for user, path in pages(found):
            clients[user].get(path)  # warm
            status, server, wall = measure(clients[user], path, repeat)
            cold = after_writes(clients[user], path, writer, max(5, repeat // 4))
            short = path if len(path) < 46 else path[:43] + "..."
            rows.append((label, user, short, status, pct(server, .5) if server else 0,
                         pct(server, .95) if server else 0, pct(wall, .95),
                         pct(cold, .5) if cold else 0))
    finally:
        proc.terminate()
        proc.wait(10)
    return rows


def run_bare(repeat: int, tmp: Path) -> list[tuple[Any, ...]]:
    d = tmp / "bare"
    d.mkdir()
    (d / "bare_pages.py").write_text(BARE_APP)
    (d / "page.html").write_text(BARE_TEMPLATE)
    proc, base = serve(d, [PY, "-m", "uvicorn", "bare_pages:app", "--log-level", "warning",
                           "--no-access-log"], {"PYTHONPATH": str(d)})
    try:
        client = httpx.Client(base_url=base)
        client.get("/page")
        _status, _server, wall = measure(client, "/page", repeat)
        return [("baseline", "-", "bare Litestar + Jinja2, 50-row table", 200, "-", "-",
                 pct(wall, .95), "-")]
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="500,2000,3000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="filiera-pages-"))
    try:
        rows = run_bare(args.repeat, tmp)
        rows += run_service("demo", None, args.repeat, tmp)
        rows += run_service("scale", args.scale, args.repeat, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'data':8} {'user':13} {'page':46} {'st':>3} {'app p50':>8} {'app p95':>8} "
          f"{'wall p95':>9} {'after write p50':>16}")
    for data, user, path, status, p50, p95, wall, cold in rows:
        f50 = f"{p50:8.1f}" if isinstance(p50, float) else f"{p50:>8}"
        f95 = f"{p95:8.1f}" if isinstance(p95, float) else f"{p95:>8}"
        fc = f"{cold:16.1f}" if isinstance(cold, float) else f"{cold:>16}"
        print(f"{data:8} {user:13} {path:46} {status:>3} {f50} {f95} {wall:9.1f} {fc}")
    print("times in ms; app = the server's own time (Server-Timing), wall = the client's;"
          " after write = the server's time when a write came just before")


if __name__ == "__main__":
    main()
