"""The tables the code declares and the tables the migrations build are the same."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from ledger.store import metadata as ledger_metadata
from service.db.tables import metadata


def test_migrations_build_exactly_the_declared_tables(really_migrated_engine: Engine
                                                     ) -> None:
    with really_migrated_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                          "compare_server_default": False})
        # The ledger's own tables live beside its store (ledger/store.py).
        differences = compare_metadata(context, [metadata, ledger_metadata])  # type: ignore[arg-type]
    assert differences == []


def test_the_comparison_sees_a_column_the_migrations_lack(engine: Engine) -> None:
    """The check above would catch drift: a column declared but never migrated shows."""
    from sqlalchemy import Column, MetaData, String

    drifted = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["parties"].append_column(Column("nickname", String(20)))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, [drifted, ledger_metadata])  # type: ignore[arg-type]
    assert [(d[0], d[3].name) for d in differences] == [("add_column", "nickname")]
