"""The event cache: full edge events by id (newest version), each change queued for forwarding.

``store_batch`` writes the cache rows and the forward queue rows in the caller's
transaction, so an edge batch is either held completely (and may be acknowledged) or not
at all. Redelivery is harmless: an event whose version the cache already holds (or a newer
one) changes nothing and queues nothing. Concurrent deliveries of one batch are safe too:
``INSERT … ON CONFLICT DO NOTHING`` makes one row, and the version comparison runs on
rows locked ``FOR UPDATE`` (SQLite serialises write transactions anyway).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from guardian.relay.store.cursor import decode_cursor, encode_cursor
from guardian.relay.store.tables import CachedEvent, ForwardQueue
from guardian.relay.summarize import summarize

logger = logging.getLogger(__name__)

DEFAULT_TTL = dt.timedelta(days=7)
MAX_PAGE = 500


class EventConflict(Exception):
    """An event id the cache already holds for another tenant or site (never overwritten)."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id} belongs to another site")
        self.event_id = event_id


@dataclass(frozen=True, slots=True)
class _Incoming:
    summary: dict[str, Any]
    payload: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.summary["id"])

    @property
    def version(self) -> int:
        return int(self.summary["version"])


@dataclass(frozen=True, slots=True)
class EventFilters:
    """Filters of the tenant's event list; ``since``/``until`` bound ``started_at``."""

    site_id: str | None = None
    source_kind: str | None = None
    source_name: str | None = None
    type: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class CachedEventView:
    """One cached event: the edge's full JSON and where and when the relay got it."""

    id: str
    tenant_id: str
    site_id: str
    version: int
    received_at: dt.datetime
    expires_at: dt.datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventPage:
    items: list[CachedEventView]
    next_cursor: str | None


