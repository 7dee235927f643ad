"""Small helpers shared by the report builders: exact ratios, column specs, frames."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Literal, TypeVar

import polars as pl

from reports.italian import CodeDomain
from reports.workbook import ColumnKind, ColumnSpec

RATIO_PLACES = 4
_T = TypeVar("_T")

_DTYPES: dict[str, pl.DataType] = {
    "money": pl.Int64(),  # cents
    "int": pl.Int64(),
    "text": pl.String(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us", "UTC"),
    "percent": pl.Decimal(38, RATIO_PLACES),
    "decimal": pl.Decimal(38, 4),
}


def ratio(numerator: int | Fraction | Decimal, denominator: int | Fraction | Decimal,
          places: int = RATIO_PLACES) -> Decimal | None:
    """``numerator / denominator`` rounded half-even to ``places``; None when dividing by 0."""
    if denominator == 0:
        return None
    exact = Fraction(numerator) / Fraction(denominator)
    # round() on a Fraction rounds half to even.
    return Decimal(round(exact * 10**places)).scaleb(-places)


def percent_to_fraction(percent: Decimal) -> Decimal:
    """A rate in percent (``Decimal("10")``) as the fraction a percent cell holds (0.10)."""
    return percent.scaleb(-2)


def col(key: str, label_it: str, label_en: str, kind: ColumnKind, description_it: str = "",
        description_en: str = "", total: Literal["sum"] | None = None,
        codes: CodeDomain | None = None) -> ColumnSpec:
    return ColumnSpec(key, label_it, label_en, kind, description_it, description_en, total,
                      codes)


def frame_of(rows: Sequence[_T], columns: Sequence[ColumnSpec],
             getters: Mapping[str, Callable[[_T], object]]) -> pl.DataFrame:
    """A frame with one column per spec, filled by ``getters[key](row)``, typed by kind."""
    data = {spec.key: [getters[spec.key](row) for row in rows] for spec in columns}
    schema = {spec.key: _DTYPES[spec.kind] for spec in columns}
    return pl.DataFrame(data, schema=schema)


def yes_no(flag: bool, lang: Literal["it", "en"] = "it") -> str:
    if lang == "it":
        return "sì" if flag else "no"
    return "yes" if flag else "no"
