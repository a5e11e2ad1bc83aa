"""FrameAnalyzer: motion gating, thresholds, masks, one event per track, dwell interactions."""

from __future__ import annotations

import numpy as np
import pytest

from guardian.edge.camera.analyzer import FrameAnalyzer, RgbImage
from guardian.edge.camera.config import CameraConfig
from guardian.edge.detect.types import Detection

W, H = 320, 240


def scene(x: int) -> RgbImage:
    """A dark frame with a bright 'person' box whose left edge is at ``x``."""
    frame = np.zeros((H, W, 3), np.uint8)
    frame[100:220, x : x + 40] = 220
    return frame


def person_at(frame: RgbImage, score: float = 0.8) -> list[Detection]:
    cols = np.nonzero(frame[:, :, 0].max(axis=0) > 100)[0]
    if cols.size == 0:
        return []
    return [
        Detection("person", "person", score, (float(cols[0]), 100.0, float(cols[-1] + 1), 220.0))
    ]


def config(**extra: object) -> CameraConfig:
    return CameraConfig.model_validate({"name": "door", "url": "file:///x.mp4", **extra})


def test_still_frames_after_the_first_never_reach_the_detector() -> None:
    calls: list[float] = []

    def detect(frame: RgbImage, ts: float) -> list[Detection]:
        calls.append(ts)
        return []

    analyzer = FrameAnalyzer(config(), detect, thresholds={"person": 0.5})
    empty = np.zeros((H, W, 3), np.uint8)
    for i in range(20):
        analyzer.process(empty, 100.0 + i * 0.2)
    assert calls == [100.0]  # the first frame is checked: someone may stand there already
    assert analyzer.counters.skipped_by_motion == 19
    assert analyzer.counters.skipped_ratio == pytest.approx(0.95)


def test_a_person_walking_through_makes_one_event_with_start_and_end() -> None:
    analyzer = FrameAnalyzer(
        config(), lambda f, ts: person_at(f), thresholds={"person": 0.5}, min_track_seconds=0.4
    )
    actions = []
    ts = 1000.0
    for i in range(25):  # 5 s at 5 fps, walking right
        ts = 1000.0 + i * 0.2
        actions += analyzer.process(scene(10 + i * 8), ts).actions
    snapshot_available = False
    for i in range(15):  # gone: the track ends
        new = analyzer.process(np.zeros((H, W, 3), np.uint8), ts + 0.2 * (i + 1)).actions
        if any(a.kind == "end" for a in new):
            # The best frame stays readable until the next frame, for the snapshot.
            snapshot_available = analyzer.frame_at(new[-1].best_ts) is not None
        actions += new
    kinds = [(a.event_type, a.kind) for a in actions]
    assert kinds[0] == ("person_detected", "start")
    assert kinds[-1] == ("person_detected", "end")
    assert len({a.key for a in actions}) == 1
    assert snapshot_available
    assert analyzer.frame_at(actions[-1].best_ts) is None  # and is released afterwards


def test_low_scores_and_masked_feet_are_ignored() -> None:
    low = FrameAnalyzer(
        config(), lambda f, ts: person_at(f, 0.3), thresholds={"person": 0.5}, min_track_seconds=0
    )
    masked = FrameAnalyzer(
        config(masks=[[[0, 0.5], [1, 0.5], [1, 1], [0, 1]]]),
        lambda f, ts: person_at(f),
        thresholds={"person": 0.5},
        min_track_seconds=0,
    )
    for analyzer in (low, masked):
        out = []
        for i in range(15):
            out += analyzer.process(scene(10 + i * 8), 50.0 + i * 0.2).actions
        assert out == []
        assert analyzer.counters.detected > 0


def test_dwell_zone_yields_one_interaction_per_visit() -> None:
    zone = {
        "name": "shelf",
        "polygon": [[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 1.0]],
        "interaction": True,
        "min_dwell": 1.0,
    }
    analyzer = FrameAnalyzer(
        config(zones=[zone]), lambda f, ts: person_at(f), thresholds={"person": 0.5}
    )
    actions = []
    ts = 0.0
    # Walk in from the left, stand at the shelf 3 s (jittering so motion continues), leave.
    positions = [10 + i * 12 for i in range(15)] + [200 + (i % 2) * 2 for i in range(15)]
    positions += [200 - i * 14 for i in range(12)]
    for i, x in enumerate(positions):
        ts = 10.0 + i * 0.2
        actions += analyzer.process(scene(max(0, x)), ts).actions
    for i in range(10):
        actions += analyzer.process(np.zeros((H, W, 3), np.uint8), ts + 0.2 * (i + 1)).actions
    interactions = [a for a in actions if a.event_type == "interaction_detected"]
    assert {a.key for a in interactions} and len({a.key for a in interactions}) == 1
    end = [a for a in interactions if a.kind == "end"]
    assert len(end) == 1 and end[0].zone == "shelf"
    assert end[0].dwell_s is not None and end[0].dwell_s >= 2.0


def test_dropped_frames_do_not_advance_tracks() -> None:
    analyzer = FrameAnalyzer(config(), lambda f, ts: None, thresholds={"person": 0.5})
    for i in range(5):
        result = analyzer.process(scene(10 + i * 8), i * 0.2)
        assert result.actions == []
    assert analyzer.counters.not_detected >= 4


@pytest.mark.parametrize("ts", [5.0, 4.0])
def test_timestamps_going_back_are_clamped(ts: float) -> None:
    analyzer = FrameAnalyzer(config(), lambda f, t: person_at(f), thresholds={"person": 0.5})
    analyzer.process(scene(10), 5.0)
    result = analyzer.process(scene(18), ts)  # a stream re-anchor must not raise
    assert result.ts == 5.0  # clamped: the event engine never sees time go back
