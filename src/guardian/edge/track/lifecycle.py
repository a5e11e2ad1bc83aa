"""Per-camera event lifecycle: tracker output per frame in, upsertable event actions out."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from guardian.edge.detect.types import Box
from guardian.edge.track.geometry import bottom_centre_fraction
from guardian.edge.track.zones import Zone, check_unique, zones_of

ActionKind = Literal["start", "update", "end"]
PERSON = "person"
INTERACTION = "interaction_detected"
# Timestamps are sums of float frame intervals; thresholds are met within this slack so
# that, say, 5.6 - 4.6 = 0.9999999999999996 counts as a full 1 s.
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class TrackState:
    """One tracked object in one frame: the slice of the tracker's output this module needs."""

    track_id: int
    label: str
    box: Box
    score: float


@dataclass(frozen=True, slots=True)
class EventAction:
    """One change to one event; ``key`` is the same for its start, updates and end (upsert).

    ``ts`` is when the action happened, ``start_ts``/``end_ts`` the event's span (``end_ts``
    only on ``end``), ``best_*`` the highest-scoring frame so far (for the snapshot).
    Detection events list ``zones`` entered so far; interaction events name their ``zone``,
    ``dwell_s``, ``person_count`` (people in the zone when the dwell threshold was reached)
    and ``peak_person_count`` (most people in the zone at once during the interaction).
    """

    kind: ActionKind
    key: str
    event_type: str
    camera: str
    track_id: int
    label: str
    ts: float
    start_ts: float
    end_ts: float | None
    box: Box
    best_score: float
    best_ts: float
    best_box: Box
    zones: tuple[str, ...] = ()
    zone: str | None = None
    dwell_s: float | None = None
    person_count: int | None = None
    peak_person_count: int | None = None


@dataclass(slots=True)
class _Best:
    score: float
    ts: float
    box: Box

    def offer(self, score: float, ts: float, box: Box) -> None:
        if score > self.score:
            self.score, self.ts, self.box = score, ts, box


@dataclass(slots=True)
class _Visit:
    zone: Zone
    entered_ts: float
    last_in_ts: float
    box: Box
    best: _Best
    key: str = ""  # set when the dwell threshold is reached and the interaction starts
    last_emit_ts: float = 0.0
    person_count: int = 0
    peak_person_count: int = 0

    @property
    def dwell(self) -> float:
        return self.last_in_ts - self.entered_ts


@dataclass(slots=True)
class _Track:
    track_id: int
    tag: str  # key fragment; differs if the tracker reuses an ended id
    label: str
    first_ts: float
    last_ts: float
    box: Box
    point: tuple[float, float]
    best: _Best
    zones: list[str] = field(default_factory=list)
    started: bool = False
    last_emit_ts: float = 0.0
    emitted_score: float = 0.0
    emitted_point: tuple[float, float] = (0.0, 0.0)
    emitted_zones: int = 0
    visits: dict[str, _Visit] = field(default_factory=dict)
    interactions: dict[str, int] = field(default_factory=dict)


