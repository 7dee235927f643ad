"""Input read declaratively: a use case names the typed values it needs and where each
comes from, and one function reads them all.

The JSON comes in as msgspec Structs of strings (``RepaymentIn``: ``amount`` is
``{"amount": "12.50", "currency": "EUR"}``, ``date`` is ``"2026-03-01"``). A use case
declares what it reads from it as a frozen dataclass of readers::

    @dataclass(frozen=True, kw_only=True)
    class Repayment(Input):
        id: str = client_id()
        amount: int = minor_units()
        on: date = day("date", past=True)
        early_repayment: str = one_of("term", "shorten_term")

    values = Repayment.read(data)      # 422 naming every bad field at once, or typed values

Each reader states the type it gives (``minor_units()`` gives ``int`` minor units), so mypy
checks the declaration; a field reads the body's attribute of the same name unless a
dotted ``source`` says otherwise, and its errors name that source (``amount.amount``,
``basis.quantity``, ``items.2.amount`` under a prefix). Rules between fields go in
``check``, which runs after every field was read, bad ones included, so the 422 still
names everything at once: ``read_fine`` says which fields ``check`` may rely on.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Self, TypeVar, cast

from ledger.money import MAX_MINOR
from service.app.common import (
    MoneyIn,
    check_uuid,
    money_minor,
    parse_bool,
    parse_count,
    parse_date,
    parse_decimal_string,
)
from service.app.errors import Errors

T = TypeVar("T")
In = TypeVar("In", bound="Input")

# How a reader turns the raw value at its source into a typed one: ``(value, field,
# errors) -> value``; a refusal is added to ``errors`` under ``field`` and None returned.
ReadFn = Callable[[object, str, Errors], object]


@dataclasses.dataclass(frozen=True)
class Reader:
    """One field's source (dotted; None: the field's own name; "": the whole input) and
    how it is read."""

    read: ReadFn
    source: str | None = None


def reader(read: ReadFn, source: str | None = None) -> Any:
    # ``Any`` on purpose, at this one place: a reader sits where the dataclass field's
    # default goes, and each public reader below states the type it gives instead (as
    # ``dataclasses.field`` does).
    return Reader(read, source)


def _pick(data: object, path: str) -> object:
    """The value at a dotted path of a struct or mapping; None when a step is missing;
    the input itself for the empty path."""
    if not path:
        return data
    value = data
    for step in path.split("."):
        if value is None:
            return None
        if isinstance(value, Mapping):
            value = value.get(step)
        elif isinstance(value, Sequence) and not isinstance(value, str) and step.isdigit():
            index = int(step)
            value = value[index] if index < len(value) else None
        else:
            value = getattr(value, step, None)
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Input:
    """Base of declared inputs: subclass as a frozen, keyword-only dataclass."""

    # Fields whose reading failed: ``check`` sees None there whatever the declared type.
    _failed: frozenset[str] = dataclasses.field(default=frozenset(), repr=False,
                                                compare=False)
    _readers: ClassVar[dict[str, Reader]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._readers = {}  # filled when first read: the dataclass decorator runs after

    @classmethod
    def readers(cls) -> dict[str, Reader]:
        if not cls._readers:
            cls._readers = {f.name: f.default for f in dataclasses.fields(cls)
                            if isinstance(f.default, Reader)}
        return cls._readers

    @classmethod
    def read(cls, data: object) -> Self:
        """Every field read from ``data``; 422 naming each bad field (and the body's type
        errors) at once."""
        errors = Errors()
        values = cls.read_into(data, errors)
        errors.raise_if_any()
        return values

    @classmethod
    def read_into(cls, data: object, errors: Errors, prefix: str = "") -> Self:
        """The fields read from ``data``, refusals added to ``errors`` (named under
        ``prefix``, e.g. ``items.2.``) for the caller to raise with its own."""
        values: dict[str, object] = {}
        failed: set[str] = set()
        for name, field in cls.readers().items():
            source = name if field.source is None else field.source
            before = len(errors.items)
            values[name] = field.read(_pick(data, source), prefix + source, errors)
            if len(errors.items) > before:
                failed.add(name)
        made = cls(_failed=frozenset(failed), **values)
        made.check(errors)
        return made

    def check(self, errors: Errors) -> None:
        """Rules between fields, added to ``errors``; none by default."""

    def read_fine(self, *names: str) -> bool:
        """Whether the named fields were read without a refusal (``check`` may compare
        them)."""
        return not self._failed.intersection(names)


# -- readers ------------------------------------------------------------------------------


def client_id(source: str = "id") -> str:
    """The client's id for the operation (a UUID, canonical), or a new one when absent."""
    def read(value: object, field: str, errors: Errors) -> str:
        return check_uuid(cast(str | None, value), field, errors) or str(uuid.uuid4())
    return cast(str, reader(read, source))


def an_id(source: str | None = None) -> str:
    """A required id (canonical UUID); its presence is the body type's business."""
    def read(value: object, field: str, errors: Errors) -> str | None:
        return check_uuid(cast(str | None, value), field, errors)
    return cast(str, reader(read, source))


def optional_id(source: str | None = None) -> str | None:
    def read(value: object, field: str, errors: Errors) -> str | None:
        return check_uuid(cast(str | None, value), field, errors)
    return cast(str | None, reader(read, source))


def ids(source: str | None = None) -> list[str]:
    """A list of ids, each named by its index (``gas_ids.2``)."""
    def read(value: object, field: str, errors: Errors) -> list[str]:
        items = cast(Sequence[str] | None, value) or []
        return [check_uuid(item, f"{field}.{i}", errors) or "" for i, item in
                enumerate(items)]
    return cast(list[str], reader(read, source))


