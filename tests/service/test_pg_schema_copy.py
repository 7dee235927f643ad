"""Each PostgreSQL test's schema is a copy of a template the migrations built once per
run (tests/conftest.py, ``PgSchemas.migrated``): the copy must hold exactly what running
the migrations makes, catalog and rows alike, or every PostgreSQL test would be testing
something else than what ``filiera db upgrade`` builds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, text

from service.db.engine import make_engine
from service.db.migrate import upgrade
from tests.conftest import PG_URL, PgSchemas

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only (CI always sets it)")

# What the catalog says of a schema, one query a kind of object; :s is the schema, and
# its name in any definition is replaced by "<schema>" before comparing.
CATALOG = {
    "tables": """SELECT table_name, table_type FROM information_schema.tables
                 WHERE table_schema = :s""",
    "columns": """SELECT table_name, column_name, ordinal_position, data_type, udt_name,
                         character_maximum_length, numeric_precision, numeric_scale,
                         is_nullable, column_default, is_identity, is_generated,
                         collation_name
                  FROM information_schema.columns WHERE table_schema = :s""",
    "constraints": """SELECT table_name, constraint_name, constraint_type, is_deferrable,
                             initially_deferred
                      FROM information_schema.table_constraints
                      WHERE constraint_schema = :s
                      -- NOT NULLs, named by oids here (columns' is_nullable has them)
                      AND constraint_name !~ '^[0-9]+_[0-9]+_[0-9]+_not_null$'""",
    "constraint definitions": """
        SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = k.connamespace WHERE n.nspname = :s""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :s",
    "triggers": """
        SELECT c.relname, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :s AND NOT t.tgisinternal""",
    "functions": """
        SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s""",
    "sequences": """SELECT sequencename, data_type, start_value, min_value, max_value,
                           increment_by, cycle, cache_size, last_value
                    FROM pg_sequences WHERE schemaname = :s""",
    "sequence owners": """
        SELECT s.relname, t.relname, a.attname FROM pg_depend d
        JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
        JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
        JOIN pg_namespace n ON n.oid = s.relnamespace
        WHERE n.nspname = :s AND d.deptype IN ('a', 'i')""",
    "relations": """SELECT c.relname, c.relkind, c.relpersistence, c.reloptions::text
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = :s""",
    "types": """SELECT t.typname, t.typtype FROM pg_type t
                JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = :s""",
    "comments": """SELECT c.relname, d.objsubid, d.description FROM pg_description d
                   JOIN pg_class c ON c.oid = d.objoid
                   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s""",
}


def snapshot(conn: Connection, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """The schema's catalog and every table's rows, sorted, with its name taken out."""
    def neutral(value: Any) -> Any:
        return value.replace(schema, "<schema>") if isinstance(value, str) else value

    seen = {kind: sorted((tuple(neutral(v) for v in row)
                          for row in conn.execute(text(query), {"s": schema})), key=repr)
            for kind, query in CATALOG.items()}
    for table, _kind in seen["tables"]:
        rows = conn.exec_driver_sql(f'SELECT * FROM "{schema}"."{table}"').all()
        seen[f"rows of {table}"] = sorted((tuple(row) for row in rows), key=repr)
    return seen


def migrated_for_real(pg_schemas: PgSchemas) -> str:
    schema = pg_schemas.new()
    engine = make_engine(pg_schemas.url, schema=schema)
    upgrade(engine)
    engine.dispose()
    return schema


def test_a_copy_is_what_the_migrations_build(pg_schemas: PgSchemas) -> None:
    copy = pg_schemas.migrated()
    real = migrated_for_real(pg_schemas)
    with pg_schemas.admin.connect() as conn:
        made = snapshot(conn, copy)
        assert made == snapshot(conn, real)
        assert made == snapshot(conn, pg_schemas.template)
    # Not two empty lists agreeing: what the migrations are known to make is there.
    assert len(made["tables"]) >= 40 and len(made["indexes"]) >= 90
    assert len(made["sequences"]) >= 26 and len(made["constraint definitions"]) >= 100
    assert {row[1] for row in made["triggers"]} == {
        "ledger_transfers_append_only", "ledger_transfers_no_truncate"}
    assert [row[0] for row in made["functions"]] == ["ledger_transfers_append_only"]
    assert made["rows of books_closed"] == [(1, None, None, None)]
    assert made["rows of ledger_head"] == [(1, "0" * 64, 0, 0, 0, None)]
    assert len(made["rows of alembic_version"]) == 1


def test_the_comparison_sees_what_a_copy_lacks(pg_schemas: PgSchemas) -> None:
    """The check above would catch a copy that misses an index, a trigger, a seeded row
    or a sequence's value."""
    copies = [pg_schemas.migrated() for _ in range(5)]
    with pg_schemas.admin.connect() as conn:
        expected = snapshot(conn, pg_schemas.template)
        for copy, change in zip(copies, [
                "DROP INDEX {s}.ix_login_failures_at",
                "DROP TRIGGER ledger_transfers_no_truncate ON {s}.ledger_transfers",
                "DELETE FROM {s}.books_closed",
                "SELECT nextval('{s}.parties_seq_seq')",
                "ALTER TABLE {s}.parties ALTER COLUMN seq DROP DEFAULT"], strict=True):
            conn.exec_driver_sql(change.format(s=copy))
            assert snapshot(conn, copy) != expected, change


def test_a_copy_keeps_the_journal_append_only_and_its_own_sequences(
        pg_schemas: PgSchemas) -> None:
    """The trigger's function is the copy's own (not the template's), and the copy's
    serial columns draw from the copy's sequences."""
    copy = pg_schemas.migrated()
    engine = make_engine(pg_schemas.url, schema=copy)
    try:
        with engine.connect() as conn:
            trigger_function = conn.exec_driver_sql(
                "SELECT p.pronamespace::regnamespace::text FROM pg_trigger t "
                "JOIN pg_proc p ON p.oid = t.tgfoid "
                "WHERE t.tgrelid = 'ledger_transfers'::regclass "
                "AND t.tgname = 'ledger_transfers_append_only'").scalar_one()
            assert trigger_function == copy
            with pytest.raises(Exception, match="append-only: TRUNCATE refused"):
                conn.exec_driver_sql("TRUNCATE ledger_transfers")
            conn.rollback()
            default = conn.exec_driver_sql(
                "SELECT pg_get_serial_sequence('parties', 'seq')").scalar_one()
            assert default == f"{copy}.parties_seq_seq"
    finally:
        engine.dispose()


def exists(pg_schemas: PgSchemas, schema: str) -> bool:
    with pg_schemas.admin.connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"),
                             {"s": schema}).scalar_one()
    return bool(found == 1)


def test_a_released_schema_is_dropped_in_the_background(pg_schemas: PgSchemas) -> None:
    schema = pg_schemas.migrated()
    assert exists(pg_schemas, schema) and schema in pg_schemas.created
    pg_schemas.release(schema)
    pg_schemas.settle()
    assert not exists(pg_schemas, schema) and schema not in pg_schemas.created


def test_a_schema_still_in_use_is_left_for_the_end_of_the_run(pg_schemas: PgSchemas) -> None:
    """A transaction still open on it (a test's leftover connection) does not hold the
    background thread up: the drop gives up and the schema stays on the list."""
    schema = pg_schemas.migrated()
    engine = make_engine(pg_schemas.url, schema=schema)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM parties").scalar_one()  # locks it
            pg_schemas.release(schema)
            pg_schemas.settle()
            assert exists(pg_schemas, schema) and schema in pg_schemas.created
    finally:
        engine.dispose()
