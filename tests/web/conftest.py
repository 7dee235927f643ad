"""The web pages on a copy of a demo database: a test client that logs in through
``/accedi`` and posts forms as a browser would; and, for the browser tests, a live
server and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from service.bootstrap import build_context
from service.db.engine import make_engine
from service.db.migrate import upgrade
from service.http.app import create_app
from service.settings import Settings
from tests.web.pages import Page, parse

DEMO = {"admin": "admin-demo-2026", "officer": "officer-demo-2026",
        "caseificio": "producer-demo-2026", "gas.gasabile": "gas-demo-2026"}
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


# The day the pages' tests are written for: the demo story (its dates move with today,
# service.app.demo) and the pages read the same fixed clock, whatever the machine's date.
TODAY = "2026-12-06"


@pytest.fixture(scope="package", autouse=True)
def fixed_today() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FILIERA_TODAY", TODAY)
        yield


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file with the demo network per run; tests get copies."""
    from service.app.demo import load_demo_data

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FILIERA_TODAY", TODAY)
        load_demo_data(build_context(Settings("unused", "k" * 48), engine), progress=False)
    engine.dispose()
    return path


@dataclass
class Web:
    client: TestClient[Any]
    engine: Any

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def page(self, path: str, status: int = 200) -> Page:
        r = self.client.get(path)
        assert r.status_code == status, (r.status_code, r.text[:2000])
        return parse(r.text)

    def login(self, username: str, password: str | None = None) -> Page:
        page = self.page("/accedi")
        form = page.form("Accedi")
        r = self.client.post("/accedi", data=form.data(
            {"Nome utente": username, "Password": password or DEMO[username]}))
        assert r.status_code == 303, r.text[:2000]
        return self.page(r.headers["location"])

    def submit(self, page: Page | str, button: str, values: dict[str, str] | None = None,
               by_name: dict[str, Any] | None = None, follow: bool = True) -> Any:
        """Post the form whose button reads ``button``, fields given by label."""
        if isinstance(page, str):
            page = self.page(page)
        form = page.form(button)
        r = self.client.post(form.action, data=form.data(values, by_name))
        if follow and r.status_code == 303:
            return self.client.get(r.headers["location"])
        return r


@pytest.fixture
def web(demo_template: Path, tmp_path: Path) -> Iterator[Web]:
    path = tmp_path / "filiera.db"
    shutil.copyfile(demo_template, path)
    engine = make_engine(f"sqlite:///{path}")
    settings = Settings(database_url=f"sqlite:///{path}", secret_key="w" * 48)
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        client.follow_redirects = False
        yield Web(client, engine)
    engine.dispose()


# --- the browser ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def live_server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    """``filiera serve`` on a copy of the demo database, in its own process."""
    var = tmp_path_factory.mktemp("live")
    shutil.copyfile(demo_template, var / "filiera.db")
    port = _free_port()
    env = {**os.environ, "FILIERA_VAR_DIR": str(var), "FILIERA_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT), "FILIERA_TODAY": TODAY}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli.main", "serve", "--host",
                             "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the server did not start")
        time.sleep(0.1)
    yield LiveServer(url, proc)
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:  # a browser's keep-alive connection holds it
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: make test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def desktop(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, locale="it-IT",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, locale="it-IT",
                                  viewport={"width": 375, "height": 740},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def browser_login(page: Any, username: str, password: str | None = None) -> None:
    page.goto("/accedi")
    page.get_by_label("Nome utente", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password or DEMO[username])
    page.get_by_role("button", name="Accedi", exact=True).click()
    page.wait_for_url(lambda url: "/accedi" not in url)


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]
