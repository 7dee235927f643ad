"""The ground of every page: login, logout, sessions, CSRF, headers, formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.web.formatting import InputError, day, euro, parse_amount, parse_decimal, percent
from tests.web.conftest import Web


def test_login_goes_home_with_the_role_heading(web: Web) -> None:
    for user, heading in [("officer", "Scrivania"), ("admin", "Scrivania"),
                          ("caseificio", "La mia azienda"),
                          ("gas.gasabile", "Il nostro GAS")]:
        web.client.cookies.clear()
        page = web.login(user)
        assert page.h1 == heading
        assert user in page.text and "Esci" in page.text


def test_wrong_password_stays_on_the_login_page(web: Web) -> None:
    page = web.page("/accedi")
    r = web.client.post("/accedi", data=page.form("Accedi").data(
        {"Nome utente": "officer", "Password": "nope"}))
    assert r.status_code == 401
    assert "Nome utente o password non validi" in r.text
    assert web.get("/").status_code == 303


def test_a_page_without_a_session_comes_back_after_login(web: Web) -> None:
    r = web.get("/password")
    assert r.status_code == 303 and r.headers["location"] == "/accedi?next=%2Fpassword"
    page = web.page(r.headers["location"])
    r = web.client.post("/accedi", data=page.form("Accedi").data(
        {"Nome utente": "officer", "Password": "officer-demo-2026"}))
    assert r.headers["location"] == "/password"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_next_only_returns_to_this_site(web: Web, target: str) -> None:
    page = web.page("/accedi?next=" + target)
    r = web.client.post("/accedi", data=page.form("Accedi").data(
        {"Nome utente": "officer", "Password": "officer-demo-2026"}))
    assert r.headers["location"] == "/"


def test_the_session_cookie_is_httponly_and_lax(web: Web) -> None:
    page = web.page("/accedi")
    r = web.client.post("/accedi", data=page.form("Accedi").data(
        {"Nome utente": "officer", "Password": "officer-demo-2026"}))
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie"
              and v.startswith("filiera_session=")).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie


def test_esci_ends_the_session_on_the_server(web: Web) -> None:
    home = web.login("officer")
    old = web.client.cookies.get("filiera_session")
    r = web.client.post("/esci", data=home.form("Esci").data())
    assert r.status_code == 303
    assert web.get("/").headers["location"].startswith("/accedi")
    # The old cookie, sent again, no longer works.
    web.client.cookies.set("filiera_session", old)
    assert web.get("/").status_code == 303


def test_the_api_never_accepts_the_session_cookie(web: Web) -> None:
    web.login("officer")
    assert web.get("/api/me").status_code == 401


def test_a_post_without_csrf_token_is_refused(web: Web) -> None:
    web.login("officer")
    r = web.client.post("/esci", data={})
    assert r.status_code == 403
    assert web.get("/").status_code == 200  # still logged in: nothing happened
    r = web.client.post("/password", data={"current": "officer-demo-2026",
                                           "new": "a-brand-new-password"})
    assert r.status_code == 403


def test_pages_send_security_headers_and_server_time(web: Web) -> None:
    web.login("officer")
    r = web.get("/")
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["server-timing"].startswith("app;dur=")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in r.text


def test_password_change_ends_the_session(web: Web) -> None:
    web.login("caseificio")
    page = web.page("/password")
    r = web.submit(page, "Cambia password", {"Password attuale": "wrong-password-x",
                                             "Nuova password": "another-long-pass"},
                   follow=False)
    assert r.status_code == 422 and "La password attuale non è corretta" in r.text
    r = web.submit(page, "Cambia password", {"Password attuale": "producer-demo-2026",
                                             "Nuova password": "short"}, follow=False)
    assert r.status_code == 422 and "12 caratteri" in r.text
    r = web.submit(web.page("/password"), "Cambia password",
                   {"Password attuale": "producer-demo-2026",
                    "Nuova password": "another-long-pass"}, follow=False)
    assert r.status_code == 303
    assert web.get("/").status_code == 303
    web.client.cookies.clear()
    assert web.login("caseificio", "another-long-pass").h1 == "La mia azienda"


def test_login_page_lists_the_demo_users(web: Web) -> None:
    text = web.page("/accedi").text
    for user in ("officer", "caseificio", "gas.gasabile", "admin"):
        assert user in text


def test_italian_formats() -> None:
    assert euro(Decimal("1234.5")).replace("\xa0", " ") == "1.234,50 €"
    assert euro("0.07").replace("\xa0", " ") == "0,07 €"
    assert day("2026-11-26") == "26/11/2026"
    assert percent(Decimal("12.5")) == "12,50%"


@pytest.mark.parametrize(("typed", "value"), [
    ("1234,56", "1234.56"), ("1.234,56", "1234.56"), ("1234.56", "1234.56"),
    ("3,00", "3.00"), ("1.234.567,8", "1234567.8"), (" 12 ", "12"), ("0,5", "0.5")])
def test_italian_numbers_parse_exactly(typed: str, value: str) -> None:
    assert parse_decimal(typed) == Decimal(value)


@pytest.mark.parametrize("typed", ["1.250", "12,345,6", "1.23,4", "abc", "1e3", "", "12.3.4",
                                   "1,234"])
def test_ambiguous_or_bad_numbers_are_refused(typed: str) -> None:
    with pytest.raises(InputError):
        parse_amount(typed)


def test_ambiguous_point_says_use_the_comma() -> None:
    with pytest.raises(InputError, match="usa la virgola per i decimali"):
        parse_amount("1.250")


def test_pages_are_html(web: Web) -> None:
    html = "text/html; charset=utf-8"  # once: the charset named twice was sent before
    assert web.get("/accedi").headers["content-type"] == html
    web.login("officer")
    assert web.get("/").headers["content-type"] == html
    missing = web.get("/richieste/not-a-page-id-at-all")
    assert missing.status_code == 404 and missing.headers["content-type"] == html


def test_logins_and_password_changes_on_the_pages_are_audited(web: Web) -> None:
    page = web.page("/accedi")
    web.client.post("/accedi", data=page.form("Accedi").data(
        {"Nome utente": "caseificio", "Password": "sbagliata"}))
    web.login("caseificio")
    r = web.submit(web.page("/password"), "Cambia password",
                   {"Password attuale": "producer-demo-2026",
                    "Nuova password": "another-long-pass"}, follow=False)
    assert r.status_code == 303
    token = web.client.post("/api/auth/token", json={
        "username": "admin", "password": "admin-demo-2026"}).json()["access_token"]
    items = web.client.get("/api/audit", headers={"Authorization": f"Bearer {token}"},
                           params={"limit": 500}).json()["items"]
    web_items = [(e["actor"], e["operation"], e["outcome"]) for e in items
                 if e["channel"] == "web"]
    assert web_items == [("caseificio", "POST /api/auth/token", 401),
                         ("caseificio", "POST /api/auth/token", 303),
                         ("caseificio", "POST /api/me/password", 303)]


def test_a_page_post_is_audited_as_the_api_operation_it_performs(web: Web) -> None:
    web.login("gas.gasabile")
    page = web.page("/fondo")
    form = page.form("Registra contributo")
    r = web.client.post(form.action, data=form.data({"Importo": "12,00",
                                                     "Data": "2026-12-01"}))
    assert r.status_code == 303
    op_id = form.data()["op_id"]
    web.client.post(form.action, data=form.data({"Importo": "12,00", "Data": "2026-12-01"}))
    token = web.client.post("/api/auth/token", json={
        "username": "admin", "password": "admin-demo-2026"}).json()["access_token"]
    items = web.client.get("/api/audit", headers={"Authorization": f"Bearer {token}"},
                           params={"kind": "contributions"}).json()["items"]
    assert [(e["channel"], e["operation"], e["actor"]) for e in items] == [
        ("web", "POST /api/contributions", "gas.gasabile")]  # the replay is not listed
    assert op_id in items[0]["ids"]


def test_a_path_nothing_serves_is_an_italian_page_outside_the_api(web: Web) -> None:
    r = web.get("/pagina-che-non-esiste")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Pagina non trovata" in r.text
    r = web.get("/api/non-esiste")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_pages_and_workbooks_name_every_code_with_the_same_words(web: Web) -> None:
    """One catalogue: a request's status on its page is the workbook's, capitalised,
    and UI.md's words are the catalogue's."""
    import re
    from io import BytesIO

    from openpyxl import load_workbook

    from reports.italian import text
    from service.web import labels

    assert [text("request_status", c) for c in ("submitted", "under_review", "needs_info")] \
        == ["inviata", "in esame", "informazioni richieste"]
    assert labels.INSTRUMENTS["prepayment"] == "Prefinanziamento dai GAS"
    assert labels.METHODS["bullet"] == "Rimborso unico a scadenza"
    web.login("officer")
    r = web.get("/report/requests.xlsx")
    assert r.status_code == 200
    sheet = load_workbook(BytesIO(r.content)).worksheets[0]
    head = [c.value for c in sheet[1]]
    workbook = {row[head.index("Riferimento")]: row[head.index("Stato")]
                for row in sheet.iter_rows(min_row=2, values_only=True)
                if row[head.index("Riferimento")]}
    listed = re.findall(r'>(RIC-\d{4}-\d{4})</a>.*?<span class="req-status[^"]*">([^<]+)<',
                        web.page("/richieste").html, re.S)
    assert listed
    for reference, status in listed:
        assert status.strip() == workbook[reference][:1].upper() + workbook[reference][1:]
