"""Camera event lifecycle: one event per track, one interaction per visit of a dwell zone."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardian.edge.track.lifecycle import CameraEventEngine, EventAction, TrackState
from guardian.edge.track.zones import Zone

W = H = 100
FPS = 5
DT = 1.0 / FPS
# The right half of the frame is a shelf where a person must stay 2 s to count.
SHELF = Zone("shelf", ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)), True, 2.0)
# The bottom strip is a plain zone: entering it is material, but it never counts dwell.
DOOR = Zone("door", ((0.0, 0.9), (1.0, 0.9), (1.0, 1.0), (0.0, 1.0)))
IN = 80.0  # x of the feet inside the shelf
OUT = 20.0  # x of the feet outside it


def person(track_id: int, x: float, y: float = 50.0, score: float = 0.8) -> TrackState:
    """A person whose feet (bottom centre) stand at pixel ``(x, y)``."""
    return TrackState(track_id, "person", (x - 5.0, y - 30.0, x + 5.0, y), score)


def vehicle(track_id: int, x: float, score: float = 0.7) -> TrackState:
    return TrackState(track_id, "vehicle", (x - 10.0, 30.0, x + 10.0, 50.0), score)


def engine(*, grace_s: float = 1.0, update_interval_s: float = 2.0) -> CameraEventEngine:
    return CameraEventEngine(
        "front",
        [SHELF, DOOR],
        min_track_seconds=0.4,
        grace_s=grace_s,
        update_interval_s=update_interval_s,
    )


def run(
    eng: CameraEventEngine, frames: Sequence[Sequence[TrackState]], t0: float = 0.0
) -> tuple[list[EventAction], float]:
    """Feed ``frames`` at FPS from ``t0``; return the actions and the next frame's time."""
    out: list[EventAction] = []
    ts = t0
    for frame in frames:
        out += eng.update(ts, W, H, frame)
        ts = round(ts + DT, 6)
    return out, ts


def of(actions: list[EventAction], event_type: str) -> list[EventAction]:
    return [a for a in actions if a.event_type == event_type]


def kinds(actions: list[EventAction]) -> list[str]:
    return [a.kind for a in actions]


def test_one_event_per_track_not_per_frame() -> None:
    eng = engine()
    actions, ts = run(eng, [[person(1, OUT)]] * 25)
    actions += eng.update(ts, W, H, [], ended_ids=[1])
    assert kinds(actions) == ["start", "end"]
    assert {a.key for a in actions} == {"front/t1/person"}
    start, end = actions
    assert start.event_type == "person_detected"
    assert start.ts == pytest.approx(0.4) and start.start_ts == 0.0
    assert end.end_ts == pytest.approx(4.8) and end.start_ts == 0.0


def test_people_and_vehicles_are_separate_events_and_other_labels_are_ignored() -> None:
    eng = engine()
    cat = TrackState(3, "animal", (0.0, 0.0, 10.0, 10.0), 0.9)
    actions, ts = run(eng, [[person(1, OUT), vehicle(2, OUT), cat]] * 5)
    actions += eng.update(ts, W, H, [], ended_ids=[1, 2, 3])
    by_key = defaultdict(list)
    for a in actions:
        by_key[(a.key, a.event_type, a.label)].append(a.kind)
    assert by_key == {
        ("front/t1/person", "person_detected", "person"): ["start", "end"],
        ("front/t2/vehicle", "vehicle_detected", "vehicle"): ["start", "end"],
    }


def test_a_flicker_shorter_than_min_track_seconds_emits_nothing() -> None:
    eng = engine()
    actions, ts = run(eng, [[person(1, IN)]] * 2)
    actions += eng.update(ts, W, H, [], ended_ids=[1])
    assert actions == []


def test_updates_are_material_and_throttled() -> None:
    eng = engine(update_interval_s=2.0)
    # Rising scores every frame: at most one update per 2 s, carrying the best frame.
    frames = [[person(1, OUT, score=0.5 + 0.02 * i)] for i in range(16)]
    actions, ts = run(eng, frames)
    assert kinds(actions) == ["start", "update"]
    assert actions[1].ts == pytest.approx(2.4)
    assert actions[1].best_score == pytest.approx(0.5 + 0.02 * 12)
    assert actions[1].best_ts == pytest.approx(2.4)
    # Entering a zone is reported at once, throttle or not.
    more, ts = run(eng, [[person(1, OUT, y=95.0, score=0.1)]], ts)
    assert kinds(more) == ["update"] and more[0].zones == ("door",)
    # A big move is material too (once due); a lower score never lowers the best.
    more, ts = run(eng, [[person(1, OUT, y=95.0, score=0.1)]] * 10 + [[person(1, 60.0)]], ts)
    assert kinds(more) == ["update"]
    assert more[0].best_score == pytest.approx(0.5 + 0.02 * 15)
    assert more[0].zones == ("door", "shelf")


