"""Alembic environment: runs on the connection the caller hands over (see service.migrate)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when alembic is run by hand
    from service.db.engine import make_engine
    from service.settings import Settings

    engine = make_engine(Settings.from_env().database_url)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
else:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
