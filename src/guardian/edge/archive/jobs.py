"""Archive jobs on the edge's queue: which events to queue, and deferring one over quota."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from guardian.edge.archive.config import EdgeArchiveSettings
from guardian.edge.archive.selection import event_zones, selected
from guardian.edge.archive.tables import Archive
from guardian.edge.store.jobs import enqueue
from guardian.edge.store.tables import Event, EventMedia, Job

logger = logging.getLogger(__name__)

KIND_ARCHIVE_CLIP = "archive_clip"
SCAN_BATCH = 500


def queue_new_clips(
    session: Session, settings: EdgeArchiveSettings, since: dt.datetime | None
) -> tuple[int, dt.datetime | None]:
    """Queue an archive job for each selected event whose clip became present after ``since``.

    Returns how many were queued and the watermark for the next scan (the newest clip
    ``updated_at`` looked at). Events archived or queued already are skipped.
    """
    query = (
        select(EventMedia.event_id, EventMedia.updated_at, Event.type, Event.source_id)
        .add_columns(Event.source_kind, Event.details)
        .join(Event, Event.id == EventMedia.event_id)
        .where(
            EventMedia.kind == "clip",
            EventMedia.state == "present",
            ~exists().where(Job.kind == KIND_ARCHIVE_CLIP, Job.ref_id == EventMedia.event_id),
            ~exists().where(Archive.event_id == EventMedia.event_id),
        )
        .order_by(EventMedia.updated_at, EventMedia.event_id)
        .limit(SCAN_BATCH)
    )
    if since is not None:
        query = query.where(EventMedia.updated_at > since)
    queued = 0
    watermark = since
    for event_id, updated_at, event_type, source_id, source_kind, details in session.execute(query):
        watermark = updated_at
        camera = source_id if source_kind == "camera" else ""
        if not selected(
            settings, event_type=event_type, camera=camera, zones=event_zones(details or {})
        ):
            continue
        enqueue(
            session,
            KIND_ARCHIVE_CLIP,
            event_id,
            fair_key=camera or source_id,
            max_attempts=settings.max_attempts,
        )
        queued += 1
    return queued, watermark


def defer(session: Session, job: Job, worker_id: str, error: str, *, until: dt.datetime) -> bool:
    """Put a claimed job back, due at ``until``, without using up the attempt it was claimed on.

    For refusals that are nobody's fault (the tenant's archive quota is full): the job
    waits for space instead of dying. ``False`` if the lease was lost meanwhile.
    """
    result = session.execute(
        update(Job)
        .where(
            Job.id == job.id,
            Job.state == "running",
            Job.locked_by == worker_id,
            Job.attempts == job.attempts,
        )
        .values(
            state="queued",
            attempts=Job.attempts - 1,
            run_after=until,
            last_error=error[:4000],
            locked_by=None,
            locked_at=None,
            heartbeat_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    count: int = result.rowcount  # type: ignore[attr-defined]
    return count == 1
