"""Tracker scenarios: crossings, occlusion, false positives, labels, variable frame rates."""

from __future__ import annotations

import numpy as np
import pytest

from guardian.edge.detect.types import Detection
from guardian.edge.track.tracker import Tracker, TrackerConfig, TrackUpdate

from .scenes import box_det, centre, run

FPS = 5.0
DT = 1.0 / FPS


def ids(updates: list[TrackUpdate], kind: str) -> list[int]:
    return [t.id for u in updates for t in getattr(u, kind)]


def test_two_people_crossing_keep_their_ids() -> None:
    tracker = Tracker(TrackerConfig())
    frames = []
    for k in range(21):
        a = box_det(100.0 + 20.0 * k, 200.0)  # walks right
        b = box_det(500.0 - 20.0 * k, 210.0)  # walks left, crosses a at k = 10
        frames.append((k * DT, [a, b]))
    updates = run(tracker, frames)

    assert len(ids(updates, "started")) == 2
    assert ids(updates, "ended") == []
    confirmed = {t.id: centre(t.box)[0] for t in updates[2].updated}
    id_a = min(confirmed, key=confirmed.__getitem__)  # a starts on the left
    id_b = max(confirmed, key=confirmed.__getitem__)
    assert updates[0].updated == updates[1].updated == []  # not yet confirmed (min_hits = 3)
    for k, update in enumerate(updates[2:], start=2):
        by_id = {t.id: t for t in update.updated}
        assert set(by_id) == {id_a, id_b}
        # Each id follows its own person, including right through the crossing.
        assert abs(centre(by_id[id_a].box)[0] - (100.0 + 20.0 * k)) < 10.0, k
        assert abs(centre(by_id[id_b].box)[0] - (500.0 - 20.0 * k)) < 10.0, k
        assert by_id[id_a].velocity[0] > 0 > by_id[id_b].velocity[0]


def test_overtaking_with_jittery_detector_and_dropouts_keeps_ids() -> None:
    # A (nearer the camera, so bigger) overtakes B; the detector jitters box edges by 3 px
    # and misses 10% of sightings.
    rng = np.random.default_rng(1234)
    people = {"a": (100.0, 12.0, 300.0, 44.0, 110.0), "b": (160.0, 10.0, 290.0, 36.0, 90.0)}

    def truth(who: str, k: int) -> float:
        x0, vx, *_ = people[who]
        return x0 + vx * k

    tracker = Tracker(TrackerConfig())
    frames = []
    for k in range(60):
        dets = []
        for who, (_, _, cy, w, h) in people.items():
            if rng.random() < 0.1:
                continue
            base = np.array(box_det(truth(who, k), cy, w, h).box)
            x1, y1, x2, y2 = (base + rng.normal(0.0, 3.0, 4)).tolist()
            dets.append(Detection("person", "person", 0.8, (x1, y1, x2, y2)))
        frames.append((k * DT, dets))
    updates = run(tracker, frames)
    assert len(ids(updates, "started")) == 2
    assert ids(updates, "ended") == []
    owner: dict[str, int] = {}
    for k, u in enumerate(updates):
        if abs(truth("a", k) - truth("b", k)) < 40.0:
            continue  # side by side: "nearest" says nothing
        for tr in u.updated + u.coasting:
            x = centre(tr.box)[0]
            who = min(people, key=lambda p: abs(truth(p, k) - x))
            assert owner.setdefault(who, tr.id) == tr.id, k
    assert truth("a", 59) > truth("b", 59) and len(owner) == 2


def walker(k: int) -> float:
    return 100.0 + 20.0 * k  # 100 px/s at 5 fps


