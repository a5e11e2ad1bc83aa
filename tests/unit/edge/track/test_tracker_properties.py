"""Hypothesis properties of the tracker over random scenes with dropouts and jittery clocks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from guardian.edge.detect.types import Detection
from guardian.edge.track.tracker import Tracker, TrackerConfig, TrackUpdate

from .scenes import box_det


@dataclass(frozen=True)
class Walker:
    x: float
    y: float
    vx: float
    vy: float
    label: str
    seen: tuple[bool, ...]


walkers = st.builds(
    Walker,
    x=st.floats(0.0, 800.0),
    y=st.floats(0.0, 600.0),
    vx=st.floats(-150.0, 150.0),
    vy=st.floats(-150.0, 150.0),
    label=st.sampled_from(["person", "car"]),
    seen=st.lists(st.booleans(), min_size=1, max_size=30).map(tuple),
)
configs = st.builds(
    TrackerConfig,
    iou_min=st.floats(0.05, 0.9),
    min_hits=st.integers(1, 4),
    max_age_s=st.floats(0.0, 2.0),
    max_misses=st.one_of(st.none(), st.integers(0, 5)),
    tentative_max_misses=st.integers(0, 2),
)


def scene_frames(scene: list[Walker], steps: list[float]) -> list[tuple[float, list[Detection]]]:
    frames: list[tuple[float, list[Detection]]] = []
    t = 0.0
    for k, dt in enumerate(steps):
        t += dt
        dets = [
            box_det(w.x + w.vx * t, w.y + w.vy * t, label=w.label)
            for w in scene
            if k < len(w.seen) and w.seen[k]
        ]
        frames.append((t, dets))
    return frames


@settings(max_examples=150, deadline=None)
@given(
    config=configs,
    scene=st.lists(walkers, min_size=0, max_size=5),
    steps=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=30),
)
def test_ids_unique_labels_stable_and_every_track_ends(
    config: TrackerConfig, scene: list[Walker], steps: list[float]
) -> None:
    tracker = Tracker(config)
    frames = scene_frames(scene, steps)
    t_end = frames[-1][0]
    # After detections stop, empty frames well past max_age end every track.
    frames += [(t_end + 0.25 * (i + 1), []) for i in range(int(config.max_age_s / 0.25) + 3)]

    started: list[int] = []
    ended: dict[int, int] = {}
    labels: dict[int, str] = {}
    updates: list[TrackUpdate] = []
    for t, dets in frames:
        u = tracker.update(dets, t)
        updates.append(u)
        started += [tr.id for tr in u.started]
        for tr in u.ended:
            ended[tr.id] = ended.get(tr.id, 0) + 1
            assert tr.first_seen <= tr.best_t <= tr.last_seen <= t
        # A detection feeds at most one track, and only a track of its own label.
        track_labels = Counter(tr.label for tr in u.updated)
        det_labels = Counter(d.label for d in dets)
        assert all(n <= det_labels[label] for label, n in track_labels.items())
        live = [tr.id for tr in u.updated + u.coasting]
        assert len(live) == len(set(live))
        assert not set(live) & {tr.id for tr in u.ended}
        for tr in u.updated + u.coasting + u.ended:
            assert labels.setdefault(tr.id, tr.label) == tr.label
            assert tr.id in started  # only confirmed tracks are ever reported

    # Ids are handed out once, in increasing order, and never come back after ending.
    assert started == sorted(set(started))
    assert started == list(range(1, len(started) + 1))
    assert ended == dict.fromkeys(started, 1)
    assert tracker.tracks == []
    for i, u in enumerate(updates):
        gone = {tr.id for tr in u.ended}
        later = {tr.id for v in updates[i + 1 :] for tr in v.updated + v.coasting + v.started}
        assert not gone & later


@settings(max_examples=50, deadline=None)
@given(scene=st.lists(walkers, min_size=1, max_size=4))
def test_steady_detections_at_steady_rate_never_split_a_lone_walker(scene: list[Walker]) -> None:
    # One walker seen every frame at 5 fps is one track, whatever its speed (within reason).
    walker = scene[0]
    tracker = Tracker(TrackerConfig())
    frames = [
        (k * 0.2, [box_det(walker.x + walker.vx * k * 0.2, walker.y + walker.vy * k * 0.2)])
        for k in range(20)
    ]
    started = [tr.id for t, dets in frames for tr in tracker.update(dets, t).started]
    assert started == [1]
