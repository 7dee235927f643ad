"""/prestiti and /prestiti/{id}: the list and its filters, a loan's figures against the
application layer (and an independent sum), and the officer's forms: happy path, errors
beside their fields, refusals, replays, and 404 for whoever may not see the loan."""

from __future__ import annotations

import html as _html
import re
from decimal import Decimal
from typing import Any

import pytest

from service.app import guarantees, loans
from service.app.auth import Principal
from service.app.demo import demo_id
from service.app.lending import LoanOut
from service.web.formatting import day
from service.web.formatting import euro as _euro
from service.web.labels import LOAN_STATUS
from tests.web.conftest import TODAY as PINNED_TODAY
from tests.web.conftest import Web
from tests.web.pages import Page, parse

OFFICER = Principal("officer", "officer", None)
TALEGGIO = demo_id("loan:taleggio")  # Caseificio Val Taleggio, guaranteed by three GAS
RISO = demo_id("loan:riso")  # Riseria Lomellina Bio, no guarantees
MIELE = demo_id("loan:miele")  # Apicoltura Valcamonica, nothing paid
VINO = demo_id("loan:vino")  # approved, not disbursed
LATTE = demo_id("loan:latte")  # Latteria Sociale Valtorta, restructured, paid on time
TODAY = PINNED_TODAY  # the day the pages' fixture pins (FILIERA_TODAY), at import too


def euro(value: Any) -> str:
    """``1.234,56 €`` as the page's text reads it (the no-break space collapsed)."""
    return _euro(value).replace("\xa0", " ")


def ctx_of(web: Web) -> Any:
    return web.client.app.state.ctx


def read(web: Web, loan_id: str) -> LoanOut:
    return loans.read_loan(ctx_of(web), OFFICER, loan_id, None)


def repayments(web: Web, loan_id: str) -> list[loans.RepaymentItem]:
    return loans.list_repayments(ctx_of(web), OFFICER, loan_id, None, 500, None).items


def table(html: str, region: str) -> list[list[str]]:
    """The body rows of the table in the region labelled ``region``, cells as text."""
    start = html.index(f'aria-label="{region}"')
    block = html[start:html.index("</table>", start)]
    body = block[block.index("<tbody>"):block.index("</tbody>")]
    rows = []
    for tr in re.findall(r"<tr\b.*?</tr>", body, flags=re.S):
        cells = re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", tr, flags=re.S)
        rows.append([" ".join(_html.unescape(re.sub(r"<[^>]+>", " ", c)).split())
                     for c in cells])
    return rows


def errors_of(page: Page) -> list[str]:
    return [_html.unescape(e) for e in re.findall(r'<p class="error" id="([^"]+)"', page.html)]


def error_text(page: Page, field_id: str) -> str:
    found = re.search(rf'<p class="error" id="{re.escape(field_id)}-error" role="alert">(.*?)</p>',
                      page.html, flags=re.S)
    assert found, f"no error beside {field_id}: {errors_of(page)}"
    return _html.unescape(found.group(1))


def refusal_text(page: Page) -> str:
    found = re.search(r'<div class="refusal" role="alert"><p>(.*?)</p>', page.html, flags=re.S)
    assert found, "no refusal at the top of a form"
    return _html.unescape(found.group(1))


def flash(page: Page) -> str:
    found = re.search(r'<div class="notice" role="status">(.*?)</div>', page.html, flags=re.S)
    return " ".join(_html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split()) \
        if found else ""


def csrf_of(page: Page) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.html)
    assert found
    return found.group(1)


# --- the list ----------------------------------------------------------------------------

