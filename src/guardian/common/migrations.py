"""Run a service's Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, inspect

logger = logging.getLogger(__name__)


def alembic_config(script_location: Path, engine: Engine) -> Config:
    """An Alembic config whose env.py will use ``engine``'s connection."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(
    script_location: Path,
    engine: Engine,
    revision: str = "head",
    attributes: dict[str, object] | None = None,
) -> None:
    """Apply migrations up to ``revision`` (idempotent); ``attributes`` reach env.py."""
    cfg = alembic_config(script_location, engine)
    cfg.attributes.update(attributes or {})
    command.upgrade(cfg, revision)
    logger.debug("database schema is at %s", revision)


def current_tables(engine: Engine) -> set[str]:
    """Table names present in the database (for checks and tests)."""
    return set(inspect(engine).get_table_names())


def run_env(metadata: MetaData, service: str) -> None:
    """The body of every service's Alembic ``env.py``: migrate on the engine that
    :func:`upgrade` put in the config (batch mode on SQLite, types compared)."""
    from alembic import context

    engine = context.config.attributes.get("engine")
    if not isinstance(engine, Engine):  # pragma: no cover - only via upgrade()
        raise RuntimeError(f"run {service} migrations through guardian's upgrade helper")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
