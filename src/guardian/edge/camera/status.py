"""A camera's live status, shared between its pipeline threads and the status writer."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

STATES = ("starting", "online", "offline", "error", "disabled")
RECORDING_STATES = ("recording", "paused_disk", "off", "idle", "error")


class RateMeter:
    """Events per second over a sliding window (default 5 s)."""

    def __init__(self, window_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window_s
        self._clock = clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, n: int = 1) -> None:
        now = self._clock()
        with self._lock:
            for _ in range(n):
                self._times.append(now)
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self._window:
            self._times.popleft()

    def rate(self) -> float:
        now = self._clock()
        with self._lock:
            self._trim(now)
            if len(self._times) < 2:
                return 0.0
            span = now - self._times[0]
            count = len(self._times)
        return count / max(span, min(self._window, 1.0))


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """One reading of a camera's status (what is written to ``camera_status``)."""

    name: str
    state: str = "starting"
    decoder: str | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    input_fps: float | None = None
    detect_fps: float | None = None
    skipped_by_motion: float | None = None
    detector_latency_ms: float | None = None
    last_frame_at: float | None = None
    last_error: str | None = None
    reconnects: int = 0
    recording: str = "idle"
    frames_dropped: int = 0
    events_written: int = 0


class LiveStatus:
    """Thread-safe mutable status of one camera; ``snapshot()`` reads it consistently."""

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._snap = StatusSnapshot(name)
        self.input_meter = RateMeter(clock=clock)
        self.detect_meter = RateMeter(clock=clock)
        self._last_frame_at: float | None = None

    def packet(self, ts: float) -> None:
        """One packet arrived (the per-packet hot path: a tick and a plain store)."""
        self.input_meter.tick()
        self._last_frame_at = ts

    def update(self, **changes: object) -> None:
        with self._lock:
            self._snap = replace(self._snap, **changes)  # type: ignore[arg-type]

    def add_reconnect(self) -> None:
        with self._lock:
            self._snap = replace(self._snap, reconnects=self._snap.reconnects + 1)

    def snapshot(self) -> StatusSnapshot:
        with self._lock:
            snap = self._snap
        return replace(
            snap,
            last_frame_at=self._last_frame_at or snap.last_frame_at,
            input_fps=round(self.input_meter.rate(), 2) if snap.state == "online" else 0.0,
            detect_fps=round(self.detect_meter.rate(), 2) if snap.state == "online" else 0.0,
        )
