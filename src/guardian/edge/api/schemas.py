"""Read API wire formats (pure): response models, the page cursor, timestamp parameters."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from guardian.edge.store.tables import Capture, Event

_EVENT_ID = "6f1c2a7e-3b9d-4c55-9a0e-2f4b8d1e7c30"
_CAPTURE_ID = "0b7e9d4a-1c2f-4e8b-9f3a-5d6c7b8a9e10"
MAX_CURSOR_CHARS = 256
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)


class ErrorDetail(BaseModel):
    """What went wrong: a stable ``code`` and a human ``message``."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=[f"no capture {_CAPTURE_ID}"])


class ErrorBody(BaseModel):
    """Every error of the edge API: ``{"error": {"code", "message", ...}}``."""

    error: ErrorDetail


# The media kinds of a camera event and the file name each is served under.
MEDIA_FILES = {"snapshot": "snapshot.jpg", "thumbnail": "thumbnail.jpg", "clip": "clip.mp4"}
# Media in these states is, or will soon be, served.
_LINKED_STATES = frozenset({"pending", "present"})
_MEDIA_LINK = (
    "Camera events only; null when there is no such media or it failed or is gone "
    "(a pending one answers 404 until it is ready)."
)


class EventLinks(BaseModel):
    """Where to find the event and its captures."""

    self_: str = Field(serialization_alias="self", examples=[f"/v1/events/{_EVENT_ID}"])
    captures: list[str] = Field(examples=[[f"/v1/captures/{_CAPTURE_ID}"]])
    snapshot: str | None = Field(
        None,
        examples=[f"/v1/events/{_EVENT_ID}/snapshot.jpg"],
        description=_MEDIA_LINK,
    )
    thumbnail: str | None = Field(
        None, examples=[f"/v1/events/{_EVENT_ID}/thumbnail.jpg"], description=_MEDIA_LINK
    )
    clip: str | None = Field(
        None, examples=[f"/v1/events/{_EVENT_ID}/clip.mp4"], description=_MEDIA_LINK
    )


class EventOut(BaseModel):
    """An event as listed: what happened, where, when, and which captures show it."""

    id: str = Field(examples=[_EVENT_ID])
    type: str = Field(examples=["interaction_detected"])
    source_kind: str = Field(examples=["device"], description="device | camera")
    source_id: str = Field(examples=["shop-door-pi"], description="The device (or camera) id.")
    started_at: dt.datetime = Field(examples=["2026-03-01T09:15:02.120000Z"])
    ended_at: dt.datetime = Field(examples=["2026-03-01T09:15:09.870000Z"])
    person_count: int = Field(examples=[2], description="Most people seen in one capture.")
    best_score: float = Field(examples=[0.91], description="Best person confidence.")
    capture_ids: list[str] = Field(examples=[[_CAPTURE_ID]], description="Oldest first.")
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = Field(examples=[1], description="Bumped each time a capture joins.")
    camera: str | None = Field(None, examples=["front"], description="Camera events only.")
    label: str | None = Field(None, examples=["person"], description="person | vehicle")
    zone: str | None = Field(None, examples=["shelf"], description="The interaction's zone.")
    dwell_s: float | None = Field(None, examples=[3.4], description="Seconds in the zone.")
    zones: list[str] | None = Field(None, examples=[["shelf"]], description="Zones entered.")
    state: str | None = Field(None, examples=["ended"], description="active | ended")
    links: EventLinks


class EventDetail(EventOut):
    """One event with its details (e.g. the boxes of the people seen)."""

    details: dict[str, Any] = Field(
        examples=[{"boxes": [{"capture_id": _CAPTURE_ID, "box": [0.1, 0.2, 0.4, 0.9]}]}]
    )


class EventPage(BaseModel):
    """A page of events, newest first; pass ``next_cursor`` back as ``cursor`` for more."""

    items: list[EventOut]
    next_cursor: str | None = Field(
        examples=["WyIyMDI2LTAzLTAxVDA5OjE1OjAyLjEyMDAwMCswMDowMCIsIjZmMWMiXQ"],
        description="Null on the last page.",
    )


class CaptureLinks(BaseModel):
    """Where to find the capture, its image and its event."""

    self_: str = Field(serialization_alias="self", examples=[f"/v1/captures/{_CAPTURE_ID}"])
    image: str | None = Field(
        examples=[f"/v1/captures/{_CAPTURE_ID}/image"],
        description="Null once the file was pruned or found missing.",
    )
    event: str | None = Field(examples=[f"/v1/events/{_EVENT_ID}"])


