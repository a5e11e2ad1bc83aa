"""What MQTT publishing reads from the edge store: sources and their state, "today"
counters, and event versions committed since a cursor.

The event feed is a cursor over ``events.updated_at`` (the outbox is the link's and is
left alone). Writers stamp ``updated_at`` before they commit, so a version can become
visible after a later-stamped one; each read therefore looks back ``LOOKBACK`` behind the
cursor and drops versions it already returned. Reads go per source through the
``(source_kind, source_id, ended_at)`` index, so only events that are still going on or
ended within the window are announced: a capture a device delivers hours late (from its
spool) updates the counters but is not published as news.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guardian.edge.events.store import event_json
from guardian.edge.mqtt.messages import CAMERA, DEVICE, INTERACTION
from guardian.edge.store.tables import Camera, CameraStatus, Device, Event

LOOKBACK = dt.timedelta(seconds=30)
_PERSONISH = ("person", None)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Sources:
    """Cameras (name → state) and active capture devices, with today's interaction counts
    and the cameras where a person is present now."""

    cameras: dict[str, str]
    devices: list[str]
    interactions: dict[tuple[str, str], int]
    present: frozenset[str]

    def pairs(self) -> list[tuple[str, str]]:
        """Every source as (kind, name)."""
        return list(self.interactions)


def read_sources(
    session: Session, *, now: dt.datetime, today: dt.datetime, presence: dt.timedelta
) -> Sources:
    """The store's cameras, devices, counters since ``today`` and presence within
    ``presence`` of ``now``."""
    statuses = dict(session.execute(select(CameraStatus.name, CameraStatus.state)).all())
    cameras = {
        name: (statuses.get(name, "unknown") if enabled else "disabled")
        for name, enabled in session.execute(select(Camera.name, Camera.enabled))
    }
    devices = list(
        session.scalars(select(Device.id).where(Device.revoked_at.is_(None)).order_by(Device.id))
    )
    pairs = [(CAMERA, c) for c in cameras] + [(DEVICE, d) for d in devices]
    interactions = {pair: _interactions_since(session, *pair, today) for pair in pairs}
    present = frozenset(
        name for name in cameras if _person_present(session, name, (now - presence))
    )
    return Sources(cameras, devices, interactions, present)


def _interactions_since(session: Session, kind: str, source: str, since: dt.datetime) -> int:
    # ended_at >= since follows from started_at >= since and lets the source index bound it.
    start = since.astimezone(dt.UTC)
    counted = session.scalar(
        select(func.count()).where(
            Event.source_kind == kind,
            Event.source_id == source,
            Event.ended_at >= start,
            Event.started_at >= start,
            Event.type == INTERACTION,
        )
    )
    return int(counted or 0)


def _person_present(session: Session, camera: str, since: dt.datetime) -> bool:
    recent = session.scalars(
        select(Event.details).where(
            Event.source_kind == CAMERA,
            Event.source_id == camera,
            Event.ended_at >= since.astimezone(dt.UTC),
        )
    )
    return any(
        (details or {}).get("state") == "active" and (details or {}).get("label") in _PERSONISH
        for details in recent
    )


@dataclass
class EventFeed:
    """Event versions committed after ``cursor``, each returned once."""

    cursor: dt.datetime
    _seen: dict[tuple[str, int], dt.datetime] = field(default_factory=dict)

    def read(self, session: Session, sources: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """New event versions of ``sources`` ((kind, name) pairs) in outbox JSON form,
        oldest first; advances the cursor."""
        since = (self.cursor - LOOKBACK).astimezone(dt.UTC)
        rows: list[Event] = []
        for kind, name in sources:
            rows.extend(
                session.scalars(
                    select(Event).where(
                        Event.source_kind == kind,
                        Event.source_id == name,
                        Event.ended_at >= since,
                        Event.updated_at > since,
                    )
                )
            )
        rows.sort(key=lambda e: (_aware(e.updated_at), e.id))
        fresh: list[dict[str, Any]] = []
        for event in rows:
            stamp = _aware(event.updated_at)
            key = (event.id, event.version)
            if key in self._seen:
                continue
            self._seen[key] = stamp
            fresh.append(event_json(event))
            self.cursor = max(self.cursor, stamp)
        horizon = self.cursor - 2 * LOOKBACK
        self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
        return fresh

    def forget(self, events: list[dict[str, Any]]) -> None:
        """Return ``events`` to the feed (they could not be published)."""
        for event in events:
            self._seen.pop((event["id"], event["version"]), None)
