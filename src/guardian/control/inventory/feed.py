"""The live-update feed: one ``event_feed`` row per event change, announced on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from guardian.common.db import utcnow
from guardian.control.store.tables import EventFeed

FeedKind = Literal["created", "updated", "note"]
FEED_KINDS: tuple[FeedKind, ...] = ("created", "updated", "note")
NOTIFY_CHANNEL = "guardian_events"


def record_change(session: Session, tenant_id: str, event_id: str, kind: FeedKind) -> int:
    """Append a feed row for ``event_id`` and return its id (the SSE event id).

    On PostgreSQL the same transaction sends ``NOTIFY guardian_events, '<tenant_id>:<id>'``,
    which listeners receive only once the transaction commits (and never if it rolls back).
    """
    if kind not in FEED_KINDS:
        raise ValueError(f"unknown feed kind {kind!r}")
    row = EventFeed(tenant_id=tenant_id, event_id=event_id, kind=kind, at=utcnow())
    session.add(row)
    session.flush()
    feed_id = int(row.id)
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(
            select(text("pg_notify(:channel, :payload)")),
            {"channel": NOTIFY_CHANNEL, "payload": f"{tenant_id}:{feed_id}"},
        )
    return feed_id


def record_changes(
    session: Session, tenant_id: str, event_ids: Sequence[str], kind: FeedKind
) -> list[int]:
    """:func:`record_change` for many events at once: one INSERT and one NOTIFY (with the
    last id; listeners read every row above what they have, so one wake-up is enough)."""
    if kind not in FEED_KINDS:
        raise ValueError(f"unknown feed kind {kind!r}")
    if not event_ids:
        return []
    at = utcnow()
    ids = list(
        session.scalars(
            insert(EventFeed)
            .values(
                [{"tenant_id": tenant_id, "event_id": e, "kind": kind, "at": at} for e in event_ids]
            )
            .returning(EventFeed.id)
        )
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(text("pg_notify(:channel, :payload)")),
            {"channel": NOTIFY_CHANNEL, "payload": f"{tenant_id}:{max(ids)}"},
        )
    return [int(i) for i in ids]
