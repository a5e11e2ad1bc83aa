"""Interaction events: who counts as a person, new event or merge, event fields, out of order."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian.edge.detect.types import Detection
from guardian.edge.events.interactions import (
    Decision,
    Interaction,
    PersonBox,
    Sighting,
    choose,
    decide,
    fold,
    people_in,
)

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
WINDOW = dt.timedelta(seconds=10)
MODEL = {"model": "ssd", "sha256": "ab", "runtime": "openvino", "device": "CPU"}


def person(score: float, x: float = 0.0) -> PersonBox:
    return PersonBox(score, (x, 0.0, x + 10.0, 20.0))


def sighting(cid: str, seconds: float, *scores: float, device: str = "pi-1") -> Sighting:
    persons = tuple(person(s, 10.0 * i) for i, s in enumerate(scores or (0.9,)))
    return Sighting(cid, device, T0 + dt.timedelta(seconds=seconds), persons, MODEL)


class Store:
    """Applies decisions the way the event store does: a dict of event id -> state."""

    def __init__(self) -> None:
        self.events: dict[str, Interaction] = {}

    def apply(self, s: Sighting, window: dt.timedelta = WINDOW) -> Decision:
        decision = decide(s, list(self.events.items()), window)
        if decision.changed:
            eid = decision.event_id or f"e{len(self.events)}"
            self.events[eid] = decision.interaction
        return decision

    def groups(self) -> set[frozenset[str]]:
        return {frozenset(ev.capture_ids) for ev in self.events.values()}


# -- who counts -----------------------------------------------------------------------


def test_people_in_keeps_persons_at_or_above_the_threshold_best_first() -> None:
    dets = [
        Detection("person", "person", 0.49, (0, 0, 1, 1)),
        Detection("person", "man", 0.5, (1, 1, 2, 2)),
        Detection("vehicle", "car", 0.99, (2, 2, 3, 3)),
        Detection("person", "person", 0.93, (3, 3, 4, 4)),
    ]
    found = people_in(dets, 0.5)
    assert [p.score for p in found] == [0.93, 0.5]
    assert found[0].box == (3, 3, 4, 4)


def test_people_in_is_empty_without_persons() -> None:
    assert people_in([Detection("animal", "cat", 0.9, (0, 0, 1, 1))], 0.1) == ()


def test_a_capture_without_people_makes_no_event() -> None:
    empty = Sighting("c", "pi-1", T0, ())
    with pytest.raises(ValueError, match="no person"):
        decide(empty, [], WINDOW)


# -- new event and its fields -----------------------------------------------------------


def test_first_capture_makes_a_new_event_with_its_fields() -> None:
    d = decide(sighting("c1", 0, 0.8, 0.6), [], WINDOW)
    assert d.creates and d.changed and d.event_id is None
    ev = d.interaction
    assert ev.capture_ids == ["c1"]
    assert ev.started_at == ev.ended_at == T0
    assert ev.person_count == 2
    assert ev.best_score == 0.8
    details = ev.details()
    assert details["capture_ids"] == ["c1"]
    assert details["person_count"] == 2
    assert details["best_score"] == 0.8
    assert details["boxes"]["c1"] == [
        {"score": 0.8, "box": [0.0, 0.0, 10.0, 20.0]},
        {"score": 0.6, "box": [10.0, 0.0, 20.0, 20.0]},
    ]
    assert details["captured_at"] == {"c1": T0.isoformat()}
    assert details["models"] == [MODEL]


def test_person_count_is_the_most_seen_at_once_not_a_sum() -> None:
    store = Store()
    store.apply(sighting("c1", 0, 0.9, 0.8))
    store.apply(sighting("c2", 2, 0.7, 0.7, 0.6))
    store.apply(sighting("c3", 4, 0.95))
    (ev,) = store.events.values()
    assert ev.person_count == 3
    assert ev.best_score == 0.95


# -- merge window -----------------------------------------------------------------------


def test_captures_3s_apart_join_one_event() -> None:
    store = Store()
    first = store.apply(sighting("c1", 0))
    second = store.apply(sighting("c2", 3))
    assert first.creates and not second.creates
    (ev,) = store.events.values()
    assert ev.capture_ids == ["c1", "c2"]
    assert (ev.started_at, ev.ended_at) == (T0, T0 + dt.timedelta(seconds=3))


def test_captures_30s_apart_make_two_events() -> None:
    store = Store()
    store.apply(sighting("c1", 0))
    assert store.apply(sighting("c2", 30)).creates
    assert store.groups() == {frozenset({"c1"}), frozenset({"c2"})}


def test_window_edge_is_inclusive() -> None:
    store = Store()
    store.apply(sighting("c1", 0))
    assert not store.apply(sighting("c2", 10)).creates
    assert store.apply(sighting("c3", 20.000001)).creates


def test_a_zero_window_joins_only_captures_at_the_same_instant() -> None:
    store = Store()
    store.apply(sighting("c1", 0), dt.timedelta(0))
    assert not store.apply(sighting("c2", 0), dt.timedelta(0)).creates
    assert store.apply(sighting("c3", 0.001), dt.timedelta(0)).creates


def test_events_chain_while_captures_keep_coming() -> None:
    store = Store()
    for i in range(6):
        store.apply(sighting(f"c{i}", 8 * i))  # each 8 s after the last: one long event
    (ev,) = store.events.values()
    assert ev.ended_at - ev.started_at == dt.timedelta(seconds=40)


def test_other_devices_are_the_callers_concern_but_ids_stay_apart() -> None:
    a = decide(sighting("a1", 0, device="pi-a"), [], WINDOW)
    b = decide(sighting("b1", 1, device="pi-b"), [], WINDOW)
    assert a.interaction.capture_ids == ["a1"] and b.interaction.capture_ids == ["b1"]


# -- out of order -----------------------------------------------------------------------


def test_a_late_capture_from_before_the_event_joins_and_moves_its_start() -> None:
    store = Store()
    store.apply(sighting("c2", 6))
    d = store.apply(sighting("c1", 0))
    assert not d.creates
    assert d.interaction.capture_ids == ["c1", "c2"]
    assert d.interaction.started_at == T0


def test_a_late_capture_inside_an_event_joins_it_without_moving_it() -> None:
    store = Store()
    store.apply(sighting("c1", 0))
    store.apply(sighting("c3", 8))
    d = store.apply(sighting("c2", 4, 0.99))
    assert d.interaction.capture_ids == ["c1", "c2", "c3"]
    assert (d.interaction.started_at, d.interaction.ended_at) == (
        T0,
        T0 + dt.timedelta(seconds=8),
    )
    assert d.interaction.best_score == 0.99


def test_between_two_events_the_closer_one_wins() -> None:
    store = Store()
    store.apply(sighting("a", 0))
    store.apply(sighting("b", 15))
    d = store.apply(sighting("late", 9))  # 9 s after a, 6 s before b
    assert d.interaction.capture_ids == ["late", "b"]
    assert len(store.events) == 2


def test_equally_close_events_prefer_the_earlier_one() -> None:
    events = [
        ("later", fold(None, sighting("b", 14))),
        ("earlier", fold(None, sighting("a", 0))),
    ]
    assert choose(sighting("mid", 7), events, WINDOW) == "earlier"


# -- exactly once -----------------------------------------------------------------------


def test_the_same_capture_twice_changes_nothing() -> None:
    store = Store()
    store.apply(sighting("c1", 0, 0.7))
    store.apply(sighting("c2", 2, 0.8))
    before = dict(store.events)
    again = store.apply(sighting("c1", 0, 0.7))
    assert not again.changed and not again.creates
    assert store.events == before
    assert fold(again.interaction, sighting("c1", 0, 0.99)) is again.interaction


def test_models_are_listed_once_each_in_order_seen() -> None:
    other = {**MODEL, "model": "yolo"}
    ev = fold(None, sighting("c1", 0))
    ev = fold(ev, Sighting("c2", "pi-1", T0, (person(0.9),), other))
    ev = fold(ev, sighting("c3", 1))
    assert [m["model"] for m in ev.models] == ["ssd", "yolo"]


# -- properties -------------------------------------------------------------------------

offsets = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=120, allow_nan=False),
        st.lists(st.floats(min_value=0.5, max_value=1.0), min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=25,
)


def _sightings(items: list[tuple[float, list[float]]]) -> list[Sighting]:
    return [sighting(f"c{i:02d}", at, *scores) for i, (at, scores) in enumerate(items)]


@given(offsets, st.randoms(use_true_random=False))
def test_every_capture_lands_in_exactly_one_consistent_event(
    items: list[tuple[float, list[float]]], rnd: random.Random
) -> None:
    sightings = _sightings(items)
    rnd.shuffle(sightings)
    store = Store()
    for s in sightings:
        store.apply(s)
    by_id = {s.capture_id: s for s in sightings}
    seen = [cid for ev in store.events.values() for cid in ev.capture_ids]
    assert sorted(seen) == sorted(by_id)
    for ev in store.events.values():
        members = [by_id[cid] for cid in ev.capture_ids]
        assert ev.person_count == max(len(m.persons) for m in members)
        assert ev.best_score == max(p.score for m in members for p in m.persons)
        times = sorted(m.captured_at for m in members)
        assert (ev.started_at, ev.ended_at) == (times[0], times[-1])
        # No hole wider than the window inside an event.
        assert all(b - a <= WINDOW for a, b in itertools.pairwise(times))
    # Re-processing anything changes nothing.
    for s in sightings:
        assert not store.apply(s).changed


@given(offsets)
def test_in_time_order_events_split_exactly_at_gaps_wider_than_the_window(
    items: list[tuple[float, list[float]]],
) -> None:
    sightings = sorted(_sightings(items), key=lambda s: (s.captured_at, s.capture_id))
    store = Store()
    for s in sightings:
        store.apply(s)
    expected: list[set[str]] = []
    last: dt.datetime | None = None
    for s in sightings:
        if last is None or s.captured_at - last > WINDOW:
            expected.append(set())
        expected[-1].add(s.capture_id)
        last = s.captured_at
    assert store.groups() == {frozenset(g) for g in expected}


@given(
    st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
)
def test_well_separated_bursts_group_the_same_in_any_order(
    burst_sizes: list[int], rnd: random.Random
) -> None:
    # Bursts: captures 2 s apart (within the window), bursts a minute apart.
    sightings = [
        sighting(f"b{b}c{i}", 60 * b + 2 * i) for b, n in enumerate(burst_sizes) for i in range(n)
    ]
    rnd.shuffle(sightings)
    store = Store()
    for s in sightings:
        store.apply(s)
    expected = {frozenset(f"b{b}c{i}" for i in range(n)) for b, n in enumerate(burst_sizes)}
    assert store.groups() == expected


@given(offsets)
def test_details_round_trip(items: list[tuple[float, list[float]]]) -> None:
    ev: Interaction | None = None
    for s in _sightings(items):
        ev = fold(ev, s)
    assert ev is not None
    back = Interaction.from_details(ev.details())
    assert back.capture_ids == ev.capture_ids
    assert back.times == ev.times
    assert back.person_count == ev.person_count
    assert back.best_score == pytest.approx(ev.best_score, abs=1e-4)
    assert back.details() == ev.details()
