"""SORT-style multi-object tracker: Kalman prediction plus per-label Hungarian IoU matching."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment  # untyped: results are converted to int

from guardian.edge.detect.nms import iou_matrix
from guardian.edge.detect.types import Box, Detection
from guardian.edge.track.kalman import BoxKalman, KalmanParams


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Thresholds of the tracker; times are in seconds."""

    iou_min: float = 0.3  # least IoU between a predicted track box and a detection to match
    min_hits: int = 3  # detections before a track is confirmed (reported as started)
    max_age_s: float = 1.0  # a track unseen for longer than this ends
    max_misses: int | None = None  # optionally also end after this many unmatched frames
    tentative_max_misses: int = 1  # unmatched frames an unconfirmed track survives
    # Fallback for pairs IoU missed (fast objects at a low fps, a young track that has no
    # velocity yet): squared Mahalanobis distance gate on (cx, cy, w, h); 13.28 is the 99%
    # chi-square quantile for 4 degrees of freedom. None turns the fallback off.
    gate_chi2: float | None = 13.28
    kalman: KalmanParams = field(default_factory=KalmanParams)

    def __post_init__(self) -> None:
        if not 0.0 < self.iou_min <= 1.0:
            raise ValueError(f"iou_min must be in (0, 1], got {self.iou_min}")
        if self.min_hits < 1:
            raise ValueError(f"min_hits must be >= 1, got {self.min_hits}")
        if self.max_age_s < 0:
            raise ValueError(f"max_age_s must be >= 0, got {self.max_age_s}")
        if self.max_misses is not None and self.max_misses < 0:
            raise ValueError(f"max_misses must be >= 0, got {self.max_misses}")
        if self.tentative_max_misses < 0:
            raise ValueError(f"tentative_max_misses must be >= 0, got {self.tentative_max_misses}")
        if self.gate_chi2 is not None and self.gate_chi2 <= 0:
            raise ValueError(f"gate_chi2 must be > 0, got {self.gate_chi2}")


@dataclass(frozen=True, slots=True)
class Track:
    """A snapshot of one confirmed track.

    ``box`` is the Kalman-smoothed box (predicted while the object is unseen); ``score`` and
    ``source_label`` are from the latest matched detection. ``best_*`` describe the detection
    with the highest score, for choosing an event's snapshot. ``age`` counts tracker updates
    since the track's first detection; ``misses`` counts updates since its latest one.
    """

    id: int
    label: str
    source_label: str
    box: Box
    score: float
    first_seen: float
    last_seen: float
    hits: int
    age: int
    misses: int
    best_score: float
    best_t: float
    best_box: Box
    velocity: tuple[float, float]  # centre velocity, pixels per second


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """What one ``Tracker.update`` changed.

    ``started``: tracks confirmed in this update. ``updated``: every confirmed track matched
    to a detection in this update (including those in ``started``). ``coasting``: confirmed
    tracks unseen in this update but not yet ended. ``ended``: confirmed tracks that timed out.
    """

    t: float
    started: list[Track]
    updated: list[Track]
    coasting: list[Track]
    ended: list[Track]


class _State:
    """Mutable bookkeeping of one track, confirmed or tentative."""

    def __init__(self, det: Detection, t: float, params: KalmanParams) -> None:
        self.id: int | None = None  # assigned on confirmation so public ids have no gaps
        self.label = det.label
        self.source_label = det.source_label
        self.kf = BoxKalman(det.box, params)
        self.filter_t = t
        self.score = det.score
        self.first_seen = t
        self.last_seen = t
        self.hits = 1
        self.age = 1
        self.misses = 0
        self.best_score = det.score
        self.best_t = t
        self.best_box = det.box

    def predict_to(self, t: float) -> None:
        self.kf.predict(t - self.filter_t)
        self.filter_t = t
        self.age += 1

    def observe(self, det: Detection, t: float) -> None:
        self.kf.update(det.box)
        self.source_label = det.source_label
        self.score = det.score
        self.last_seen = t
        self.hits += 1
        self.misses = 0
        if det.score > self.best_score:
            self.best_score, self.best_t, self.best_box = det.score, t, det.box

    def snapshot(self) -> Track:
        assert self.id is not None, "only confirmed tracks are reported"
        return Track(
            id=self.id,
            label=self.label,
            source_label=self.source_label,
            box=self.kf.box,
            score=self.score,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            hits=self.hits,
            age=self.age,
            misses=self.misses,
            best_score=self.best_score,
            best_t=self.best_t,
            best_box=self.best_box,
            velocity=self.kf.velocity,
        )


def _label_mask(states: Sequence[_State], dets: Sequence[Detection]) -> npt.NDArray[np.bool_]:
    return np.array([[s.label == d.label for d in dets] for s in states], bool).reshape(
        len(states), len(dets)
    )


