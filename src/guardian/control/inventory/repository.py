"""Tenant-scoped reads and index maintenance shared by ingest, notes and camera renames.

Every query filters on ``tenant_id`` explicitly; on PostgreSQL the tenant session's
row-level security is the backstop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from guardian.common.api_errors import NotFound
from guardian.control.inventory.search import build_search_text, note_words
from guardian.control.store.tables import Camera, Event, EventNote


def get_event(session: Session, tenant_id: str, event_id: str, *, lock: bool = False) -> Event:
    """The tenant's event ``event_id``, or ``NotFound`` (also for another tenant's event)."""
    query = select(Event).where(Event.id == event_id, Event.tenant_id == tenant_id)
    if lock:
        query = query.with_for_update()
    event = session.scalar(query)
    if event is None:
        raise NotFound("no such event")
    return event


def live_notes(session: Session, tenant_id: str, event_ids: Iterable[str]) -> list[EventNote]:
    """The notes (not deleted) on the events, oldest first."""
    ids = list(event_ids)
    if not ids:
        return []
    return list(
        session.scalars(
            select(EventNote)
            .where(
                EventNote.tenant_id == tenant_id,
                EventNote.event_id.in_(ids),
                EventNote.deleted_at.is_(None),
            )
            .order_by(EventNote.created_at, EventNote.id)
        )
    )


def camera_names(camera: Camera | None) -> tuple[str | None, ...]:
    return (camera.edge_name, camera.display_name) if camera is not None else ()


def reindex_events(session: Session, tenant_id: str, events: Iterable[Event]) -> None:
    """Recompute ``search_text`` and ``has_notes`` of loaded events from their notes/camera."""
    events = list(events)
    notes_by_event: dict[str, list[EventNote]] = defaultdict(list)
    for note in live_notes(session, tenant_id, (e.id for e in events)):
        notes_by_event[note.event_id].append(note)
    camera_ids = {e.camera_id for e in events if e.camera_id}
    cameras = {
        c.id: c
        for c in session.scalars(
            select(Camera).where(Camera.tenant_id == tenant_id, Camera.id.in_(camera_ids))
        )
    }
    for event in events:
        notes = notes_by_event.get(event.id, [])
        event.has_notes = bool(notes)
        event.search_text = build_search_text(
            type=event.type,
            label=event.label,
            zone=event.zone,
            source_name=event.source_name,
            camera_names=camera_names(cameras.get(event.camera_id or "")),
            notes=[note_words(n.added_items, n.took_items, n.comment) for n in notes],
        )


def reindex_camera(session: Session, tenant_id: str, camera_id: str) -> int:
    """Refresh the search text of the camera's events (call after renaming a camera).

    Returns how many events were refreshed.
    """
    events = list(
        session.scalars(
            select(Event).where(Event.tenant_id == tenant_id, Event.camera_id == camera_id)
        )
    )
    reindex_events(session, tenant_id, events)
    session.flush()
    return len(events)
