"""``ClipMaintainer``: assembles pending event clips from recorded segments once they are due.

A clip row (``event_media`` kind ``clip``, state ``pending``) names its span in ``meta``
and is due when its post-roll should be on disk. Its footage is complete once a segment
ending at or after the span's end is indexed; if none comes (the camera went away, the
recording paused) the clip is made from what exists a segment length later. Nothing
recorded in the span fails the clip with a reason; errors are retried a few times.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from guardian.common.db import utcnow
from guardian.edge.context import EdgeContext
from guardian.edge.record.clips import ClipError, assemble_clip
from guardian.edge.record.types import SegmentInfo
from guardian.edge.store.tables import Camera, EventMedia, Recording

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
DEFAULT_SEGMENT_S = 10.0
LATE_GRACE_S = 15.0  # beyond the segment length: how long to wait for the closing segment


def clip_path(camera: str, event_id: str, start: float) -> Path:
    """``clips/<camera>/<YYYY>/<MM>/<DD>/<event id>.mp4`` (UTC), relative to the media dir."""
    day = dt.datetime.fromtimestamp(start, dt.UTC)
    return Path("clips") / camera / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / f"{event_id}.mp4"


@dataclass(frozen=True, slots=True)
class ClipOutcome:
    event_id: str
    state: str  # present | pending | failed
    reason: str | None = None


def _segments(session: Session, camera: str, start: float, end: float) -> list[Recording]:
    lo = dt.datetime.fromtimestamp(start, dt.UTC)
    hi = dt.datetime.fromtimestamp(end, dt.UTC)
    return list(
        session.scalars(
            select(Recording)
            .where(
                Recording.camera == camera,
                Recording.state == "present",
                Recording.ended_at > lo,
                Recording.started_at < hi,
            )
            .order_by(Recording.started_at)
        )
    )


def _segment_info(row: Recording, media_dir: Path) -> SegmentInfo:
    return SegmentInfo(
        camera=row.camera,
        path=media_dir / row.path,
        start=row.started_at.timestamp(),
        end=row.ended_at.timestamp(),
        size_bytes=row.size_bytes,
        codec=row.codec,
        width=row.width,
        height=row.height,
    )


def _segment_seconds(session: Session, camera: str) -> float:
    row = session.get(Camera, camera)
    value = (row.config or {}).get("segment_seconds") if row is not None else None
    return float(value) if isinstance(value, int | float) else DEFAULT_SEGMENT_S


def build_clip(ctx: EdgeContext, row: EventMedia, *, now: float) -> ClipOutcome:
    """Try to assemble ``row``'s clip; updates the row in its own transaction."""
    media_dir = ctx.settings.media_dir
    meta = row.meta or {}
    start, end = float(meta["start"]), float(meta["end"])
    with ctx.sessions() as session:
        rows = _segments(session, row.camera, start, end)
        segment_s = _segment_seconds(session, row.camera)
    complete = bool(rows) and rows[-1].ended_at.timestamp() >= end
    waited = now - (row.due_at.timestamp() if row.due_at else now)
    if not complete and waited < segment_s + LATE_GRACE_S:
        return ClipOutcome(row.event_id, "pending")
    if not rows:
        return _finish(ctx, row, "failed", reason="no footage was recorded in the clip's span")
    rel = clip_path(row.camera, row.event_id, start)
    try:
        info = assemble_clip(
            [_segment_info(r, media_dir) for r in rows],
            start,
            end,
            media_dir / rel,
            metadata={
                "title": f"{row.camera} event {row.event_id}",
                "comment": f"guardian camera={row.camera} event={row.event_id}",
                "creation_time": dt.datetime.fromtimestamp(start, dt.UTC).isoformat(),
            },
        )
    except (ClipError, OSError) as exc:
        return _retry(ctx, row, str(exc))
    clip_meta = {
        "start": info.start,
        "end": end,
        "duration": round(info.duration, 3),
        "size_bytes": info.size_bytes,
        "camera": row.camera,
        "codec": info.codec,
        "width": info.width,
        "height": info.height,
        "complete": complete,
    }
    return _finish(ctx, row, "present", path=str(rel), size=info.size_bytes, meta=clip_meta)


def _retry(ctx: EdgeContext, row: EventMedia, reason: str) -> ClipOutcome:
    with ctx.sessions.begin() as session:
        fresh = session.get(EventMedia, (row.event_id, "clip"))
        if fresh is None:
            return ClipOutcome(row.event_id, "failed", "row vanished")
        fresh.attempts += 1
        fresh.last_error = reason
        fresh.updated_at = utcnow()
        if fresh.attempts >= MAX_ATTEMPTS:
            fresh.state = "failed"
        state = fresh.state
    logger.warning("clip not made: %s", reason, extra={"event_id": row.event_id})
    return ClipOutcome(row.event_id, state, reason)


def _finish(
    ctx: EdgeContext,
    row: EventMedia,
    state: str,
    *,
    reason: str | None = None,
    path: str | None = None,
    size: int | None = None,
    meta: dict[str, object] | None = None,
) -> ClipOutcome:
    with ctx.sessions.begin() as session:
        fresh = session.get(EventMedia, (row.event_id, "clip"))
        if fresh is None or fresh.state != "pending":
            return ClipOutcome(
                row.event_id, fresh.state if fresh else "failed", "changed meanwhile"
            )
        fresh.state = state
        fresh.last_error = reason
        fresh.updated_at = utcnow()
        if path is not None:
            fresh.path, fresh.size_bytes = path, size
            fresh.meta = {**(fresh.meta or {}), **(meta or {})}
    log = logger.info if state == "present" else logger.warning
    log("clip %s", state, extra={"event_id": row.event_id, "reason": reason})
    return ClipOutcome(row.event_id, state, reason)


def due_clips(ctx: EdgeContext, now: float, limit: int = 20) -> list[EventMedia]:
    with ctx.sessions() as session:
        rows = session.scalars(
            select(EventMedia)
            .where(
                EventMedia.kind == "clip",
                EventMedia.state == "pending",
                EventMedia.due_at <= dt.datetime.fromtimestamp(now, dt.UTC),
            )
            .order_by(EventMedia.due_at)
            .limit(limit)
        )
        found = list(rows)
        session.expunge_all()
    return found


def run_due(ctx: EdgeContext, now: float) -> list[ClipOutcome]:
    """Build every due clip whose footage is complete (or waited for long enough)."""
    outcomes: list[ClipOutcome] = []
    for row in due_clips(ctx, now):
        try:
            outcomes.append(build_clip(ctx, row, now=now))
        except Exception as exc:  # one bad clip must not stop the others
            logger.exception("clip failed", extra={"event_id": row.event_id})
            outcomes.append(_retry(ctx, row, f"{type(exc).__name__}: {exc}"))
    return outcomes


class ClipMaintainer(threading.Thread):
    """Runs :func:`run_due` every ``interval`` seconds until ``stop_event``."""

    def __init__(self, ctx: EdgeContext, stop_event: threading.Event, interval: float = 1.0):
        super().__init__(name="clips", daemon=True)
        self._ctx = ctx
        self._stop_event = stop_event
        self.interval = interval

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                run_due(self._ctx, self._ctx.clock())
            except Exception:
                logger.exception("clip maintainer tick failed")