def test_officer_sees_every_loan_with_the_app_layer_figures(web: Web) -> None:
    web.login("officer")
    page = web.page("/prestiti")
    assert page.h1 == "Prestiti"
    expected = loans.list_loans(ctx_of(web), OFFICER, None, None, None, None, 500, None).items
    rows = table(page.html, "Elenco dei prestiti")
    assert len(rows) == len(expected) == 5
    for row, loan in zip(rows, expected, strict=True):
        assert row[0] == loan.reference
        assert row[2] == euro(loan.principal) and row[3] == euro(loan.outstanding_principal)
        assert row[4] == LOAN_STATUS[loan.status]
        assert row[5] == str(loan.days_past_due)
        assert f'href="/prestiti/{loan.id}"' in page.html
    assert [r[1] for r in rows] == ["Caseificio Val Taleggio", "Riseria Lomellina Bio",
                                    "Apicoltura Valcamonica", "Vini Oltrepo Naturali",
                                    "Latteria Sociale Valtorta"]
    # The caseificio paid 18 of its installments: the outstanding principal is what the
    # schedule says is left after the 18th.
    taleggio = read(web, TALEGGIO)
    assert rows[0][3] == euro(taleggio.schedule[17].balance_after)


def test_filters_stato_and_in_ritardo(web: Web) -> None:
    web.login("officer")
    page = web.page("/prestiti")
    form = page.form("Filtra")
    assert form.method == "get"
    assert [t for _, t in form.field_by_label("Stato").options] == [
        "Tutti gli stati", "Approvato", "Attivo", "Rimborsato", "Passato a perdita"]
    assert form.field_by_label("In ritardo").kind == "checkbox"

    approved = web.page("/prestiti?" + "&".join(
        f"{k}={v}" for k, v in form.data({"Stato": "Approvato"}).items() if v))
    assert [r[0] for r in table(approved.html, "Elenco dei prestiti")] == ["PRE-2026-0004"]

    late = web.page("/prestiti?status=&late=1")
    expected = loans.list_loans(ctx_of(web), OFFICER, None, None, None, None, 500, None,
                                overdue="true").items
    assert [r[0] for r in table(late.html, "Elenco dei prestiti")] == [
        x.reference for x in expected]
    assert len(expected) == 3 and all(x.days_past_due > 0 for x in expected)
    assert late.form("Filtra").field_by_label("In ritardo").checked

    none = web.page("/prestiti?status=repaid")
    assert "Nessun prestito corrisponde ai filtri scelti." in none.text
    bad = web.get("/prestiti?status=perso")
    assert bad.status_code == 422 and "Scegli uno stato dall" in bad.text


