"""Applying recording retention: gather the store's footage, plan, delete files, mark rows."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from guardian.common.db import utcnow
from guardian.edge.camera.config import CameraConfig
from guardian.edge.context import EdgeContext
from guardian.edge.record.disk import DiskGuard, disk_usage
from guardian.edge.record.retention import (
    DiskState,
    MediaItem,
    RetentionPlan,
    SegmentItem,
    plan_retention,
)
from guardian.edge.store.tables import Camera, Event, EventMedia, Recording

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PruneReport:
    segments: int
    media: int
    freed_bytes: int
    disk_pressure: bool
    recording_paused: bool


def _ts(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


Spans = dict[str, list[tuple[float, float]]]


def gather(ctx: EdgeContext) -> tuple[list[SegmentItem], list[MediaItem], dict[str, float], Spans]:
    """Present footage, per-camera segment retention, and spans pending clips still need."""
    with ctx.sessions() as session:
        segments = [
            SegmentItem(
                r.id, r.camera, r.started_at.timestamp(), r.ended_at.timestamp(), r.size_bytes
            )
            for r in session.scalars(select(Recording).where(Recording.state == "present"))
        ]
        media: list[MediaItem] = []
        spans: Spans = {}
        rows = session.execute(
            select(EventMedia, Event.started_at)
            .join(Event, Event.id == EventMedia.event_id)
            .where(EventMedia.state.in_(("present", "pending")))
        )
        for row, started in rows:
            if row.state == "pending":
                meta = row.meta or {}
                if "start" in meta and "end" in meta:
                    spans.setdefault(row.camera, []).append(
                        (float(meta["start"]), float(meta["end"]))
                    )
                continue
            media.append(
                MediaItem(
                    row.event_id,
                    row.kind,
                    row.camera,
                    started.timestamp(),
                    _ts(row.expires_at),
                    row.size_bytes or 0,
                )
            )
        days: dict[str, float] = {}
        for cam in session.scalars(select(Camera)):
            try:
                days[cam.name] = CameraConfig.from_stored(
                    cam.name, cam.config
                ).retention.segments_days
            except ValueError:
                continue
    return segments, media, days, spans


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def apply_plan(ctx: EdgeContext, plan: RetentionPlan) -> None:
    """Delete the plan's files first, then mark their rows pruned (a crash between the two
    leaves rows whose files are gone, which readers report as 410 and the next run marks)."""
    media_dir = ctx.settings.media_dir
    now = utcnow()
    with ctx.sessions.begin() as session:
        for seg_id in plan.segments:
            row = session.get(Recording, seg_id)
            if row is None or row.state != "present":
                continue
            _unlink(media_dir / row.path)
            row.state, row.state_at = "pruned", now
        for key in plan.media:
            media = session.get(EventMedia, key)
            if media is None or media.state != "present":
                continue
            if media.path:
                _unlink(media_dir / media.path)
            media.state = "pruned"
            media.updated_at = now


def run_pruning(ctx: EdgeContext, disk: DiskGuard | None = None) -> PruneReport:
    """One retention pass: age limits, the high-water mark, then the recording floor."""
    settings = ctx.settings.cameras
    segments, media, days, spans = gather(ctx)
    usage = disk_usage(ctx.settings.media_dir)
    plan = plan_retention(
        ctx.clock(),
        segments,
        media,
        segment_days=days,
        protected=spans,
        disk=DiskState(usage.total, usage.used),
        high_water=settings.high_water_fraction,
    )
    if not plan.empty:
        apply_plan(ctx, plan)
        logger.info(
            "recording retention",
            extra={
                "segments": len(plan.segments),
                "media": len(plan.media),
                "freed_bytes": plan.freed_bytes,
                "disk_pressure": plan.disk_pressure,
            },
        )
        ctx.metrics.cleanup_files.labels(action="footage_pruned").inc(
            len(plan.segments) + len(plan.media)
        )
    paused = False
    if disk is not None:
        paused = not disk.refresh()
    return PruneReport(
        len(plan.segments), len(plan.media), plan.freed_bytes, plan.disk_pressure, paused
    )


class RecordingRetentionMaintainer(threading.Thread):
    """Runs :func:`run_pruning` every ``cameras.retention_interval_seconds``."""

    def __init__(
        self, ctx: EdgeContext, stop_event: threading.Event, disk: DiskGuard | None = None
    ) -> None:
        super().__init__(name="recording-retention", daemon=True)
        self._ctx = ctx
        self._stop_event = stop_event
        self._disk = disk
        self.last: PruneReport | None = None

    def run(self) -> None:
        interval = self._ctx.settings.cameras.retention_interval_seconds
        delay = min(interval, 5.0)
        while not self._stop_event.wait(delay):
            delay = interval
            try:
                self.last = run_pruning(self._ctx, self._disk)
            except Exception:
                logger.exception("recording retention failed")
