"""Which events are archived: off by default; type, camera and zone filters."""

from __future__ import annotations

import pytest

from guardian.edge.archive.config import EdgeArchiveSettings
from guardian.edge.archive.selection import event_zones, selected


def test_off_by_default() -> None:
    assert not selected(EdgeArchiveSettings(), event_type="x", camera="c", zones=[])


@pytest.mark.parametrize(
    ("filters", "event", "expected"),
    [
        ({}, ("interaction_detected", "door", []), True),
        ({"types": ["interaction_detected"]}, ("interaction_detected", "door", []), True),
        ({"types": ["interaction_detected"]}, ("person_detected", "door", []), False),
        ({"cameras": ["door"]}, ("person_detected", "door", []), True),
        ({"cameras": ["door"]}, ("person_detected", "yard", []), False),
        ({"zones": ["shelf"]}, ("person_detected", "door", ["shelf", "aisle"]), True),
        ({"zones": ["shelf"]}, ("person_detected", "door", ["aisle"]), False),
        ({"zones": ["shelf"]}, ("person_detected", "door", []), False),
        (
            {"types": ["interaction_detected"], "cameras": ["door"], "zones": ["shelf"]},
            ("interaction_detected", "door", ["shelf"]),
            True,
        ),
        (
            {"types": ["interaction_detected"], "cameras": ["door"], "zones": ["shelf"]},
            ("interaction_detected", "yard", ["shelf"]),
            False,
        ),
    ],
)
def test_filters(
    filters: dict[str, list[str]], event: tuple[str, str, list[str]], expected: bool
) -> None:
    settings = EdgeArchiveSettings(enabled=True, **filters)
    event_type, camera, zones = event
    assert selected(settings, event_type=event_type, camera=camera, zones=zones) is expected


def test_event_zones_reads_zones_and_zone() -> None:
    assert event_zones({"zones": ["a", "b"], "zone": "b"}) == ["a", "b"]
    assert event_zones({"zone": "c"}) == ["c"]
    assert event_zones({"zones": "nope", "zone": None}) == []


def test_weak_kdf_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        EdgeArchiveSettings(kdf_memory_kib=1024)
    with pytest.raises(ValueError):
        EdgeArchiveSettings(kdf_time_cost=1)