def test_the_list_is_paginated(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    from service.web import loans_pages

    monkeypatch.setattr(loans_pages, "PAGE_SIZE", 3)
    web.login("officer")
    first = web.page("/prestiti")
    assert len(table(first.html, "Elenco dei prestiti")) == 3
    link = re.search(r'<a href="([^"]+)">Pagina successiva</a>', first.html)
    assert link
    second = web.page(_html.unescape(link.group(1)))
    assert [r[0] for r in table(second.html, "Elenco dei prestiti")] == [
        "PRE-2026-0004", "PRE-2026-0005"]
    assert "Pagina successiva" not in second.text


def test_producer_sees_only_its_own_loans_without_filters(web: Web) -> None:
    web.login("caseificio")
    page = web.page("/prestiti")
    assert [r[0] for r in table(page.html, "Elenco dei prestiti")] == ["PRE-2026-0001"]
    assert not [f for f in page.forms if "Filtra" in f.buttons]
    # Another producer's loan: 404, as the API answers.
    for other in (RISO, MIELE, VINO, LATTE):
        assert web.get(f"/prestiti/{other}").status_code == 404
    assert web.get("/prestiti/not-a-uuid").status_code == 404


def test_gas_user_sees_only_the_loan_it_guarantees(web: Web) -> None:
    web.login("gas.gasabile")
    assert web.get("/prestiti").status_code == 404  # GAS see loans through guarantees
    page = web.page(f"/prestiti/{TALEGGIO}")
    assert page.h1 == "Prestito PRE-2026-0001"
    assert [f.buttons for f in page.forms] == [["Esci"]]
    # Only its own guarantee, as the application filters it.
    assert [r[0] for r in table(page.html, "Garanzie")] == ["GAS Gasabile Milano Isola"]
    assert "Scarica l'estratto conto" not in page.text
    for other in (RISO, MIELE, VINO):
        assert web.get(f"/prestiti/{other}").status_code == 404


# --- one loan ----------------------------------------------------------------------------

def test_loan_page_figures_match_the_app_layer(web: Web) -> None:
    web.login("officer")
    page = web.page(f"/prestiti/{TALEGGIO}")
    loan = read(web, TALEGGIO)
    assert page.h1 == f"Prestito {loan.reference}"
    rows = table(page.html, "Piano di rimborso")
    assert len(rows) == len(loan.schedule) == 36
    for row, inst in zip(rows, loan.schedule, strict=True):
        paid = (Decimal(inst.paid_principal.amount) + Decimal(inst.paid_interest.amount)
                + Decimal(inst.paid_late_interest.amount))
        still = Decimal(inst.payment.amount) - paid  # no late interest in this category
        assert row[:7] == [str(inst.number), day(inst.due_date), euro(inst.payment),
                           euro(inst.principal), euro(inst.interest), euro(paid),
                           euro(still)]
        assert Decimal(inst.payment.amount) == (Decimal(inst.principal.amount)
                                                + Decimal(inst.interest.amount))
    assert [r[7] for r in rows[:18]] == ["Pagata"] * 18
    assert rows[18][7] == rows[19][7] == "Scaduta"
    text = page.text
    assert f"Capitale residuo {euro(loan.outstanding_principal)}" in text
    assert loan.next_installment is not None
    assert (f"Prossima rata {euro(loan.next_installment.amount_due)} scade il "
            f"{day(loan.next_installment.due_date)}") in text
    # Overdue: the two installments due before today and unpaid, by an independent sum.
    overdue = sum((Decimal(i.payment.amount) for i in loan.schedule[18:20]), Decimal(0))
    assert euro(overdue) == euro(loan.overdue_amount)
    assert f"Importo scaduto {euro(overdue)}" in text
    assert f"Giorni di ritardo {loan.days_past_due}" in text and loan.days_past_due == 40
    assert re.search(rf'<a href="/report/loan-statement.xlsx\?loan_id={TALEGGIO}">'
                     r"Scarica l(&#39;|')estratto conto</a>", page.html)
    # Repayments received: the 18 the demo recorded, each with who recorded it.
    paid_rows = table(page.html, "Rimborsi ricevuti")
    items = repayments(web, TALEGGIO)
    assert len(paid_rows) == len(items) == 18
    assert paid_rows[0][0] == items[0].reference and paid_rows[0][2] == euro(items[0].amount)
    # Who recorded it, then (officers) the Storna button of the Correzione column.
    assert paid_rows[0][-2].startswith("demo") and paid_rows[0][-1] == "Storna"
    # Guarantees and coverage.
    g = guarantees.read_loan_guarantees(ctx_of(web), OFFICER, TALEGGIO, None)
    assert len(table(page.html, "Garanzie")) == len(g.items) == 3
    assert g.coverage is not None
    pct = f"{Decimal(g.coverage) * 100:.2f}".replace(".", ",") + "%"
    assert f"coprono il {pct}" in text
    assert {b for f in page.forms for b in f.buttons} >= {
        "Registra rimborso", "Escuti garanzie", "Rinegozia", "Passa a perdita"}


def test_producer_views_its_loan_without_officer_forms(web: Web) -> None:
    web.login("caseificio")
    page = web.page(f"/prestiti/{TALEGGIO}")
    assert page.h1 == "Prestito PRE-2026-0001"
    assert [f.buttons for f in page.forms] == [["Esci"]]
    assert "Piano di rimborso" in page.text and "Rimborsi ricevuti" in page.text
    assert f'href="/report/loan-statement.xlsx?loan_id={TALEGGIO}"' in page.html
    assert "Copertura" not in page.text


def test_approved_loan_page(web: Web) -> None:
    web.login("officer")
    page = web.page(f"/prestiti/{VINO}")
    assert "Approvato" in page.text and "Nessun rimborso ricevuto finora." in page.text
    assert len(table(page.html, "Piano di rimborso")) == 36


# --- Registra rimborso -------------------------------------------------------------------

def test_record_a_repayment_and_see_its_allocation(web: Web) -> None:
    web.login("officer")
    before = read(web, TALEGGIO)
    page = web.page(f"/prestiti/{TALEGGIO}")
    form = page.form("Registra rimborso")
    assert form.field_by_label("Data valuta").value == TODAY
    assert form.field_by_label("Riduci la rata").checked
    assert not form.field_by_label("Riduci la durata").checked
    r = web.submit(page, "Registra rimborso", {"Importo": "1.234,50"}, follow=False)
    assert r.status_code == 303
    assert "?rimborso=" in r.headers["location"] and "esito=registrata" in r.headers["location"]
    done = parse(web.get(r.headers["location"]).text)
    assert flash(done).startswith("Operazione registrata.")
    items = repayments(web, TALEGGIO)
    assert len(items) == 19
    new = next(i for i in items if i.id in r.headers["location"])
    assert new.amount.amount == "1234.50" and new.date == TODAY
    assert new.recorded_by == "officer"
    a = new.allocation
    after = read(web, TALEGGIO)
    assert (Decimal(before.outstanding_principal.amount)
            - Decimal(after.outstanding_principal.amount)) == Decimal(a.principal.amount)
    parts = [Decimal(x.amount) for x in (a.penalty, a.interest, a.principal, a.excess)]
    assert sum(parts) == Decimal("1234.50")
    # Two overdue installments and part of the next one: nothing left for early repayment.
    text = done.text
    assert f"Ripartizione del rimborso {new.reference}" in text
    assert (f"Penali (interessi di mora) {euro(a.penalty)} Interessi {euro(a.interest)} "
            f"Capitale {euro(a.principal)} Rimborso anticipato {euro('0.00')} "
            f"Eccedenza {euro(a.excess)}") in text
    assert f"Importo scaduto {euro(after.overdue_amount)}" in text
    assert after.days_past_due == 0


def test_an_early_repayment_can_shorten_the_term(web: Web) -> None:
    web.login("officer")
    before = read(web, MIELE)
    page = web.page(f"/prestiti/{MIELE}")
    r = web.submit(page, "Registra rimborso",
                   {"Importo": "6000,00", "Riduci la durata": "x"}, follow=False)
    assert r.status_code == 303
    done = parse(web.get(r.headers["location"]).text)
    item = repayments(web, MIELE)[-1]
    a = item.allocation
    after = read(web, MIELE)
    due = Decimal(before.overdue_amount.amount)
    early = Decimal(after.early_repaid_principal.amount)
    assert early > 0
    assert f"Rimborso anticipato {euro(early)}" in done.text
    assert (Decimal(before.outstanding_principal.amount)
            - Decimal(after.outstanding_principal.amount)) == Decimal(a.principal.amount)
    assert Decimal(a.interest.amount) + Decimal(a.principal.amount) > due
    assert len(after.schedule) < len(before.schedule)  # same installment, fewer of them


@pytest.mark.parametrize(("typed", "amount"), [("1234,56", "1234.56"), ("1.234,56", "1234.56"),
                                               ("1234.56", "1234.56"), ("300", "300.00")])
def test_repayment_amounts_typed_the_italian_way(web: Web, typed: str, amount: str) -> None:
    web.login("officer")
    r = web.submit(f"/prestiti/{RISO}", "Registra rimborso", {"Importo": typed}, follow=False)
    assert r.status_code == 303
    assert repayments(web, RISO)[-1].amount.amount == amount


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"Importo": "1.250"}, "rr-amount", "usa la virgola per i decimali"),
    ({"Importo": ""}, "rr-amount", "Indica l'importo."),
    ({"Importo": "-5"}, "rr-amount", "maggiore di zero"),
    ({"Importo": "12,345"}, "rr-amount", "Al massimo 2 decimali."),
    ({"Importo": "100,00", "Data valuta": "2030-01-01"}, "rr-date",
     "La data non può essere successiva a oggi."),
    ({"Importo": "100,00", "Data valuta": ""}, "rr-date", "Indica la data."),
    ({"Importo": "100,00", "Data valuta": "2025-01-01"}, "rr-date",
     "La data è precedente all'erogazione del prestito."),
])
def test_repayment_errors_beside_the_field_and_nothing_written(
        web: Web, values: dict[str, str], field: str, message: str) -> None:
    web.login("officer")
    before = len(repayments(web, TALEGGIO))
    r = web.submit(f"/prestiti/{TALEGGIO}", "Registra rimborso", values)
    assert r.status_code == 422
    page = parse(r.text)
    assert message in error_text(page, field)
    form = page.form("Registra rimborso")
    for label, typed in values.items():  # what was typed is kept
        assert form.field_by_label(label).value == typed
    assert len(repayments(web, TALEGGIO)) == before


