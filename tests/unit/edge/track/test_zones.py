"""Zones: validation and the bottom-centre membership test."""

from __future__ import annotations

import pytest

from guardian.edge.track.zones import Zone, check_unique, zones_of

RIGHT_HALF = ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0))
BOTTOM_HALF = ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0))


def test_zone_accepts_json_lists_and_stores_tuples() -> None:
    zone = Zone("shelf", [[0, 0], [1, 0], [1, 1]], interaction=True, min_dwell=2.0)  # type: ignore[arg-type]
    assert zone.polygon == ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0))
    assert hash(zone) == hash(Zone("shelf", ((0, 0), (1, 0), (1, 1)), True, 2.0))


@pytest.mark.parametrize(
    ("polygon", "min_dwell", "message"),
    [
        (((0.0, 0.0), (1.0, 0.0)), 0.0, "at least 3"),
        (((0.0, 0.0), (1.2, 0.0), (1.0, 1.0)), 0.0, r"\[0, 1\]"),
        (((0.0, -0.1), (1.0, 0.0), (1.0, 1.0)), 0.0, r"\[0, 1\]"),
        (((0.0, 0.0, 0.0), (1.0, 0.0), (1.0, 1.0)), 0.0, r"\[x, y\]"),
        (RIGHT_HALF, -1.0, "min_dwell"),
        (RIGHT_HALF, float("nan"), "min_dwell"),
    ],
)
def test_zone_rejects_bad_config(
    polygon: tuple[tuple[float, ...], ...], min_dwell: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Zone("z", polygon, min_dwell=min_dwell)  # type: ignore[arg-type]


def test_zone_needs_a_name() -> None:
    with pytest.raises(ValueError, match="name"):
        Zone("  ", RIGHT_HALF)


def test_zones_of_uses_the_bottom_centre_not_the_box() -> None:
    zones = [Zone("bottom", BOTTOM_HALF)]
    # A tall box reaching deep into the zone whose feet are above it: not in the zone.
    assert zones_of((10.0, 0.0, 30.0, 190.0), 400, 400, zones) == []
    # A small box whose feet just cross the zone's top edge: in the zone.
    assert zones_of((10.0, 150.0, 30.0, 210.0), 400, 400, zones) == ["bottom"]


def test_zones_of_is_in_fractions_so_resolution_does_not_matter() -> None:
    zones = [Zone("right", RIGHT_HALF), Zone("bottom", BOTTOM_HALF)]
    assert zones_of((300.0, 100.0, 340.0, 300.0), 400, 400, zones) == ["right", "bottom"]
    assert zones_of((1500.0, 500.0, 1700.0, 1500.0), 2000, 2000, zones) == ["right", "bottom"]
    assert zones_of((10.0, 10.0, 30.0, 100.0), 400, 400, zones) == []


def test_zones_of_counts_the_frame_border_as_inside() -> None:
    zones = [Zone("all", ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))]
    assert zones_of((0.0, 0.0, 640.0, 480.0), 640, 480, zones) == ["all"]


def test_zones_of_rejects_empty_frame() -> None:
    with pytest.raises(ValueError, match="frame size"):
        zones_of((0.0, 0.0, 1.0, 1.0), 0, 480, [Zone("r", RIGHT_HALF)])


def test_check_unique_rejects_duplicate_names() -> None:
    check_unique([Zone("a", RIGHT_HALF), Zone("b", RIGHT_HALF)])
    with pytest.raises(ValueError, match="duplicate"):
        check_unique([Zone("a", RIGHT_HALF), Zone("a", BOTTOM_HALF)])
