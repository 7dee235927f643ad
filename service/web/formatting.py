"""Italian formatting of what pages show, and Italian parsing of what people type.

Amounts, dates and percentages go through Babel (``it_IT``). Parsing never goes through
a float: a typed amount becomes a ``Decimal`` from its digits.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from babel.numbers import format_currency, format_decimal

LOCALE = "it_IT"
ROME = ZoneInfo("Europe/Rome")


def euro(value: object) -> str:
    """``1.234,56 €`` from a Decimal, a decimal string or an API ``Money``."""
    if value is None or value == "":
        return "—"
    amount = getattr(value, "amount", value)
    if isinstance(value, dict):
        amount = value.get("amount")
    return format_currency(Decimal(str(amount)), "EUR", locale=LOCALE)


def number(value: object, decimals: int | None = None) -> str:
    if value is None or value == "":
        return "—"
    d = Decimal(str(value))
    if decimals is None:
        return format_decimal(d, locale=LOCALE, decimal_quantization=False)
    fmt = "#,##0." + "0" * decimals if decimals else "#,##0"
    return format_decimal(d, format=fmt, locale=LOCALE)


def percent(value: object, decimals: int = 2) -> str:
    """``12,50%`` from a percentage (``12.5``), not from a fraction."""
    if value is None or value == "":
        return "—"
    return number(value, decimals) + "%"


def ratio_percent(value: object, decimals: int = 2) -> str:
    """``12,50%`` from a fraction (``0.125``)."""
    if value is None or value == "":
        return "—"
    return percent(Decimal(str(value)) * 100, decimals)


def day(value: date | str | None) -> str:
    """``26/11/2026`` from a date or an ISO date (or timestamp) string."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = (value.astimezone(ROME) if value.tzinfo else value).date()
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def moment(value: datetime | str | None) -> str:
    """``26/11/2026 14:05`` in Rome time from a timestamp."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    local = value.astimezone(ROME) if value.tzinfo else value
    return f"{day(local.date())} {local.hour:02d}:{local.minute:02d}"


class InputError(ValueError):
    """What was typed is not a number; the message is Italian, said beside the field."""


_GROUPED = re.compile(r"^\d{1,3}(\.\d{3})+$")


def parse_decimal(text: str, *, max_decimals: int = 2) -> Decimal:
    """A number typed the Italian way (``1234,56``, ``1.234,56``) or with a point
    (``1234.56``). With a comma, points separate thousands in groups of three; without
    one, a lone point before exactly three digits (``1.250``) is ambiguous."""
    raw = text.strip().replace("\u00a0", "").replace(" ", "").replace("€", "")
    if not raw:
        raise InputError("Indica un valore.")
    if raw.count(",") > 1:
        raise InputError("Scrivi un numero, per esempio 1.234,56.")
    if "," in raw:
        whole, _, fraction = raw.partition(",")
        if "." in whole:
            if not _GROUPED.match(whole.lstrip("-")):
                raise InputError("Separa le migliaia con il punto a gruppi di tre cifre, "
                                 "per esempio 1.234,56.")
            whole = whole.replace(".", "")
        raw = f"{whole}.{fraction}"
    elif raw.count(".") > 1:
        if not _GROUPED.match(raw.lstrip("-")):
            raise InputError("Scrivi un numero, per esempio 1.234,56.")
        raw = raw.replace(".", "")
    elif "." in raw and len(raw.partition(".")[2]) == 3:
        raise InputError("Il punto è ambiguo: usa la virgola per i decimali "
                         "(per esempio 1250,00 oppure 1,25).")
    if not re.fullmatch(r"-?\d+(\.\d*)?|-?\.\d+", raw):
        raise InputError("Scrivi un numero, per esempio 1.234,56.")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the pattern above rules it out
        raise InputError("Scrivi un numero, per esempio 1.234,56.") from exc
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > max_decimals:
        raise InputError(f"Al massimo {max_decimals} decimali.")
    return value


def parse_amount(text: str) -> Decimal:
    """A positive money amount in euro, to the cent."""
    value = parse_decimal(text, max_decimals=2)
    if value <= 0:
        raise InputError("L'importo deve essere maggiore di zero.")
    return value.quantize(Decimal("0.01"))


def plain(value: Decimal) -> str:
    """The API's decimal string of a parsed number (``1234.50``)."""
    return format(value, "f")


FILTERS = {"euro": euro, "number": number, "percent": percent,
           "ratio_percent": ratio_percent, "day": day, "moment": moment}
