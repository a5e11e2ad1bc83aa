"""Live camera status: rate meter windows and consistent snapshots."""

from __future__ import annotations

import pytest

from guardian.edge.camera.status import LiveStatus, RateMeter


def test_rate_meter_counts_over_its_window() -> None:
    now = [0.0]
    meter = RateMeter(5.0, clock=lambda: now[0])
    assert meter.rate() == 0.0
    for i in range(50):  # 10 per second for 5 s
        now[0] = i * 0.1
        meter.tick()
    assert meter.rate() == pytest.approx(50 / 4.9, rel=0.01)
    now[0] = 20.0
    assert meter.rate() == 0.0  # all ticks are older than the window


def test_snapshot_reports_rates_only_while_online() -> None:
    now = [0.0]
    status = LiveStatus("door", clock=lambda: now[0])
    for i in range(20):
        now[0] = i * 0.2
        status.input_meter.tick()
    assert status.snapshot().input_fps == 0.0  # still starting
    status.update(state="online", decoder="software")
    snap = status.snapshot()
    assert snap.input_fps == pytest.approx(5.0, rel=0.1)
    assert snap.decoder == "software"
    status.add_reconnect()
    assert status.snapshot().reconnects == 1


def test_packets_set_the_last_frame_time_and_the_input_rate() -> None:
    now = [0.0]
    status = LiveStatus("door", clock=lambda: now[0])
    status.update(state="online")
    for i in range(10):
        now[0] = i * 0.1
        status.packet(1_700_000_000.0 + i * 0.1)
    snap = status.snapshot()
    assert snap.last_frame_at == pytest.approx(1_700_000_000.9)
    assert snap.input_fps == pytest.approx(10.0, rel=0.15)
