"""Reads of the event inventory: the timeline (keyset pages), one event, and summaries.

Pages are newest first on (``started_at``, ``id``); ``started_at`` never changes after an
event is created, so a cursor neither skips nor repeats events while new ones arrive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select, tuple_
from sqlalchemy.orm import Session

from guardian.control.inventory.cursor import encode_cursor
from guardian.control.inventory.repository import get_event, live_notes
from guardian.control.inventory.schemas import (
    DayCount,
    EventDetailOut,
    EventOut,
    EventPage,
    EventSummaryOut,
    NoteItem,
    NoteOut,
    SourceCount,
)
from guardian.control.inventory.search import LIKE_ESCAPE, like_pattern
from guardian.control.store.tables import Camera, Event, EventNote

INTERACTION = "interaction_detected"


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events of a tenant to list or summarise (``None``: no restriction).

    ``since`` is inclusive and ``until`` exclusive, both on ``started_at``.
    """

    camera_id: str | None = None
    site_id: str | None = None
    type: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    has_notes: bool | None = None
    q: str | None = None


def conditions(tenant_id: str, f: EventFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a filter, always confined to ``tenant_id``."""
    where: list[ColumnElement[bool]] = [Event.tenant_id == tenant_id]
    if f.camera_id is not None:
        where.append(Event.camera_id == f.camera_id)
    if f.site_id is not None:
        where.append(Event.site_id == f.site_id)
    if f.type is not None:
        where.append(Event.type == f.type)
    if f.since is not None:
        where.append(Event.started_at >= f.since)
    if f.until is not None:
        where.append(Event.started_at < f.until)
    if f.has_notes is not None:
        where.append(Event.has_notes.is_(f.has_notes))
    if f.q:
        # ILIKE on PostgreSQL (pg_trgm GIN index); LIKE on SQLite, case-insensitive for
        # ASCII, over lower-cased search text.
        where.append(Event.search_text.ilike(like_pattern(f.q), escape=LIKE_ESCAPE))
    return where


def _camera_name() -> Any:
    return func.coalesce(Camera.display_name, Camera.edge_name).label("camera")


def _select_events() -> Select[tuple[Event, str | None]]:
    return select(Event, _camera_name()).outerjoin(
        Camera, and_(Camera.id == Event.camera_id, Camera.tenant_id == Event.tenant_id)
    )


def event_out(event: Event, camera: str | None) -> EventOut:
    return EventOut(
        id=event.id,
        site_id=event.site_id,
        camera_id=event.camera_id,
        camera=camera,
        source_kind=event.source_kind,
        source_name=event.source_name,
        type=event.type,
        label=event.label,
        zone=event.zone,
        dwell_s=event.dwell_s,
        person_count=event.person_count,
        confidence=event.confidence,
        state=event.state,
        started_at=event.started_at,
        ended_at=event.ended_at,
        has_notes=event.has_notes,
        version=event.version,
        created_at=event.created_at,
        updated_at=event.updated_at,
    )


def note_out(note: EventNote) -> NoteOut:
    return NoteOut(
        id=note.id,
        event_id=note.event_id,
        added_items=[NoteItem.model_validate(i) for i in note.added_items],
        took_items=[NoteItem.model_validate(i) for i in note.took_items],
        comment=note.comment,
        author_id=note.author_id,
        created_at=note.created_at,
        updated_at=note.updated_at,
        version=note.version,
    )


def _order() -> tuple[Any, Any]:
    return Event.started_at.desc(), Event.id.desc()


def page_conditions(
    tenant_id: str, f: EventFilter, after: tuple[dt.datetime, str] | None
) -> list[ColumnElement[bool]]:
    """The filter's conditions plus the keyset position (strictly older than ``after``)."""
    where = conditions(tenant_id, f)
    if after is not None:
        # A row comparison, so PostgreSQL walks (tenant_id, started_at, id) as one range.
        where.append(tuple_(Event.started_at, Event.id) < tuple_(*after))
    return where


def page_ids_query(
    tenant_id: str, f: EventFilter, *, limit: int, after: tuple[dt.datetime, str] | None
) -> Select[str]:
    """The ids of one page (``limit + 1`` rows, to tell whether another page follows)."""
    where = page_conditions(tenant_id, f, after)
    return select(Event.id).where(*where).order_by(*_order()).limit(limit + 1)


def list_events(
    session: Session,
    tenant_id: str,
    f: EventFilter,
    *,
    limit: int,
    after: tuple[dt.datetime, str] | None = None,
    lookup: Session | None = None,
) -> EventPage:
    """One page of the tenant's events, newest first, after the ``after`` position.

    With ``lookup`` (an owner session), the page's ids are found there and the events are
    then read through ``session``: on PostgreSQL ``ILIKE`` is not LEAKPROOF, so under
    row-level security the planner may not use the trigram index; the owner's query keeps
    the explicit tenant filter, and the tenant session still polices every row returned.
    """
    if lookup is None:
        where = page_conditions(tenant_id, f, after)
        query = _select_events().where(*where).order_by(*_order()).limit(limit + 1)
    else:
        ids = list(lookup.scalars(page_ids_query(tenant_id, f, limit=limit, after=after)))
        query = (
            _select_events()
            .where(Event.tenant_id == tenant_id, Event.id.in_(ids))
            .order_by(*_order())
        )
    rows: Sequence[Any] = session.execute(query).all()
    items = [event_out(row[0], row[1]) for row in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    return EventPage(
        items=items, next_cursor=encode_cursor(last.started_at, last.id) if last else None
    )


def event_detail(session: Session, tenant_id: str, event_id: str) -> EventDetailOut:
    """One event with its notes (``NotFound`` for an unknown or another tenant's id)."""
    event = get_event(session, tenant_id, event_id)
    camera = None
    if event.camera_id is not None:
        camera = session.scalar(
            select(_camera_name()).where(
                Camera.id == event.camera_id, Camera.tenant_id == tenant_id
            )
        )
    notes = [note_out(n) for n in live_notes(session, tenant_id, [event.id])]
    return EventDetailOut(**event_out(event, camera).model_dump(), notes=notes)


def _day(session: Session) -> Any:
    """The UTC calendar day of ``started_at`` as ``YYYY-MM-DD`` text."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", Event.started_at), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", Event.started_at)  # SQLite stores naive UTC


def summarize(session: Session, tenant_id: str, f: EventFilter) -> EventSummaryOut:
    """Counts by type, by UTC day and by source, with the interaction counts."""
    where = conditions(tenant_id, f)
    count = func.count().label("n")
    interactions = func.coalesce(func.sum(case((Event.type == INTERACTION, 1), else_=0)), 0).label(
        "interactions"
    )
    by_type = {
        row.type: int(row.n)
        for row in session.execute(
            select(Event.type, count).where(*where).group_by(Event.type).order_by(Event.type)
        )
    }
    day = _day(session).label("day")
    by_day = [
        DayCount(day=row.day, count=int(row.n), interactions=int(row.interactions))
        for row in session.execute(
            select(day, count, interactions).where(*where).group_by(day).order_by(day)
        )
    ]
    keys = (Event.source_kind, Event.source_name, Event.site_id, Event.camera_id)
    by_source = [
        SourceCount(
            source_kind=row.source_kind,
            source_name=row.source_name,
            site_id=row.site_id,
            camera_id=row.camera_id,
            count=int(row.n),
            interactions=int(row.interactions),
        )
        for row in session.execute(
            select(*keys, count, interactions)
            .where(*where)
            .group_by(*keys)
            .order_by(count.desc(), *keys)
        )
    ]
    total = sum(by_type.values())
    return EventSummaryOut(
        by_type=by_type,
        by_day=by_day,
        by_source=by_source,
        total=total,
        interactions=by_type.get(INTERACTION, 0),
    )
