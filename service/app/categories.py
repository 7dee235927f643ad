"""Loan categories: each lender's limits on the loans it makes (principal, term,
installment frequencies, usury ceiling, late interest, guarantee coverage, share multiple)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import cast

import msgspec
from sqlalchemy import Connection

from ledger.schedules import FREQUENCIES, Frequency
from service.app import lending
from service.app.auth import Principal
from service.app.common import MoneyIn, path_uuid
from service.app.context import AppContext
from service.app.errors import Errors, NotFound
from service.app.inputs import Input, custom, minor_units, optional_decimal
from service.app.lender_scope import hide_other_lender
from service.app.lending import Category
from service.app.terms import parse_rate
from service.app.types import DecimalText, Uuid
from service.app.views import Money, money


class CategoryIn(msgspec.Struct, forbid_unknown_fields=True):
    max_principal: MoneyIn
    max_term_months: int
    frequencies: list[str]
    usury_threshold: str | None = None
    late_interest_rate: str = "0"
    min_coverage: str | None = None
    share_multiple: str | None = None


# -- what set_category reads from that body ---------------------------------------------


def _term_months(value: int, field: str, errors: Errors) -> int | None:
    if not 1 <= value <= 1200:
        errors.add(field, "between 1 and 1200")
        return None
    return value


def _frequencies(value: list[str], field: str, errors: Errors) -> tuple[str, ...] | None:
    if not value or any(f not in FREQUENCIES for f in value):
        errors.add(field, f"a non-empty list of {', '.join(FREQUENCIES)}")
        return None
    return tuple(value)


def _rate(value: str | None, field: str, errors: Errors) -> Decimal | None:
    return None if value is None else parse_rate(value, field, errors)


RATIO = "a ratio such as \"1.50\" (150% of the principal), at most 100"


@dataclass(frozen=True, kw_only=True)
class Limits(Input):
    max_principal: int = minor_units()
    max_term_months: int = custom(_term_months)
    frequencies: tuple[str, ...] = custom(_frequencies)
    usury_threshold: Decimal | None = custom(_rate)
    late_interest_rate: Decimal = custom(_rate)
    # Multiples, not percentages: 1.50 is 150% of the principal.
    min_coverage: Decimal | None = optional_decimal(max_decimals=4, allow_zero=True)
    share_multiple: Decimal | None = optional_decimal(max_decimals=4, allow_zero=True)

    def check(self, errors: Errors) -> None:
        for name in ("min_coverage", "share_multiple"):
            ratio = getattr(self, name)
            if self.read_fine(name) and ratio is not None and ratio > 100:
                errors.add(name, RATIO)


class CategoryOut(msgspec.Struct):
    lender_id: Uuid
    lender_name: str
    name: str
    max_principal: Money
    max_term_months: int
    frequencies: list[Frequency]
    usury_threshold: DecimalText | None  # a TAEG ceiling, percent
    late_interest_rate: DecimalText  # percent a year on overdue principal
    min_coverage: DecimalText | None  # guarantees / principal, "1.50" for 150%
    share_multiple: DecimalText | None  # loan <= multiple x shares of the buying GAS


def category_out(lender_id: str, lender_name: str, c: Category) -> CategoryOut:

    def opt(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    def rate(value: Decimal) -> str:
        """A percentage as API.md writes rates ("3.50"): at least two decimals."""
        exponent = value.as_tuple().exponent
        return str(value.quantize(Decimal("0.01")) if isinstance(exponent, int)
                   and exponent > -2 else value)

    return CategoryOut(
        lender_id=lender_id, lender_name=lender_name, name=c.name,
        max_principal=money(c.max_principal),
        max_term_months=c.max_term_months,
        # Checked against FREQUENCIES when the category was saved.
        frequencies=cast(list[Frequency], list(c.frequencies)),
        usury_threshold=None if c.usury_threshold is None else rate(c.usury_threshold),
        late_interest_rate=rate(c.late_interest_rate),
        min_coverage=opt(c.min_coverage), share_multiple=opt(c.share_multiple))


def lender_in_path(conn: Connection, principal: Principal, lender_id: str) -> str:
    """A lender named in the path (its name): 404 unless it is one, or when it is not the
    lender of an officer bound to one."""
    row = lending.party_row(conn, lender_id)
    if row is None or row.kind != "lender":
        raise NotFound("lender")
    hide_other_lender(principal, lender_id, "lender")
    return str(row.name)


def parse_category(name: str, data: CategoryIn) -> Category:
    """The category ``data`` describes, or 422 naming every bad field."""
    errors = Errors()
    if not name or len(name) > 64:  # from the path
        errors.add("name", "1 to 64 characters")
    limits = Limits.read_into(data, errors)
    errors.raise_if_any()
    return Category(
        name=name, max_principal=limits.max_principal,
        max_term_months=limits.max_term_months, frequencies=limits.frequencies,
        usury_threshold=limits.usury_threshold,
        late_interest_rate=limits.late_interest_rate or Decimal(0),
        min_coverage=limits.min_coverage, share_multiple=limits.share_multiple)


# -- use cases ------------------------------------------------------------------------------


def set_category(ctx: AppContext, principal: Principal, lender_id: str, name: str,
                 data: CategoryIn) -> CategoryOut:
    """Create or replace the lender's category ``name`` (officers)."""
    lid = path_uuid(lender_id, "lender")
    category = parse_category(name, data)

    def write(conn: Connection) -> CategoryOut:
        lender_name = lender_in_path(conn, principal, lid)
        principal.require("officer")
        lending.save_category(conn, lid, category, principal.username)
        saved = lending.get_category(conn, lid, name)
        assert saved is not None
        return category_out(lid, lender_name, saved)

    return ctx.write(write)


def read_category(ctx: AppContext, principal: Principal, lender_id: str, name: str
                  ) -> CategoryOut:
    """Anyone signed in may read a lender's categories (the default one always exists),
    but an officer bound to a lender only its lender's."""
    lid = path_uuid(lender_id, "lender")

    def read(conn: Connection) -> tuple[str, Category | None]:
        return lender_in_path(conn, principal, lid), lending.get_category(conn, lid, name)

    lender_name, category = ctx.read(read)
    if category is None:
        raise NotFound("category")
    return category_out(lid, lender_name, category)
