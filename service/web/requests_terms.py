"""The **Condizioni** form of a request: its fields as the page names them, the form
read into ``RequestTermsIn``, the form filled from the terms in force, and **Usa i
suggerimenti** (the form filled from the opportunities matching finds; nothing saved).

Field names: the loan's are the simulator's (``importo``, ``tasso``, ``durata``,
``periodicita``, ``metodo``, ``preammortamento``, ``spese``) plus ``finanziatore``,
``fondo`` and ``categoria``; prepayment ``i`` has ``pp{i}-gas``, ``pp{i}-importo``,
``pp{i}-prodotto``, ``pp{i}-unita``, ``pp{i}-prezzo``, ``pp{i}-scadenza``,
``pp{i}-alla_scadenza``; guarantee ``i`` has ``g{i}-garante`` and ``g{i}-importo``.
A prepayment or guarantee fieldset left empty is no part of the package, and so is the
loan when its **Importo** is empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, Decimal

from ledger.daycount import add_months
from service.app.lending import DEFAULT_CATEGORY
from service.app.matching import OpportunityOut
from service.app.requests import (
    GuaranteePartIn,
    LoanPartIn,
    PrepaymentPartIn,
    RequestOut,
    RequestTermsIn,
    TermsOut,
)
from service.web.core import Form, amount_of, date_of, decimal_of, int_of, money_in, text_of
from service.web.formatting import plain
from service.web.labels import FREQUENCIES, METHODS, ON_EXPIRY

LOAN_FIELDS = {"principal": "importo", "annual_rate": "tasso", "term_months": "durata",
               "method": "metodo", "frequency": "periodicita",
               "grace_periods": "preammortamento", "fees": "spese",
               "lender_id": "finanziatore", "pool_id": "fondo", "category": "categoria"}
PREPAYMENT_FIELDS = {"gas_id": "gas", "amount": "importo", "product": "prodotto",
                     "unit": "unita", "unit_price": "prezzo", "expires_on": "scadenza",
                     "on_expiry": "alla_scadenza"}
GUARANTEE_FIELDS = {"guarantor_id": "garante", "amount": "importo"}
# What makes a prepayment fieldset filled in (its select with a default does not).
_PP_TYPED = ("gas", "importo", "prodotto", "unita", "prezzo", "scadenza")
_G_TYPED = ("garante", "importo")
MAX_PARTS = 50  # fieldsets of one kind a posted form may have
# A prepayment suggested by matching runs this many months at most.
PREPAYMENT_MONTHS = 12


def pp(i: int, name: str) -> str:
    return f"pp{i}-{name}"


def g(i: int, name: str) -> str:
    return f"g{i}-{name}"


def typed(value: Decimal | str) -> str:
    """A number as a person types it here: ``1234,5`` (decimal comma, no grouping)."""
    return plain(Decimal(str(value))).replace(".", ",")


def _filled(values: Mapping[str, object], names: list[str]) -> bool:
    return any(isinstance(v := values.get(n), str) and v.strip() for n in names)


def _indices(values: Mapping[str, object], prefix: str) -> list[int]:
    pattern = re.compile(rf"^{prefix}(\d+)-")
    found = {int(m.group(1)) for k in values if (m := pattern.match(k))}
    return sorted(i for i in found if i < MAX_PARTS)


def filled_prepayments(values: Mapping[str, object]) -> list[int]:
    return [i for i in _indices(values, "pp")
            if _filled(values, [pp(i, n) for n in _PP_TYPED])]


def filled_guarantees(values: Mapping[str, object]) -> list[int]:
    return [i for i in _indices(values, "g") if _filled(values, [g(i, n) for n in _G_TYPED])]


def fieldset_counts(values: Mapping[str, object]) -> tuple[int, int]:
    """How many prepayment and guarantee fieldsets the form shows: up to the last one
    filled in, and one empty more."""
    last_pp = max(filled_prepayments(values), default=-1)
    last_g = max(filled_guarantees(values), default=-1)
    return last_pp + 2, last_g + 2


def _choice(form: Form, name: str, table: dict[str, str]) -> str | None:
    value = form.value(name)
    if value not in table:
        form.add(name, "Scegli un valore dall'elenco.")
        return None
    return str(value)


@dataclass
class ParsedTerms:
    """The package of the form, and where each part came from (for the app's errors)."""

    data: RequestTermsIn
    fields: dict[str, str] = field(default_factory=dict)  # API field -> form field


def parse_terms_form(form: Form, today: date) -> ParsedTerms | None:
    """The terms the form says, or None with every error beside its field."""
    values = form.values
    fields: dict[str, str] = {f"loan.{k}": v for k, v in LOAN_FIELDS.items()}
    loan: LoanPartIn | None = None
    if _filled(values, ["importo"]):
        principal = amount_of(form, "importo")
        rate = decimal_of(form, "tasso", max_decimals=4, label="il tasso annuo")
        months = int_of(form, "durata", minimum=1, label="la durata in mesi")
        frequency = _choice(form, "periodicita", FREQUENCIES)
        method = _choice(form, "metodo", METHODS)
        grace = int_of(form, "preammortamento", required=False)
        fees = amount_of(form, "spese", required=False)
        lender = text_of(form, "finanziatore", required=True, label="il finanziatore")
        pool = text_of(form, "fondo")
        category = text_of(form, "categoria", required=True, label="la categoria")
        if not form.errors:
            assert principal is not None and rate is not None and months is not None
            assert frequency and method and lender and category
            loan = LoanPartIn(
                principal=money_in(principal), annual_rate=plain(rate), term_months=months,
                method=method, frequency=frequency, disbursement_date=today.isoformat(),
                grace_periods=grace or 0, fees=money_in(fees) if fees is not None else None,
                lender_id=lender, pool_id=pool, category=category)
    prepayments: list[PrepaymentPartIn] = []
    for k, i in enumerate(filled_prepayments(values)):
        for api, name in PREPAYMENT_FIELDS.items():
            fields[f"prepayments.{k}.{api}"] = pp(i, name)
        gas_id = text_of(form, pp(i, "gas"), required=True, label="il GAS")
        amount = amount_of(form, pp(i, "importo"))
        product = text_of(form, pp(i, "prodotto"), required=True, label="il prodotto")
        unit = text_of(form, pp(i, "unita"), required=True, label="l'unità, per esempio kg")
        price = amount_of(form, pp(i, "prezzo"))
        expires = date_of(form, pp(i, "scadenza"))
        on_expiry = _choice(form, pp(i, "alla_scadenza"), ON_EXPIRY)
        if gas_id and amount and product and unit and price and expires and on_expiry:
            prepayments.append(PrepaymentPartIn(
                gas_id=gas_id, amount=money_in(amount), product=product, unit=unit,
                unit_price=money_in(price), expires_on=expires, on_expiry=on_expiry))
    guarantees: list[GuaranteePartIn] = []
    for k, i in enumerate(filled_guarantees(values)):
        for api, name in GUARANTEE_FIELDS.items():
            fields[f"guarantees.{k}.{api}"] = g(i, name)
        guarantor = text_of(form, g(i, "garante"), required=True, label="il garante")
        amount = amount_of(form, g(i, "importo"))
        if guarantor and amount:
            guarantees.append(GuaranteePartIn(guarantor_id=guarantor,
                                              amount=money_in(amount)))
    if form.errors:
        return None
    return ParsedTerms(RequestTermsIn(loan=loan, prepayments=prepayments or None,
                                      guarantees=guarantees or None), fields)


def fresh_values(req: RequestOut, lender_id: str | None) -> dict[str, str]:
    """The form before any terms: the request's duration, the usual choices."""
    return {"durata": str(req.term_months), "periodicita": "monthly", "metodo": "french",
            "preammortamento": "0", "categoria": DEFAULT_CATEGORY,
            "finanziatore": lender_id or "", "fondo": ""}


def terms_values(terms: TermsOut | None, req: RequestOut, lender_id: str | None
                 ) -> dict[str, str]:
    """The form filled from the terms in force (or fresh without terms)."""
    values = fresh_values(req, lender_id)
    if terms is None:
        return values
    if terms.loan is not None:
        loan = terms.loan
        values.update({
            "importo": typed(loan.principal.amount), "tasso": typed(loan.annual_rate),
            "durata": str(loan.term_months), "periodicita": loan.frequency,
            "metodo": loan.method, "preammortamento": str(loan.grace_periods),
            "spese": typed(loan.fees.amount) if loan.fees is not None
            and Decimal(loan.fees.amount) else "",
            "finanziatore": loan.lender_id, "fondo": loan.pool_id or "",
            "categoria": loan.category})
    for i, p in enumerate(terms.prepayments):
        values.update({pp(i, "gas"): p.gas_id, pp(i, "importo"): typed(p.amount.amount),
                       pp(i, "prodotto"): p.product, pp(i, "unita"): p.unit,
                       pp(i, "prezzo"): typed(p.unit_price.amount),
                       pp(i, "scadenza"): p.expires_on, pp(i, "alla_scadenza"): p.on_expiry})
    for i, q in enumerate(terms.guarantees):
        values.update({g(i, "garante"): q.guarantor_id, g(i, "importo"): typed(q.amount.amount)})
    return values


@dataclass(frozen=True)
class Goods:
    """What a suggested prepayment buys: the goods of the producer's latest prepayment,
    or (``credit``) a credit of its products counted in euro."""

    product: str
    unit: str
    unit_price: str
    credit: bool


@dataclass(frozen=True)
class SuggestionContext:
    """What the suggestions need besides the opportunities."""

    pool_lender: dict[str, str]  # pool id -> its lender
    goods: Goods
    rate: str | None  # the lender's latest rate in the category, a percentage
    coverage: Decimal  # guarantees / principal the suggestions aim at
    today: date


def _typed_in(values: Mapping[str, object], name: str) -> bool:
    return isinstance(v := values.get(name), str) and bool(v.strip())


def suggested_values(current: Mapping[str, object], req: RequestOut,
                     opportunities: list[OpportunityOut], ctx: SuggestionContext
                     ) -> tuple[dict[str, str], list[str]]:
    """The form filled from the opportunities, best first, and what the officer should
    still look at (Italian sentences). What the loan's choices already say (rate,
    frequency, method, category) stays.

    * a loan request: the best pool's loan, up to the amount asked;
    * a prepayment request: the GAS's prepayments, best first, until they cover it;
    * a mixed request: the prepayments of the GAS the producer named, then the best
      pool's loan for the rest, then the other GAS's prepayments;
    * what a loan should still cover when no pool offers one (a producer in arrears,
      say) is a loan from the lender's general pool, with a note to check it;
    * guarantees back the loan, best first, up to ``coverage`` of its principal."""
    notes: list[str] = []
    values = {k: v for k, v in current.items() if isinstance(v, str)
              and not re.match(r"^(pp|g)\d+-", k)}
    for name in ("importo", "fondo"):
        values.pop(name, None)
    left = Decimal(req.amount.amount)
    prepayments = [o for o in opportunities if o.kind == "prepayment"]
    loans = [o for o in opportunities if o.kind == "loan"]
    count = 0

    def prepay(offers: list[OpportunityOut]) -> None:
        nonlocal left, count
        for o in offers:
            amount = min(Decimal(o.suggested_amount.amount), left)
            if amount <= 0:
                continue
            left -= amount
            i = count
            count += 1
            values.update({pp(i, "gas"): o.source_id, pp(i, "importo"): typed(amount),
                           pp(i, "scadenza"): add_months(
                               ctx.today, min(req.term_months, PREPAYMENT_MONTHS)).isoformat(),
                           pp(i, "alla_scadenza"): "refund"})
            values.update({pp(i, "prodotto"): ctx.goods.product,
                           pp(i, "unita"): ctx.goods.unit,
                           pp(i, "prezzo"): typed(ctx.goods.unit_price)})

    if req.instrument == "prepayment":
        prepay(prepayments)
    elif req.instrument == "mixed":
        prepay([o for o in prepayments if o.source_id in req.gas_ids])
    principal = Decimal(0)
    lends = req.instrument in ("loan", "mixed")
    if lends and left > 0 and loans:
        pool_id = loans[0].source_id  # a pool (its match top-up names the same pool)
        offered = sum((Decimal(o.suggested_amount.amount) for o in loans
                       if o.source_id == pool_id), Decimal(0))
        principal = min(offered, left)
        left -= principal
        values.update({"fondo": pool_id, "finanziatore": ctx.pool_lender.get(pool_id, "")})
    if req.instrument == "mixed" and left > 0:
        prepay([o for o in prepayments if o.source_id not in req.gas_ids])
    if lends and left > 0 and principal == 0 and _typed_in(values, "finanziatore"):
        # No pool offers to lend (the producer's arrears, say): the rest still needs a
        # loan, from the lender's general pool; the officer decides.
        principal, left = left, Decimal(0)
        notes.append("Nessun fondo propone un prestito per questa richiesta (vedi le "
                     "opportunità): l'importo è quanto resta da coprire, dal fondo generale "
                     "del finanziatore. Verificalo prima di salvare.")
    if principal > 0:
        values["importo"] = typed(principal)
        if not _typed_in(values, "durata"):
            values["durata"] = str(req.term_months)
        if not _typed_in(values, "tasso"):
            if ctx.rate is not None:
                values["tasso"] = typed(ctx.rate)
            else:
                notes.append("Indica il tasso annuo del prestito.")
    if count and ctx.goods.credit:
        notes.append("I prefinanziamenti sono proposti come credito in merce (1,00 € per "
                     "euro di merce): se il produttore ha un listino, indica prodotto, unità "
                     "e prezzo unitario.")
    need = (principal * ctx.coverage).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    j = 0
    for o in opportunities:
        if o.kind != "guarantee" or need <= 0 or o.source_id == req.producer_id:
            continue
        amount = min(Decimal(o.suggested_amount.amount), need)
        need -= amount
        values.update({g(j, "garante"): o.source_id, g(j, "importo"): typed(amount)})
        j += 1
    if principal == 0 and count == 0:
        notes.append("Non ci sono suggerimenti da usare per questa richiesta: compila le "
                     "condizioni a mano.")
    elif left > 0:
        notes.append("Le fonti suggerite non coprono tutto l'importo richiesto.")
    if any(o.kind == "solidarity" for o in opportunities):
        notes.append("I fondi di solidarietà suggeriti non entrano nelle condizioni: "
                     "il GAS li usa con un'uscita dal suo fondo.")
    return values, notes
