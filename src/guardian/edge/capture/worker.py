"""The capture worker: claim a detection job, detect, store results and events exactly once."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import faulthandler
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, case, update
from sqlalchemy.orm import Session

from guardian.common import faults
from guardian.common.db_types import UtcDateTime
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
from guardian.edge.store.queue import claim_many, complete_many, fail
from guardian.edge.store.tables import Capture, Job

if TYPE_CHECKING:
    from guardian.edge.detect.reload import HotSwapDetector

logger = logging.getLogger(__name__)

# A capture's detections, processed; a file found missing before is back (we just read it).
_STORE_DETECTIONS = (
    update(Capture)
    .where(Capture.id == bindparam("p_id"))
    .values(
        detections=bindparam("p_detections", type_=Capture.__table__.c.detections.type),
        person_count=bindparam("p_persons"),
        status="processed",
        processed_at=bindparam("p_now", type_=UtcDateTime()),
        file_state=case((Capture.file_state == "missing", "present"), else_=Capture.file_state),
        file_state_at=case(
            (Capture.file_state == "missing", bindparam("p_now", type_=UtcDateTime())),
            else_=Capture.file_state_at,
        ),
    )
)

# Jobs a worker claims and commits at once. Small: a batch's results wait for its last
# inference, and its leases are held until then.
BATCH = 4


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


@dataclass(frozen=True, slots=True)
class _Found:
    """One job's detections, waiting to be stored with the rest of its batch."""

    index: int
    job: Job
    capture: DetectionInput
    detections: list[Detection]
    provenance: Provenance


