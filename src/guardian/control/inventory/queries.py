"""Reads of the event inventory: the timeline (keyset pages), one event, and summaries.

Pages are newest first on (``started_at``, ``id``); ``started_at`` never changes after an
event is created, so a cursor neither skips nor repeats events while new ones arrive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from guardian.control.archive.tables import EventArchive
from guardian.control.inventory.cursor import encode_cursor
from guardian.control.inventory.repository import get_event, live_notes
from guardian.control.inventory.schemas import (
    ArchiveOut,
    DayCount,
    EventDetailOut,
    EventOut,
    EventPage,
    EventPageRows,
    EventRow,
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


def _param(name: str, value: Any, column: Any) -> Any:
    # Named parameters (not SQLAlchemy's anonymous ``tenant_id_1``) so that a filter's SQL
    # text depends only on which filters are set: ``timeline_statement`` reuses it.
    return bindparam(name, value, type_=column.type)


def conditions(tenant_id: str, f: EventFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a filter, always confined to ``tenant_id``."""
    where: list[ColumnElement[bool]] = [
        Event.tenant_id == _param("tenant_id", tenant_id, Event.tenant_id)
    ]
    if f.camera_id is not None:
        where.append(Event.camera_id == _param("camera_id", f.camera_id, Event.camera_id))
    if f.site_id is not None:
        where.append(Event.site_id == _param("site_id", f.site_id, Event.site_id))
    if f.type is not None:
        where.append(Event.type == _param("type", f.type, Event.type))
    if f.since is not None:
        where.append(Event.started_at >= _param("since", f.since, Event.started_at))
    if f.until is not None:
        where.append(Event.started_at < _param("until", f.until, Event.started_at))
    if f.has_notes is not None:
        where.append(Event.has_notes.is_(f.has_notes))
    if f.q:
        # ILIKE on PostgreSQL (pg_trgm GIN index); LIKE on SQLite, case-insensitive for
        # ASCII, over lower-cased search text.
        where.append(Event.search_text.ilike(like_pattern(f.q), escape=LIKE_ESCAPE))
    return where


def _camera_name() -> Any:
    return func.coalesce(Camera.display_name, Camera.edge_name).label("camera")


# The columns of a timeline row, in ``EventOut`` field order (``camera`` is the join's).
_EVENT_COLUMNS = (
    Event.id,
    Event.site_id,
    Event.camera_id,
    _camera_name(),
    Event.source_kind,
    Event.source_name,
    Event.type,
    Event.label,
    Event.zone,
    Event.dwell_s,
    Event.person_count,
    Event.confidence,
    Event.state,
    Event.started_at,
    Event.ended_at,
    Event.has_notes,
    Event.version,
    Event.created_at,
    Event.updated_at,
)
# The archive's columns follow (outer join: null when the event is not archived).
_ARCHIVE_COLUMNS = (EventArchive.cid, EventArchive.size_bytes, EventArchive.archived_at)
_ROW_KEYS = tuple(key for key in EventRow.__annotations__ if key != "archive")


