"""Alembic environment of the relay store."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from guardian.relay.store.tables import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - only via guardian's migrate helper
    raise RuntimeError("run relay migrations through guardian.relay.store.schema.upgrade")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