def test_repayment_on_a_loan_not_disbursed_is_one_sentence(web: Web) -> None:
    web.login("officer")
    r = web.submit(f"/prestiti/{VINO}", "Registra rimborso", {"Importo": "100,00"})
    assert r.status_code == 409
    assert refusal_text(parse(r.text)).startswith("Il prestito non è attivo")
    assert repayments(web, VINO) == []


def test_a_replayed_repayment_is_recorded_once(web: Web) -> None:
    web.login("officer")
    page = web.page(f"/prestiti/{TALEGGIO}")
    first = web.submit(page, "Registra rimborso", {"Importo": "100,00"}, follow=False)
    again = web.submit(page, "Registra rimborso", {"Importo": "100,00"}, follow=False)
    assert first.status_code == again.status_code == 303
    assert "esito=gia-registrata" in again.headers["location"]
    shown = parse(web.get(again.headers["location"]).text)
    assert "Operazione già registrata" in flash(shown)
    assert "Vedi l'operazione" in flash(shown)
    assert len(repayments(web, TALEGGIO)) == 19
    # The same operation id with another amount is refused, not recorded.
    other = web.submit(page, "Registra rimborso", {"Importo": "200,00"})
    assert other.status_code == 409 and len(repayments(web, TALEGGIO)) == 19