class CaptureWorker(threading.Thread):
    """Runs ``detect_capture`` jobs until ``stop_event`` is set.

    Jobs are claimed ``batch`` at a time (each of another device), detected one after
    another, and their results stored in one transaction: one claim and one commit per
    batch instead of per job. A failing job fails alone.
    """

    def __init__(
        self,
        ctx: EdgeContext,
        detector: DetectorLike,
        stop_event: threading.Event,
        worker_id: str,
        batch: int = BATCH,
    ) -> None:
        super().__init__(name=f"capture-worker-{worker_id}", daemon=True)
        if batch < 1:
            raise ValueError("batch must be >= 1")
        self._batch = batch
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
                outcomes = self.run_batch()
            except Exception:  # e.g. the database is down: wait, then try again
                logger.exception("claiming a job failed", extra={"worker": self.worker_id})
                outcomes = []
            if not outcomes:
                self._stop_event.wait(self._ctx.settings.queue.poll_seconds)
        logger.info("capture worker stopped", extra={"worker": self.worker_id})

    def run_once(self) -> str | None:
        """Claim and run one job; its outcome, or ``None`` when no job is due."""
        outcomes = self.run_batch(1)
        return outcomes[0] if outcomes else None

    def run_batch(self, limit: int | None = None) -> list[str]:
        """Claim up to ``limit`` jobs (default: the worker's batch) and run them; their
        outcomes in order, empty when no job is due."""
        jobs = claim_many(
            self._ctx.sessions,
            self.worker_id,
            kinds=(KIND_DETECT_CAPTURE,),
            lease_seconds=self._ctx.settings.queue.lease_seconds,
            limit=limit or self._batch,
            now=self._now(),
            after_key=self._last_key,
        )
        if not jobs:
            return []
        self._last_key = jobs[-1].fair_key
        return self.process_many(jobs)

    def process(self, job: Job) -> str:
        """Run a claimed job: ``done``, ``retry``, ``dead`` or ``lost`` (lease rescued)."""
        return self.process_many([job])[0]

    def process_many(self, jobs: Sequence[Job]) -> list[str]:
        """Run claimed jobs one after another, then store all their results in one
        transaction; each job's outcome as ``process`` gives it."""
        started = time.perf_counter()
        outcomes: dict[int, str] = {}
        found: list[_Found] = []
        with contextlib.ExitStack() as leases:
            keepers = [leases.enter_context(self._keeper(job)) for job in jobs]
            for index, (job, keeper) in enumerate(zip(jobs, keepers, strict=True)):
                try:
                    result = self._detect(index, job, keeper)
                except Exception as exc:
                    keeper.stop()  # a beat behind our failure update would report a lost lease
                    outcomes[index] = self._failed(job, exc)
                    continue
                if result is None:
                    keeper.stop()
                    outcomes[index] = "lost"
                else:
                    found.append(result)
            # Stop beating first: a beat queued behind our commit would see the job done.
            for keeper in keepers:
                keeper.stop()
            if found:
                outcomes.update(self._store_all(found))
        elapsed = time.perf_counter() - started  # a job's results wait for its batch
        for index, job in enumerate(jobs):
            self._ctx.metrics.job_duration.labels(kind=job.kind, outcome=outcomes[index]).observe(
                elapsed
            )
        return [outcomes[index] for index in range(len(jobs))]

    def _keeper(self, job: Job) -> LeaseKeeper:
        queue = self._ctx.settings.queue
        return LeaseKeeper(
            self._ctx.sessions, job, self.worker_id, queue.heartbeat_seconds, self._now
        )

    def _failed(self, job: Job, exc: Exception) -> str:
        """Record why ``job`` failed; its outcome."""
        if isinstance(exc, JobFailure):
            return self._fail(job, str(exc), missing=exc.missing, permanent=exc.permanent)
        logger.exception("job crashed", extra=_ids(job), exc_info=exc)
        return self._fail(job, f"{type(exc).__name__}: {exc}")

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

    def _detect(self, index: int, job: Job, keeper: LeaseKeeper) -> _Found | None:
        """Read, decode and detect one job's capture; ``None`` if its lease was lost."""
        capture, image = self._load(job)
        # One call: a hot swap between reading provenance and detecting cannot mislabel.
        found, provenance = self._detector.detect_with_provenance(image.rgb)
        detections = [image.to_full(d) for d in found]
        faults.hit("worker_after_detect")
        if keeper.lost.is_set():
            return None
        return _Found(index, job, capture, detections, provenance)

    def _store_all(self, found: list[_Found]) -> dict[int, str]:
        """Store every result in one transaction; if that fails, each in its own (so only
        the job at fault fails)."""
        try:
            with self._ctx.sessions.begin() as session:
                return self._store(session, found)
        except Exception as exc:
            if len(found) == 1:
                return {found[0].index: self._failed(found[0].job, exc)}
            logger.warning(
                "storing a batch of results failed; storing them one by one",
                extra={"worker": self.worker_id, "jobs": len(found), "error": str(exc)},
            )
        outcomes: dict[int, str] = {}
        for one in found:
            outcomes.update(self._store_all([one]))
        return outcomes

    def _store(self, session: Session, found: list[_Found]) -> dict[int, str]:
        """Complete the jobs, store detections, make or extend events (one transaction)."""
        threshold = self._ctx.settings.events.person_threshold
        now = self._now()
        outcomes: dict[int, str] = {}
        kept: list[_Found] = []
        # First: on PostgreSQL this locks the job rows, so no rescuer finishes them too.
        ours = complete_many(session, [one.job for one in found], self.worker_id, now=now)
        for one, still_ours in zip(found, ours, strict=True):
            if still_ours:
                kept.append(one)
            else:
                logger.warning("lease lost before commit; result dropped", extra=_ids(one.job))
                outcomes[one.index] = "lost"
        if not kept:
            return outcomes
        persons = {one.index: people_in(one.detections, threshold) for one in kept}
        stored = session.connection().execute(
            _STORE_DETECTIONS,
            [
                {
                    "p_id": one.capture.id,
                    "p_detections": {
                        "model": one.provenance.to_json(),
                        "person_threshold": threshold,
                        "items": [d.to_json() for d in one.detections],
                    },
                    "p_persons": len(persons[one.index]),
                    "p_now": now,
                }
                for one in kept
            ],
        )
        if stored.rowcount != len(kept):
            # A capture row is gone (deleted under us): alone, the job fails for good; in a
            # batch, the one-by-one retry finds which.
            if len(kept) == 1:
                raise JobFailure(f"capture {kept[0].capture.id} vanished", permanent=True)
            raise JobFailure("a capture of the batch vanished")
        # Events lock their device (PostgreSQL): always in one order, so two workers'
        # batches cannot wait on each other.
        for one in sorted(kept, key=lambda f: (f.capture.device_id, f.capture.captured_at)):
            capture = one.capture
            if persons[one.index]:
                sighting = Sighting(
                    capture.id,
                    capture.device_id,
                    capture.captured_at,
                    persons[one.index],
                    one.provenance.to_json(),
                )
                record_sighting(session, sighting, window=self._window, now=now)
            outcomes[one.index] = "done"
        return outcomes

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
    # ``kill -USR1 <pid>`` prints every thread's stack to stderr: what a stuck worker does.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    run_worker_process(settings, max(1, args.count), stop)


if __name__ == "__main__":
    # Run the imported module's main, not this ``__main__`` copy: classes and logger
    # names are then the canonical ``guardian.edge.capture.worker`` ones.
    from guardian.edge.capture.worker import main as canonical_main

    canonical_main()