class CaptureOut(BaseModel):
    """A capture's metadata (the image itself is at ``links.image``)."""

    id: str = Field(examples=[_CAPTURE_ID])
    device_id: str = Field(examples=["shop-door-pi"])
    device_seq: int = Field(examples=[1042])
    captured_at: dt.datetime = Field(examples=["2026-03-01T09:15:02.120000Z"])
    received_at: dt.datetime = Field(examples=["2026-03-01T09:15:02.480000Z"])
    size: int = Field(examples=[184320], description="Bytes.")
    sha256: str = Field(
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
    )
    content_type: str = Field(examples=["image/jpeg"])
    width: int = Field(examples=[1280])
    height: int = Field(examples=[720])
    status: str = Field(examples=["processed"], description="stored | processed | failed")
    processed_at: dt.datetime | None
    person_count: int | None = Field(examples=[2])
    detections: dict[str, Any] | None = Field(
        examples=[{"people": [{"score": 0.91, "box": [0.1, 0.2, 0.4, 0.9]}]}]
    )
    file_state: str = Field(examples=["present"], description="present | pruned | missing")
    file_state_at: dt.datetime | None
    event_id: str | None = Field(examples=[_EVENT_ID])
    links: CaptureLinks


class Health(BaseModel):
    """Liveness of the edge and its database."""

    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"])


def event_out(
    event: Event, capture_ids: Sequence[str], media: Mapping[str, str] | None = None
) -> EventOut:
    """The list shape of an event; ``media`` maps a camera event's media kinds to states."""
    return EventOut(**_event_fields(event, capture_ids, media or {}))


def event_detail(
    event: Event, capture_ids: Sequence[str], media: Mapping[str, str] | None = None
) -> EventDetail:
    """The single-event shape, with details."""
    return EventDetail(**_event_fields(event, capture_ids, media or {}), details=event.details)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None  # type: ignore[arg-type]


def _camera_fields(event: Event) -> dict[str, Any]:
    """What a camera event's details say (nothing for other events: the fields stay null)."""
    if event.source_kind != "camera":
        return {}
    d = event.details if isinstance(event.details, dict) else {}
    zones = d.get("zones")
    return {
        "camera": _text(d.get("camera")) or event.source_id,
        "label": _text(d.get("label")),
        "zone": _text(d.get("zone")),
        "dwell_s": _number(d.get("dwell_s")),
        "zones": [z for z in zones if isinstance(z, str)] if isinstance(zones, list) else None,
        "state": _text(d.get("state")),
    }


def _media_links(event: Event, media: Mapping[str, str]) -> dict[str, str | None]:
    if event.source_kind != "camera":
        return {}
    return {
        kind: f"/v1/events/{event.id}/{name}" if media.get(kind) in _LINKED_STATES else None
        for kind, name in MEDIA_FILES.items()
    }


def _event_fields(
    event: Event, capture_ids: Sequence[str], media: Mapping[str, str]
) -> dict[str, Any]:
    links = EventLinks(
        self_=f"/v1/events/{event.id}",
        captures=[f"/v1/captures/{c}" for c in capture_ids],
        **_media_links(event, media),
    )
    return {
        **_camera_fields(event),
        "id": event.id,
        "type": event.type,
        "source_kind": event.source_kind,
        "source_id": event.source_id,
        "started_at": event.started_at,
        "ended_at": event.ended_at,
        "person_count": event.person_count,
        "best_score": event.best_score,
        "capture_ids": list(capture_ids),
        "created_at": event.created_at,
        "updated_at": event.updated_at,
        "version": event.version,
        "links": links,
    }


def capture_out(capture: Capture, event_id: str | None) -> CaptureOut:
    """A capture's metadata shape."""
    base = f"/v1/captures/{capture.id}"
    links = CaptureLinks(
        self_=base,
        image=f"{base}/image" if capture.file_state == "present" else None,
        event=f"/v1/events/{event_id}" if event_id else None,
    )
    return CaptureOut(
        id=capture.id,
        device_id=capture.device_id,
        device_seq=capture.device_seq,
        captured_at=capture.captured_at,
        received_at=capture.received_at,
        size=capture.size_bytes,
        sha256=capture.sha256,
        content_type=capture.content_type,
        width=capture.width,
        height=capture.height,
        status=capture.status,
        processed_at=capture.processed_at,
        person_count=capture.person_count,
        detections=capture.detections,
        file_state=capture.file_state,
        file_state_at=capture.file_state_at,
        event_id=event_id,
        links=links,
    )


def parse_timestamp(value: str) -> dt.datetime:
    """An RFC 3339 timestamp with a timezone (``2026-03-01T09:15:00Z``), as aware UTC."""
    if not _RFC3339.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an RFC 3339 timestamp with a timezone, "
            "e.g. 2026-03-01T09:15:00Z or 2026-03-01T10:15:00+01:00"
        )
    try:
        return dt.datetime.fromisoformat(value.upper()).astimezone(dt.UTC)
    except ValueError as exc:  # e.g. month 13
        raise ValueError(f"{value!r} is not a valid timestamp: {exc}") from exc
