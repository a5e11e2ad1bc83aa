"""``CameraMaintainer``: runs a pipeline per enabled camera and keeps the store informed.

Every ``cameras.poll_seconds`` it compares the registry with what runs (start new cameras,
stop removed or disabled ones, restart one whose config version changed), and every
``cameras.status_seconds`` it writes each camera's live status to ``camera_status``. All
cameras share one detector through the fair :class:`DetectorScheduler`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guardian.common.db import utcnow
from guardian.edge.camera.config import CameraConfig
from guardian.edge.camera.pipeline import CameraPipeline, PipelineDeps
from guardian.edge.camera.scheduler import BatchDetector, DetectorScheduler
from guardian.edge.camera.sink import EventSink
from guardian.edge.camera.status import StatusSnapshot
from guardian.edge.context import EdgeContext
from guardian.edge.record.disk import DiskGuard
from guardian.edge.record.reindex import reindex_segments
from guardian.edge.record.segments import sweep_partials
from guardian.edge.record.types import SegmentInfo
from guardian.edge.store.tables import Camera, CameraStatus, EventMedia, Recording

logger = logging.getLogger(__name__)
STORAGE_REFRESH_S = 30.0


def _utc(ts: float | None) -> dt.datetime | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC)


@dataclass
class _Running:
    version: int
    pipeline: CameraPipeline


def write_status(
    session: Session, snap: StatusSnapshot, storage_bytes: int, now: dt.datetime
) -> None:
    """Upsert one camera's ``camera_status`` row."""
    row = session.get(CameraStatus, snap.name)
    if row is None:
        row = CameraStatus(name=snap.name)
        session.add(row)
    row.state = snap.state
    row.decoder, row.codec = snap.decoder, snap.codec
    row.width, row.height = snap.width, snap.height
    row.input_fps, row.detect_fps = snap.input_fps, snap.detect_fps
    row.skipped_by_motion = snap.skipped_by_motion
    row.detector_latency_ms = snap.detector_latency_ms
    row.last_frame_at = _utc(snap.last_frame_at)
    row.last_error = snap.last_error
    row.reconnects = snap.reconnects
    row.recording = snap.recording
    row.storage_bytes = storage_bytes
    row.stats = {"frames_dropped": snap.frames_dropped, "events_written": snap.events_written}
    row.updated_at = now


def storage_by_camera(session: Session) -> dict[str, int]:
    """Bytes of present recordings plus event media, per camera."""
    totals: dict[str, int] = {}
    for name, size in session.execute(
        select(Recording.camera, func.coalesce(func.sum(Recording.size_bytes), 0))
        .where(Recording.state == "present")
        .group_by(Recording.camera)
    ):
        totals[name] = totals.get(name, 0) + int(size)
    for name, media_size in session.execute(
        select(EventMedia.camera, func.coalesce(func.sum(EventMedia.size_bytes), 0))
        .where(EventMedia.state == "present")
        .group_by(EventMedia.camera)
    ):
        totals[name] = totals.get(name, 0) + int(media_size or 0)
    return totals


