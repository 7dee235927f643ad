"""Types at the database boundary.

SQLAlchemy Core does not carry column types through ``select(table)`` and ``.label()``:
a row read back is a ``Row`` whose attributes are untyped. These aliases name that
boundary once, so the rest of the service says "a row" or "a select" rather than "anything".
"""

from __future__ import annotations

from typing import Any, TypeAlias

from sqlalchemy import Column, Row, Select
from sqlalchemy.sql.elements import ColumnElement

# The untyped Core boundary: column types are not tracked through these queries.
Record: TypeAlias = Row[*tuple[Any, ...]]  # a row of any width
Query: TypeAlias = Select[*tuple[Any, ...]]  # a select of any columns
Expr: TypeAlias = ColumnElement[Any]
AnyColumn: TypeAlias = Column[Any]
