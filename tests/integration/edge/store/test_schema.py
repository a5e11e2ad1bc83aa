"""The edge schema migrates on both engines, idempotently, with the named tables."""

from __future__ import annotations

from guardian.common.migrations import current_tables
from guardian.edge.store.schema import upgrade
from tests.edge_fixtures import EdgeDb

TABLES = {"devices", "captures", "jobs", "events", "event_captures", "outbox", "admin_tokens"}


def test_schema_has_the_edge_tables_and_upgrades_idempotently(edge_db: EdgeDb) -> None:
    assert TABLES <= current_tables(edge_db.engine)
    upgrade(edge_db.engine)  # a second upgrade is a no-op
    assert TABLES <= current_tables(edge_db.engine)


def test_sqlite_store_runs_in_wal_mode(sqlite_edge_db: EdgeDb) -> None:
    with sqlite_edge_db.engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"
