"""Event retention by plan: events older than the plan's ``event_retention_days`` go.

``None`` days keeps events forever (the free plan). A purged event takes its notes, their
history and its feed rows with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from guardian.common.db import utcnow
from guardian.control.db import Database
from guardian.control.store.tables import Event, EventFeed, EventNote, EventNoteHistory, Tenant
from guardian.control.tenancy.plans import plan_of

logger = logging.getLogger(__name__)

PURGE_CHUNK = 1000


def retention_cutoff(now: dt.datetime, days: int | None) -> dt.datetime | None:
    """Events that started before this instant are expired (``None``: keep everything)."""
    if days is None:
        return None
    if days < 0:
        raise ValueError("retention days must not be negative")
    return now - dt.timedelta(days=days)


def purge_before(session: Session, tenant_id: str, cutoff: dt.datetime) -> int:
    """Delete the tenant's events that started before ``cutoff``; returns how many."""
    purged = 0
    while True:
        ids = list(
            session.scalars(
                select(Event.id)
                .where(Event.tenant_id == tenant_id, Event.started_at < cutoff)
                .limit(PURGE_CHUNK)
            )
        )
        if not ids:
            return purged
        for table in (EventNoteHistory, EventNote, EventFeed):
            session.execute(
                delete(table).where(table.tenant_id == tenant_id, table.event_id.in_(ids))
            )
        session.execute(delete(Event).where(Event.tenant_id == tenant_id, Event.id.in_(ids)))
        purged += len(ids)


def purge_expired(session: Session, tenant_id: str, now: dt.datetime) -> int:
    """Purge the tenant's events older than its plan's retention; returns how many."""
    days = plan_of(session, tenant_id).quotas.event_retention_days
    cutoff = retention_cutoff(now, days)
    return 0 if cutoff is None else purge_before(session, tenant_id, cutoff)


def purge_all_tenants(db: Database, now: dt.datetime) -> dict[str, int]:
    """Run ``purge_expired`` for every tenant, each in its own tenant transaction."""
    with db.system() as session:
        tenant_ids = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
    purged: dict[str, int] = {}
    for tenant_id in tenant_ids:
        with db.tenant(tenant_id) as session:
            count = purge_expired(session, tenant_id, now)
        if count:
            logger.info("purged expired events", extra={"tenant_id": tenant_id, "events": count})
            purged[tenant_id] = count
    return purged


class EventRetentionCleanup:
    """Background task: purge expired events of every tenant every ``interval_s`` seconds."""

    def __init__(self, db: Database, *, interval_s: float = 3600.0, first_s: float = 60.0):
        self.db = db
        self.interval_s = interval_s
        self.first_s = first_s
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        delay = self.first_s
        while True:
            await asyncio.sleep(delay)
            delay = self.interval_s
            try:
                await asyncio.to_thread(purge_all_tenants, self.db, utcnow())
            except Exception:  # a failed round must not end the cleanup: retry next round
                logger.exception("event retention round failed")

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-retention")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