def test_dwell_below_min_dwell_emits_no_interaction() -> None:
    eng = engine()
    frames = [[person(1, OUT)]] * 3 + [[person(1, IN)]] * 9 + [[person(1, OUT)]] * 10
    actions, _ = run(eng, frames)  # 1.6 s on the shelf, then gone for 2 s
    assert of(actions, "interaction_detected") == []


def test_dwell_above_min_dwell_is_one_interaction_with_its_dwell() -> None:
    eng = engine(update_interval_s=1.0)
    frames = [[person(1, OUT)]] * 3 + [[person(1, IN)]] * 26 + [[person(1, OUT)]] * 10
    actions, _ = run(eng, frames)  # on the shelf from 0.6 s to 5.6 s
    inter = of(actions, "interaction_detected")
    assert kinds(inter) == ["start", "update", "update", "update", "end"]
    assert len({a.key for a in inter}) == 1
    start, end = inter[0], inter[-1]
    assert start.key == "front/t1/zone/shelf/1"
    assert start.ts == pytest.approx(2.6) and start.dwell_s == pytest.approx(2.0)
    assert start.zone == "shelf" and start.person_count == 1
    assert [a.dwell_s for a in inter[1:-1]] == pytest.approx([3.0, 4.0, 5.0])
    assert end.dwell_s == pytest.approx(5.0)
    assert end.start_ts == pytest.approx(0.6) and end.end_ts == pytest.approx(5.6)
    # Ended once the grace gap (1 s) passed, while the person track itself lives on.
    assert end.ts == pytest.approx(6.8)
    # The person event itself: start, entered the shelf, walked 60 % of the frame away.
    person_events = of(actions, "person_detected")
    assert kinds(person_events) == ["start", "update", "update"]
    assert [a.ts for a in person_events] == pytest.approx([0.4, 0.6, 5.8])


def test_leaving_and_coming_back_is_two_interactions() -> None:
    eng = engine()
    frames = [[person(1, IN)]] * 15 + [[person(1, OUT)]] * 10 + [[person(1, IN)]] * 15 + [[]] * 10
    actions, _ = run(eng, frames)
    inter = of(actions, "interaction_detected")
    starts = [a for a in inter if a.kind == "start"]
    ends = [a for a in inter if a.kind == "end"]
    assert [a.key for a in starts] == ["front/t1/zone/shelf/1", "front/t1/zone/shelf/2"]
    assert [a.key for a in ends] == [a.key for a in starts]
    assert ends[0].ts < starts[1].ts


def test_jitter_across_the_zone_edge_within_grace_does_not_split_a_visit() -> None:
    eng = engine()
    # Feet wobble just outside the shelf for 0.6 s (grace is 1 s), twice.
    wobble = [[person(1, 48.0)]] * 3
    frames = ([[person(1, 52.0)]] * 5 + wobble) * 2 + [[person(1, 52.0)]] * 5 + [[]] * 8
    actions, _ = run(eng, frames)
    inter = of(actions, "interaction_detected")
    assert [a.kind for a in inter if a.kind != "update"] == ["start", "end"]
    # The gaps count as dwell: from 0 s to the last frame on the shelf at 4.0 s.
    assert inter[-1].dwell_s == pytest.approx(4.0)


def test_person_count_counts_the_people_in_the_zone() -> None:
    eng = engine()
    frames = [[person(1, IN), person(2, 70.0), vehicle(3, IN), person(4, OUT)]] * 12
    actions, _ = run(eng, frames)
    starts = [a for a in of(actions, "interaction_detected") if a.kind == "start"]
    assert sorted(a.track_id for a in starts) == [1, 2]
    assert {a.person_count for a in starts} == {2}


def test_peak_person_count_remembers_the_crowd() -> None:
    eng = engine()
    frames = [[person(1, IN)]] * 12 + [[person(1, IN), person(2, 70.0)]] * 3 + [[person(1, IN)]]
    actions, ts = run(eng, frames)
    actions += eng.update(ts, W, H, [], ended_ids=[1, 2])
    mine = [a for a in of(actions, "interaction_detected") if a.track_id == 1]
    assert mine[0].person_count == 1 and mine[-1].kind == "end"
    assert mine[-1].peak_person_count == 2


