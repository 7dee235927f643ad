"""The report page and its downloads on the session, and the parties' pages."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from io import BytesIO
from typing import Any

import pytest
from openpyxl import load_workbook

from service.app import funds, loans, parties, prepayments
from service.app.report_catalog import report_catalog
from service.web.formatting import day, euro
from tests.web.conftest import DEMO, Web
from tests.web.pages import Page, parse
from tests.web.test_officer_pages import OFFICER, ctx_of, party_id, text


def report_form(page: Page, name: str) -> Any:
    return next(f for f in page.forms if f.action == f"/report/{name}.xlsx")


def bearer(web: Web, user: str) -> dict[str, str]:
    r = web.client.post("/api/auth/token", json={"username": user, "password": DEMO[user]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def csv_rows(content: bytes, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter))


# -- the report page ------------------------------------------------------------------------

@pytest.mark.parametrize(("user", "role", "names"), [
    ("officer", "officer", None),
    ("caseificio", "producer", {"loan-statement", "prepayments"}),
    ("gas.gasabile", "gas", {"prepayments", "solidarity"})])
def test_report_page_offers_what_the_role_may_get(web: Web, user: str, role: str,
                                                  names: set[str] | None) -> None:
    web.login(user)
    page = web.page("/report")
    assert page.h1 == "Report"
    shown = {f.action[len("/report/"):-len(".xlsx")] for f in page.forms
             if f.action.startswith("/report/")}
    catalog = {r.name: r for r in report_catalog(OFFICER if role == "officer" else
                                                 _principal(web, user), "it").items}
    assert shown == set(catalog)
    if names is not None:
        assert shown == names
    else:
        assert len(shown) == 10
    for name, report in catalog.items():
        form = report_form(page, name)
        assert form.method == "get"
        assert form.buttons == ["Scarica xlsx", "Scarica csv"]
        assert f'formaction="/report/{name}.csv"' in page.html
        assert report.title in page.text
        # One field per parameter the role may set, each labelled in Italian.
        assert len([f for f in form.fields if f.kind != "checkbox"]) == len(report.parameters)
    if role == "producer":
        statement = report_form(page, "loan-statement")
        options = statement.field_by_label("Prestito").options
        own = loans.list_loans(ctx_of(web), _principal(web, user), None, None, None, None,
                               None, None).items
        assert [v for v, _ in options if v] == [loan.id for loan in own]
        assert "Produttore" not in report_form(page, "prepayments").labels


def _principal(web: Web, user: str) -> Any:
    from service.app.auth import Principal

    role = {"caseificio": "producer", "gas.gasabile": "gas"}[user]
    name = {"caseificio": "Caseificio Val Taleggio",
            "gas.gasabile": "GAS Gasabile Milano Isola"}[user]
    return Principal(user, role, party_id(web, name))


def test_officer_downloads_xlsx_and_csv_as_the_api_builds_them(web: Web) -> None:
    web.login("officer")
    page = web.page("/report")
    form = report_form(page, "portfolio")
    data = form.data({"Alla data": "2026-06-30"})
    r = web.client.get(form.action, params=data)
    assert r.status_code == 200
    assert r.headers["content-disposition"] == \
        'attachment; filename="portfolio_2026-06-30.xlsx"'
    wb = load_workbook(BytesIO(r.content))
    assert "Sintesi" in wb.sheetnames
    # The CSV of the same form is the API's CSV, byte for byte.
    r = web.client.get("/report/arrears.csv", params=report_form(page, "arrears").data(
        {"Alla data": "2026-12-06"}))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    api = web.client.get("/api/reports/arrears.csv?as_of=2026-12-06",
                         headers=bearer(web, "officer"))
    assert api.status_code == 200 and r.content == api.content
    rows = csv_rows(r.content)
    assert len(rows) == 4  # header and the three late loans
    italian = web.client.get("/report/arrears.csv", params={"as_of": "2026-12-06",
                                                            "italian": "true"})
    assert italian.status_code == 200
    assert csv_rows(italian.content, ";")[0] == rows[0]


def test_the_api_never_takes_the_session_cookie(web: Web) -> None:
    web.login("officer")
    assert web.get("/report/portfolio.xlsx").status_code == 200
    assert web.get("/api/reports/portfolio.xlsx").status_code == 401
    assert web.get("/api/reports").status_code == 401


def test_a_producer_gets_its_own_loan_statement_only(web: Web) -> None:
    ctx = ctx_of(web)
    own = loans.list_loans(ctx, _principal(web, "caseificio"), None, None, None, None, None,
                           None).items
    others = [loan for loan in loans.list_loans(ctx, OFFICER, None, None, None, None, None,
                                                None).items if loan.id not in
              {x.id for x in own}]
    assert own and others
    web.login("caseificio")
    r = web.get(f"/report/loan-statement.xlsx?loan_id={own[0].id}")
    assert r.status_code == 200
    wb = load_workbook(BytesIO(r.content))
    assert wb.sheetnames
    assert web.get(f"/report/loan-statement.xlsx?loan_id={others[0].id}").status_code == 404
    assert web.get(f"/report/loan-statement.csv?loan_id={own[0].id}").status_code == 200
    for path in ("/report/portfolio.xlsx", "/report/arrears.csv", "/report/journal.xlsx",
                 f"/report/prepayments.csv?producer_id={party_id(web, 'Riseria Lomellina Bio')}"):
        assert web.get(path).status_code == 404, path
    # Its prepayments: its own rows only, the filter fixed to it.
    r = web.get("/report/prepayments.csv")
    assert r.status_code == 200
    rows = csv_rows(r.content)
    head = rows[0]
    mine = prepayments.list_prepayments(ctx, OFFICER, party_id(web, "Caseificio Val Taleggio"),
                                        None, None, None, None, None).items
    assert len(rows) - 1 == len(mine)
    column = next(i for i, h in enumerate(head) if h == "Produttore")
    assert {row[column] for row in rows[1:]} == {"Caseificio Val Taleggio"}


def test_a_gas_user_gets_its_own_reports(web: Web) -> None:
    web.login("gas.gasabile")
    assert web.get("/report/solidarity.xlsx").status_code == 200
    assert web.get("/report/prepayments.xlsx").status_code == 200
    assert web.get("/report/loan-statement.xlsx?loan_id=" + str(uuid.uuid4())).status_code \
        == 404
    other_gas = party_id(web, "GAS Navigli")
    assert web.get(f"/report/solidarity.csv?gas_id={other_gas}").status_code == 404


def test_bad_parameters_come_back_beside_their_field(web: Web) -> None:
    web.login("officer")
    r = web.get("/report/portfolio.xlsx?as_of=2026-02-30&provisioning=1,2")
    assert r.status_code == 422
    page = parse(r.text)
    form = report_form(page, "portfolio")
    assert form.field_by_label("Alla data").value == "2026-02-30"
    assert form.field_by_label("Aliquote di accantonamento (%)").value == "1,2"
    assert 'id="portfolio-as_of-error" role="alert"' in r.text
    assert "Scrivi cinque percentuali da 0 a 100" in text(r.text)
    assert "Il report non è stato generato" in text(r.text)
    r = web.get("/report/portfolio.csv?from=2026-06-01&to=2026-05-01")
    assert r.status_code == 422
    assert "La data di inizio è successiva alla data di fine." in text(r.text)
    r = web.get("/report/trial-balance.xlsx?producer_id=" + str(uuid.uuid4()))
    assert r.status_code == 422 and "Parametro non previsto" in text(r.text)
    r = web.get("/report/loan-statement.xlsx")
    assert r.status_code == 422 and 'id="loan-statement-loan_id-error"' in r.text
    for path in ("/report/nothing.xlsx", "/report/arrears.pdf", "/report/portfolio"):
        assert web.get(path).status_code == 404, path


# -- parties ------------------------------------------------------------------------------

def _rows(page: Page) -> list[str]:
    return re.findall(r'<tr><td><a href="/soggetti/([0-9a-f-]{36})">', page.html)


def test_parties_list_with_kind_in_italian_and_filter(web: Web) -> None:
    ctx = ctx_of(web)
    web.login("officer")
    page = web.page("/soggetti")
    assert page.h1 == "Soggetti"
    every = parties.list_parties(ctx, OFFICER, None, 500, None).items
    assert _rows(page) == [p.id for p in every][:50]
    kinds = {"gas": "GAS", "producer": "Produttore", "lender": "Finanziatore"}
    for p in every[:50]:
        assert re.search(rf'{re.escape(html.escape(p.name))}</a></td><td>{kinds[p.kind]}</td>',
                         page.html)
    options = page.form("Filtra").field_by_label("Tipo").options
    assert [t for _, t in options] == ["Tutti", "GAS", "Produttore", "Finanziatore", "DES",
                                       "Persona"]
    r = web.client.get("/soggetti", params=page.form("Filtra").data({"Tipo": "GAS"}))
    gas = parse(r.text)
    assert _rows(gas) == [p.id for p in every if p.kind == "gas"]
    assert gas.form("Filtra").field_by_label("Tipo").value == "gas"


def test_parties_are_paginated(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    from service.web import party_pages

    monkeypatch.setattr(party_pages, "PAGE_SIZE", 10)
    web.login("officer")
    seen: list[str] = []
    path: str | None = "/soggetti?tipo=producer"
    while path:
        page = web.page(path)
        rows = _rows(page)
        assert 0 < len(rows) <= 10
        seen += rows
        link = re.search(r'<a href="([^"]+)">Pagina successiva</a>', page.html)
        path = html.unescape(link.group(1)) if link else None
    every = parties.list_parties(ctx_of(web), OFFICER, "producer", 500, None).items
    assert seen == [p.id for p in every] and len(seen) > 10


def test_producer_page_shows_its_network_loans_guarantees_prepayments_and_funds(
        web: Web) -> None:
    ctx = ctx_of(web)
    pid = party_id(web, "Caseificio Val Taleggio")
    web.login("officer")
    page = web.page(f"/soggetti/{pid}")
    assert page.h1 == "Caseificio Val Taleggio"
    body = text(page.html)
    rels = parties.list_relationships(ctx, OFFICER, None, pid, 100, None).items
    assert rels
    for rel in rels:
        gas = parties.read_party(ctx, OFFICER, rel.gas_id).name
        assert re.search(rf'<a href="/soggetti/{rel.gas_id}">{re.escape(gas)}</a></td>\s*'
                         rf'<td>Caseificio Val Taleggio</td>\s*<td>{day(rel.since)}</td>'
                         rf'<td class="num">{re.escape(euro(rel.annual_purchases))}</td>'
                         .replace("\xa0", " "), body), gas
    own = loans.list_loans(ctx, OFFICER, pid, None, None, None, None, None).items
    for loan in own:
        assert f'<a href="/prestiti/{loan.id}">{loan.reference}</a>' in body
        assert euro(loan.outstanding_principal).replace("\xa0", " ") in body
    for p in prepayments.list_prepayments(ctx, OFFICER, pid, None, None, None, None,
                                          None).items:
        assert f'<a href="/prefinanziamenti/{p.id}">{p.reference}</a>' in body
    earmarked = [(f.name, f.earmarked[pid]) for f in funds.list_funds(
        ctx, OFFICER, None, 500, None).items if pid in f.earmarked]
    assert earmarked
    for name, amount in earmarked:
        assert f"<dt>{name}</dt><dd>{euro(amount)} destinati al produttore</dd>" \
            .replace("\xa0", " ") in body
    assert "GAR-2026-0001" in body  # the pledges on its loan


def test_gas_page_shows_its_fund_and_pledges(web: Web) -> None:
    ctx = ctx_of(web)
    gid = party_id(web, "GAS Gasabile Milano Isola")
    web.login("officer")
    body = text(web.page(f"/soggetti/{gid}").html)
    fund = funds.list_funds(ctx, OFFICER, gid, None, None).items[0]
    assert f"<dt>Saldo</dt><dd>{euro(fund.balance)}</dd>".replace("\xa0", " ") in body
    rels = parties.list_relationships(ctx, OFFICER, gid, None, 100, None).items
    for rel in rels:
        assert f'<a href="/soggetti/{rel.producer_id}">' in body
    assert "Garanzie prestate" in body and "Capacità di garanzia" in body
    assert web.get(f"/soggetti/{uuid.uuid4()}").status_code == 404
    assert web.get("/soggetti/not-an-id").status_code == 404


def test_salva_contatti_records_what_changed(web: Web) -> None:
    pid = party_id(web, "Caseificio Val Taleggio")
    ctx = web.client.app.state.ctx
    web.login("officer")
    page = web.page(f"/soggetti/{pid}")
    form = page.form("Salva contatti")
    assert set(form.labels) == {"Email", "PEC", "Telefono", "Indirizzo", "CAP"}
    r = web.submit(page, "Salva contatti", {"Email": "info@caseificio.example",
                                            "Telefono": "02 1234 5678", "CAP": "24010"},
                   follow=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/soggetti/{pid}?esito=salvato#contatti"
    saved = parties.read_party(ctx, OFFICER, pid)
    assert (saved.email, saved.phone, saved.postal_code) == (
        "info@caseificio.example", "+390212345678", "24010")  # E.164, as API.md says
    assert "+390212345678" in web.page(f"/soggetti/{pid}").html
    # A refusal is said beside its field, the typed values kept, nothing written.
    page = web.page(f"/soggetti/{pid}")
    r = web.submit(page, "Salva contatti", {"Email": "non-una-mail", "CAP": "2401"},
                   follow=False)
    assert r.status_code == 422
    again = parse(r.text).form("Salva contatti")
    assert again.field_by_label("Email").value == "non-una-mail"
    assert 'id="email-error" role="alert"' in r.text
    assert parties.read_party(ctx, OFFICER, pid).email == "info@caseificio.example"
    # Emptying a field clears it.
    page = web.page(f"/soggetti/{pid}")
    assert web.submit(page, "Salva contatti", {"Telefono": ""}, follow=False
                      ).status_code == 303
    assert parties.read_party(ctx, OFFICER, pid).phone is None
    # Without the CSRF token nothing is posted; a producer gets 404.
    data = form.data({"Email": "x@y.example"})
    data.pop("csrf_token")
    assert web.client.post(form.action, data=data).status_code == 403
    web.client.cookies.clear()
    web.login("caseificio")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', web.page("/").html)
    assert csrf
    r = web.client.post(f"/soggetti/{pid}/contatti", data={
        "csrf_token": csrf.group(1), "email": "x@y.example"})
    assert r.status_code == 404
    assert parties.read_party(ctx, OFFICER, pid).email == "info@caseificio.example"
