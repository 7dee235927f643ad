from __future__ import annotations

from sqlalchemy import Engine, inspect

from service.db.migrate import current_revision


def test_migrations_reach_head_with_all_tables(really_migrated_engine: Engine) -> None:
    engine = really_migrated_engine
    from alembic.script import ScriptDirectory

    from service.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(engine) == head
    names = set(inspect(engine).get_table_names())
    assert {"parties", "users", "relationships", "idempotency"} <= names
