"""Declared inputs (service.app.inputs): every field read, every bad one named at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import msgspec
import pytest

from service.app.clock import today
from service.app.common import MoneyIn
from service.app.errors import Errors, Invalid
from service.app.inputs import (
    Input,
    an_id,
    client_id,
    count,
    custom,
    day,
    decimal,
    each,
    flag,
    ids,
    minor_units,
    one_of,
    optional_day,
    optional_id,
    optional_minor_units,
    optional_one_of,
    optional_whole,
    reason,
    text,
    whole,
)


class Basis(msgspec.Struct):
    quantity: str


class LineIn(msgspec.Struct):
    amount: MoneyIn
    producer_id: str


class BodyIn(msgspec.Struct):
    amount: MoneyIn
    date: str
    gas_id: str
    basis: Basis
    lines: list[LineIn]
    id: str | None = None
    earmark: str | None = None
    fee: MoneyIn | None = None
    until: str | None = None
    mode: str = "term"
    style: str | None = None
    periods: int = 0
    extra: int | None = None
    note: str = "why"
    members: list[str] = []


@dataclass(frozen=True, kw_only=True)
class Line(Input):
    amount: int = minor_units()
    producer_id: str = an_id()


def _even(value: int | None, field: str, errors: Errors) -> int | None:
    if value is not None and value % 2:
        errors.add(field, "must be even")
        return None
    return value


@dataclass(frozen=True, kw_only=True)
class Body(Input):
    id: str = client_id()
    amount: int = minor_units()
    on: date = day("date", past=True)
    gas_id: str = an_id()
    earmark: str | None = optional_id()
    fee: int | None = optional_minor_units(allow_zero=True)
    until: date | None = optional_day()
    quantity: Decimal = decimal("basis.quantity", max_decimals=3)
    mode: str = one_of("term", "shorten_term")
    style: str | None = optional_one_of("french", "italian", "bullet")
    periods: int = whole(at_least=0, message="must not be negative")
    extra: int | None = optional_whole(at_least=1, message="must be positive")
    note: str = reason("say why")
    members: list[str] = ids()
    lines: list[Line] = each(Line)
    even: int | None = custom(_even, source="extra")

    def check(self, errors: Errors) -> None:
        if self.read_fine("on", "until") and self.until is not None and self.until < self.on:
            errors.add("until", "not before date")


GAS = "6b1f0b5e-3a1c-4c1e-9f55-0d0f4a8c1a11"
PRODUCER = "9d2c7e4a-8b6f-4f3e-a1d2-5c4b3a291807"


def body(**changes: object) -> BodyIn:
    values: dict[str, object] = {
        "amount": MoneyIn("12.50", "EUR"), "date": today().isoformat(), "gas_id": GAS,
        "basis": Basis("1.250"), "lines": [LineIn(MoneyIn("1.00", "EUR"), PRODUCER)]}
    values.update(changes)
    return BodyIn(**values)  # type: ignore[arg-type]


def refused(data: BodyIn) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        Body.read(data)
    return {e["field"]: e["message"] for e in caught.value.errors}


def test_a_good_body_reads_into_typed_values() -> None:
    client = str(uuid.uuid4())
    values = Body.read(body(id=client.upper(), fee=MoneyIn("0", "EUR"), extra=4,
                            until=(today() + timedelta(days=3)).isoformat(),
                            members=[GAS.upper()], style="italian"))
    assert values.id == client  # canonical (lower-case) form
    assert values.amount == 1250
    assert values.on == today()
    assert values.gas_id == GAS
    assert values.earmark is None
    assert values.fee == 0
    assert values.until == today() + timedelta(days=3)
    assert values.quantity == Decimal("1.250")
    assert (values.mode, values.style, values.periods, values.extra) == (
        "term", "italian", 0, 4)
    assert values.members == [GAS]
    assert values.lines == [Line(amount=100, producer_id=PRODUCER)]
    assert values.even == 4


def test_a_missing_client_id_is_a_new_uuid_each_time() -> None:
    first, second = Body.read(body()).id, Body.read(body()).id
    assert first != second
    assert str(uuid.UUID(first)) == first


def test_every_bad_field_is_named_at_once_under_its_source() -> None:
    errors = refused(body(
        id="nope", amount=MoneyIn("1.234", "EUR"),
        date=(today() + timedelta(days=1)).isoformat(), gas_id="x", earmark="y",
        fee=MoneyIn("-1", "EUR"), until="2026-02-30", basis=Basis("1.2345"),
        mode="sometimes", style="swiss", periods=-1, extra=0, note="  ",
        members=[GAS, "bad"], lines=[LineIn(MoneyIn("1", "USD"), "z")]))
    assert set(errors) == {
        "id", "amount.amount", "date", "gas_id", "earmark", "fee.amount", "until",
        "basis.quantity", "mode", "style", "periods", "extra", "note", "members.1",
        "lines.0.amount.currency", "lines.0.producer_id"}
    assert errors["mode"] == "either 'term' or 'shorten_term'"
    assert errors["style"] == "one of french, italian, bullet"
    assert errors["note"] == "say why"
    assert "after today" in errors["date"]


def test_check_runs_beside_field_errors_and_skips_fields_that_failed() -> None:
    # A rule between fields is named together with a bad field elsewhere ...
    errors = refused(body(gas_id="x", until=(today() - timedelta(days=1)).isoformat()))
    assert set(errors) == {"gas_id", "until"}
    assert errors["until"] == "not before date"
    # ... but says nothing about a field that could not be read.
    errors = refused(body(date="soon", until=today().isoformat()))
    assert set(errors) == {"date"}


def test_a_custom_reader_refuses_with_its_own_words() -> None:
    # Named by its source, as every reader's refusal is.
    assert refused(body(extra=3)) == {"extra": "must be even"}


def test_read_from_a_mapping_such_as_a_query_string() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Query(Input):
        as_of: date | None = optional_day()
        overdue: bool | None = flag()
        min_days: int | None = count("min_days_past_due")

    q = Query.read({"as_of": "2026-01-31", "overdue": "true", "min_days_past_due": "30"})
    assert (q.as_of, q.overdue, q.min_days) == (date(2026, 1, 31), True, 30)
    assert Query.read({}) == Query(as_of=None, overdue=None, min_days=None)
    with pytest.raises(Invalid) as caught:
        Query.read({"overdue": "yes", "min_days_past_due": "-1"})
    assert {e["field"] for e in caught.value.errors} == {"overdue", "min_days_past_due"}


def test_a_text_is_not_blank_at_most_so_long_as_sent_and_read_without_spaces() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Named(Input):
        name: str = text(at_most=5, message="1 to 5 characters")
        label: str = text("title", at_most=3, message="1 to 3 characters")

    assert Named.read({"name": " abc ", "title": "xyz"}) == Named(name="abc", label="xyz")
    for name, title in ((" \n ", "ok"), ("abcdef", "ok"), ("ok", " ab ")):
        with pytest.raises(Invalid) as caught:
            Named.read({"name": name, "title": title})
        assert [(e["field"], e["message"]) for e in caught.value.errors] == [
            ("name", "1 to 5 characters") if name != "ok" else ("title", "1 to 3 characters")]
