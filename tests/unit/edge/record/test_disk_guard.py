"""The disk guard pauses recording under the floor and resumes only with headroom."""

from __future__ import annotations

from pathlib import Path

from guardian.edge.record.disk import DiskGuard, DiskUsage, recording_allowed


def test_hysteresis() -> None:
    assert recording_allowed(100, 100, True)
    assert not recording_allowed(99, 100, True)
    assert not recording_allowed(110, 100, False)  # not yet 20% above the floor
    assert recording_allowed(120, 100, False)


def test_guard_reads_the_disk_only_when_stale(tmp_path: Path) -> None:
    free = [500]
    reads = []
    now = [0.0]

    def usage(path: Path) -> DiskUsage:
        reads.append(path)
        return DiskUsage(1000, 1000 - free[0], free[0])

    guard = DiskGuard(tmp_path, 400, min_interval_s=2.0, usage=usage, clock=lambda: now[0])
    assert guard.recording_allowed()
    assert len(reads) == 1
    free[0] = 100
    assert guard.recording_allowed()  # the reading is fresh: no new read
    now[0] = 2.5
    assert not guard.recording_allowed()
    assert guard.paused
    free[0] = 450  # above the floor but within the 20% headroom
    assert not guard.refresh()
    free[0] = 500
    assert guard.refresh() and not guard.paused


def test_guard_keeps_its_decision_when_the_disk_cannot_be_read(tmp_path: Path) -> None:
    def broken(path: Path) -> DiskUsage:
        raise OSError("gone")

    guard = DiskGuard(tmp_path, 1, usage=broken)
    assert guard.refresh()
