"""Interaction events (pure): which event a capture with people joins, and the event's fields.

A device's captures whose ``captured_at`` lie within the merge window of each other form
one ``interaction_detected`` event. Captures may be processed out of order (several
workers, retries), so a capture joins any event of its device whose time span, widened
by the window on both sides, contains it; when two events qualify, the closer one wins
(events are never merged with each other: both may already have been published).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from guardian.edge.detect.types import Box, Detection

EVENT_TYPE = "interaction_detected"
PERSON = "person"


@dataclass(frozen=True, slots=True)
class PersonBox:
    """One person seen in a capture: detector score and box (x1, y1, x2, y2 pixels)."""

    score: float
    box: Box

    def to_json(self) -> dict[str, Any]:
        return {"score": round(self.score, 4), "box": [round(v, 1) for v in self.box]}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> PersonBox:
        x1, y1, x2, y2 = (float(v) for v in data["box"])
        return PersonBox(float(data["score"]), (x1, y1, x2, y2))


@dataclass(frozen=True, slots=True)
class Sighting:
    """The people a processed capture shows (only those above the person threshold)."""

    capture_id: str
    device_id: str
    captured_at: dt.datetime
    persons: tuple[PersonBox, ...]
    model: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Interaction:
    """The accumulated state of one event: its captures, their times and people."""

    times: Mapping[str, dt.datetime]
    boxes: Mapping[str, tuple[PersonBox, ...]]
    models: tuple[Mapping[str, str], ...] = field(default=())

    @property
    def capture_ids(self) -> list[str]:
        """Capture ids in time order (id breaks ties, so the order is stable)."""
        return sorted(self.times, key=lambda cid: (self.times[cid], cid))

    @property
    def started_at(self) -> dt.datetime:
        return min(self.times.values())

    @property
    def ended_at(self) -> dt.datetime:
        return max(self.times.values())

    @property
    def person_count(self) -> int:
        """Most people seen at once (in one capture), not a sum across captures."""
        return max((len(b) for b in self.boxes.values()), default=0)

    @property
    def best_score(self) -> float:
        return max((p.score for b in self.boxes.values() for p in b), default=0.0)

    def gap(self, at: dt.datetime) -> dt.timedelta:
        """How far ``at`` lies outside the event's span (zero inside it)."""
        if at < self.started_at:
            return self.started_at - at
        if at > self.ended_at:
            return at - self.ended_at
        return dt.timedelta(0)

    def details(self) -> dict[str, Any]:
        """The event's ``details`` JSON."""
        ids = self.capture_ids
        return {
            "person_count": self.person_count,
            "best_score": round(self.best_score, 4),
            "capture_ids": ids,
            "captured_at": {cid: self.times[cid].isoformat() for cid in ids},
            "boxes": {cid: [p.to_json() for p in self.boxes[cid]] for cid in ids},
            "models": [dict(m) for m in self.models],
        }

    @staticmethod
    def from_details(details: Mapping[str, Any]) -> Interaction:
        """Rebuild the state from an event's ``details`` (inverse of ``details()``)."""
        times = {
            cid: _utc(dt.datetime.fromisoformat(at)) for cid, at in details["captured_at"].items()
        }
        boxes = {
            cid: tuple(PersonBox.from_json(b) for b in details["boxes"].get(cid, []))
            for cid in times
        }
        models = tuple(dict(m) for m in details.get("models", []))
        return Interaction(times, boxes, models)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a sighting: create ``event_id is None`` or update that event."""

    event_id: str | None
    interaction: Interaction
    changed: bool = True

    @property
    def creates(self) -> bool:
        return self.event_id is None


def people_in(detections: Iterable[Detection], threshold: float) -> tuple[PersonBox, ...]:
    """The person detections scoring at least ``threshold``, best first."""
    found = [PersonBox(d.score, d.box) for d in detections if d.label == PERSON]
    return tuple(sorted((p for p in found if p.score >= threshold), key=lambda p: -p.score))


def fold(current: Interaction | None, sighting: Sighting) -> Interaction:
    """``current`` with ``sighting``'s capture added (unchanged if it is already in)."""
    if current is not None and sighting.capture_id in current.times:
        return current
    times = dict(current.times) if current else {}
    boxes = dict(current.boxes) if current else {}
    models = tuple(current.models) if current else ()
    times[sighting.capture_id] = sighting.captured_at
    boxes[sighting.capture_id] = sighting.persons
    if sighting.model is not None and dict(sighting.model) not in [dict(m) for m in models]:
        models = (*models, dict(sighting.model))
    return Interaction(times, boxes, models)


def choose(
    sighting: Sighting, events: Sequence[tuple[str, Interaction]], window: dt.timedelta
) -> str | None:
    """The id of the event ``sighting`` joins, or ``None`` for a new event.

    An event qualifies when the capture falls inside its span widened by ``window``;
    the smallest gap wins, then the earlier start, then the smaller id (deterministic).
    """
    fits = [
        (ev.gap(sighting.captured_at), ev.started_at, eid, ev)
        for eid, ev in events
        if ev.gap(sighting.captured_at) <= window
    ]
    if not fits:
        return None
    return min(fits, key=lambda f: (f[0], f[1], f[2]))[2]


def decide(
    sighting: Sighting, events: Sequence[tuple[str, Interaction]], window: dt.timedelta
) -> Decision:
    """New event or merge, with the resulting event state.

    ``events``: the device's interaction events near the capture time (``id``, state).
    A capture already part of one of them changes nothing (``changed`` is False).
    """
    if not sighting.persons:
        raise ValueError(f"capture {sighting.capture_id} shows no person; it makes no event")
    for eid, ev in events:
        if sighting.capture_id in ev.times:
            return Decision(eid, ev, changed=False)
    target = choose(sighting, events, window)
    if target is None:
        return Decision(None, fold(None, sighting))
    current = dict(events)[target]
    return Decision(target, fold(current, sighting))


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
