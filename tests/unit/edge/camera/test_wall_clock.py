"""Packet pts -> wall-clock mapping used by stream sources (and so by segments and clips)."""

from __future__ import annotations

import pytest

from guardian.edge.camera.wallclock import WallClock


def test_first_packet_is_anchored_at_now_and_keeps_pts_spacing() -> None:
    clock = WallClock(live=True)
    assert clock.map(50.0, 0.1, now=1000.0) == 1000.0
    assert clock.map(50.1, 0.1, now=1000.02) == pytest.approx(1000.1)
    assert clock.map(51.0, 0.1, now=1001.3) == pytest.approx(1001.0)


def test_live_stream_reanchors_after_drifting_more_than_5_s() -> None:
    clock = WallClock(live=True)
    clock.map(0.0, 0.1, now=1000.0)
    assert clock.map(4.0, 0.1, now=1008.9) == pytest.approx(1004.0)  # 4.9 s behind: kept
    assert clock.map(4.1, 0.1, now=1009.2) == 1009.2  # 5.1 s: re-anchored
    assert clock.map(4.2, 0.1, now=1009.2) == pytest.approx(1009.3)
    # pts going back to 0 (camera restart) re-anchors at now as well
    assert clock.map(0.0, 0.1, now=1012.0) == 1012.0


def test_file_stream_never_reanchors_to_the_wall_clock() -> None:
    clock = WallClock(live=False)
    clock.map(0.0, 0.1, now=1000.0)
    assert clock.map(30.0, 0.1, now=1000.5) == pytest.approx(1030.0)


def test_packets_without_pts_follow_the_previous_one() -> None:
    clock = WallClock(live=True)
    clock.map(10.0, 0.04, now=500.0)
    assert clock.map(None, 0.04, now=500.0) == pytest.approx(500.04)
    assert clock.map(None, 0.04, now=500.0) == pytest.approx(500.08)
    assert WallClock(live=True).map(None, 0.04, now=7.0) == 7.0


def test_restart_continues_after_the_latest_packet_end() -> None:
    clock = WallClock(live=False)
    # decode order with a B-frame: the last packet decoded is not the last shown
    for pts in (0.0, 0.2, 0.1, 0.3, 0.5, 0.4):
        clock.map(pts, 0.1, now=0.0)
    clock.restart()
    assert clock.map(0.0, 0.1, now=0.0) == pytest.approx(0.6)
    assert clock.map(0.1, 0.1, now=0.0) == pytest.approx(0.7)
