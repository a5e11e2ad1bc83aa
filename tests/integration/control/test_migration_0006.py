"""Migration 0006 (``event_feed`` ids never reused) up and down on SQLite and PostgreSQL:
rows, ids and the index are kept, and after the upgrade an id freed by deleting the newest
rows is never handed out again (the live stream's ``Last-Event-ID`` relies on it)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from guardian.common.db import utcnow
from guardian.common.db_types import UtcDateTime
from guardian.common.migrations import alembic_config
from guardian.control.store.schema import MIGRATIONS, upgrade
from tests.integration.control.migrations import TENANTS

FEED = sa.table(
    "event_feed",
    sa.column("id"),
    sa.column("tenant_id"),
    sa.column("event_id"),
    sa.column("kind"),
    sa.column("at", UtcDateTime()),
)


def _append(engine: Engine, *event_ids: str) -> list[int]:
    rows = [
        {"tenant_id": "t-1", "event_id": e, "kind": "created", "at": utcnow()} for e in event_ids
    ]
    with engine.begin() as connection:
        return [int(i) for i in connection.scalars(sa.insert(FEED).returning(FEED.c.id), rows)]


def _drop_newest(engine: Engine, count: int) -> None:
    with engine.begin() as connection:
        newest = connection.scalars(sa.select(FEED.c.id).order_by(FEED.c.id.desc()).limit(count))
        connection.execute(sa.delete(FEED).where(FEED.c.id.in_(list(newest))))


def _feed(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(sa.select(FEED.c.id, FEED.c.event_id))]


def test_0006_keeps_the_feed_and_never_reuses_an_id_afterwards(engine: Engine) -> None:
    upgrade(engine, "0005")
    with engine.begin() as connection:
        connection.execute(
            sa.insert(TENANTS).values(id="t-1", name="a", plan="free", created_at=utcnow())
        )
    first = _append(engine, "e-1", "e-2", "e-3")
    _drop_newest(engine, 1)
    reused = _append(engine, "e-4")  # before 0006, SQLite hands out e-3's id again
    if engine.dialect.name == "sqlite":
        assert reused == [first[-1]]
    else:
        assert reused[0] > first[-1]
    before = _feed(engine)

    upgrade(engine, "0006")

    assert _feed(engine) == before
    indexes = {ix["name"] for ix in sa.inspect(engine).get_indexes("event_feed")}
    assert "ix_event_feed_tenant_id" in indexes
    highest = max(i for i, _ in before)
    _drop_newest(engine, 2)
    after = _append(engine, "e-5", "e-6")
    assert min(after) > highest  # the freed ids stay retired
    kept = _feed(engine)

    command.downgrade(alembic_config(MIGRATIONS, engine), "0005")

    assert _feed(engine) == kept
    assert "ix_event_feed_tenant_id" in {
        ix["name"] for ix in sa.inspect(engine).get_indexes("event_feed")
    }
