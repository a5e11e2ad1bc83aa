"""Idempotent ingest of event summaries into one tenant's inventory.

Upsert by the edge's event id: a new id is created, a higher version updates, an equal
version is unchanged and a lower one is stale (never overwrites newer data). Concurrent
duplicate sends are safe: a batch's ``INSERT … ON CONFLICT DO NOTHING`` makes one row
per id, then a version-checked ``UPDATE`` decides for ids that existed. Cameras are
resolved (and created) for the whole batch before any event row is written, and events
are written in id order, so two concurrent batches lock rows in the same order and cannot
deadlock.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from guardian.control.inventory.feed import record_change, record_changes
from guardian.control.inventory.repository import reindex_events
from guardian.control.inventory.schemas import EventSummaryIn, IngestResult
from guardian.control.inventory.search import build_search_text
from guardian.control.store.tables import Camera, Event, Site
from guardian.control.tenancy.plans import QuotaExceeded, check_quota

logger = logging.getLogger(__name__)

CameraKey = tuple[str, str]  # (site_id, edge name)
OTHER_TENANT = "event id belongs to another tenant"
UNKNOWN_SITE = "site is not a site of this tenant"


def _insert(session: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """A dialect ``INSERT`` that supports ``on_conflict_do_nothing``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


def tenant_sites(session: Session, tenant_id: str, site_ids: set[str]) -> set[str]:
    """Which of ``site_ids`` are sites of the tenant."""
    if not site_ids:
        return set()
    query = select(Site.id).where(Site.tenant_id == tenant_id, Site.id.in_(site_ids))
    return set(session.scalars(query))


def resolve_cameras(
    session: Session, tenant_id: str, keys: set[CameraKey], now: dt.datetime
) -> dict[CameraKey, Camera]:
    """The tenant's cameras for (site, edge name) keys, creating unknown ones within quota.

    A key over the plan's camera quota is left out (its events keep ``camera_id`` null).
    """
    found: dict[CameraKey, Camera] = {}
    site_ids = {site for site, _ in keys}
    if site_ids:
        query = select(Camera).where(Camera.tenant_id == tenant_id, Camera.site_id.in_(site_ids))
        found = {
            (c.site_id, c.edge_name): c
            for c in session.scalars(query)
            if (c.site_id, c.edge_name) in keys
        }
    for site_id, name in sorted(keys - found.keys()):
        try:
            check_quota(session, tenant_id, "cameras")
        except QuotaExceeded as exc:
            logger.warning("camera %r of site %s not added: %s", name, site_id, exc.message)
            continue
        statement = _insert(session, Camera).values(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            site_id=site_id,
            edge_name=name,
            labels=[],
            health="unknown",
            created_at=now,
            updated_at=now,
        )
        session.execute(statement.on_conflict_do_nothing(index_elements=["site_id", "edge_name"]))
        camera = session.scalar(
            select(Camera).where(
                Camera.tenant_id == tenant_id, Camera.site_id == site_id, Camera.edge_name == name
            )
        )
        if camera is not None:
            found[(site_id, name)] = camera
    return found


def _row(summary: EventSummaryIn, camera: Camera | None) -> dict[str, Any]:
    """The event columns an ingest sets (``started_at`` only on insert: it is the keyset key)."""
    names = (camera.edge_name, camera.display_name) if camera else ()
    return {
        "site_id": str(summary.site_id),
        "camera_id": camera.id if camera else None,
        "source_kind": summary.source_kind,
        "source_name": summary.source_name,
        "type": summary.type,
        "label": summary.label,
        "zone": summary.zone,
        "dwell_s": summary.dwell_s,
        "person_count": summary.person_count,
        "confidence": summary.confidence,
        "state": summary.state,
        "ended_at": summary.ended_at,
        "version": summary.version,
        "search_text": build_search_text(
            type=summary.type,
            label=summary.label,
            zone=summary.zone,
            source_name=summary.source_name,
            camera_names=names,
        ),
    }


def _update_one(
    session: Session,
    tenant_id: str,
    summary: EventSummaryIn,
    camera: Camera | None,
    now: dt.datetime,
) -> IngestResult:
    """The version-checked update of an event whose id exists already."""
    event_id = str(summary.id)
    values = _row(summary, camera)
    # The search text keeps note words: recomputed below once the row is updated.
    values.pop("search_text")
    updated = session.execute(
        update(Event)
        .where(Event.id == event_id, Event.tenant_id == tenant_id, Event.version < summary.version)
        .values(updated_at=now, **values)
        .returning(Event.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if updated is not None:
        event = session.get(Event, event_id, populate_existing=True)
        assert event is not None
        reindex_events(session, tenant_id, [event])
        session.flush()
        record_change(session, tenant_id, event_id, "updated")
        return IngestResult(id=event_id, status="updated")
    current = session.scalar(
        select(Event.version).where(Event.id == event_id, Event.tenant_id == tenant_id)
    )
    if current is None:
        return IngestResult(id=event_id, status="rejected", reason=OTHER_TENANT)
    status = "unchanged" if current == summary.version else "stale"
    return IngestResult(id=event_id, status=status)


def upsert_events(
    session: Session, tenant_id: str, summaries: Sequence[EventSummaryIn], now: dt.datetime
) -> list[IngestResult]:
    """Upsert summaries of ``tenant_id`` (sites already checked); results in input order.

    New ids go in with ONE multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING`` and one
    feed insert (the common case: a relay forwarding fresh events); only ids that exist
    already take the per-event, version-checked update path. Within a batch the highest
    version of an id is inserted first, so its duplicates come out unchanged or stale.
    """
    keys = {(str(s.site_id), s.source_name) for s in summaries if s.source_kind == "camera"}
    cameras = resolve_cameras(session, tenant_id, keys, now)

    def camera_of(summary: EventSummaryIn) -> Camera | None:
        if summary.source_kind != "camera":
            return None
        return cameras.get((str(summary.site_id), summary.source_name))

    order = sorted(
        range(len(summaries)), key=lambda i: (str(summaries[i].id), -summaries[i].version)
    )
    first: dict[str, int] = {}
    for index in order:
        first.setdefault(str(summaries[index].id), index)
    rows = [
        {
            "id": event_id,
            "tenant_id": tenant_id,
            "started_at": summaries[index].started_at,
            "has_notes": False,
            "created_at": now,
            "updated_at": now,
            **_row(summaries[index], camera_of(summaries[index])),
        }
        for event_id, index in first.items()
    ]
    created: set[str] = set()
    if rows:
        # executemany of one cached statement: a multi-row .values(rows) is compiled anew
        # for every batch, which cost more than the database work.
        statement = (
            _insert(session, Event.__table__)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(Event.__table__.c.id)
        )
        created = set(session.execute(statement, rows).scalars())
    results: dict[int, IngestResult] = {}
    fresh = [event_id for event_id in first if event_id in created]
    record_changes(session, tenant_id, fresh, "created")
    for event_id in fresh:
        results[first[event_id]] = IngestResult(id=event_id, status="created")
    for index in order:
        if index not in results:
            summary = summaries[index]
            results[index] = _update_one(session, tenant_id, summary, camera_of(summary), now)
    return [results[i] for i in range(len(summaries))]
