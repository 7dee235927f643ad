"""Shared pieces of the HTTP layer: money and id input, pagination, JSON output."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeVar

import msgspec
from sqlalchemy import Connection, Table

from ledger.money import (
    AMOUNT_PATTERN,
    MAX_MINOR,
    MoneyError,
    currency_exponent,
    format_amount,
    parse_minor,
)
from ledger.store import cursor_int
from service.app.clock import today
from service.app.errors import BODY_TYPE_ERRORS, Errors, NotFound, invalid
from service.db.records import AnyColumn, Query, Record

Q = TypeVar("Q", bound=Query)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# Dates a loan, a report or a plan can be about: a loan of the longest term (100 years)
# from the last day still ends inside Python's calendar, and day arithmetic before the
# first never leaves it.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2199, 12, 31)
INSTRUMENT_CURRENCY = "EUR"


class MoneyIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: str
    currency: str


def now_utc() -> datetime:
    return datetime.now(UTC)


def rfc3339(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money_out(minor: int, currency: str = INSTRUMENT_CURRENCY) -> dict[str, str]:
    return {"amount": format_amount(int(minor), currency), "currency": currency}


def money_minor(
    value: MoneyIn | None,
    field: str,
    errors: Errors,
    *,
    eur_only: bool = True,
    allow_zero: bool = False,
    allow_negative: bool = False,
    limit: int = MAX_MINOR,
) -> int:
    """Minor units of a Money input, or 0 with the reason recorded in ``errors``; at
    most ``limit`` of them (what a BIGINT keeps, unless the caller takes more)."""
    if value is None:
        errors.add(field, "required")
        return 0
    if eur_only and value.currency != INSTRUMENT_CURRENCY:
        try:
            currency_exponent(value.currency)
            errors.add(f"{field}.currency", "instruments are in EUR")
        except MoneyError as exc:
            errors.add(f"{field}.currency", str(exc))
        return 0
    try:
        return parse_minor(value.amount, value.currency, allow_zero=allow_zero,
                           allow_negative=allow_negative, limit=limit)
    except MoneyError as exc:
        field_name = f"{field}.currency" if "currency" in str(exc) else f"{field}.amount"
        errors.add(field_name, str(exc))
        return 0


def parse_decimal_string(text: str, field: str, errors: Errors, *, max_decimals: int,
                         allow_zero: bool = False) -> Decimal:

    if not AMOUNT_PATTERN.fullmatch(text) or text.startswith("-"):
        errors.add(field, f"{text!r} is not a positive decimal string such as \"12.5\"")
        return Decimal(0)
    if len(text.partition(".")[2]) > max_decimals:
        errors.add(field, f"at most {max_decimals} decimals")
        return Decimal(0)
    value = Decimal(text)
    if value == 0 and not allow_zero:
        errors.add(field, "must be positive")
    return value


def check_uuid(value: str | None, field: str, errors: Errors) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        errors.add(field, f"{value!r} is not a UUID")
        return None


def path_uuid(value: str, what: str) -> str:
    """A malformed id in a path cannot name anything the user may see: 404."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        if BODY_TYPE_ERRORS.get():
            # The body's bad fields come first (422 before 404) and nothing is looked up
            # meanwhile: the use case judges its other fields with a stand-in id.
            return str(uuid.UUID(int=0))
        raise NotFound(what) from None


def parse_date(value: str | None, field: str, errors: Errors, *, required: bool = True,
               past: bool = False) -> date | None:
    """``past``: the day money has already moved, so not after today."""
    if value is None:
        if required:
            errors.add(field, "required")
        return None
    try:
        if len(value) != 10:
            raise ValueError
        parsed = date.fromisoformat(value)
    except ValueError:
        errors.add(field, f"{value!r} is not a date YYYY-MM-DD")
        return None
    if not MIN_DATE <= parsed <= MAX_DATE:
        errors.add(field, f"a date from {MIN_DATE} to {MAX_DATE}")
        return None
    if past and parsed > today():
        errors.add(field, f"after today ({today().isoformat()}): money that has moved "
                   "is recorded on the day it moved")
        return None
    return parsed


def query_date(value: str | None, field: str) -> date | None:
    errors = Errors()
    result = parse_date(value, field, errors, required=False)
    errors.raise_if_any()
    return result


def check_filters(ids: Mapping[str, str | None],
                  choices: Mapping[str, tuple[str | None, Sequence[str]]] | None = None
                  ) -> list[str | None]:
    """The id filters in stored (canonical UUID) form, in the order given; 422 for list
    filters no item could match: ids that are not UUIDs, values outside a field's choices
    (``choices``: field -> (value, allowed values))."""
    errors = Errors()
    canonical = [check_uuid(value, field, errors) for field, value in ids.items()]
    for field, (value, allowed) in (choices or {}).items():
        if value is not None and value not in allowed:
            errors.add(field, f"one of {', '.join(allowed)}")
    errors.raise_if_any()
    return canonical


def where_equal(query: Q, table: Table, **filters: object) -> Q:
    """``query`` kept to the rows of ``table`` whose columns equal the filters given (a
    filter that is None was not asked for): a list's query-string filters in one line."""
    for column, value in filters.items():
        if value is not None:
            query = query.where(table.c[column] == value)
    return query


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("s:"):
            raise ValueError
        return cursor_int(raw[2:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor", "not a cursor this API returned") from None


def paginate(conn: Connection, query: Query, seq: AnyColumn, limit: int | None,
             cursor: str | None) -> tuple[list[Record], str | None]:
    """Oldest first by the table's ordering key; the cursor is opaque to clients."""
    size = check_limit(limit)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(seq > after)
    rows = list(conn.execute(query.order_by(seq).limit(size + 1)))
    next_cursor = encode_cursor(rows[size - 1].seq) if len(rows) > size else None
    return rows[:size], next_cursor


def page(items: list[object], next_cursor: str | None) -> dict[str, object]:
    return {"items": items, "next_cursor": next_cursor}


def parse_bool(value: str | None, field: str, errors: Errors) -> bool | None:
    """A query flag: ``true`` or ``false`` exactly (anything else names ``field``)."""
    if value is None:
        return None
    if value not in ("true", "false"):
        errors.add(field, "either 'true' or 'false'")
        return None
    return value == "true"


def parse_count(value: str | None, field: str, errors: Errors) -> int | None:
    """A non-negative whole number given in a query (digits only)."""
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        errors.add(field, "a whole number, 0 or more")
        return None
    return int(value)
