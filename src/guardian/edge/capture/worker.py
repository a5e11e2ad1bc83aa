"""The capture worker: claim a detection job, detect, store results and events exactly once."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from guardian.common import faults
from guardian.common.supervise import Supervisor, WorkerFactory
from guardian.edge.capture.lease import LeaseKeeper
from guardian.edge.capture.reads import DetectionInput, detection_input
from guardian.edge.capture.staging import uri_to_path
from guardian.edge.config import EdgeSettings
from guardian.edge.context import EdgeContext
from guardian.edge.detect.errors import ImageReadError
from guardian.edge.detect.images import DecodedImage, decode_image
from guardian.edge.detect.preprocess import InputSpec
from guardian.edge.detect.types import Detection, Provenance
from guardian.edge.events.interactions import Sighting, people_in
from guardian.edge.events.store import record_sighting
from guardian.edge.store.backoff import Backoff
from guardian.edge.store.jobs import KIND_DETECT_CAPTURE
from guardian.edge.store.queue import claim, complete, fail
from guardian.edge.store.tables import Capture, Job

if TYPE_CHECKING:
    from guardian.edge.detect.reload import HotSwapDetector

logger = logging.getLogger(__name__)


class DetectorLike(Protocol):
    """What the worker needs of a detector (``Detector`` and ``HotSwapDetector`` fit)."""

    @property
    def input_spec(self) -> InputSpec: ...

    def detect_with_provenance(
        self, frame: npt.NDArray[np.generic]
    ) -> tuple[list[Detection], Provenance]: ...


def worker_name(index: int) -> str:
    """A lease owner name saying which machine and process holds a job."""
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


class JobFailure(Exception):
    """An expected failure of one job; ``missing`` marks the capture's file as gone."""

    def __init__(self, message: str, *, missing: bool = False, permanent: bool = False) -> None:
        super().__init__(message)
        self.missing = missing
        self.permanent = permanent


def capture_path(storage_uri: str) -> Path:
    """The local file of a ``file://`` storage URI; any other URI fails the job for good."""
    try:
        return uri_to_path(storage_uri)
    except ValueError as exc:
        raise JobFailure(str(exc), permanent=True) from exc


