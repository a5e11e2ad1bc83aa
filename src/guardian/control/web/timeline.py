"""The timeline's query: filters from the page's query string, pages, and date groups (pure)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from guardian.control.inventory.queries import EventFilter
from guardian.control.inventory.schemas import EventOut
from guardian.control.inventory.search import MAX_QUERY_CHARS
from guardian.control.web.forms import local_day_start

PAGE_SIZE = 25
KNOWN_TYPES = ("interaction_detected", "person_detected", "car_detected", "dog_detected")


@dataclass(frozen=True, slots=True)
class TimelineQuery:
    """What the viewer asked for: the filter fields as typed, and where the page starts."""

    camera: str = ""
    type: str = ""
    since: str = ""
    until: str = ""
    q: str = ""
    cursor: str | None = None
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, params: Mapping[str, str]) -> TimelineQuery:
        """Read the query string (over-long values are cut to what the API accepts)."""
        camera = params.get("camera", "").strip()[:36]
        type_ = params.get("type", "").strip()[:64]
        since = params.get("since", "").strip()[:10]
        until = params.get("until", "").strip()[:10]
        q = " ".join(params.get("q", "").split())[:MAX_QUERY_CHARS]
        cursor = params.get("cursor") or None
        values = {"camera": camera, "type": type_, "since": since, "until": until, "q": q}
        return cls(camera, type_, since, until, q, cursor, values)

    def event_filter(self, zone: zoneinfo.ZoneInfo) -> EventFilter:
        """The inventory filter; dates are whole days in the viewer's zone, ``until`` included."""
        since = local_day_start(self.since, zone) if self.since else None
        until = None
        if self.until:
            local_day_start(self.until, zone)  # ``Unprocessable`` unless a date
            day_after = dt.date.fromisoformat(self.until) + dt.timedelta(days=1)
            until = local_day_start(day_after.isoformat(), zone)
        return EventFilter(
            camera_id=self.camera or None,
            type=self.type or None,
            since=since,
            until=until,
            q=self.q or None,
        )

    @property
    def filtered(self) -> bool:
        return any(self.values.values())

    def link(self, **changes: str | None) -> str:
        """A query string with the current filters and ``changes`` (``None`` drops a key)."""
        merged: dict[str, str | None] = {**self.values, **changes}
        return "?" + urlencode({k: v for k, v in merged.items() if v})


def group_by_day(events: Iterable[EventOut]) -> list[tuple[str, list[EventOut]]]:
    """Consecutive events grouped by their UTC start day (the page script regroups them by
    the viewer's own day)."""
    groups: list[tuple[str, list[EventOut]]] = []
    for event in events:
        started = event.started_at
        if started.tzinfo is None:
            started = started.replace(tzinfo=dt.UTC)
        day = started.astimezone(dt.UTC).date().isoformat()
        if not groups or groups[-1][0] != day:
            groups.append((day, []))
        groups[-1][1].append(event)
    return groups
