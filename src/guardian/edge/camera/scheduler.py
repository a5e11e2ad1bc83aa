"""One shared detector for all cameras: freshest frame per camera, round-robin service."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Protocol

from guardian.edge.detect.detector import Frame
from guardian.edge.detect.types import Detection

logger = logging.getLogger(__name__)
Clock = Callable[[], float]


class BatchDetector(Protocol):
    """What the scheduler needs of a detector (a ``Detector`` or a ``HotSwapDetector``)."""

    def detect_batch(self, frames: Sequence[Frame]) -> list[list[Detection]]: ...


class FrameDroppedError(Exception):
    """A pending frame was replaced by a newer frame of the same camera before detection."""


class SchedulerStoppedError(Exception):
    """The scheduler stopped before the frame was detected."""


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """Detections of one camera frame; ``latency_s`` runs from submit to result."""

    camera: str
    t: float
    detections: list[Detection]
    latency_s: float


@dataclass(slots=True)
class CameraStats:
    """Counters of one camera's detection requests."""

    submitted: int = 0
    detected: int = 0
    dropped: int = 0
    failed: int = 0
    latency_total_s: float = 0.0

    @property
    def mean_latency_s(self) -> float:
        """Mean submit-to-result time of detected frames (0 before the first)."""
        return self.latency_total_s / self.detected if self.detected else 0.0


@dataclass(slots=True)
class _Job:
    camera: str
    frame: Frame
    t: float
    submitted_at: float
    future: Future[DetectionResult]


class DetectorScheduler:
    """Serves detection requests of many cameras with one worker thread and one detector.

    Each camera has at most one pending frame: a newer frame replaces the older one, whose
    future fails with :class:`FrameDroppedError`. A live pipeline wants the freshest frame,
    and this bounds memory to one frame per camera. Cameras with pending work are served
    round-robin (up to ``max_batch`` cameras per detector call), so a camera that floods
    frames only ever holds one place in the line and cannot starve the others.
    """

    def __init__(
        self, detector: BatchDetector, *, max_batch: int = 4, clock: Clock = time.monotonic
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.detector = detector
        self.max_batch = max_batch
        self._clock = clock
        self._cond = threading.Condition()
        self._pending: dict[str, _Job] = {}
        self._order: deque[str] = deque()
        self._stats: dict[str, CameraStats] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (once)."""
        with self._cond:
            if self._thread is not None:
                raise RuntimeError("scheduler already started")
            self._thread = threading.Thread(
                target=self._run, name="detector-scheduler", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the worker after its current batch; fail frames still pending."""
        with self._cond:
            self._stop.set()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            left = list(self._pending.values())
            self._pending.clear()
            self._order.clear()
        for job in left:
            _fail(job.future, SchedulerStoppedError("detector scheduler stopped"))

    @property
    def running(self) -> bool:
        """Whether the worker thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """Whether ``stop`` has been called."""
        return self._stop.is_set()

    def __enter__(self) -> DetectorScheduler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- requests ---------------------------------------------------------------------

    def submit(self, camera: str, frame: Frame, t: float) -> Future[DetectionResult]:
        """Queue ``frame`` (RGB, taken at ``t`` seconds) of ``camera`` for detection."""
        future: Future[DetectionResult] = Future()
        with self._cond:
            # Checked under the lock so a frame cannot slip in after ``stop`` swept the line.
            if self._stop.is_set():
                _fail(future, SchedulerStoppedError("detector scheduler stopped"))
                return future
            stats = self._stats.setdefault(camera, CameraStats())
            stats.submitted += 1
            old = self._pending.get(camera)
            self._pending[camera] = _Job(camera, frame, t, self._clock(), future)
            if old is None:
                self._order.append(camera)
            else:
                # The camera keeps its place in line: replacing is not a reason to wait longer.
                stats.dropped += 1
            self._cond.notify()
        if old is not None:
            _fail(old.future, FrameDroppedError(f"{camera}: replaced by the frame at t={t}"))
        return future

    def stats(self) -> dict[str, CameraStats]:
        """A snapshot of per-camera counters."""
        with self._cond:
            return {
                name: CameraStats(s.submitted, s.detected, s.dropped, s.failed, s.latency_total_s)
                for name, s in self._stats.items()
            }

    @property
    def queue_length(self) -> int:
        """Frames waiting for the detector (at most one per camera)."""
        with self._cond:
            return len(self._pending)

    # -- worker -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._order and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
                batch = self._take()
            try:
                self._serve(batch)
            except Exception:
                # Nothing a batch does may kill the one worker every camera depends on.
                logger.exception("detector scheduler: serving a batch failed")

    def _take(self) -> list[_Job]:
        batch: list[_Job] = []
        while self._order and len(batch) < self.max_batch:
            job = self._pending.pop(self._order.popleft())
            # A future its submitter cancelled is not worth a detector call.
            if job.future.set_running_or_notify_cancel():
                batch.append(job)
        return batch

    def _serve(self, batch: list[_Job]) -> None:
        try:
            results = self.detector.detect_batch([job.frame for job in batch])
        except Exception as exc:
            if len(batch) == 1:
                self._finish(batch[0], None, exc)
                return
            # Retry one by one so one camera's bad frame fails only that camera.
            for job in batch:
                self._serve([job])
            return
        for job, detections in zip(batch, results, strict=True):
            self._finish(job, detections, None)

    def _finish(
        self, job: _Job, detections: list[Detection] | None, error: Exception | None
    ) -> None:
        latency = self._clock() - job.submitted_at
        with self._cond:
            stats = self._stats[job.camera]
            if detections is None:
                stats.failed += 1
            else:
                stats.detected += 1
                stats.latency_total_s += latency
        if detections is None:
            logger.warning("detection failed for camera %s: %s", job.camera, error)
            _fail(job.future, error or RuntimeError("detection failed"))
        else:
            try:
                job.future.set_result(DetectionResult(job.camera, job.t, detections, latency))
            except InvalidStateError:
                pass


def _fail(future: Future[DetectionResult], error: BaseException) -> None:
    # A submitter may have cancelled its future meanwhile; that is not the worker's problem.
    try:
        future.set_exception(error)
    except InvalidStateError:
        pass
