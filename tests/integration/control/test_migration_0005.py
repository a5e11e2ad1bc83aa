"""Migration 0005 (the edge's figures on ``sites``) up and down on SQLite and PostgreSQL: the
columns come and go as nullable BIGINTs and existing sites keep their rows."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from guardian.common.db import utcnow
from guardian.common.db_types import UtcDateTime
from guardian.common.migrations import alembic_config
from guardian.control.store.schema import MIGRATIONS, upgrade
from tests.integration.control.migrations import TENANTS

FIGURES = {"disk_free_bytes", "disk_total_bytes", "queue_depth", "dead_jobs", "outbox_depth"}
SITES = sa.table(
    "sites",
    sa.column("id"),
    sa.column("tenant_id"),
    sa.column("name"),
    sa.column("created_at", UtcDateTime()),
    sa.column("health"),
)


def _site_columns(engine: Engine) -> dict[str, dict[str, object]]:
    return {str(c["name"]): dict(c) for c in sa.inspect(engine).get_columns("sites")}


def test_0005_adds_nullable_figure_columns_and_drops_them_again(engine: Engine) -> None:
    upgrade(engine, "0004")
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            sa.insert(TENANTS).values(id="t-1", name="a", plan="free", created_at=now)
        )
        connection.execute(
            sa.insert(SITES).values(
                id="s-1", tenant_id="t-1", name="shop", created_at=now, health="healthy"
            )
        )
    assert FIGURES.isdisjoint(_site_columns(engine))

    upgrade(engine, "0005")

    columns = _site_columns(engine)
    for name in FIGURES:
        assert columns[name]["nullable"] is True, name
        assert isinstance(columns[name]["type"], sa.BigInteger), (name, columns[name]["type"])
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT * FROM sites")).mappings().one()
    assert row["name"] == "shop" and all(row[name] is None for name in FIGURES)

    command.downgrade(alembic_config(MIGRATIONS, engine), "0004")

    assert FIGURES.isdisjoint(_site_columns(engine))
    with engine.connect() as connection:
        names = connection.execute(sa.text("SELECT id, name FROM sites")).all()
    assert [tuple(r) for r in names] == [("s-1", "shop")]