def test_only_officers_post_the_forms(web: Web) -> None:
    web.login("caseificio")
    token = csrf_of(web.page(f"/prestiti/{TALEGGIO}"))
    for path, body in ((f"/prestiti/{TALEGGIO}/rimborsi", {"amount": "100,00",
                                                           "date": TODAY}),
                       (f"/prestiti/{TALEGGIO}/escussioni", {"amount": "100,00",
                                                             "date": TODAY}),
                       (f"/prestiti/{TALEGGIO}/rinegoziazione", {"date": TODAY,
                                                                 "new_periods": "12",
                                                                 "note": "x"}),
                       (f"/prestiti/{TALEGGIO}/perdita", {"date": TODAY, "note": "x"}),
                       (f"/prestiti/{TALEGGIO}/perdita/conferma",
                        {"date": TODAY, "note": "x"})):
        r = web.client.post(path, data={"csrf_token": token, **body})
        assert r.status_code == 404, path
    assert len(repayments(web, TALEGGIO)) == 18
    assert read(web, TALEGGIO).status == "active"
    # An officer on a loan that does not exist: 404 too.
    web.client.cookies.clear()
    web.login("officer")
    token = csrf_of(web.page("/prestiti"))
    r = web.client.post(f"/prestiti/{demo_id('nothing')}/rimborsi",
                        data={"csrf_token": token, "amount": "1,00", "date": TODAY})
    assert r.status_code == 404


# --- Escuti garanzie ---------------------------------------------------------------------

def called(web: Web, loan_id: str) -> Decimal:
    g = guarantees.read_loan_guarantees(ctx_of(web), OFFICER, loan_id, None)
    return sum((Decimal(x.called_amount.amount) for x in g.items), Decimal(0))


