"""Health mapping, staleness and telemetry summaries (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from guardian.control.tenancy.health import (
    CAMERA_DETAIL_KEYS,
    DETAIL_TEXT_MAX,
    DETAILS_MAX_KEYS,
    STALE_AFTER,
    camera_health,
    clamp_seen,
    effective_health,
    is_newer,
    site_health,
    summarise,
)

NOW = dt.datetime(2025, 1, 31, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("state", "health"),
    [
        ("online", "healthy"),
        ("error", "degraded"),
        ("offline", "offline"),
        ("reconnecting", "degraded"),
        ("", "degraded"),
    ],
)
def test_camera_state_maps_to_health(state: str, health: str) -> None:
    assert camera_health(state) == health


def test_site_health_keeps_known_values_and_degrades_others() -> None:
    assert [site_health(h) for h in ("healthy", "degraded", "offline")] == [
        "healthy",
        "degraded",
        "offline",
    ]
    assert site_health("on fire") == "degraded"


def test_health_reads_offline_once_stale_whatever_was_said() -> None:
    fresh = NOW - STALE_AFTER + dt.timedelta(seconds=1)
    stale = NOW - STALE_AFTER
    assert effective_health("healthy", fresh, NOW) == "healthy"
    assert effective_health("degraded", fresh, NOW) == "degraded"
    assert effective_health("healthy", stale, NOW) == "offline"
    assert effective_health("healthy", None, NOW) == "unknown"
    assert effective_health("weird", fresh, NOW) == "degraded"
    assert STALE_AFTER == dt.timedelta(minutes=5)


def test_summaries_keep_scalars_only() -> None:
    data = {
        "version": "1.2.3",
        "uptime_s": 12,
        "load": 0.123456,
        "ok": True,
        "nested": {"boxes": [1, 2, 3]},
        "list": [1],
        "blob": b"\x00\x01",
        "nan": float("nan"),
        "inf": float("inf"),
        "none": None,
        "long": "x" * 1000,
    }
    summary = summarise(data)
    assert summary == {
        "version": "1.2.3",
        "uptime_s": 12,
        "load": 0.123,
        "ok": True,
        "long": "x" * DETAIL_TEXT_MAX,
    }


def test_summaries_with_keys_keep_only_those_and_cap_the_count() -> None:
    camera = {"name": "front", "state": "online", "input_fps": 25.0, "secret_url": "rtsp://u:p@h"}
    assert summarise(camera, CAMERA_DETAIL_KEYS) == {"state": "online", "input_fps": 25.0}
    many = {f"k{i}": i for i in range(100)}
    assert len(summarise(many)) == DETAILS_MAX_KEYS


def test_reports_are_clamped_to_now_and_late_ones_do_not_supersede() -> None:
    future = NOW + dt.timedelta(hours=1)
    assert clamp_seen(future, NOW) == NOW
    assert clamp_seen(NOW - dt.timedelta(seconds=5), NOW) == NOW - dt.timedelta(seconds=5)
    assert is_newer(NOW, None)
    assert is_newer(NOW, NOW)
    assert not is_newer(NOW - dt.timedelta(seconds=1), NOW)
