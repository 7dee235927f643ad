"""``/simulatore``: a loan's schedule, interest and TAEG before asking for it, with the
same figures as ``POST /api/loans/simulate`` (it calls the same use case)."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from service.app.clock import today
from service.app.errors import Invalid
from service.app.terms import SimulationOut, TermsIn, simulate_loan
from service.web.core import (
    AnyRequest,
    Form,
    absorb,
    amount_of,
    date_of,
    decimal_of,
    int_of,
    money_in,
    render,
)
from service.web.formatting import plain
from service.web.labels import FREQUENCIES, METHODS

# The API's field -> the form's field, for errors the use case finds.
FIELDS = {"principal": "importo", "annual_rate": "tasso", "term_months": "durata",
          "method": "metodo", "frequency": "periodicita", "grace_periods": "preammortamento",
          "fees": "spese", "disbursement_date": "data_erogazione"}


def _choice(form: Form, name: str, table: dict[str, str]) -> str | None:
    value = form.value(name)
    if value not in table:
        form.add(name, "Scegli un valore dall'elenco.")
        return None
    return str(value)


def simulate(form: Form) -> SimulationOut | None:
    """The simulation of what the form says, or None with the errors on the form."""
    principal = amount_of(form, "importo")
    rate = decimal_of(form, "tasso", max_decimals=4, label="il tasso annuo")
    months = int_of(form, "durata", minimum=1, label="la durata in mesi")
    frequency = _choice(form, "periodicita", FREQUENCIES)
    method = _choice(form, "metodo", METHODS)
    grace = int_of(form, "preammortamento", required=False) or 0
    fees = amount_of(form, "spese", required=False)
    start = date_of(form, "data_erogazione")
    if form.errors:
        return None
    assert principal is not None and rate is not None and months is not None
    assert frequency is not None and method is not None and start is not None
    try:
        return simulate_loan(TermsIn(
            principal=money_in(principal), annual_rate=plain(rate), term_months=months,
            method=method, frequency=frequency, disbursement_date=start,
            grace_periods=grace, fees=money_in(fees) if fees is not None else None))
    except Invalid as exc:
        absorb(form, exc, FIELDS)
        return None


@get("/simulatore", sync_to_thread=True)
def simulator_page(request: AnyRequest) -> Template:
    query = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    defaults = {"periodicita": "monthly", "metodo": "french", "preammortamento": "0",
                "data_erogazione": today().isoformat()}
    form = Form(values={**defaults, **query})
    result = simulate(form) if "calcola" in query else None
    installment, installment_label = None, "Rata"
    if result is not None and result.installments:
        # The first installment that repays principal (after the interest-only ones).
        grace = min(int(form.value("preammortamento") or 0), len(result.installments) - 1)
        installment = result.installments[grace].payment
        if form.value("metodo") == "italian":
            installment_label = "Prima rata di ammortamento"
    return render(request, "simulator/simulatore.html", title="Simulatore di prestito",
                  status=422 if form.errors or form.refusal else 200, form=form,
                  result=result, installment=installment,
                  installment_label=installment_label, frequencies=list(FREQUENCIES.items()),
                  methods=list(METHODS.items()))


HANDLERS = [simulator_page]
