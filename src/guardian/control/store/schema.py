"""Open the control plane store and bring its schema up to date."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from guardian.common import migrations
from guardian.common.db import create_db_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade(engine: Engine, revision: str = "head", *, app_role: str = "guardian_app") -> None:
    """Apply the control plane migrations (tables, and on PostgreSQL the RLS policies)."""
    migrations.upgrade(MIGRATIONS, engine, revision, {"app_role": app_role})


def open_store(url: str, *, migrate: bool = True, app_role: str = "guardian_app") -> Engine:
    engine = create_db_engine(url)
    if migrate:
        upgrade(engine, app_role=app_role)
    return engine
