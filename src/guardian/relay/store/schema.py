"""Open the relay store and bring its schema up to date."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from guardian.common import migrations
from guardian.common.db import create_db_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the relay migrations to ``engine``'s database."""
    migrations.upgrade(MIGRATIONS, engine, revision)


def open_store(url: str, *, migrate: bool = True) -> Engine:
    """An engine for the relay database at ``url``, migrated unless told otherwise."""
    engine = create_db_engine(url)
    if migrate:
        upgrade(engine)
    return engine
