"""Keyset pagination never skips or repeats while events arrive between page fetches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text

from guardian.control.inventory.queries import EventFilter, page_ids_query
from tests.integration.control.inventory.conftest import T0, Inventory, rfc3339


def _page(inv: Inventory, cursor: str | None, **params: Any) -> tuple[list[str], str | None]:
    if cursor is not None:
        params["cursor"] = cursor
    got = inv.get(inv.a.viewer, "/api/v1/events", limit=3, **params)
    assert got.status_code == 200, got.text
    body = got.json()
    return [e["id"] for e in body["items"]], body["next_cursor"]


def test_pages_neither_skip_nor_repeat_under_concurrent_inserts(inv: Inventory) -> None:
    a = inv.a
    same = rfc3339(T0 + dt.timedelta(hours=1))  # several events share one started_at
    initial = [a.summary(started_at=same, ended_at=same) for _ in range(4)]
    initial += [a.summary() for _ in range(6)]
    inv.ingest(*initial)
    seen: list[str] = []
    inserted_newer: list[str] = []
    inserted_older: list[dict[str, Any]] = []
    cursor: str | None = None
    for round_ in range(20):
        page, cursor = _page(inv, cursor)
        seen.extend(page)
        # Between fetches: a newer event, one at the shared instant, and an older one.
        newer = a.summary(started_at=rfc3339(T0 + dt.timedelta(days=1, minutes=round_)))
        tie = a.summary(started_at=same, ended_at=same)
        older = a.summary(
            started_at=rfc3339(T0 - dt.timedelta(days=1, minutes=round_)),
            ended_at=rfc3339(T0 - dt.timedelta(days=1, minutes=round_)),
        )
        inv.ingest(newer, tie, older)
        inserted_newer.append(newer["id"])
        inserted_older.append(older)
        if cursor is None:
            break
    assert cursor is None, "pagination did not finish"
    assert len(seen) == len(set(seen)), "an event was repeated"
    assert {e["id"] for e in initial} <= set(seen), "an event present at the start was skipped"
    assert not set(inserted_newer) & set(seen)  # newer than the first page: not on later pages
    # Every page is strictly older than the previous one in (started_at, id) order.
    full = inv.get(a.viewer, "/api/v1/events", limit=200).json()["items"]
    order = [e["id"] for e in full]
    positions = [order.index(i) for i in seen]
    assert positions == sorted(positions)
    # Older events inserted before the walk reached their place were seen; none twice.
    assert len(full) == len(initial) + 3 * len(inserted_newer)


def test_filters_apply_across_pages(inv: Inventory) -> None:
    a = inv.a
    wanted = [a.summary(type="person_detected") for _ in range(5)]
    inv.ingest(*wanted, *(a.summary() for _ in range(5)))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = _page(inv, cursor, type="person_detected")
        seen.extend(page)
        if cursor is None:
            break
    assert seen == [e["id"] for e in reversed(wanted)]


def test_trigram_index_serves_free_text_search(pg_inv: Inventory) -> None:
    inv, tenant = pg_inv, pg_inv.a.id
    inv.ingest(inv.a.summary(zone="fridge"))
    with inv.ctx.db.system() as session:
        # Bulk rows straight in SQL: the planner needs a realistic table to prefer an index.
        session.execute(
            text(
                "INSERT INTO events (id, tenant_id, site_id, source_kind, source_name, type,"
                " person_count, confidence, state, started_at, ended_at, version, has_notes,"
                " search_text, created_at, updated_at)"
                " SELECT gen_random_uuid()::text, :t, :s, 'camera', 'cam' || (i % 8),"
                " 'person_detected', 1, 'high', 'ended', now() - i * interval '1 minute',"
                " now(), 1, false,"
                " 'person detected | person | aisle ' || i, now(), now()"
                " FROM generate_series(1, 20000) AS i"
            ),
            {"t": tenant, "s": inv.a.site},
        )
    with inv.ctx.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE events"))  # as after autovacuum: GIN list merged
    # The id lookup the API runs for q on PostgreSQL (in the owner's session, see
    # list_events), page two included.
    after = (T0 + dt.timedelta(days=400), "f" * 36)
    for keyset in (None, after):
        query = page_ids_query(tenant, EventFilter(q="fridge"), limit=50, after=keyset)
        with inv.ctx.db.system() as session:
            compiled = query.compile(session.get_bind())
            sql = f"EXPLAIN {compiled}"
            plan = session.connection().exec_driver_sql(sql, compiled.params).all()
        assert "ix_events_search_trgm" in "\n".join(r[0] for r in plan), plan
    got = inv.get(inv.a.viewer, "/api/v1/events", q="fridge").json()["items"]
    assert [e["zone"] for e in got] == ["fridge"]
    assert inv.get(inv.b.viewer, "/api/v1/events", q="fridge").json()["items"] == []


@pytest.mark.parametrize("q", ["ab", "fri"])
def test_short_and_long_queries_both_work(inv: Inventory, q: str) -> None:
    event = inv.a.summary(zone="fridge ab")
    inv.ingest(event, inv.a.summary(zone="door"))
    got = inv.get(inv.a.viewer, "/api/v1/events", q=q).json()["items"]
    assert [e["id"] for e in got] == [event["id"]]