class CameraEventEngine:
    """Turns one camera's per-frame tracks into detection and interaction event actions.

    Detection events (``<label>_detected``) are one per track: start once the track has
    lived ``min_track_seconds`` (flicker never becomes an event), update on material change
    (a new zone at once; a better score or a large move at most every ``update_interval_s``),
    end when the tracker ends the track. Interaction events are one per visit of a person
    to an ``interaction`` zone: gaps up to ``grace_s`` do not split a visit (box jitter at
    the edge), the start comes when the dwell reaches the zone's ``min_dwell``, and a visit
    that never gets there emits nothing. Pass a ``session`` unique per engine run (e.g. its
    start time) so keys do not collide when tracker ids restart.
    """

    def __init__(
        self,
        camera: str,
        zones: Sequence[Zone],
        *,
        labels: Sequence[str] = ("person", "vehicle"),
        min_track_seconds: float = 0.5,
        grace_s: float = 1.0,
        update_interval_s: float = 2.0,
        move_fraction: float = 0.1,
        score_gain: float = 0.05,
        session: str = "",
    ) -> None:
        check_unique(zones)
        for name, value in (
            ("min_track_seconds", min_track_seconds),
            ("grace_s", grace_s),
            ("update_interval_s", update_interval_s),
            ("move_fraction", move_fraction),
            ("score_gain", score_gain),
        ):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        self.camera = camera
        self._zones = tuple(zones)
        self._dwell_zones = tuple(z for z in zones if z.interaction)
        self._labels = frozenset(labels)
        self._min_track = min_track_seconds
        self._grace = grace_s
        self._interval = update_interval_s
        self._move = move_fraction
        self._gain = score_gain
        self._prefix = "/".join(p for p in (camera, session) if p)
        self._tracks: dict[int, _Track] = {}
        self._reused: dict[int, int] = {}
        self._now = -math.inf

    @property
    def open_track_ids(self) -> list[int]:
        """Ids of tracks this engine is following (ended ones are forgotten)."""
        return sorted(self._tracks)

    def live_best_ts(self) -> set[float]:
        """Timestamps of the best frames of every open track and visit.

        A pipeline keeps these frames (and only these) so that it can write the snapshot
        of any event it is later told about, whatever frame turned out to be the best.
        """
        found: set[float] = set()
        for state in self._tracks.values():
            found.add(state.best.ts)
            found.update(v.best.ts for v in state.visits.values())
        return found

    def update(
        self,
        ts: float,
        frame_w: int,
        frame_h: int,
        tracks: Sequence[TrackState],
        ended_ids: Iterable[int] = (),
    ) -> list[EventAction]:
        """Consume one frame's tracks (and the ids the tracker ended) at time ``ts``."""
        if not math.isfinite(ts) or ts < self._now:
            raise ValueError(f"timestamps must be finite and non-decreasing, got {ts}")
        self._now = ts
        out: list[EventAction] = []
        seen = [t for t in tracks if t.label in self._labels]
        if len({t.track_id for t in seen}) != len(seen):
            raise ValueError("a track id appears twice in one frame")
        inside = {t.track_id: zones_of(t.box, frame_w, frame_h, self._zones) for t in seen}
        counts = {
            z.name: sum(1 for t in seen if t.label == PERSON and z.name in inside[t.track_id])
            for z in self._dwell_zones
        }
        for t in seen:
            point = bottom_centre_fraction(t.box, (frame_w, frame_h))
            self._observe(t, ts, point, inside[t.track_id], out)
        for state in self._tracks.values():
            for name in [
                n for n, v in state.visits.items() if ts - v.last_in_ts > self._grace + _EPS
            ]:
                self._close_visit(state, state.visits.pop(name), ts, out)
        for t in seen:
            state = self._tracks[t.track_id]
            # The label the event was opened with decides, so a flickering label cannot
            # open a visit for a track reported as a vehicle.
            if state.label == PERSON:
                self._advance_visits(state, t, ts, inside[t.track_id], counts, out)
        for track_id in ended_ids:
            self._end(track_id, ts, out)
        return out

    def close(self, ts: float) -> list[EventAction]:
        """End every open event (camera stopped or removed)."""
        return self.update(ts, 1, 1, (), ended_ids=list(self._tracks))

    def _observe(
        self,
        t: TrackState,
        ts: float,
        point: tuple[float, float],
        inside: list[str],
        out: list[EventAction],
    ) -> None:
        state = self._tracks.get(t.track_id)
        if state is None:
            n = self._reused.get(t.track_id, 0)
            tag = f"t{t.track_id}" + (f"r{n}" if n else "")
            best = _Best(t.score, ts, t.box)
            state = _Track(t.track_id, tag, t.label, ts, ts, t.box, point, best)
            self._tracks[t.track_id] = state
        state.last_ts, state.box, state.point = ts, t.box, point
        state.best.offer(t.score, ts, t.box)
        state.zones.extend(z for z in inside if z not in state.zones)
        if not state.started:
            if ts - state.first_ts >= self._min_track - _EPS:
                state.started = True
                self._emit_track("start", state, ts, out)
            return
        new_zone = len(state.zones) > state.emitted_zones
        gain = state.best.score - state.emitted_score
        better = gain > 0 and gain >= self._gain
        moved = math.dist(state.point, state.emitted_point) >= self._move
        due = ts - state.last_emit_ts >= self._interval - _EPS
        if new_zone or (due and (better or moved)):
            self._emit_track("update", state, ts, out)

    def _advance_visits(
        self,
        state: _Track,
        t: TrackState,
        ts: float,
        inside: list[str],
        counts: dict[str, int],
        out: list[EventAction],
    ) -> None:
        for zone in self._dwell_zones:
            if zone.name not in inside:
                continue
            visit = state.visits.get(zone.name)
            if visit is None:
                visit = _Visit(zone, ts, ts, t.box, _Best(t.score, ts, t.box))
                state.visits[zone.name] = visit
            visit.last_in_ts, visit.box = ts, t.box
            visit.best.offer(t.score, ts, t.box)
            visit.peak_person_count = max(visit.peak_person_count, counts[zone.name])
            if not visit.key:
                # An unconfirmed track (younger than min_track_seconds) waits: its dwell
                # keeps counting from entry, so nothing is lost by starting later.
                if state.started and visit.dwell >= zone.min_dwell - _EPS:
                    number = state.interactions.get(zone.name, 0) + 1
                    state.interactions[zone.name] = number
                    visit.key = f"{self._prefix}/{state.tag}/zone/{zone.name}/{number}"
                    visit.person_count = counts[zone.name]
                    self._emit_visit("start", state, visit, ts, out)
            elif ts - visit.last_emit_ts >= self._interval - _EPS:
                self._emit_visit("update", state, visit, ts, out)

    def _close_visit(self, state: _Track, visit: _Visit, ts: float, out: list[EventAction]) -> None:
        if visit.key:
            self._emit_visit("end", state, visit, ts, out)

    def _end(self, track_id: int, ts: float, out: list[EventAction]) -> None:
        state = self._tracks.pop(track_id, None)
        if state is None:
            return
        self._reused[track_id] = self._reused.get(track_id, 0) + 1
        # Interactions first, so a store never sees a person's visit outlive its track.
        for visit in state.visits.values():
            self._close_visit(state, visit, ts, out)
        state.visits.clear()
        if state.started:
            self._emit_track("end", state, ts, out)

    def _emit_track(
        self, kind: ActionKind, state: _Track, ts: float, out: list[EventAction]
    ) -> None:
        state.last_emit_ts, state.emitted_score = ts, state.best.score
        state.emitted_point, state.emitted_zones = state.point, len(state.zones)
        out.append(
            EventAction(
                kind=kind,
                key=f"{self._prefix}/{state.tag}/{state.label}",
                event_type=f"{state.label}_detected",
                camera=self.camera,
                track_id=state.track_id,
                label=state.label,
                ts=ts,
                start_ts=state.first_ts,
                end_ts=state.last_ts if kind == "end" else None,
                box=state.box,
                best_score=state.best.score,
                best_ts=state.best.ts,
                best_box=state.best.box,
                zones=tuple(state.zones),
            )
        )

    def _emit_visit(
        self, kind: ActionKind, state: _Track, visit: _Visit, ts: float, out: list[EventAction]
    ) -> None:
        visit.last_emit_ts = ts
        out.append(
            EventAction(
                kind=kind,
                key=visit.key,
                event_type=INTERACTION,
                camera=self.camera,
                track_id=state.track_id,
                label=PERSON,
                ts=ts,
                start_ts=visit.entered_ts,
                end_ts=visit.last_in_ts if kind == "end" else None,
                box=visit.box,
                best_score=visit.best.score,
                best_ts=visit.best.ts,
                best_box=visit.best.box,
                zones=(visit.zone.name,),
                zone=visit.zone.name,
                dwell_s=visit.dwell,
                person_count=visit.person_count,
                peak_person_count=visit.peak_person_count,
            )
        )
