"""Edge event JSON to the control plane's event summary (pure, allow-list only).

The control plane stores summaries, never detail: this module builds a new dict from the
named fields below and nothing else, so boxes, scores, capture ids, image and storage
references, track ids and keys can never leak through, whatever an edge adds later.

Edge events come in two shapes (``guardian.edge.events``): camera events, whose
``details`` carry ``camera``, ``label``, ``zone``/``zones``, ``dwell_s`` and ``state``;
and capture (device) interaction events, whose ``details`` carry only captures, boxes and
models. Capture events are labelled ``person`` and reported ``ended``: each version is a
finished set of captures.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any, Final, Literal

Confidence = Literal["low", "medium", "high"]

#: ``best_score`` below this is ``low`` confidence.
MEDIUM_CONFIDENCE: Final = 0.5
#: ``best_score`` at or above this is ``high`` confidence (``medium`` in between).
HIGH_CONFIDENCE: Final = 0.75
#: Label of capture (device) events, which only ever count people.
CAPTURE_LABEL: Final = "person"
#: Dwell times are reported to a tenth of a second.
DWELL_DECIMALS: Final = 1

SOURCE_KINDS: Final = frozenset({"camera", "device"})
STATES: Final = frozenset({"active", "ended"})
SUMMARY_FIELDS: Final = (
    "id",
    "tenant_id",
    "site_id",
    "source_kind",
    "source_name",
    "type",
    "label",
    "zone",
    "dwell_s",
    "person_count",
    "confidence",
    "state",
    "started_at",
    "ended_at",
    "version",
)

# Limits of the control plane's ingest schema (``EventSummaryIn``): refusing here gives a
# clear error at the relay instead of a 422 for the whole forwarded batch.
MAX_SOURCE_NAME: Final = 64
MAX_LABEL: Final = 32
MAX_ZONE: Final = 64
MAX_PERSON_COUNT: Final = 10_000
MAX_VERSION: Final = 2**31 - 1
_TYPE = re.compile(r"[a-z][a-z0-9_]{0,63}")


class SummaryError(ValueError):
    """An edge event that cannot be summarised; the message names the event and the field."""


def confidence_bucket(score: float) -> Confidence:
    """``low`` below 0.5, ``medium`` from 0.5 to below 0.75, ``high`` from 0.75."""
    if not isinstance(score, int | float) or isinstance(score, bool) or not math.isfinite(score):
        raise SummaryError(f"score must be a finite number, got {score!r}")
    if not 0.0 <= score <= 1.0:
        raise SummaryError(f"score must lie in [0, 1], got {score!r}")
    if score < MEDIUM_CONFIDENCE:
        return "low"
    if score < HIGH_CONFIDENCE:
        return "medium"
    return "high"


def summarize(event: Mapping[str, Any], *, tenant_id: str, site_id: str) -> dict[str, Any]:
    """The control plane summary of one edge event (``event_json`` form), as plain JSON.

    ``tenant_id`` and ``site_id`` come from the edge's enrolment, never from the event.
    Raises ``SummaryError`` for a missing or malformed field.
    """
    if not isinstance(event, Mapping):
        raise SummaryError(f"event must be a JSON object, got {type(event).__name__}")
    ref = _event_ref(event)
    try:
        return _summarize(event, tenant_id, site_id)
    except SummaryError as exc:
        raise SummaryError(f"event {ref}: {exc}") from None


def _summarize(event: Mapping[str, Any], tenant_id: str, site_id: str) -> dict[str, Any]:
    source_kind = _choice(event, "source_kind", SOURCE_KINDS)
    details = event.get("details")
    if not isinstance(details, Mapping):
        raise SummaryError("details must be a JSON object")
    started = _time(event, "started_at")
    ended = _time(event, "ended_at")
    if ended < started:
        raise SummaryError("ended_at is before started_at")
    if source_kind == "camera":
        label = _optional_text(details, "label", MAX_LABEL)
        zone = _zone(details)
        dwell = _dwell(details)
        state = _choice(details, "state", STATES)
    else:
        label, zone, dwell, state = CAPTURE_LABEL, None, None, "ended"
    return {
        "id": _uuid(event.get("id"), "id"),
        "tenant_id": _uuid(tenant_id, "tenant_id"),
        "site_id": _uuid(site_id, "site_id"),
        "source_kind": source_kind,
        "source_name": _text(event, "source_id", MAX_SOURCE_NAME),
        "type": _type(event),
        "label": label,
        "zone": zone,
        "dwell_s": dwell,
        "person_count": _int(event, "person_count", 0, MAX_PERSON_COUNT),
        "confidence": _confidence(event),
        "state": state,
        "started_at": _iso(started),
        "ended_at": _iso(ended),
        "version": _int(event, "version", 1, MAX_VERSION),
    }


def _event_ref(event: Mapping[str, Any]) -> str:
    """How errors name an event: its id if it looks like one (never arbitrary content)."""
    value = event.get("id")
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else "(no id)"
    except ValueError:
        return "(bad id)"


def _uuid(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise SummaryError(f"{name} must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise SummaryError(f"{name} is not a UUID") from None


def _choice(data: Mapping[str, Any], name: str, allowed: frozenset[str]) -> str:
    value = data.get(name)
    if value not in allowed:
        raise SummaryError(f"{name} must be one of {sorted(allowed)}")
    assert isinstance(value, str)
    return value


def _text(data: Mapping[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise SummaryError(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise SummaryError(f"{name} is longer than {limit} characters")
    return value


def _optional_text(data: Mapping[str, Any], name: str, limit: int) -> str | None:
    if data.get(name) is None:
        return None
    return _text(data, name, limit)


def _type(event: Mapping[str, Any]) -> str:
    value = event.get("type")
    if not isinstance(value, str) or not _TYPE.fullmatch(value):
        raise SummaryError(f"type must match {_TYPE.pattern}")
    return value


def _zone(details: Mapping[str, Any]) -> str | None:
    """The interaction zone, else the zone a detection entered last, else none."""
    if details.get("zone") is not None:
        return _text(details, "zone", MAX_ZONE)
    zones = details.get("zones")
    if zones is None or zones == []:
        return None
    if not isinstance(zones, list):
        raise SummaryError("zones must be a list of zone names")
    return _text({"zones": zones[-1]}, "zones", MAX_ZONE)


def _dwell(details: Mapping[str, Any]) -> float | None:
    value = details.get("dwell_s")
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise SummaryError("dwell_s must be a finite number")
    if value < 0:
        raise SummaryError("dwell_s must not be negative")
    return round(float(value), DWELL_DECIMALS)


def _int(data: Mapping[str, Any], name: str, low: int, high: int) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SummaryError(f"{name} must be an integer")
    if not low <= value <= high:
        raise SummaryError(f"{name} must lie in [{low}, {high}]")
    return value


def _confidence(event: Mapping[str, Any]) -> Confidence:
    if "best_score" not in event:
        raise SummaryError("best_score is missing")
    try:
        return confidence_bucket(event["best_score"])
    except SummaryError as exc:
        raise SummaryError(f"best_score: {exc}") from None


def _time(event: Mapping[str, Any], name: str) -> dt.datetime:
    value = event.get(name)
    if not isinstance(value, str):
        raise SummaryError(f"{name} must be an ISO 8601 string")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise SummaryError(f"{name} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise SummaryError(f"{name} has no time zone")
    return when.astimezone(dt.UTC)


def _iso(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