def test_call_the_guarantees(web: Web) -> None:
    web.login("officer")
    before = read(web, TALEGGIO)
    page = web.page(f"/prestiti/{TALEGGIO}")
    r = web.submit(page, "Escuti garanzie", {"Importo": "900,00"})
    assert r.status_code == 200
    done = parse(r.text)
    assert flash(done).startswith("Operazione registrata.")
    assert called(web, TALEGGIO) == Decimal("900.00")
    after = read(web, TALEGGIO)
    assert Decimal(after.paid_total.amount) - Decimal(before.paid_total.amount) == 900
    # Split pro rata over 12.000, 9.000 and 6.000: 400, 300, 200.
    assert [r[2] for r in table(done.html, "Garanzie")] == [
        euro("400.00"), euro("300.00"), euro("200.00")]
    again = web.submit(page, "Escuti garanzie", {"Importo": "900,00"})
    assert "Operazione già registrata" in flash(parse(again.text))
    assert called(web, TALEGGIO) == Decimal("900.00")


def test_guarantee_call_errors(web: Web) -> None:
    web.login("officer")
    r = web.submit(f"/prestiti/{TALEGGIO}", "Escuti garanzie", {"Importo": "1.250"})
    assert r.status_code == 422
    assert "usa la virgola" in error_text(parse(r.text), "eg-amount")
    r = web.submit(f"/prestiti/{TALEGGIO}", "Escuti garanzie", {"Importo": "50.000,00"})
    assert r.status_code == 409
    assert refusal_text(parse(r.text)).startswith("L'importo supera quanto resta")
    r = web.submit(f"/prestiti/{RISO}", "Escuti garanzie", {"Importo": "100,00"})
    assert r.status_code == 422
    assert error_text(parse(r.text), "eg-date") == (
        "In quella data il prestito non aveva garanzie attive.")
    assert parse(r.text).form("Escuti garanzie").field_by_label("Importo").value == "100,00"
    assert called(web, TALEGGIO) == 0 and called(web, RISO) == 0


# --- Rinegozia ---------------------------------------------------------------------------

def test_reschedule_a_loan(web: Web) -> None:
    web.login("officer")
    page = web.page(f"/prestiti/{RISO}")
    form = page.form("Rinegozia")
    assert form.field_by_label("Periodi di preammortamento aggiunti").value == "0"
    r = web.submit(page, "Rinegozia", {"Periodi di preammortamento aggiunti": "2",
                                       "Nuovo numero di rate": "60",
                                       "Nota": "Grandinata: raccolto perso"})
    assert r.status_code == 200 and flash(parse(r.text)).startswith("Operazione registrata.")
    loan = read(web, RISO)
    assert loan.restructured
    assert "rinegoziato" in parse(r.text).text
    assert len(table(r.text, "Piano di rimborso")) == len(loan.schedule)


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"Nuovo numero di rate": "60"}, "rn-note", "Indica il motivo."),
    ({"Nota": "x"}, "rn-added_grace_periods",
     "Indica i periodi di preammortamento aggiunti o il nuovo numero di rate."),
    ({"Nota": "x", "Nuovo numero di rate": "0"}, "rn-new_periods", "Deve essere almeno 1."),
    ({"Nota": "x", "Periodi di preammortamento aggiunti": "1,5"},
     "rn-added_grace_periods", "Scrivi un numero intero"),
    ({"Nota": "x", "Nuovo numero di rate": "12", "Data": "2020-01-01"}, "rn-date",
     "La data è precedente all'erogazione del prestito."),
])
def test_reschedule_errors(web: Web, values: dict[str, str], field: str, message: str) -> None:
    web.login("officer")
    r = web.submit(f"/prestiti/{RISO}", "Rinegozia", values)
    assert r.status_code == 422
    assert message in error_text(parse(r.text), field)
    assert not read(web, RISO).restructured


def test_reschedule_an_approved_loan_is_refused(web: Web) -> None:
    web.login("officer")
    r = web.submit(f"/prestiti/{VINO}", "Rinegozia", {"Nuovo numero di rate": "12",
                                                      "Nota": "x", "Data": TODAY})
    assert r.status_code == 409
    assert "non si può rinegoziare" in refusal_text(parse(r.text))


# --- Passa a perdita ---------------------------------------------------------------------