def test_short_occlusion_keeps_id_long_one_gets_new_id() -> None:
    tracker = Tracker(TrackerConfig(max_age_s=1.0))
    hidden_short = {10, 11, 12}  # 0.8 s between sightings: within max_age
    frames = [(k * DT, [] if k in hidden_short else [box_det(walker(k), 300.0)]) for k in range(20)]
    updates = run(tracker, frames)
    assert len(ids(updates, "started")) == 1
    assert ids(updates, "ended") == []
    first = ids(updates, "started")[0]
    assert all(t.id == first for u in updates for t in u.updated)
    assert [len(updates[k].coasting) for k in sorted(hidden_short)] == [1, 1, 1]
    assert updates[13].updated[0].misses == 0 and updates[12].coasting[0].misses == 3

    # Now hide it for 7 frames (1.6 s since last seen): the old track ends, a new one starts.
    frames = [(k * DT, [] if 20 <= k < 27 else [box_det(walker(k), 300.0)]) for k in range(20, 35)]
    later = run(tracker, frames)
    assert ids(later, "ended") == [first]
    new_ids = ids(later, "started")
    assert len(new_ids) == 1 and new_ids[0] > first
    # Confirmed on the third sighting after the gap.
    assert later[27 - 20 + 2].started[0].id == new_ids[0]


def test_single_frame_false_positive_never_confirmed() -> None:
    tracker = Tracker(TrackerConfig(min_hits=3))
    frames = []
    for k in range(15):
        dets = [box_det(walker(k), 300.0)]
        if k == 5:
            dets.append(box_det(600.0, 100.0, score=0.99))  # a flash of a ghost
        if k in (8, 9):
            dets.append(box_det(700.0, 100.0, label="car"))  # seen twice: still too few
        frames.append((k * DT, dets))
    updates = run(tracker, frames)
    assert len(ids(updates, "started")) == 1
    assert all(len(u.updated) == 1 for u in updates[2:])
    assert all(t.label == "person" for t in tracker.tracks)
    assert len(tracker.tracks) == 1


def test_labels_never_swap_or_match_across() -> None:
    tracker = Tracker(TrackerConfig(min_hits=2))
    # A person walking beside a car, their boxes heavily overlapping the whole time.
    frames = [
        (
            k * DT,
            [
                box_det(walker(k), 300.0, label="person"),
                box_det(walker(k) + 5.0, 305.0, w=45.0, label="car"),
            ],
        )
        for k in range(10)
    ]
    updates = run(tracker, frames)
    labels: dict[int, str] = {}
    for u in updates:
        for t in u.updated:
            assert labels.setdefault(t.id, t.label) == t.label
    assert sorted(labels.values()) == ["car", "person"]

    # Only the car is detected now, exactly where the person is predicted: the person coasts.
    person = next(i for i, lab in labels.items() if lab == "person")
    u = tracker.update([box_det(walker(10), 300.0, label="car")], 10 * DT)
    assert [t.id for t in u.coasting] == [person]
    assert [t.label for t in u.updated] == ["car"]


def test_variable_frame_intervals_use_real_time_step() -> None:
    speed = 200.0  # px/s; boxes are 40 px wide
    times = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.6, 0.62, 0.95, 1.3, 1.32, 1.7]
    tracker = Tracker(TrackerConfig(min_hits=2))
    updates = run(tracker, [(t, [box_det(100.0 + speed * t, 200.0)]) for t in times])
    # Gaps of 0.3-0.4 s move the box 60-80 px: no overlap with where it was last seen, so
    # only a prediction that scales with the time step can keep the match.
    assert len(ids(updates, "started")) == 1
    assert all(len(u.updated) == 1 for u in updates[1:])
    vx, vy = updates[-1].updated[0].velocity
    assert vx == pytest.approx(speed, rel=0.1)
    assert abs(vy) < 10.0


@pytest.mark.parametrize(("gate", "tracks"), [(None, 0), (13.28, 1)])
def test_gated_fallback_catches_fast_young_track(gate: float | None, tracks: int) -> None:
    # 30 px per frame on a 40 px wide box: IoU of consecutive boxes is 0.14, so before the
    # track knows its velocity only the Mahalanobis gate can link the second sighting;
    # without it every sighting starts a fresh tentative track and none is ever confirmed.
    tracker = Tracker(TrackerConfig(min_hits=2, gate_chi2=gate))
    updates = run(tracker, [(k * DT, [box_det(100.0 + 30.0 * k, 300.0)]) for k in range(8)])
    assert len(ids(updates, "started")) == tracks


