"""Retention by plan: the free plan keeps events; a plan with days purges older ones."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from guardian.control.inventory.retention import EventRetentionCleanup, purge_all_tenants
from guardian.control.store.tables import (
    Event,
    EventFeed,
    EventNote,
    EventNoteHistory,
    Tenant,
)
from guardian.control.tenancy.plans import PLANS, Plan, Quotas
from tests.integration.control.inventory.conftest import T0, Inventory, rfc3339

WEEK = Plan("week", Quotas(cameras=8, sites=2, event_retention_days=7, archive_bytes=None))


def _counts(inv: Inventory) -> dict[str, int]:
    with inv.ctx.db.system() as session:
        return {
            t.__tablename__: int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in (Event, EventNote, EventNoteHistory, EventFeed)
        }


def test_purge_by_plan(inv: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PLANS, "week", WEEK)
    with inv.ctx.db.system() as session:
        tenant = session.get(Tenant, inv.a.id)
        assert tenant is not None
        tenant.plan = "week"
    old = inv.a.summary(started_at=rfc3339(T0 - dt.timedelta(days=10)))
    fresh = inv.a.summary(started_at=rfc3339(T0 - dt.timedelta(days=2)))
    inv.ingest(old, fresh)
    url = f"/api/v1/events/{old['id']}/notes"
    assert (
        inv.client.post(
            url, json={"comment": "gone soon"}, headers=inv.a.viewer.headers
        ).status_code
        == 201
    )
    kept_b = inv.b.summary(started_at=rfc3339(T0 - dt.timedelta(days=400)))  # free plan: kept
    inv.ingest(kept_b, tenant=inv.b)
    assert _counts(inv) == {"events": 3, "event_notes": 1, "event_note_history": 1, "event_feed": 4}
    assert purge_all_tenants(inv.ctx.db, T0) == {inv.a.id: 1}
    assert _counts(inv) == {"events": 2, "event_notes": 0, "event_note_history": 0, "event_feed": 2}
    assert inv.get(inv.a.viewer, f"/api/v1/events/{old['id']}").status_code == 404
    assert inv.get(inv.a.viewer, f"/api/v1/events/{fresh['id']}").status_code == 200
    assert inv.get(inv.b.viewer, f"/api/v1/events/{kept_b['id']}").status_code == 200
    assert purge_all_tenants(inv.ctx.db, T0) == {}


def test_cleanup_task_runs_rounds_and_stops(
    inv: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(PLANS, "week", WEEK)
    with inv.ctx.db.system() as session:
        tenant = session.get(Tenant, inv.a.id)
        assert tenant is not None
        tenant.plan = "week"
    inv.ingest(inv.a.summary(started_at="2020-01-01T00:00:00Z"))

    async def run() -> None:
        cleanup = EventRetentionCleanup(inv.ctx.db, interval_s=60, first_s=0)
        await cleanup.start()
        for _ in range(200):
            await asyncio.sleep(0.02)
            if _counts(inv)["events"] == 0:
                break
        await cleanup.stop()

    asyncio.run(run())
    assert _counts(inv)["events"] == 0