class CaptureWorker(threading.Thread):
    """Runs ``detect_capture`` jobs until ``stop_event`` is set (one job at a time)."""

    def __init__(
        self,
        ctx: EdgeContext,
        detector: DetectorLike,
        stop_event: threading.Event,
        worker_id: str,
    ) -> None:
        super().__init__(name=f"capture-worker-{worker_id}", daemon=True)
        self._ctx = ctx
        self._detector = detector
        self._stop_event = stop_event
        self.worker_id = worker_id
        queue = ctx.settings.queue
        self._backoff = Backoff(queue.backoff_base_seconds, queue.backoff_max_seconds)
        self._window = dt.timedelta(seconds=ctx.settings.events.merge_window_seconds)
        self._last_key: str | None = None

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._ctx.clock(), dt.UTC)

    def run(self) -> None:
        logger.info("capture worker started", extra={"worker": self.worker_id})
        while not self._stop_event.is_set():
            try:
                outcome = self.run_once()
            except Exception:  # e.g. the database is down: wait, then try again
                logger.exception("claiming a job failed", extra={"worker": self.worker_id})
                outcome = None
            if outcome is None:
                self._stop_event.wait(self._ctx.settings.queue.poll_seconds)
        logger.info("capture worker stopped", extra={"worker": self.worker_id})

    def run_once(self) -> str | None:
        """Claim and run one job; its outcome, or ``None`` when no job is due."""
        job = claim(
            self._ctx.sessions,
            self.worker_id,
            kinds=(KIND_DETECT_CAPTURE,),
            lease_seconds=self._ctx.settings.queue.lease_seconds,
            now=self._now(),
            after_key=self._last_key,
        )
        if job is None:
            return None
        self._last_key = job.fair_key
        return self.process(job)

    def process(self, job: Job) -> str:
        """Run a claimed job: ``done``, ``retry``, ``dead`` or ``lost`` (lease rescued)."""
        started = time.perf_counter()
        keeper = LeaseKeeper(
            self._ctx.sessions,
            job,
            self.worker_id,
            self._ctx.settings.queue.heartbeat_seconds,
            self._now,
        )
        with keeper:
            try:
                outcome = self._detect_and_store(job, keeper)
            except JobFailure as exc:
                keeper.stop()  # a beat behind our failure update would report a lost lease
                outcome = self._fail(job, str(exc), missing=exc.missing, permanent=exc.permanent)
            except Exception as exc:
                keeper.stop()
                logger.exception("job crashed", extra=_ids(job))
                outcome = self._fail(job, f"{type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - started
        self._ctx.metrics.job_duration.labels(kind=job.kind, outcome=outcome).observe(elapsed)
        return outcome

    def _load(self, job: Job) -> tuple[DetectionInput, DecodedImage]:
        # A lock-free read (no session): on SQLite it does not wait for the ingest's writes.
        capture = detection_input(self._ctx.engine, job.ref_id)
        if capture is None:
            raise JobFailure(f"capture {job.ref_id} not found", permanent=True)
        path = capture_path(capture.storage_uri)
        if not path.is_file():
            raise JobFailure(f"capture file missing: {path}", missing=True)
        spec = self._detector.input_spec
        try:
            # Decode no larger than the model needs (a DCT-scaled JPEG decode is several
            # times cheaper); boxes are mapped back to full-size pixels below.
            return capture, decode_image(path, min_size=(spec.width, spec.height))
        except ImageReadError as exc:
            raise JobFailure(f"capture file unreadable: {exc}") from exc

    def _detect_and_store(self, job: Job, keeper: LeaseKeeper) -> str:
        capture, image = self._load(job)
        # One call: a hot swap between reading provenance and detecting cannot mislabel.
        found, provenance = self._detector.detect_with_provenance(image.rgb)
        detections = [image.to_full(d) for d in found]
        faults.hit("worker_after_detect")
        if keeper.lost.is_set():
            return "lost"
        # Stop beating first: a beat queued behind our commit would see the job done.
        keeper.stop()
        threshold = self._ctx.settings.events.person_threshold
        persons = people_in(detections, threshold)
        now = self._now()
        with self._ctx.sessions.begin() as session:
            # First: on PostgreSQL this locks the job row, so no rescuer finishes it too.
            if not complete(session, job, self.worker_id, now=now):
                logger.warning("lease lost before commit; result dropped", extra=_ids(job))
                return "lost"
            row = session.get(Capture, capture.id)
            if row is None:
                raise JobFailure(f"capture {capture.id} vanished", permanent=True)
            row.detections = {
                "model": provenance.to_json(),
                "person_threshold": threshold,
                "items": [d.to_json() for d in detections],
            }
            row.person_count = len(persons)
            row.status = "processed"
            row.processed_at = now
            if row.file_state == "missing":  # the file is back: we just read it
                row.file_state, row.file_state_at = "present", now
            if persons:
                sighting = Sighting(
                    capture.id,
                    capture.device_id,
                    capture.captured_at,
                    persons,
                    provenance.to_json(),
                )
                record_sighting(session, sighting, window=self._window, now=now)
        return "done"

    def _fail(self, job: Job, error: str, *, missing: bool = False, permanent: bool = False) -> str:
        now = self._now()
        try:
            with self._ctx.sessions.begin() as session:
                state = fail(
                    session,
                    job,
                    self.worker_id,
                    error,
                    backoff=self._backoff,
                    now=now,
                    permanent=permanent,
                )
                capture = session.get(Capture, job.ref_id) if state else None
                if capture is not None and missing and capture.file_state == "present":
                    capture.file_state, capture.file_state_at = "missing", now
                if capture is not None and state == "dead":
                    capture.status = "failed"
        except Exception:  # the lease will expire and another worker retries the job
            logger.exception("recording a job failure failed", extra=_ids(job))
            return "error"
        outcome = {"queued": "retry", "dead": "dead", None: "lost"}[state]
        log = logger.error if outcome == "dead" else logger.warning
        log("job failed", extra={**_ids(job), "error": error, "outcome": outcome})
        return outcome


def _ids(job: Job) -> dict[str, object]:
    return {"job_id": job.id, "ref_id": job.ref_id, "attempt": job.attempts}


def add_detection_workers(
    supervisor: Supervisor,
    ctx: EdgeContext,
    count: int,
    detector: HotSwapDetector | None = None,
) -> HotSwapDetector:
    """Add ``count`` capture workers and the model reloader, sharing ``detector`` (loaded
    from the settings when not given); returns the detector for other users (cameras)."""
    from guardian.edge.detect.loader import load_detector, model_fingerprint
    from guardian.edge.detect.reload import HotSwapDetector, ModelReloadMaintainer

    settings = ctx.settings.detector
    detector = detector or HotSwapDetector(load_detector(settings))

    def capture_worker(index: int) -> WorkerFactory:
        return lambda ev: CaptureWorker(ctx, detector, ev, worker_name(index))

    for i in range(count):
        supervisor.add(f"capture-worker-{i}", capture_worker(i))
    if settings.reload_poll_seconds > 0:
        supervisor.add(
            "model-reload",
            lambda ev: ModelReloadMaintainer(
                detector,
                lambda: load_detector(settings),
                lambda: model_fingerprint(settings),
                ev,
                settings.reload_poll_seconds,
            ),
        )
    return detector


def run_worker_process(settings: EdgeSettings, count: int, stop: threading.Event) -> None:
    """Run ``count`` capture workers (and the model reloader) until ``stop`` is set."""
    from guardian.edge.capture.gil import tune_for_ingest
    from guardian.edge.context import build_context

    tune_for_ingest()  # the workers' threads also block in I/O and inference and come back
    ctx = build_context(settings)
    supervisor = Supervisor(stop_event=stop)
    add_detection_workers(supervisor, ctx, count)
    supervisor.start()
    try:
        # A timed wait keeps the main thread responsive to signals.
        while not stop.wait(1.0):
            pass
    finally:
        supervisor.stop()
        ctx.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """``python -m guardian.edge.capture.worker``: extra workers until SIGTERM/SIGINT."""
    from guardian.common.logging import configure_logging

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data-dir", type=Path, help="edge data folder")
    parser.add_argument("--database-url", help="edge database URL")
    parser.add_argument("--count", type=int, default=1, help="worker threads")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.database_url is not None:
        overrides["database_url"] = args.database_url
    settings = EdgeSettings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_worker_process(settings, max(1, args.count), stop)


if __name__ == "__main__":
    # Run the imported module's main, not this ``__main__`` copy: classes and logger
    # names are then the canonical ``guardian.edge.capture.worker`` ones.
    from guardian.edge.capture.worker import main as canonical_main

    canonical_main()
