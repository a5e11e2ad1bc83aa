"""Applying interaction decisions: event row, capture link and outbox message in one transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guardian.common.db import utcnow
from guardian.edge.events.interactions import EVENT_TYPE, Interaction, Sighting, decide
from guardian.edge.store.tables import Event, EventCapture, Outbox

logger = logging.getLogger(__name__)

OUTBOX_TOPIC = "event.upsert"
SOURCE_DEVICE = "device"


@dataclass(frozen=True, slots=True)
class EventChange:
    """What ``record_sighting`` did to an event."""

    event_id: str
    version: int
    created: bool


def event_json(event: Event) -> dict[str, Any]:
    """The full wire form of an event (the outbox payload)."""
    return {
        "id": event.id,
        "type": event.type,
        "source_kind": event.source_kind,
        "source_id": event.source_id,
        "started_at": event.started_at.isoformat(),
        "ended_at": event.ended_at.isoformat(),
        "person_count": event.person_count,
        "best_score": event.best_score,
        "details": event.details,
        "created_at": event.created_at.isoformat(),
        "updated_at": event.updated_at.isoformat(),
        "version": event.version,
    }


def _lock_device(session: Session, device_id: str) -> None:
    """Serialise event decisions per device until the transaction ends.

    Two workers handling captures of one device at once would otherwise both see "no
    event yet" and create two. SQLite needs nothing: its write transactions
    (BEGIN IMMEDIATE) are serial already.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"guardian.events:{device_id}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    session.execute(select(func.pg_advisory_xact_lock(key)))


def _nearby(session: Session, sighting: Sighting, window: dt.timedelta) -> list[Event]:
    """The device's interaction events whose span, widened by ``window``, holds the capture."""
    return list(
        session.scalars(
            select(Event)
            .where(
                Event.type == EVENT_TYPE,
                Event.source_kind == SOURCE_DEVICE,
                Event.source_id == sighting.device_id,
                Event.ended_at >= sighting.captured_at - window,
                Event.started_at <= sighting.captured_at + window,
            )
            .order_by(Event.started_at, Event.id)
        )
    )


def _apply(event: Event, state: Interaction, now: dt.datetime) -> None:
    event.started_at = state.started_at
    event.ended_at = state.ended_at
    event.person_count = state.person_count
    event.best_score = round(state.best_score, 4)
    event.details = state.details()  # a new dict: JSON columns do not track in-place edits
    event.updated_at = now


def record_sighting(
    session: Session,
    sighting: Sighting,
    *,
    window: dt.timedelta,
    now: dt.datetime | None = None,
) -> EventChange | None:
    """Create or extend the interaction event for a capture with people, in ``session``.

    Writes the event (new version), the capture link and an ``event.upsert`` outbox row
    carrying the event's full JSON. Exactly once per capture: a capture already linked
    to an event changes nothing and returns ``None``.
    """
    now = now or utcnow()
    _lock_device(session, sighting.device_id)
    linked = session.scalar(
        select(EventCapture.event_id).where(EventCapture.capture_id == sighting.capture_id)
    )
    if linked is not None:
        logger.info(
            "capture already part of an event",
            extra={"capture_id": sighting.capture_id, "event_id": linked},
        )
        return None
    rows = {e.id: e for e in _nearby(session, sighting, window)}
    decision = decide(
        sighting, [(eid, Interaction.from_details(e.details)) for eid, e in rows.items()], window
    )
    if not decision.changed:  # in the event's details but unlinked: never count it twice
        return None
    if decision.event_id is None:
        event = Event(
            id=str(uuid.uuid4()),
            type=EVENT_TYPE,
            source_kind=SOURCE_DEVICE,
            source_id=sighting.device_id,
            created_at=now,
            version=1,
        )
        _apply(event, decision.interaction, now)
        session.add(event)
    else:
        event = rows[decision.event_id]
        _apply(event, decision.interaction, now)
        event.version += 1
    session.flush()  # the event row must exist before the link that references it
    session.add(EventCapture(event_id=event.id, capture_id=sighting.capture_id))
    session.add(Outbox(topic=OUTBOX_TOPIC, key=event.id, payload=event_json(event), created_at=now))
    session.flush()
    logger.info(
        "interaction event %s",
        "created" if decision.creates else "extended",
        extra={"event_id": event.id, "capture_id": sighting.capture_id, "version": event.version},
    )
    return EventChange(event.id, event.version, decision.creates)