def minor_units(source: str | None = None, *, eur_only: bool = True, allow_zero: bool = False,
          allow_negative: bool = False, limit: int = MAX_MINOR) -> int:
    """Minor units of a Money input (in EUR unless ``eur_only=False``)."""
    def read(value: object, field: str, errors: Errors) -> int:
        return money_minor(cast(MoneyIn | None, value), field, errors, eur_only=eur_only,
                           allow_zero=allow_zero, allow_negative=allow_negative,
                           limit=limit)
    return cast(int, reader(read, source))


def optional_minor_units(source: str | None = None, *, allow_zero: bool = False) -> int | None:
    """Minor units of a Money input that may be left out (None then)."""
    def read(value: object, field: str, errors: Errors) -> int | None:
        if value is None:
            return None
        return money_minor(cast(MoneyIn, value), field, errors, allow_zero=allow_zero)
    return cast(int | None, reader(read, source))


def day(source: str | None = None, *, past: bool = False) -> date:
    """A date ``YYYY-MM-DD``; ``past``: money that has moved, so not after today."""
    def read(value: object, field: str, errors: Errors) -> date | None:
        return parse_date(cast(str | None, value), field, errors, past=past)
    return cast(date, reader(read, source))


def optional_day(source: str | None = None, *, past: bool = False) -> date | None:
    def read(value: object, field: str, errors: Errors) -> date | None:
        return parse_date(cast(str | None, value), field, errors, required=False,
                          past=past)
    return cast(date | None, reader(read, source))


def decimal(source: str | None = None, *, max_decimals: int,
            allow_zero: bool = False) -> Decimal:
    """A positive decimal string (a rate, a quantity) with at most ``max_decimals``."""
    def read(value: object, field: str, errors: Errors) -> Decimal:
        return parse_decimal_string(cast(str, value), field, errors,
                                    max_decimals=max_decimals, allow_zero=allow_zero)
    return cast(Decimal, reader(read, source))


def optional_decimal(source: str | None = None, *, max_decimals: int,
                     allow_zero: bool = False) -> Decimal | None:
    def read(value: object, field: str, errors: Errors) -> Decimal | None:
        if value is None:
            return None
        return parse_decimal_string(cast(str, value), field, errors,
                                    max_decimals=max_decimals, allow_zero=allow_zero)
    return cast(Decimal | None, reader(read, source))


def one_of(*choices: str, source: str | None = None) -> str:
    """One of ``choices`` (the body type gives the default when it is left out)."""
    def read(value: object, field: str, errors: Errors) -> str | None:
        if value not in choices:
            errors.add(field, _choices(choices))
            return None
        return str(value)
    return cast(str, reader(read, source))


def optional_one_of(*choices: str, source: str | None = None) -> str | None:
    def read(value: object, field: str, errors: Errors) -> str | None:
        if value is not None and value not in choices:
            errors.add(field, _choices(choices))
            return None
        return None if value is None else str(value)
    return cast(str | None, reader(read, source))


def _choices(choices: Sequence[str]) -> str:
    if len(choices) == 2:
        return f"either '{choices[0]}' or '{choices[1]}'"
    return f"one of {', '.join(choices)}"


def reason(why: str, source: str | None = None) -> str:
    """Free text that must say something (``why`` is the message when it is blank)."""
    def read(value: object, field: str, errors: Errors) -> str | None:
        text = cast(str | None, value)
        if text is None or not text.strip():
            errors.add(field, why)
            return None
        return text
    return cast(str, reader(read, source))


def text(source: str | None = None, *, at_most: int, message: str) -> str:
    """A name or label: not blank, at most ``at_most`` characters as sent (``message``
    otherwise); given without its surrounding spaces."""
    def read(value: object, field: str, errors: Errors) -> str | None:
        sent = cast(str, value)
        if not sent.strip() or len(sent) > at_most:
            errors.add(field, message)
            return None
        return sent.strip()
    return cast(str, reader(read, source))


def whole(source: str | None = None, *, at_least: int, message: str) -> int:
    """A whole number of at least ``at_least`` (the body type checked it is an int)."""
    def read(value: object, field: str, errors: Errors) -> int | None:
        number = cast(int, value)
        if number < at_least:
            errors.add(field, message)
            return None
        return number
    return cast(int, reader(read, source))


def optional_whole(source: str | None = None, *, at_least: int, message: str) -> int | None:
    def read(value: object, field: str, errors: Errors) -> int | None:
        number = cast(int | None, value)
        if number is not None and number < at_least:
            errors.add(field, message)
            return None
        return number
    return cast(int | None, reader(read, source))


def flag(source: str | None = None) -> bool | None:
    """A query flag: ``true`` or ``false`` exactly, None when not given."""
    def read(value: object, field: str, errors: Errors) -> bool | None:
        return parse_bool(cast(str | None, value), field, errors)
    return cast(bool | None, reader(read, source))


def count(source: str | None = None) -> int | None:
    """A non-negative whole number given in a query (digits only), None when not given."""
    def read(value: object, field: str, errors: Errors) -> int | None:
        return parse_count(cast(str | None, value), field, errors)
    return cast(int | None, reader(read, source))


def each(item: type[In], source: str | None = None) -> list[In]:
    """A list of nested inputs, each read as ``item`` under ``field.<index>.``."""
    def read(value: object, field: str, errors: Errors) -> list[In]:
        items = cast(Sequence[object] | None, value) or []
        return [item.read_into(one, errors, f"{field}.{i}.") for i, one in enumerate(items)]
    return cast(list[In], reader(read, source))


def custom(read: Callable[[Any, str, Errors], T | None], source: str | None = None) -> T:
    """A field read by ``read(value, field, errors)``, for a rule only one input has."""
    return cast(T, reader(read, source))