def _select_rows() -> Select[Any]:
    """Timeline rows: the event's columns, its camera's name and its archive (no ORM
    entities)."""
    return (
        select(*_EVENT_COLUMNS, *_ARCHIVE_COLUMNS)
        .outerjoin(Camera, and_(Camera.id == Event.camera_id, Camera.tenant_id == Event.tenant_id))
        .outerjoin(
            EventArchive,
            and_(EventArchive.event_id == Event.id, EventArchive.tenant_id == Event.tenant_id),
        )
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
        position = (
            _param("after_started_at", after[0], Event.started_at),
            _param("after_id", after[1], Event.id),
        )
        where.append(tuple_(Event.started_at, Event.id) < tuple_(*position))
    return where


def _limit(limit: int) -> Any:
    return bindparam("limit", limit + 1, type_=Integer)  # one more: is there a next page?


def page_ids_query(
    tenant_id: str, f: EventFilter, *, limit: int, after: tuple[dt.datetime, str] | None
) -> Select[str]:
    """The ids of one page (``limit + 1`` rows, to tell whether another page follows)."""
    where = page_conditions(tenant_id, f, after)
    return select(Event.id).where(*where).order_by(*_order()).limit(_limit(limit))


def page_query(
    tenant_id: str, f: EventFilter, *, limit: int, after: tuple[dt.datetime, str] | None
) -> Select[Any]:
    """The rows of one timeline page (``limit + 1``, to tell whether another follows)."""
    where = page_conditions(tenant_id, f, after)
    return _select_rows().where(*where).order_by(*_order()).limit(_limit(limit))


# The SQL text of a timeline page by dialect and filter shape (which filters are set).
_STATEMENTS: dict[tuple[Any, ...], str] = {}


def timeline_statement(
    dialect: Dialect,
    tenant_id: str,
    f: EventFilter,
    *,
    limit: int,
    after: tuple[dt.datetime, str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """``page_query`` as the driver receives it: SQLAlchemy's SQL text for ``dialect``
    (compiled once per filter shape) and its parameters. Not for free text (``f.q``).
    """
    if f.q is not None:
        raise ValueError("free-text pages go through page_rows")
    shape = (dialect.name, *(v is not None for v in (f.camera_id, f.site_id, f.type)))
    shape += (f.since is not None, f.until is not None, f.has_notes, after is not None)
    sql = _STATEMENTS.get(shape)
    if sql is None:
        compiled = page_query(tenant_id, f, limit=limit, after=after).compile(dialect=dialect)
        sql = _STATEMENTS.setdefault(shape, compiled.string)
    utc = [None if t is None else t.astimezone(dt.UTC) for t in (f.since, f.until)]
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "camera_id": f.camera_id,
        "site_id": f.site_id,
        "type": f.type,
        "since": utc[0],  # UTC, as UtcDateTime binds them
        "until": utc[1],
        "limit": limit + 1,
    }
    if after is not None:
        values |= {"after_started_at": after[0].astimezone(dt.UTC), "after_id": after[1]}
    return sql, {name: value for name, value in values.items() if value is not None}


def page_rows(
    conn: Connection | Session,
    tenant_id: str,
    f: EventFilter,
    *,
    limit: int,
    after: tuple[dt.datetime, str] | None = None,
    lookup: Connection | Session | None = None,
) -> EventPageRows:
    """One page of the tenant's events, newest first, after the ``after`` position, as
    plain rows (``EventRow``: the fields of ``EventOut``).

    With ``lookup`` (an owner session), the page's ids are found there and the events are
    then read through ``conn``: on PostgreSQL ``ILIKE`` is not LEAKPROOF, so under
    row-level security the planner may not use the trigram index; the owner's query keeps
    the explicit tenant filter, and the tenant session still polices every row returned.
    """
    if lookup is None:
        query = page_query(tenant_id, f, limit=limit, after=after)
    else:
        ids = list(lookup.scalars(page_ids_query(tenant_id, f, limit=limit, after=after)))
        query = (
            _select_rows()
            .where(Event.tenant_id == tenant_id, Event.id.in_(ids))
            .order_by(*_order())
        )
    return rows_page(conn.execute(query).all(), limit)


_TIME_INDEXES = tuple(i for i, key in enumerate(_ROW_KEYS) if key.endswith("_at"))


def rows_page(rows: Sequence[Any], limit: int) -> EventPageRows:
    """A page from up to ``limit + 1`` rows of ``page_query`` (or ``timeline_statement``)."""
    items: list[EventRow] = []
    keys, width, times = _ROW_KEYS, len(_ROW_KEYS), _TIME_INDEXES
    first = times[0]
    for row in rows[:limit]:
        # A row's times all come in its session's time zone: UTC (the API's) on the
        # timeline's connections; a server's own elsewhere. One look tells which.
        if row[first].tzinfo is not dt.UTC:
            row = [*row]
            for i in times:
                row[i] = _utc(row[i])
        item: Any = dict(zip(keys, row, strict=False))  # keys end before the archive
        cid = row[width]
        item["archive"] = (
            None
            if cid is None
            else {"cid": cid, "size": row[width + 1], "archived_at": _utc(row[width + 2])}
        )
        items.append(item)
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(last["started_at"], last["id"])
    return {"items": items, "next_cursor": next_cursor}


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)


def list_events(
    session: Connection | Session,
    tenant_id: str,
    f: EventFilter,
    *,
    limit: int,
    after: tuple[dt.datetime, str] | None = None,
    lookup: Connection | Session | None = None,
) -> EventPage:
    """One page of the tenant's events as an ``EventPage`` (see ``page_rows``)."""
    page = page_rows(session, tenant_id, f, limit=limit, after=after, lookup=lookup)
    return EventPage.model_validate(page)


def page_json(page: EventPageRows) -> bytes:
    """The JSON of ``EventPage`` for a page of rows, byte for byte, without building the
    models: orjson writes the plain rows (times in UTC as ``Z``, as pydantic does; tested
    against the model's own JSON).
    """
    return orjson.dumps(page, option=orjson.OPT_UTC_Z)


def event_detail(session: Session, tenant_id: str, event_id: str) -> EventDetailOut:
    """One event with its notes and archive (``NotFound`` for an unknown or another
    tenant's id)."""
    event = get_event(session, tenant_id, event_id)
    camera = None
    if event.camera_id is not None:
        camera = session.scalar(
            select(_camera_name()).where(
                Camera.id == event.camera_id, Camera.tenant_id == tenant_id
            )
        )
    notes = [note_out(n) for n in live_notes(session, tenant_id, [event.id])]
    archived = session.scalar(
        select(EventArchive).where(
            EventArchive.event_id == event.id, EventArchive.tenant_id == tenant_id
        )
    )
    archive = None
    if archived is not None:
        archive = ArchiveOut(
            cid=archived.cid, size=archived.size_bytes, archived_at=archived.archived_at
        )
    out = event_out(event, camera)
    return EventDetailOut(**{**out.model_dump(), "archive": archive}, notes=notes)


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