def _match_iou(
    states: Sequence[_State], dets: Sequence[Detection], iou_min: float
) -> list[tuple[int, int]]:
    """Optimal (Hungarian) pairs ``(state index, detection index)`` with IoU >= ``iou_min``."""
    if not states or not dets:
        return []
    pred = np.array([s.kf.box for s in states], np.float32).reshape(-1, 4)
    boxes = np.array([d.box for d in dets], np.float32).reshape(-1, 4)
    # Zero IoU across labels: a person track can never take a car detection.
    iou = np.where(_label_mask(states, dets), iou_matrix(pred, boxes).astype(np.float64), 0.0)
    rows, cols = linear_sum_assignment(-iou)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]
    return [(r, c) for r, c in pairs if iou[r, c] >= iou_min]


def _match_gated(
    states: Sequence[_State], dets: Sequence[Detection], gate_chi2: float
) -> list[tuple[int, int]]:
    """Hungarian pairs on Mahalanobis distance, within the chi-square gate and same label."""
    if not states or not dets:
        return []
    boxes = np.array([d.box for d in dets], np.float64).reshape(-1, 4)
    dist = np.stack([s.kf.gating_distance(boxes) for s in states])
    allowed = _label_mask(states, dets) & (dist <= gate_chi2)
    # Disallowed pairs get a cost above any allowed one so the solver never prefers them.
    cost = np.where(allowed, dist, gate_chi2 * 10.0 + 1.0)
    rows, cols = linear_sum_assignment(cost)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]
    return [(r, c) for r, c in pairs if allowed[r, c]]


Matcher = Callable[[Sequence[_State], Sequence[Detection]], list[tuple[int, int]]]


class Tracker:
    """Assigns stable integer ids to detections of the same object across frames.

    Feed it every processed frame's detections with the frame time ``t`` in seconds
    (non-decreasing). Frames may arrive at any rate; the Kalman prediction uses the real time
    step. Ids start at ``first_id`` and are never reused by one tracker.
    """

    def __init__(self, config: TrackerConfig | None = None, first_id: int = 1) -> None:
        self.config = config or TrackerConfig()
        self._next_id = first_id
        self._states: list[_State] = []
        self._t: float | None = None

    @property
    def tracks(self) -> list[Track]:
        """Snapshots of the live confirmed tracks."""
        return [s.snapshot() for s in self._states if s.id is not None]

    def update(self, detections: Sequence[Detection], t: float) -> TrackUpdate:
        """Advance to time ``t`` and fold in that frame's detections."""
        if self._t is not None and t < self._t:
            raise ValueError(f"time went backwards: {t} < {self._t}")
        self._t = t
        cfg = self.config
        ended: list[Track] = []
        # Expire by time first: after a long gap without frames (e.g. the motion gate skipped
        # detection) a stale track must not grab a newcomer.
        live: list[_State] = []
        for s in self._states:
            if t - s.last_seen > cfg.max_age_s:
                if s.id is not None:
                    ended.append(s.snapshot())
            else:
                s.predict_to(t)
                live.append(s)

        # Confirmed tracks choose first so a fresh tentative track cannot steal their object.
        confirmed = [s for s in live if s.id is not None]
        tentative = [s for s in live if s.id is None]
        free = list(range(len(detections)))
        matched: set[int] = set()
        stages: list[tuple[list[_State], Matcher]] = [
            (confirmed, partial(_match_iou, iou_min=cfg.iou_min)),
            (tentative, partial(_match_iou, iou_min=cfg.iou_min)),
        ]
        if cfg.gate_chi2 is not None:
            gated = partial(_match_gated, gate_chi2=cfg.gate_chi2)
            stages += [(confirmed, gated), (tentative, gated)]
        for group, matcher in stages:
            waiting = [s for s in group if id(s) not in matched]
            pairs = matcher(waiting, [detections[i] for i in free])
            for si, fi in pairs:
                waiting[si].observe(detections[free[fi]], t)
                matched.add(id(waiting[si]))
            taken = {fi for _, fi in pairs}
            free = [d for k, d in enumerate(free) if k not in taken]

        started: list[Track] = []
        updated: list[Track] = []
        coasting: list[Track] = []
        survivors: list[_State] = []
        for s in live:
            if id(s) in matched:
                if s.id is None and s.hits >= cfg.min_hits:
                    s.id = self._take_id()
                    started.append(s.snapshot())
                if s.id is not None:
                    updated.append(s.snapshot())
                survivors.append(s)
                continue
            s.misses += 1
            if s.id is None:
                if s.misses <= cfg.tentative_max_misses:
                    survivors.append(s)
            elif cfg.max_misses is not None and s.misses > cfg.max_misses:
                ended.append(s.snapshot())
            else:
                coasting.append(s.snapshot())
                survivors.append(s)

        for di in free:
            s = _State(detections[di], t, cfg.kalman)
            if cfg.min_hits <= 1:
                s.id = self._take_id()
                started.append(s.snapshot())
                updated.append(s.snapshot())
            survivors.append(s)
        self._states = survivors
        return TrackUpdate(t=t, started=started, updated=updated, coasting=coasting, ended=ended)

    def end_all(self) -> list[Track]:
        """End every track now (e.g. the camera stopped); returns the confirmed ones."""
        ended = [s.snapshot() for s in self._states if s.id is not None]
        self._states = []
        return ended

    def _take_id(self) -> int:
        track_id = self._next_id
        self._next_id += 1
        return track_id