def test_gate_does_not_link_distant_newcomer() -> None:
    tracker = Tracker(TrackerConfig(min_hits=1))
    first = tracker.update([box_det(100.0, 300.0)], 0.0).started[0].id
    u = tracker.update([box_det(400.0, 300.0)], DT)  # 300 px in 0.2 s: someone else
    assert [t.id for t in u.coasting] == [first]
    assert [t.id for t in u.started] == [first + 1]


def test_repeated_timestamp_is_allowed_backwards_is_not() -> None:
    tracker = Tracker()
    tracker.update([box_det(100.0, 100.0)], 1.0)
    tracker.update([box_det(100.0, 100.0)], 1.0)
    with pytest.raises(ValueError, match="backwards"):
        tracker.update([], 0.5)


def test_ended_track_reports_first_last_and_best() -> None:
    tracker = Tracker(TrackerConfig(max_age_s=1.0))
    scores = [0.5, 0.6, 0.95, 0.7, 0.6, 0.55]
    frames = [(1.0 + k * DT, [box_det(walker(k), 300.0, score=s)]) for k, s in enumerate(scores)]
    run(tracker, frames)
    last = 1.0 + 5 * DT
    assert tracker.update([], last + 1.0).ended == []  # exactly max_age: not yet
    ended = tracker.update([], last + 1.2).ended
    assert len(ended) == 1
    track = ended[0]
    assert track.first_seen == pytest.approx(1.0)
    assert track.last_seen == pytest.approx(last)
    assert track.best_score == pytest.approx(0.95)
    assert track.best_t == pytest.approx(1.0 + 2 * DT)
    assert track.best_box == box_det(walker(2), 300.0).box
    assert track.hits == 6
    assert track.score == pytest.approx(0.55)
    assert tracker.tracks == []


def test_stale_track_does_not_grab_newcomer_after_long_gap() -> None:
    tracker = Tracker(TrackerConfig(min_hits=1, max_age_s=1.0))
    first = tracker.update([box_det(100.0, 100.0)], 0.0).started[0].id
    # No frames at all for 5 s (e.g. the motion gate skipped them), then someone there.
    u = tracker.update([box_det(100.0, 100.0)], 5.0)
    assert [t.id for t in u.ended] == [first]
    assert [t.id for t in u.started] == [first + 1]


def test_frame_based_max_misses() -> None:
    tracker = Tracker(TrackerConfig(min_hits=1, max_age_s=60.0, max_misses=2))
    tracker.update([box_det(100.0, 100.0)], 0.0)
    assert tracker.update([], 0.1).ended == []
    assert tracker.update([], 0.2).ended == []
    assert len(tracker.update([], 0.3).ended) == 1


def test_min_hits_one_starts_immediately_and_end_all() -> None:
    tracker = Tracker(TrackerConfig(min_hits=1), first_id=41)
    u = tracker.update([box_det(100.0, 100.0), box_det(400.0, 100.0, label="car")], 0.0)
    assert [t.id for t in u.started] == [41, 42]
    assert [t.id for t in u.updated] == [41, 42]
    tracker.update([box_det(600.0, 100.0, label="dog")], 0.2)  # tentative? no: min_hits=1
    assert sorted(t.id for t in tracker.end_all()) == [41, 42, 43]
    assert tracker.tracks == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"iou_min": 0.0},
        {"iou_min": 1.5},
        {"min_hits": 0},
        {"max_age_s": -1.0},
        {"max_misses": -1},
        {"tentative_max_misses": -1},
        {"gate_chi2": 0.0},
    ],
)
def test_config_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TrackerConfig(**kwargs)  # type: ignore[arg-type]