def test_write_off_through_its_confirmation_page(web: Web) -> None:
    web.login("officer")
    page = web.page(f"/prestiti/{MIELE}")
    r = web.submit(page, "Passa a perdita", {"Data": TODAY, "Nota": "Azienda chiusa"})
    assert r.status_code == 200
    confirm = parse(r.text)
    assert confirm.h1 == "Conferma passaggio a perdita"
    loan = read(web, MIELE)
    assert loan.status == "active"  # nothing written yet
    assert euro(loan.outstanding_principal) in confirm.text
    assert "Azienda chiusa" in confirm.text
    assert "Annulla" in confirm.text
    form = confirm.form("Conferma passaggio a perdita")
    assert form.data()["op_id"] == page.form("Passa a perdita").data()["op_id"]
    done = web.submit(confirm, "Conferma passaggio a perdita", follow=False)
    assert done.status_code == 303 and "esito=registrata" in done.headers["location"]
    after = read(web, MIELE)
    assert after.status == "written_off" and after.written_off_on == TODAY
    shown = parse(web.get(done.headers["location"]).text)
    assert "Passato a perdita" in shown.text
    assert not [f for f in shown.forms if "Passa a perdita" in f.buttons]
    # A written-off loan has no installment to pay: the card says so, with no amount.
    assert "Passato a perdita: nessuna rata da pagare." in shown.text
    assert "scade il" not in shown.text.split("Prossima rata", 1)[1].split("Importo", 1)[0]
    # Confirming again (back button, resubmission) records nothing more.
    again = web.submit(confirm, "Conferma passaggio a perdita")
    assert "Operazione già registrata" in flash(parse(again.text))


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"Nota": ""}, "pp-note", "Indica il motivo."),
    ({"Nota": "x", "Data": "2030-01-01"}, "pp-date", "La data non può essere successiva"),
    ({"Nota": "x", "Data": "2024-01-01"}, "pp-date", "precedente all'erogazione"),
    ({"Nota": "x", "Data": ""}, "pp-date", "Indica la data."),
])
def test_write_off_errors_before_confirmation(web: Web, values: dict[str, str], field: str,
                                              message: str) -> None:
    web.login("officer")
    r = web.submit(f"/prestiti/{MIELE}", "Passa a perdita", values)
    assert r.status_code == 422
    page = parse(r.text)
    assert message in error_text(page, field)
    assert page.h1 == "Prestito PRE-2026-0003"
    assert read(web, MIELE).status == "active"


def test_write_off_refused_for_a_loan_not_active(web: Web) -> None:
    web.login("officer")
    r = web.submit(f"/prestiti/{VINO}", "Passa a perdita", {"Data": TODAY, "Nota": "x"})
    assert r.status_code == 409
    assert "non si può passare a perdita" in refusal_text(parse(r.text))
    # Confirming straight away (a forged or stale confirmation) is refused by the app.
    page = web.page(f"/prestiti/{VINO}")
    r = web.client.post(f"/prestiti/{VINO}/perdita/conferma", data={
        "csrf_token": csrf_of(page), "op_id": page.form("Passa a perdita").data()["op_id"],
        "date": TODAY, "note": "x"})
    assert r.status_code == 409
    assert read(web, VINO).status == "approved"


def test_recovery_after_a_write_off(web: Web) -> None:
    web.login("officer")
    # Written off at the end of November: money received today is recovery.
    confirm = web.submit(f"/prestiti/{MIELE}", "Passa a perdita",
                         {"Data": "2026-11-30", "Nota": "Azienda chiusa"})
    web.submit(parse(confirm.text), "Conferma passaggio a perdita")
    r = web.submit(f"/prestiti/{MIELE}", "Registra rimborso", {"Importo": "500,00"})
    assert r.status_code == 200
    page = parse(r.text)
    assert f"Recupero {euro('500.00')}" in page.text
    assert "Recupero" in page.html.split('aria-label="Rimborsi ricevuti"')[1]


def test_pages_with_forms_are_not_cached(web: Web) -> None:
    web.login("officer")
    r = web.get(f"/prestiti/{TALEGGIO}")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["server-timing"].startswith("app;dur=")
