"""Camera event actions into the store: one event row per key, upserted, with outbox and media.

The engine (``guardian.edge.track.lifecycle``) emits ``start``/``update``/``end`` actions
sharing a key; the row's id is derived from the key, so replaying an action (a retry after
a failed commit) updates the same row instead of creating another.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from guardian.edge.events.store import OUTBOX_TOPIC, event_json
from guardian.edge.store.tables import Event, EventMedia, Outbox
from guardian.edge.track.lifecycle import INTERACTION, PERSON, EventAction

SOURCE_CAMERA = "camera"
_NAMESPACE = uuid.UUID("5d0f6a3e-8c1b-4f7e-9a2d-6b4c3e1f0a97")


def event_id_for(key: str) -> str:
    """The stable event id of an engine key."""
    return str(uuid.uuid5(_NAMESPACE, key))


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


@dataclass(frozen=True, slots=True)
class StoredMedia:
    """A media file already written (atomically) for an event, relative to the media dir."""

    kind: str  # snapshot | thumbnail
    path: str
    content_type: str
    size_bytes: int
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClipPlan:
    """The clip an ended event should get: its span and when its footage is complete."""

    start: float
    end: float
    due: float


def _person_count(action: EventAction) -> int:
    if action.event_type == INTERACTION:
        return action.peak_person_count or action.person_count or 1
    return 1 if action.label == PERSON else 0


def _details(action: EventAction) -> dict[str, Any]:
    return {
        "camera": action.camera,
        "label": action.label,
        "track_id": action.track_id,
        "zones": list(action.zones),
        "zone": action.zone,
        "dwell_s": None if action.dwell_s is None else round(action.dwell_s, 3),
        "state": "ended" if action.kind == "end" else "active",
        "person_count": action.person_count if action.person_count is not None else None,
        "peak_person_count": action.peak_person_count,
        "best_at": utc(action.best_ts).isoformat(),
        # The snapshot's box (its frame's pixels), drawn by the UI over the snapshot.
        "best_box": [round(v, 1) for v in action.best_box],
        "key": action.key,
    }


def _upsert_media(
    session: Session,
    event_id: str,
    camera: str,
    kind: str,
    now: dt.datetime,
    expires_at: dt.datetime,
    **values: Any,
) -> None:
    row = session.get(EventMedia, (event_id, kind))
    if row is None:
        row = EventMedia(event_id=event_id, kind=kind, camera=camera, created_at=now)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.expires_at = expires_at
    row.updated_at = now


def apply_action(
    session: Session,
    action: EventAction,
    *,
    now: dt.datetime,
    events_days: float,
    media: list[StoredMedia] | None = None,
    clip: ClipPlan | None = None,
) -> Event:
    """Create or update the action's event (plus outbox row and media rows) in ``session``."""
    event_id = event_id_for(action.key)
    event = session.get(Event, event_id)
    end_ts = action.end_ts if action.end_ts is not None else action.ts
    if event is None:
        event = Event(
            id=event_id,
            type=action.event_type,
            source_kind=SOURCE_CAMERA,
            source_id=action.camera,
            created_at=now,
            version=1,
        )
        session.add(event)
    else:
        event.version += 1
    event.started_at = utc(action.start_ts)
    event.ended_at = utc(max(end_ts, action.start_ts))
    event.person_count = _person_count(action)
    event.best_score = round(action.best_score, 4)
    event.details = _details(action)
    event.updated_at = now
    session.flush()
    expires = event.ended_at + dt.timedelta(days=events_days)
    for item in media or ():
        _upsert_media(
            session,
            event_id,
            action.camera,
            item.kind,
            now,
            expires,
            state="present",
            path=item.path,
            content_type=item.content_type,
            size_bytes=item.size_bytes,
            meta=item.meta,
        )
    if clip is not None:
        _upsert_media(
            session,
            event_id,
            action.camera,
            "clip",
            now,
            expires,
            state="pending",
            content_type="video/mp4",
            due_at=utc(clip.due),
            meta={"start": clip.start, "end": clip.end},
            attempts=0,
            last_error=None,
        )
    elif action.kind == "end":
        # Snapshots written earlier expire relative to the event's real end.
        for kind in ("snapshot", "thumbnail"):
            row = session.get(EventMedia, (event_id, kind))
            if row is not None:
                row.expires_at = expires
    session.add(Outbox(topic=OUTBOX_TOPIC, key=event.id, payload=event_json(event), created_at=now))
    session.flush()
    return event