class CameraMaintainer(threading.Thread):
    """Starts, stops and restarts camera pipelines to match the registry; reports status."""

    def __init__(
        self,
        ctx: EdgeContext,
        detector: BatchDetector,
        stop_event: threading.Event,
        *,
        disk: DiskGuard | None = None,
    ) -> None:
        super().__init__(name="cameras", daemon=True)
        self._ctx = ctx
        self._stop_event = stop_event
        settings = ctx.settings.cameras
        self.settings = settings
        self.scheduler = DetectorScheduler(detector)
        self.disk = disk or DiskGuard(ctx.settings.media_dir, settings.critical_free_bytes)
        self.recordings_dir = ctx.settings.media_dir / "recordings"
        self.running: dict[str, _Running] = {}
        self._storage: dict[str, int] = {}
        self._storage_at = -float("inf")
        self._status_at = -float("inf")
        self._disabled: set[str] = set()

    # -- plumbing for pipelines --------------------------------------------------------

    def _sink(self, config: CameraConfig, recording: Any) -> EventSink:
        return EventSink(
            config,
            self._ctx.sessions,
            self._ctx.settings.media_dir,
            recording=recording,
            settle_s=self.settings.clip_settle_seconds,
        )

    def _deps(self) -> PipelineDeps:
        return PipelineDeps(
            scheduler=self.scheduler,
            sink_factory=self._sink,
            recordings_dir=self.recordings_dir,
            settings=self.settings,
            on_segment=self.index_segment,
            disk=self.disk,
            clock=self._ctx.clock,
        )

    def index_segment(self, segment: SegmentInfo) -> None:
        """Record a finished segment in the store (its file is already renamed and fsynced)."""
        media = self._ctx.settings.media_dir
        try:
            with self._ctx.sessions.begin() as session:
                session.add(
                    Recording(
                        camera=segment.camera,
                        path=str(segment.path.relative_to(media)),
                        started_at=_utc(segment.start),
                        ended_at=_utc(segment.end),
                        duration_s=round(segment.duration, 3),
                        size_bytes=segment.size_bytes,
                        codec=segment.codec,
                        width=segment.width,
                        height=segment.height,
                        state="present",
                    )
                )
        except Exception:  # the file stays; the next start's re-index finds it
            logger.exception("segment not indexed", extra={"path": str(segment.path)})

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        swept = sweep_partials(self.recordings_dir)
        if swept:
            logger.info("removed %d partial segments left by a crash", swept)
        try:
            reindex_segments(self._ctx, self.recordings_dir)
        except Exception:  # footage stays on disk; the next start tries again
            logger.exception("re-indexing segments failed")
        self.scheduler.start()
        self._ctx.detector_queue = lambda: self.scheduler.queue_length
        try:
            while True:
                try:
                    self.sync()
                    self.report()
                except Exception:  # e.g. the database restarting: try again next tick
                    logger.exception("camera maintainer tick failed")
                if self._stop_event.wait(self.settings.poll_seconds):
                    break
        finally:
            self.shutdown()

    def desired(self) -> dict[str, tuple[int, CameraConfig | None]]:
        """Every registered camera: its version and config (None when disabled or invalid)."""
        wanted: dict[str, tuple[int, CameraConfig | None]] = {}
        with self._ctx.sessions() as session:
            for row in session.scalars(select(Camera)):
                try:
                    config = CameraConfig.from_stored(row.name, row.config)
                except ValueError as exc:
                    logger.error("camera %s has an invalid config: %s", row.name, exc)
                    wanted[row.name] = (row.version, None)
                    continue
                enabled = row.enabled and config.enabled
                wanted[row.name] = (row.version, config if enabled else None)
        return wanted

    def sync(self) -> None:
        """Make the running pipelines match the registry."""
        wanted = self.desired()
        for name in list(self.running):
            version, config = wanted.get(name, (None, None))
            if config is None or version != self.running[name].version:
                logger.info("stopping camera", extra={"camera": name})
                self.running.pop(name).pipeline.stop()
        self._disabled = {n for n, (_, c) in wanted.items() if c is None}
        for name, (version, config) in wanted.items():
            if config is not None and name not in self.running:
                logger.info("starting camera", extra={"camera": name})
                pipeline = CameraPipeline(config, self._deps())
                pipeline.start()
                self.running[name] = _Running(version, pipeline)

    def report(self, *, force: bool = False) -> None:
        """Write the status rows (at most every ``status_seconds`` unless forced)."""
        clock = self._ctx.clock()
        if not force and clock - self._status_at < self.settings.status_seconds:
            return
        self._status_at = clock
        with self._ctx.sessions.begin() as session:
            if clock - self._storage_at >= STORAGE_REFRESH_S:
                self._storage = storage_by_camera(session)
                self._storage_at = clock
            now = utcnow()
            names = set(session.scalars(select(Camera.name)))
            for name, running in self.running.items():
                if name in names:
                    snap = running.pipeline.status.snapshot()
                    write_status(session, snap, self._storage.get(name, 0), now)
            for name in self._disabled & names:
                write_status(
                    session,
                    StatusSnapshot(name, state="disabled", recording="off"),
                    self._storage.get(name, 0),
                    now,
                )

    def statuses(self) -> list[StatusSnapshot]:
        """Live status of every running camera (for metrics)."""
        return [r.pipeline.status.snapshot() for r in self.running.values()]

    def storage(self) -> dict[str, int]:
        return dict(self._storage)

    def shutdown(self) -> None:
        """Stop every pipeline (closing segments and events) and report them offline."""
        stopped: list[StatusSnapshot] = []
        for name in list(self.running):
            pipeline = self.running.pop(name).pipeline
            pipeline.stop()
            pipeline.status.update(state="offline", last_error="edge stopped")
            stopped.append(pipeline.status.snapshot())
        self.scheduler.stop()
        self._ctx.detector_queue = lambda: None
        try:
            with self._ctx.sessions.begin() as session:
                names = set(session.scalars(select(Camera.name)))
                now = utcnow()
                for snap in stopped:
                    if snap.name in names:
                        write_status(session, snap, self._storage.get(snap.name, 0), now)
        except Exception:
            logger.exception("final camera status not written")
