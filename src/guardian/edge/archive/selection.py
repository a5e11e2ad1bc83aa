"""Which events are archived (pure): by type, camera and zone, as configured."""

from __future__ import annotations

from collections.abc import Iterable

from guardian.edge.archive.config import EdgeArchiveSettings


def selected(
    settings: EdgeArchiveSettings, *, event_type: str, camera: str, zones: Iterable[str]
) -> bool:
    """Whether an event is archived: off unless enabled; each non-empty filter must match."""
    if not settings.enabled:
        return False
    if settings.types and event_type not in settings.types:
        return False
    if settings.cameras and camera not in settings.cameras:
        return False
    return not settings.zones or any(zone in settings.zones for zone in zones)


def event_zones(details: dict[str, object]) -> list[str]:
    """The zones a camera event's details name (``zones`` and ``zone``)."""
    found: list[str] = []
    zones = details.get("zones")
    if isinstance(zones, list):
        found += [z for z in zones if isinstance(z, str)]
    zone = details.get("zone")
    if isinstance(zone, str) and zone not in found:
        found.append(zone)
    return found
