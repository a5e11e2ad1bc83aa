"""Health of sites, cameras and relays: mapping telemetry to health, staleness, summaries.

Pure functions: no database, no clock (``now`` is passed in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

Health = Literal["healthy", "degraded", "offline", "unknown"]
HEALTHS: tuple[Health, ...] = ("healthy", "degraded", "offline", "unknown")
REPORTED: tuple[Health, ...] = ("healthy", "degraded", "offline")
STALE_AFTER = dt.timedelta(minutes=5)

# Camera states reported by the edge; anything else (starting, reconnecting, …) is degraded.
_CAMERA_STATE_HEALTH: dict[str, Health] = {
    "online": "healthy",
    "error": "degraded",
    "offline": "offline",
}
# Telemetry keys kept per camera: numbers, flags and short states only.
CAMERA_DETAIL_KEYS = ("state", "input_fps", "detect_fps", "recording", "skipped_fps")
DETAILS_MAX_KEYS = 32
DETAIL_KEY_MAX = 64
DETAIL_TEXT_MAX = 128


def camera_health(state: str) -> Health:
    """The health a camera state maps to (online→healthy, error→degraded, offline→offline)."""
    return _CAMERA_STATE_HEALTH.get(state, "degraded")


def site_health(reported: str) -> Health:
    """A site's reported health, anything unexpected counting as degraded."""
    return reported if reported in REPORTED else "degraded"


def effective_health(stored: str, last_seen: dt.datetime | None, now: dt.datetime) -> Health:
    """What to show: ``offline`` when not seen for ``STALE_AFTER``, whatever was said last."""
    if last_seen is None:
        return "unknown"
    if now - last_seen >= STALE_AFTER:
        return "offline"
    return stored if stored in HEALTHS else "degraded"


def _scalar(value: Any) -> bool | int | float | str | None:
    """``value`` when it is a flag, a finite number or a short text; else ``None`` (dropped)."""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return round(value, 3) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        return value[:DETAIL_TEXT_MAX]
    return None


def summarise(data: Mapping[str, Any], keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A summary of telemetry ``data``: scalar values only (no nested data, no blobs).

    With ``keys``, only those keys are kept; otherwise at most ``DETAILS_MAX_KEYS`` keys.
    """
    summary: dict[str, Any] = {}
    for key, value in data.items():
        if keys is not None and key not in keys:
            continue
        if not isinstance(key, str) or not key or len(key) > DETAIL_KEY_MAX:
            continue
        kept = _scalar(value)
        if kept is not None:
            summary[key] = kept
        if len(summary) >= DETAILS_MAX_KEYS:
            break
    return summary


def clamp_seen(at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When something was seen: the time it reported, never later than ``now``."""
    return min(at, now)


def is_newer(at: dt.datetime, last_seen: dt.datetime | None) -> bool:
    """Whether a report made ``at`` supersedes what was stored (late reports do not)."""
    return last_seen is None or at >= last_seen