def _insert(session: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """A dialect ``INSERT`` that supports ``on_conflict_do_nothing``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


def _latest(
    events: Sequence[Mapping[str, Any]],
    tenant_id: str,
    site_id: str,
    summaries: Sequence[dict[str, Any]] | None = None,
) -> dict[str, _Incoming]:
    """Each event id's highest version in the batch (first seen wins a tie), summarised.

    Summarising everything before writing anything makes a malformed event fail the batch
    (``SummaryError``) with nothing written. ``summaries``: the events' summaries made
    already by the caller (same order), so they are not made twice.
    """
    if summaries is None:
        summaries = [summarize(e, tenant_id=tenant_id, site_id=site_id) for e in events]
    elif len(summaries) != len(events):
        raise ValueError("one summary per event is needed")
    latest: dict[str, _Incoming] = {}
    for event, summary in zip(events, summaries, strict=True):
        item = _Incoming(summary, dict(event))
        known = latest.get(item.id)
        if known is None or item.version > known.version:
            latest[item.id] = item
    return latest


def _row(item: _Incoming, now: dt.datetime, ttl: dt.timedelta) -> dict[str, Any]:
    s = item.summary
    return {
        "version": item.version,
        "type": s["type"],
        "source_kind": s["source_kind"],
        "source_name": s["source_name"],
        "started_at": dt.datetime.fromisoformat(s["started_at"]),
        "payload": item.payload,
        "received_at": now,
        "expires_at": now + ttl,
    }


def _create_new(
    session: Session,
    latest: dict[str, _Incoming],
    tenant_id: str,
    site_id: str,
    now: dt.datetime,
    ttl: dt.timedelta,
) -> set[str]:
    """Insert the events the cache does not hold yet; the ids actually inserted."""
    values = [
        {"id": eid, "tenant_id": tenant_id, "site_id": site_id, **_row(item, now, ttl)}
        for eid, item in sorted(latest.items())  # one lock order for concurrent batches
    ]
    # executemany of one cached statement (batched by the driver's insertmanyvalues):
    # a multi-row ``.values(rows)`` would be compiled afresh for every batch.
    statement = (
        _insert(session, CachedEvent.__table__)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(CachedEvent.__table__.c.id)
    )
    return set(session.execute(statement, values).scalars())


def _advance_known(
    session: Session,
    latest: dict[str, _Incoming],
    ids: set[str],
    tenant_id: str,
    site_id: str,
    now: dt.datetime,
    ttl: dt.timedelta,
) -> set[str]:
    """Update held events to a newer delivered version; the ids updated."""
    if not ids:
        return set()
    held = session.execute(
        select(CachedEvent.id, CachedEvent.tenant_id, CachedEvent.site_id, CachedEvent.version)
        .where(CachedEvent.id.in_(ids))
        .order_by(CachedEvent.id)
        .with_for_update()
    ).all()
    advanced: set[str] = set()
    for eid, row_tenant, row_site, version in held:
        if (row_tenant, row_site) != (tenant_id, site_id):
            raise EventConflict(eid)
        item = latest[eid]
        if item.version <= version:
            continue
        session.execute(
            update(CachedEvent)
            .where(CachedEvent.id == eid, CachedEvent.version < item.version)
            .values(**_row(item, now, ttl))
        )
        advanced.add(eid)
    return advanced


def _enqueue(
    session: Session, items: Sequence[_Incoming], tenant_id: str, now: dt.datetime
) -> None:
    """Queue the summaries, dropping queued older versions they supersede."""
    if not items:
        return
    versions = {item.id: item.version for item in items}
    queued = session.execute(
        select(ForwardQueue.id, ForwardQueue.event_id, ForwardQueue.version).where(
            ForwardQueue.event_id.in_(versions)
        )
    ).all()
    stale = [qid for qid, eid, version in queued if version < versions[eid]]
    if stale:
        session.execute(delete(ForwardQueue).where(ForwardQueue.id.in_(stale)))
    values = [
        {
            "event_id": item.id,
            "tenant_id": tenant_id,
            "version": item.version,
            "summary": item.summary,
            "created_at": now,
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": None,
        }
        for item in items
    ]
    session.execute(
        _insert(session, ForwardQueue.__table__).on_conflict_do_nothing(
            index_elements=["event_id", "version"]
        ),
        values,
    )


def store_batch(
    session: Session,
    tenant_id: str,
    site_id: str,
    events: Sequence[Mapping[str, Any]],
    now: dt.datetime,
    *,
    ttl: dt.timedelta = DEFAULT_TTL,
    summaries: Sequence[dict[str, Any]] | None = None,
) -> list[str]:
    """Cache a batch of edge events and queue their summaries, in ``session``'s transaction.

    ``tenant_id``/``site_id`` are the sending edge's enrolled identity. Returns the ids
    (in batch order) that were new or advanced to a newer version and so were queued; an
    empty list means the batch was a redelivery. On success the whole batch is held and
    may be acknowledged. Raises ``SummaryError`` for a malformed event and
    ``EventConflict`` for an id held for another site; the caller must then roll back.
    ``summaries`` (optional) are the events' summaries, in order, if the caller made them.
    """
    latest = _latest(events, tenant_id, site_id, summaries)
    if not latest:
        return []
    created = _create_new(session, latest, tenant_id, site_id, now, ttl)
    advanced = _advance_known(session, latest, set(latest) - created, tenant_id, site_id, now, ttl)
    changed = created | advanced
    ordered = [item for eid, item in latest.items() if eid in changed]
    _enqueue(session, ordered, tenant_id, now)
    logger.debug(
        "event batch cached",
        extra={"site_id": site_id, "events": len(events), "queued": len(ordered)},
    )
    return [item.id for item in ordered]


def purge_expired(session: Session, now: dt.datetime) -> int:
    """Delete cached events whose expiry has passed; how many were deleted."""
    result = session.execute(delete(CachedEvent).where(CachedEvent.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


def list_events(
    session: Session,
    tenant_id: str,
    filters: EventFilters | None = None,
    cursor: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> EventPage:
    """A page of the tenant's cached events, newest ``started_at`` first (keyset paging).

    ``now`` hides events already past expiry but not yet purged. ``InvalidCursor`` for a
    cursor this function did not return.
    """
    f = filters or EventFilters()
    limit = max(1, min(f.limit, MAX_PAGE))
    query = select(CachedEvent).where(CachedEvent.tenant_id == tenant_id)
    conditions = [
        (f.site_id, CachedEvent.site_id),
        (f.source_kind, CachedEvent.source_kind),
        (f.source_name, CachedEvent.source_name),
        (f.type, CachedEvent.type),
    ]
    for value, column in conditions:
        if value is not None:
            query = query.where(column == value)
    if f.since is not None:
        query = query.where(CachedEvent.started_at >= f.since)
    if f.until is not None:
        query = query.where(CachedEvent.started_at < f.until)
    if now is not None:
        query = query.where(CachedEvent.expires_at > now)
    if cursor is not None:
        at, after_id = decode_cursor(cursor)
        query = query.where(
            or_(
                CachedEvent.started_at < at,
                and_(CachedEvent.started_at == at, CachedEvent.id < after_id),
            )
        )
    query = query.order_by(CachedEvent.started_at.desc(), CachedEvent.id.desc()).limit(limit + 1)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        CachedEventView(
            r.id, r.tenant_id, r.site_id, r.version, r.received_at, r.expires_at, r.payload
        )
        for r in rows
    ]
    last = rows[-1] if rows else None
    next_cursor = encode_cursor(last.started_at, last.id) if more and last else None
    return EventPage(items, next_cursor)
