"""``ArchiveMaintainer``: queue archive jobs for selected clips, then seal and upload them.

A job seals the event's clip into the outgoing folder (once; retries reuse the blob),
streams it to the relay, and records the CID in the same transaction that completes the
job. Over quota, the job is deferred (no attempt used up) and the sealed blob kept; other
failures retry with the queue's backoff until ``max_attempts``, then the job is dead and
visible. The edge's retention deletes only local files: what the relay holds stays.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from guardian.archive.blob import KdfParams
from guardian.edge.archive.jobs import KIND_ARCHIVE_CLIP, defer, queue_new_clips
from guardian.edge.archive.secret import SecretError, load_secret, secret_path
from guardian.edge.archive.staging import Outgoing, StagedBlob
from guardian.edge.archive.tables import Archive
from guardian.edge.archive.uploader import OverQuota, UploadError, link_target, upload_blob
from guardian.edge.capture.lease import LeaseKeeper
from guardian.edge.capture.worker import worker_name
from guardian.edge.context import EdgeContext
from guardian.edge.link.enroll import is_enrolled
from guardian.edge.store.backoff import Backoff
from guardian.edge.store.queue import claim, complete, fail
from guardian.edge.store.tables import Event, EventMedia, Job

logger = logging.getLogger(__name__)


class JobFailed(Exception):
    """One archive job failed; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class ArchiveMaintainer(threading.Thread):
    """Runs archive jobs one at a time until ``stop_event`` is set."""

    def __init__(self, ctx: EdgeContext, stop_event: threading.Event, index: int = 0) -> None:
        super().__init__(name="archive", daemon=True)
        self._ctx = ctx
        self._stop_event = stop_event
        self.worker_id = f"{worker_name(index)}:archive"
        self._settings = ctx.settings.archive
        queue = ctx.settings.queue
        self._backoff = Backoff(queue.backoff_base_seconds, queue.backoff_max_seconds)
        self._outgoing = Outgoing(ctx.settings.data_dir)
        self._watermark: dt.datetime | None = None
        self._next_scan = 0.0
        self._waiting: str | None = None

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._ctx.clock(), dt.UTC)

    def run(self) -> None:
        logger.info("archive maintainer started")
        while not self._stop_event.is_set():
            try:
                outcome = self.run_once()
            except Exception:  # e.g. the database is down: wait, then try again
                logger.exception("archive maintainer pass failed")
                outcome = None
            if outcome is None:
                self._stop_event.wait(self._ctx.settings.queue.poll_seconds)
        logger.info("archive maintainer stopped")

    def _waiting_for(self) -> str | None:
        """Why no job can run now (no secret, not enrolled), or None."""
        data_dir = self._ctx.settings.data_dir
        if not secret_path(data_dir).exists():
            return "no archive secret (guardian edge archive set-secret)"
        if not is_enrolled(data_dir):
            return "not enrolled at a relay (guardian edge enroll)"
        return None

    def scan(self) -> int:
        """Queue jobs for newly present clips of selected events; how many were queued."""
        with self._ctx.sessions.begin() as session:
            queued, self._watermark = queue_new_clips(session, self._settings, self._watermark)
        if queued:
            logger.info("archive jobs queued", extra={"count": queued})
        return queued

    def run_once(self) -> str | None:
        """Scan when due, then claim and run one job; its outcome, or None when idle."""
        if time.monotonic() >= self._next_scan:
            self.scan()
            self._next_scan = time.monotonic() + self._settings.scan_seconds
        waiting = self._waiting_for()
        if waiting != self._waiting:
            if waiting:
                logger.warning("archive jobs wait: %s", waiting)
            self._waiting = waiting
        if waiting:
            return None
        job = claim(
            self._ctx.sessions,
            self.worker_id,
            kinds=(KIND_ARCHIVE_CLIP,),
            lease_seconds=self._ctx.settings.queue.lease_seconds,
            now=self._now(),
        )
        return None if job is None else self.process(job)

    def process(self, job: Job) -> str:
        """Run a claimed job: ``done``, ``deferred``, ``retry``, ``dead`` or ``lost``."""
        keeper = LeaseKeeper(
            self._ctx.sessions,
            job,
            self.worker_id,
            self._ctx.settings.queue.heartbeat_seconds,
            self._now,
        )
        with keeper:
            try:
                staged = self._staged_blob(job.ref_id)
                receipt_size = self._upload(job.ref_id, staged)
            except OverQuota as exc:
                keeper.stop()
                return self._defer(job, str(exc))
            except (JobFailed, UploadError) as exc:
                keeper.stop()
                permanent = isinstance(exc, JobFailed) and exc.permanent
                if isinstance(exc, UploadError) and not exc.retry:
                    self._outgoing.discard(job.ref_id)  # seal it again next time
                return self._fail(job, str(exc), permanent=permanent)
            except Exception as exc:
                keeper.stop()
                logger.exception("archive job crashed", extra={"job_id": job.id})
                return self._fail(job, f"{type(exc).__name__}: {exc}")
            if keeper.lost.is_set():
                return "lost"
            keeper.stop()
        with self._ctx.sessions.begin() as session:
            if not complete(session, job, self.worker_id, now=self._now()):
                return "lost"
            if session.get(Archive, job.ref_id) is None:
                session.add(
                    Archive(
                        event_id=job.ref_id,
                        cid=staged.cid,
                        size_bytes=receipt_size,
                        archived_at=self._now(),
                    )
                )
        self._outgoing.discard(job.ref_id)
        logger.info("clip archived", extra={"event_id": job.ref_id, "cid": staged.cid})
        return "done"

    def _staged_blob(self, event_id: str) -> StagedBlob:
        staged = self._outgoing.existing(event_id)
        if staged is not None:
            return staged
        with self._ctx.sessions() as session:
            if session.get(Event, event_id) is None:
                raise JobFailed(f"event {event_id} not found", permanent=True)
            clip = session.get(EventMedia, (event_id, "clip"))
            state, rel = (clip.state, clip.path) if clip is not None else ("none", None)
        if state == "pending":
            raise JobFailed(f"the clip of event {event_id} is not ready yet")
        if state != "present" or not rel:
            raise JobFailed(f"the clip of event {event_id} is {state}", permanent=True)
        media = self._ctx.settings.media_dir.resolve()
        path = (media / rel).resolve()
        if not path.is_relative_to(media) or not path.is_file():
            raise JobFailed(f"the clip file of event {event_id} is missing", permanent=True)
        try:
            secret = load_secret(self._ctx.settings.data_dir, self._ctx.sealer)
        except SecretError as exc:
            raise JobFailed(str(exc)) from exc
        settings = self._settings
        kdf = KdfParams(settings.kdf_time_cost, settings.kdf_memory_kib, 1)
        return self._outgoing.seal(
            event_id, path, secret, kdf=kdf, chunk_bytes=settings.chunk_bytes
        )

    def _upload(self, event_id: str, staged: StagedBlob) -> int:
        relay, credentials = link_target(self._ctx.settings.data_dir, self._ctx.settings.link.relay)
        receipt = upload_blob(
            relay,
            credentials,
            event_id=event_id,
            cid=staged.cid,
            path=staged.path,
            timeout=self._settings.upload_timeout_seconds,
        )
        return int(receipt.size)

    def _defer(self, job: Job, error: str) -> str:
        until = self._now() + dt.timedelta(seconds=self._settings.quota_retry_seconds)
        with self._ctx.sessions.begin() as session:
            if not defer(session, job, self.worker_id, error, until=until):
                return "lost"
        logger.warning("archive upload over quota; the job waits", extra={"event_id": job.ref_id})
        return "deferred"

    def _fail(self, job: Job, error: str, *, permanent: bool = False) -> str:
        with self._ctx.sessions.begin() as session:
            state = fail(
                session,
                job,
                self.worker_id,
                error,
                backoff=self._backoff,
                now=self._now(),
                permanent=permanent,
            )
        if state is None:
            return "lost"
        logger.warning(
            "archive job failed", extra={"event_id": job.ref_id, "state": state, "error": error}
        )
        return "retry" if state == "queued" else "dead"
