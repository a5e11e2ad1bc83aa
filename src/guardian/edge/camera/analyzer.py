"""One camera's frame analysis: motion gate → detector → masks → tracker → event engine.

No I/O: detection is a callable (the shared scheduler in production, a fake in tests), and
the result is a list of event actions plus the frames their snapshots need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from guardian.edge.camera.config import CameraConfig
from guardian.edge.camera.motion import MotionConfig, MotionGate, MotionResult, should_detect
from guardian.edge.detect.types import Detection
from guardian.edge.track.lifecycle import CameraEventEngine, EventAction, TrackState
from guardian.edge.track.masks import apply_mask
from guardian.edge.track.tracker import Tracker, TrackerConfig

RgbImage = npt.NDArray[np.uint8]
# Returns the frame's detections, or None when the frame was not detected (dropped because
# a newer frame of the camera replaced it, or the detector is stopping).
DetectFn = Callable[[RgbImage, float], list[Detection] | None]
EVENT_LABELS = ("person", "vehicle")


@dataclass(slots=True)
class AnalyzerCounters:
    """What the analyzer did with the frames it was given."""

    frames: int = 0
    skipped_by_motion: int = 0
    detected: int = 0
    not_detected: int = 0  # submitted but dropped by the scheduler
    detections: int = 0

    @property
    def skipped_ratio(self) -> float:
        return self.skipped_by_motion / self.frames if self.frames else 0.0


@dataclass(frozen=True, slots=True)
class Analysis:
    """The outcome of one frame."""

    ts: float
    motion: MotionResult
    detected: bool
    detections: list[Detection]
    actions: list[EventAction]


@dataclass(slots=True)
class _Frames:
    """Frames kept for snapshots: only those that are some open track's or visit's best."""

    by_ts: dict[float, RgbImage] = field(default_factory=dict)

    def keep(self, ts: float, frame: RgbImage, wanted: set[float]) -> None:
        for old in [t for t in self.by_ts if t not in wanted]:
            del self.by_ts[old]
        if ts in wanted:
            self.by_ts[ts] = frame


class FrameAnalyzer:
    """Turns one camera's sampled frames (RGB, wall-clock ts) into event actions."""

    def __init__(
        self,
        config: CameraConfig,
        detect: DetectFn,
        *,
        thresholds: Mapping[str, float],
        min_track_seconds: float = 0.5,
        session: str = "",
        tracker: TrackerConfig | None = None,
    ) -> None:
        masks = tuple(tuple((p[0], p[1]) for p in m) for m in config.masks)
        self._masks = masks
        self._motion = MotionGate(MotionConfig(masks=masks))
        self._detect = detect
        self._thresholds = dict(thresholds)
        self._tracker = Tracker(tracker)
        self._engine = CameraEventEngine(
            config.name,
            [z.to_zone() for z in config.zones],
            labels=EVENT_LABELS,
            min_track_seconds=min_track_seconds,
            session=session,
        )
        self._frames = _Frames()
        self._last_ts: float | None = None
        self.counters = AnalyzerCounters()

    @property
    def tracking(self) -> bool:
        """Whether any object is being followed (then frames are detected even without motion)."""
        return bool(self._tracker.tracks) or bool(self._engine.open_track_ids)

    def frame_at(self, ts: float) -> RgbImage | None:
        """The kept frame taken at ``ts`` (a best frame of an open track or visit)."""
        return self._frames.by_ts.get(ts)

    def _accept(self, d: Detection) -> bool:
        if d.label not in EVENT_LABELS:
            return False
        return d.score >= self._thresholds.get(d.label, 0.5)

    def process(self, frame: RgbImage, ts: float) -> Analysis:
        """Analyse one frame; timestamps must not go backwards (call ``reset`` after a gap)."""
        if self._last_ts is not None and ts < self._last_ts:
            ts = self._last_ts  # a stream re-anchor must not break the engine's ordering
        self._last_ts = ts
        self.counters.frames += 1
        motion = self._motion.update(frame)
        if not should_detect(motion, self.tracking):
            self.counters.skipped_by_motion += 1
            return Analysis(ts, motion, False, [], self._advance([], ts, frame, detected=False))
        found = self._detect(frame, ts)
        if found is None:
            self.counters.not_detected += 1
            return Analysis(ts, motion, False, [], [])
        self.counters.detected += 1
        height, width = frame.shape[:2]
        kept = apply_mask([d for d in found if self._accept(d)], self._masks, (width, height))
        self.counters.detections += len(kept)
        return Analysis(ts, motion, True, kept, self._advance(kept, ts, frame, detected=True))

    def _advance(
        self, detections: list[Detection], ts: float, frame: RgbImage, *, detected: bool
    ) -> list[EventAction]:
        if not detected and not self.tracking:
            return []
        update = self._tracker.update(detections, ts)
        height, width = frame.shape[:2]
        states = [TrackState(t.id, t.label, t.box, t.score) for t in update.updated]
        ended = [t.id for t in update.ended]
        actions = self._engine.update(ts, width, height, states, ended_ids=ended)
        # Frames the actions of this update name stay until the next one, so the caller
        # can write the snapshot of an event that just ended.
        wanted = self._engine.live_best_ts() | {a.best_ts for a in actions}
        self._frames.keep(ts, frame, wanted)
        return actions

    def close(self, ts: float) -> list[EventAction]:
        """End every open event (the stream was lost or the camera stops).

        The best frames of the ended events stay readable with ``frame_at`` until the next
        ``process`` call.
        """
        self._tracker.end_all()
        actions = self._engine.close(max(ts, self._last_ts or ts))
        wanted = {a.best_ts for a in actions}
        self._frames.by_ts = {t: f for t, f in self._frames.by_ts.items() if t in wanted}
        self._motion.reset()
        return actions
