"""The capture ingest use case: dedupe, validate, store the file durably, commit row and job."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import shutil
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from guardian.common import faults
from guardian.common.db import utcnow
from guardian.edge.capture.group_commit import CommitUncertain, PendingCapture, committer
from guardian.edge.capture.reads import capture_by_seq
from guardian.edge.capture.staging import capture_path, path_to_uri, remove_file, write_durably
from guardian.edge.capture.validate import ImageRejected, validate_image
from guardian.edge.context import EdgeContext
from guardian.edge.errors import Conflict, InsufficientStorage, UnsupportedMedia
from guardian.edge.store.devices import touch_last_seen
from guardian.edge.store.jobs import KIND_DETECT_CAPTURE
from guardian.edge.store.tables import Capture

logger = logging.getLogger(__name__)

STATUS_STORED = "stored"
MAX_DEVICE_SEQ = 2**63 - 1  # BIGINT


@dataclass(frozen=True)
class IngestResult:
    """The answer to an upload: the capture it is (new or the original of a retry)."""

    capture_id: str
    status: str
    duplicate: bool


def count_ingest(ctx: EdgeContext, result: str) -> None:
    """Count one upload outcome in ``guardian_ingest_total`` (see ``INGEST_RESULTS``)."""
    ctx.metrics.ingest_total.labels(result=result).inc()


def ingest_capture(
    ctx: EdgeContext,
    device_id: str,
    device_seq: int,
    captured_at: dt.datetime | None,
    data: bytes,
) -> IngestResult:
    """Store one authenticated upload exactly once and queue its detection job.

    A re-send of an existing ``(device_id, device_seq)`` with the same bytes answers the
    original capture (``duplicate=True``); with other bytes it raises ``Conflict``. Raises
    ``UnsupportedMedia`` for bytes that are not a decodable JPEG/PNG within the pixel limit
    and ``InsufficientStorage`` when accepting would take free disk under the floor. The file
    is durable before its row commits, so no row ever points at a missing file; a crash
    in between leaves an orphan file that the cleanup job sweeps.
    """
    if not 0 <= device_seq <= MAX_DEVICE_SEQ:
        raise ValueError(f"device_seq out of range: {device_seq}")
    received_at = utcnow()
    if captured_at is None:
        captured_at = received_at
    elif captured_at.tzinfo is None:
        raise ValueError("captured_at must be timezone-aware")
    captured_at = captured_at.astimezone(dt.UTC)
    sha256 = hashlib.sha256(data).hexdigest()

    # A retry of something already stored is answered before any limit applies to it, so
    # a device whose edge is short of disk still learns its capture is safe.
    existing = _existing_answer(ctx, device_id, device_seq, sha256)
    if existing is not None:
        return existing

    try:
        info = validate_image(data, ctx.settings.capture.max_pixels)
    except ImageRejected as exc:
        count_ingest(ctx, "unsupported_media")
        raise UnsupportedMedia(str(exc), field="image") from exc
    _check_free_space(ctx, len(data))

    capture_id = str(uuid.uuid4())
    path = capture_path(ctx.settings.media_dir, device_id, captured_at, capture_id, info.extension)
    write_durably(path, data)
    pending = PendingCapture(
        row={
            "id": capture_id,
            "device_id": device_id,
            "device_seq": device_seq,
            "sha256": sha256,
            "size_bytes": len(data),
            "content_type": info.content_type,
            "width": info.width,
            "height": info.height,
            "captured_at": captured_at,
            "received_at": received_at,
            "storage_uri": path_to_uri(path),
            "status": STATUS_STORED,
            "file_state": "present",
        },
        job_kind=KIND_DETECT_CAPTURE,
        max_attempts=ctx.settings.queue.max_attempts,
        received_at=received_at,
    )
    try:
        # Shares a transaction with concurrent uploads; returns once ours has committed.
        committer(ctx.engine).commit(ctx.engine, pending)
    except IntegrityError:
        # A concurrent identical upload won the unique (device_id, device_seq) race at the
        # INSERT, so nothing of ours committed: drop our file, answer as a retry.
        remove_file(path)
        answer = _existing_answer(ctx, device_id, device_seq, sha256)
        if answer is None:
            raise
        return answer
    except CommitUncertain:
        # COMMIT was sent, so the row may exist: the file stays (cleanup judges it later).
        raise
    except BaseException:
        # Before COMMIT was sent nothing is stored, so the file goes.
        remove_file(path)
        raise
    faults.hit("after_commit")
    count_ingest(ctx, "accepted")
    logger.info(
        "capture stored",
        extra={
            "capture_id": capture_id,
            "device_id": device_id,
            "device_seq": device_seq,
            "bytes": len(data),
        },
    )
    return IngestResult(capture_id, STATUS_STORED, duplicate=False)


def _next_seq(ctx: EdgeContext, device_id: str) -> int:
    """One above the highest ``device_seq`` this device has used."""
    with ctx.sessions() as session:
        highest = session.scalar(
            select(func.max(Capture.device_seq)).where(Capture.device_id == device_id)
        )
    return 0 if highest is None else int(highest) + 1


def _existing_answer(
    ctx: EdgeContext, device_id: str, device_seq: int, sha256: str
) -> IngestResult | None:
    """``None`` if the sequence number is new; the duplicate answer; or raise ``Conflict``."""
    found = capture_by_seq(ctx.engine, device_id, device_seq)
    if found is None:
        return None
    with ctx.sessions.begin() as session:
        touch_last_seen(session, device_id)
    capture_id, stored_sha256, status = found
    if stored_sha256 != sha256:
        count_ingest(ctx, "conflict")
        # Tell the device where its sequence stands: a reflashed device that restarted
        # at 0 can resume above every number it has already used.
        raise Conflict(
            f"device_seq {device_seq} of device {device_id!r} was already used for "
            f"different bytes (capture {capture_id}); use a new device_seq",
            field="device_seq",
            capture_id=capture_id,
            next_seq=_next_seq(ctx, device_id),
        )
    count_ingest(ctx, "duplicate")
    logger.info(
        "duplicate capture upload",
        extra={"capture_id": capture_id, "device_id": device_id, "device_seq": device_seq},
    )
    return IngestResult(capture_id, status, duplicate=True)


def _check_free_space(ctx: EdgeContext, incoming: int) -> None:
    media_dir = ctx.settings.media_dir
    media_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(media_dir).free
    floor = ctx.settings.capture.min_free_bytes
    if free - incoming < floor:
        count_ingest(ctx, "insufficient_storage")
        logger.warning("refusing capture: disk nearly full", extra={"free_bytes": free})
        raise InsufficientStorage(
            f"the edge's media disk has {free} bytes free; storing {incoming} more would go "
            f"under the floor of {floor} bytes",
            free_bytes=free,
            min_free_bytes=floor,
        )