def test_track_end_closes_its_open_events_interaction_first() -> None:
    eng = engine()
    actions, ts = run(eng, [[person(1, IN), person(2, OUT)]] * 15)
    actions = eng.update(ts, W, H, [person(2, OUT)], ended_ids=[1])
    assert [(a.event_type, a.kind) for a in actions] == [
        ("interaction_detected", "end"),
        ("person_detected", "end"),
    ]
    assert all(a.track_id == 1 for a in actions)
    assert actions[0].dwell_s == pytest.approx(2.8)
    assert eng.open_track_ids == [2]
    closing = eng.close(ts + 1.0)
    assert [(a.key, a.kind) for a in closing] == [("front/t2/person", "end")]
    assert eng.open_track_ids == []


def test_a_reused_track_id_gets_a_new_key_and_session_separates_runs() -> None:
    eng = CameraEventEngine("front", [], min_track_seconds=0.0, session="s1")
    keys = [a.key for a in eng.update(0.0, W, H, [person(7, OUT)], ended_ids=[7])]
    keys += [a.key for a in eng.update(1.0, W, H, [person(7, OUT)], ended_ids=[7])]
    assert keys == ["front/s1/t7/person"] * 2 + ["front/s1/t7r1/person"] * 2


def test_time_must_not_go_backwards() -> None:
    eng = engine()
    eng.update(1.0, W, H, [])
    with pytest.raises(ValueError, match="non-decreasing"):
        eng.update(0.5, W, H, [])


def test_a_track_id_twice_in_one_frame_is_rejected() -> None:
    with pytest.raises(ValueError, match="twice"):
        engine().update(0.0, W, H, [person(1, IN), person(1, OUT)])


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="grace_s"):
        CameraEventEngine("front", [], grace_s=-1.0)
    with pytest.raises(ValueError, match="duplicate"):
        CameraEventEngine("front", [SHELF, SHELF])


# Each step: for each of three people, where they stand (None = not seen), whether the
# tracker ends them after the step, and for how many frames the step lasts (people linger,
# so dwell thresholds are actually reached).
SPOTS = st.sampled_from([None, OUT, 48.0, 52.0, IN])
ENDS = st.integers(0, 5).map(lambda n: n == 0)
STEP = st.tuples(st.tuples(SPOTS, SPOTS, SPOTS), st.tuples(ENDS, ENDS, ENDS), st.integers(1, 8))
Step = tuple[tuple[float | None, ...], tuple[bool, ...], int]


def frames_of(steps: list[Step]) -> list[tuple[list[TrackState], list[int]]]:
    """Expand steps into (tracks, ended ids) per frame; ends apply on a step's last frame."""
    out: list[tuple[list[TrackState], list[int]]] = []
    for spots, ends, repeat in steps:
        frame = [person(i, x) for i, x in enumerate(spots) if x is not None]
        ended = [i for i, e in enumerate(ends) if e and spots[i] is not None]
        out += [(frame, [])] * (repeat - 1) + [(frame, ended)]
    return out


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(STEP, max_size=25), grace=st.sampled_from([0.0, 0.5, 1.0]))
def test_every_event_starts_once_ends_once_and_visits_never_overlap(
    steps: list[Step], grace: float
) -> None:
    eng = engine(grace_s=grace, update_interval_s=1.0)
    actions: list[EventAction] = []
    ts = 0.0
    for frame, ended in frames_of(steps):
        actions += eng.update(ts, W, H, frame, ended_ids=ended)
        ts += DT
    actions += eng.close(ts)

    by_key: dict[str, list[EventAction]] = defaultdict(list)
    for a in actions:
        by_key[a.key].append(a)
    for key, events in by_key.items():
        assert [a.kind for a in events if a.kind != "update"] == ["start", "end"], key
        assert events[0].kind == "start" and events[-1].kind == "end", key
        assert [a.ts for a in events] == sorted(a.ts for a in events), key
        assert len({(a.event_type, a.track_id, a.start_ts) for a in events}) == 1, key
    # Interactions: at least min_dwell long, and one track's visits to a zone are disjoint.
    spans: dict[tuple[int, str | None], list[tuple[float, float]]] = defaultdict(list)
    for events in by_key.values():
        end = events[-1]
        if end.event_type == "interaction_detected":
            assert end.dwell_s is not None and end.dwell_s >= SHELF.min_dwell - 1e-9
            assert end.end_ts is not None
            spans[(end.track_id, end.zone)].append((end.start_ts, end.end_ts))
    for intervals in spans.values():
        intervals.sort()
        for (_, prev_end), (next_start, _) in pairwise(intervals):
            assert prev_end < next_start
