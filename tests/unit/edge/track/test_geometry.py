"""point_in_polygon on convex, concave and degenerate polygons, edges and vertices."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from guardian.edge.track.geometry import (
    bottom_centre,
    bottom_centre_fraction,
    point_in_polygon,
    validate_polygon,
)

SQUARE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
TRIANGLE = [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]
# A "U": the notch x in (0.4, 0.6), y in (0.5, 1] is outside.
U_SHAPE = [(0, 0), (1, 0), (1, 1), (0.6, 1), (0.6, 0.5), (0.4, 0.5), (0.4, 1), (0, 1)]


@pytest.mark.parametrize(
    ("x", "y", "inside"),
    [(0.5, 0.5, True), (1.5, 0.5, False), (-0.1, 0.5, False), (0.5, 1.0001, False)],
)
def test_convex_square(x: float, y: float, inside: bool) -> None:
    assert point_in_polygon(x, y, SQUARE) is inside


def test_triangle_from_json_lists() -> None:
    assert point_in_polygon(0.5, 0.3, TRIANGLE)
    assert not point_in_polygon(0.15, 0.8, TRIANGLE)


@pytest.mark.parametrize(
    ("x", "y", "inside"),
    [
        (0.2, 0.8, True),  # left arm
        (0.8, 0.8, True),  # right arm
        (0.5, 0.8, False),  # inside the notch
        (0.5, 0.25, True),  # base below the notch
        (0.5, 1.0, False),  # notch opening on the top line, between the arms
    ],
)
def test_concave_u_shape(x: float, y: float, inside: bool) -> None:
    assert point_in_polygon(x, y, U_SHAPE) is inside


@pytest.mark.parametrize(
    ("x", "y"),
    [(0.5, 0.0), (1.0, 0.5), (0.0, 0.3), (0.5, 1.0), (0.0, 0.0), (1.0, 1.0)],
)
def test_edges_and_vertices_count_as_inside(x: float, y: float) -> None:
    assert point_in_polygon(x, y, SQUARE)


def test_notch_edges_count_as_inside() -> None:
    assert point_in_polygon(0.5, 0.5, U_SHAPE)  # notch floor
    assert point_in_polygon(0.4, 0.7, U_SHAPE)  # notch wall


def test_ray_through_vertex_counts_once() -> None:
    diamond = [(0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5)]
    # The horizontal ray from these points passes exactly through the (1.0, 0.5) vertex.
    assert point_in_polygon(0.5, 0.5, diamond)
    assert not point_in_polygon(-0.5, 0.5, diamond)
    assert not point_in_polygon(1.5, 0.5, diamond)


def test_closed_polygon_and_orientation_do_not_matter() -> None:
    closed = [*SQUARE, SQUARE[0]]
    clockwise = list(reversed(SQUARE))
    for poly in (closed, clockwise):
        assert point_in_polygon(0.5, 0.5, poly)
        assert not point_in_polygon(2.0, 0.5, poly)


def test_pixel_scale_polygon() -> None:
    poly = [(100.0, 100.0), (700.0, 100.0), (700.0, 500.0), (100.0, 500.0)]
    assert point_in_polygon(400.0, 300.0, poly)
    assert point_in_polygon(700.0, 300.0, poly)
    assert not point_in_polygon(700.001, 300.0, poly)


@pytest.mark.parametrize(
    "bad",
    [[], [(0, 0), (1, 1)], [(0, 0), (1, 0), (1, 1, 1)], [(0, 0), (1, 0), (float("nan"), 1)]],
)
def test_invalid_polygons_raise(bad: list[tuple[float, ...]]) -> None:
    with pytest.raises(ValueError):
        validate_polygon(bad)
    with pytest.raises(ValueError):
        point_in_polygon(0.5, 0.5, bad)


def test_bottom_centre() -> None:
    assert bottom_centre((10.0, 20.0, 30.0, 80.0)) == (20.0, 80.0)
    assert bottom_centre_fraction((10.0, 20.0, 30.0, 80.0), (40, 160)) == (0.5, 0.5)
    with pytest.raises(ValueError):
        bottom_centre_fraction((0.0, 0.0, 1.0, 1.0), (0, 10))


coord = st.floats(min_value=-2.0, max_value=3.0, allow_nan=False)


@given(x=coord, y=coord, x0=coord, y0=coord, w=st.floats(0.01, 2.0), h=st.floats(0.01, 2.0))
def test_matches_axis_aligned_rectangle(
    x: float, y: float, x0: float, y0: float, w: float, h: float
) -> None:
    rect = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
    # Within EDGE_EPS of an edge counts as on it (inside); compare only clear-cut points.
    margin = min(abs(x - x0), abs(x - x0 - w), abs(y - y0), abs(y - y0 - h))
    assume(margin > 1e-6)
    expected = x0 <= x <= x0 + w and y0 <= y <= y0 + h
    assert point_in_polygon(x, y, rect) is expected
