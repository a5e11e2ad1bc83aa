"""The operator's read API: events (keyset pages, newest first), captures and event media."""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from guardian.common.cursor import decode_cursor, encode_cursor
from guardian.edge.api.deps import AdminDep, ContextDep, SessionDep
from guardian.edge.api.schemas import (
    MEDIA_FILES,
    CaptureOut,
    ErrorBody,
    EventDetail,
    EventPage,
    capture_out,
    event_detail,
    event_out,
    parse_timestamp,
)
from guardian.edge.capture.staging import uri_to_path
from guardian.edge.context import EdgeContext
from guardian.edge.errors import BadRequest, Gone, NotFound, Unprocessable
from guardian.edge.store.tables import Capture, Event, EventCapture, EventMedia

logger = logging.getLogger(__name__)

DEFAULT_LIMIT, MAX_LIMIT = 50, 500


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in (401, *statuses)}


router = APIRouter(prefix="/v1", tags=["read"], dependencies=[AdminDep], responses=_errors())

TimestampQuery = Query(
    description="RFC 3339 with a timezone, e.g. 2026-03-01T09:15:00Z (by the event's start).",
    examples=["2026-03-01T09:15:00Z"],
)


def _timestamp(name: str, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise Unprocessable(
            f"{name}: {exc}", fields=[{"field": name, "message": str(exc)}]
        ) from exc


def _capture_ids(session: Session, event_ids: Sequence[str]) -> dict[str, list[str]]:
    """Capture ids of each event, oldest capture first (one query for a whole page)."""
    found: dict[str, list[str]] = defaultdict(list)
    if event_ids:
        rows = session.execute(
            select(EventCapture.event_id, EventCapture.capture_id)
            .join(Capture, Capture.id == EventCapture.capture_id)
            .where(EventCapture.event_id.in_(event_ids))
            .order_by(Capture.captured_at, Capture.id)
        )
        for event_id, capture_id in rows:
            found[event_id].append(capture_id)
    return found


def _media_states(session: Session, events: Sequence[Event]) -> dict[str, dict[str, str]]:
    """``{event_id: {kind: state}}`` of the camera events among ``events`` (one query)."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    camera_ids = [e.id for e in events if e.source_kind == "camera"]
    if camera_ids:
        rows = session.execute(
            select(EventMedia.event_id, EventMedia.kind, EventMedia.state).where(
                EventMedia.event_id.in_(camera_ids)
            )
        )
        for event_id, kind, state in rows:
            found[event_id][kind] = state
    return found


@router.get("/events", response_model=EventPage, responses=_errors(400, 422))
def list_events(
    session: SessionDep,
    event_type: Annotated[
        str | None, Query(alias="type", max_length=64, examples=["interaction_detected"])
    ] = None,
    device: Annotated[
        str | None,
        Query(max_length=64, description="Events of this capture device.", examples=["pi-1"]),
    ] = None,
    camera: Annotated[
        str | None,
        Query(max_length=64, description="Events of this camera.", examples=["front"]),
    ] = None,
    since: Annotated[str | None, TimestampQuery] = None,
    until: Annotated[str | None, TimestampQuery] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> EventPage:
    """Events newest first (by start, then id); ``since`` inclusive, ``until`` exclusive."""
    stmt = select(Event)
    if event_type is not None:
        stmt = stmt.where(Event.type == event_type)
    if device is not None:
        stmt = stmt.where(Event.source_kind == "device", Event.source_id == device)
    if camera is not None:
        stmt = stmt.where(Event.source_kind == "camera", Event.source_id == camera)
    if (start := _timestamp("since", since)) is not None:
        stmt = stmt.where(Event.started_at >= start)
    if (end := _timestamp("until", until)) is not None:
        stmt = stmt.where(Event.started_at < end)
    if cursor is not None:
        try:
            after_start, after_id = decode_cursor(cursor)
        except ValueError as exc:
            raise BadRequest(f"invalid cursor: {exc}") from exc
        stmt = stmt.where(
            or_(
                Event.started_at < after_start,
                and_(Event.started_at == after_start, Event.id < after_id),
            )
        )
    # One row more than asked tells whether another page exists.
    stmt = stmt.order_by(Event.started_at.desc(), Event.id.desc()).limit(limit + 1)
    events = list(session.scalars(stmt))
    page = events[:limit]
    ids = _capture_ids(session, [e.id for e in page])
    media = _media_states(session, page)
    last = page[-1] if len(events) > limit else None
    return EventPage(
        items=[event_out(e, ids.get(e.id, []), media.get(e.id)) for e in page],
        next_cursor=encode_cursor(last.started_at, last.id) if last else None,
    )


@router.get("/events/{event_id}", response_model=EventDetail, responses=_errors(404))
def get_event(session: SessionDep, event_id: Annotated[str, Path(max_length=64)]) -> EventDetail:
    """One event with its details, capture ids and media links."""
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound(f"no event {event_id}")
    return event_detail(
        event,
        _capture_ids(session, [event.id]).get(event.id, []),
        _media_states(session, [event]).get(event.id),
    )


def _capture(session: Session, capture_id: str) -> Capture:
    capture = session.get(Capture, capture_id)
    if capture is None:
        raise NotFound(f"no capture {capture_id}")
    return capture


@router.get("/captures/{capture_id}", response_model=CaptureOut, responses=_errors(404))
def get_capture(session: SessionDep, capture_id: Annotated[str, Path(max_length=64)]) -> CaptureOut:
    """A capture's metadata: device, times, size, detections, file state, links."""
    capture = _capture(session, capture_id)
    event_id = session.scalar(
        select(EventCapture.event_id).where(EventCapture.capture_id == capture.id)
    )
    return capture_out(capture, event_id)


def _gone(capture: Capture) -> Gone:
    why = "was pruned by retention" if capture.file_state == "pruned" else "is missing"
    at = capture.file_state_at
    return Gone(
        f"the image of capture {capture.id} {why}",
        file_state=capture.file_state,
        file_state_at=at.isoformat() if at else None,
    )


def _stat_file(capture: Capture) -> tuple[str, os.stat_result] | None:
    try:
        path = uri_to_path(capture.storage_uri)
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError, ValueError):  # ValueError: not file://
        return None
    return (str(path), st) if stat.S_ISREG(st.st_mode) else None


@router.get(
    "/captures/{capture_id}/image",
    response_class=FileResponse,
    responses={
        **_errors(404, 410),
        200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "The image."},
    },
)
def get_capture_image(
    ctx: ContextDep, session: SessionDep, capture_id: Annotated[str, Path(max_length=64)]
) -> FileResponse:
    """The image file with its content type; 410 once pruned or when the file is gone."""
    capture = _capture(session, capture_id)
    if capture.file_state != "present":
        raise _gone(capture)
    found = _stat_file(capture)
    if found is None:
        # The row says present but the file is gone: record it so everyone sees why.
        now = dt.datetime.fromtimestamp(ctx.clock(), dt.UTC)
        session.execute(
            update(Capture)
            .where(Capture.id == capture.id, Capture.file_state == "present")
            .values(file_state="missing", file_state_at=now)
        )
        session.commit()
        session.refresh(capture)
        logger.warning(
            "capture file missing", extra={"capture_id": capture.id, "uri": capture.storage_uri}
        )
        raise _gone(capture)
    # End the read transaction before streaming: on SQLite it holds the database lock.
    session.commit()
    path, st = found
    return FileResponse(
        path,
        media_type=capture.content_type,
        stat_result=st,
        filename=os.path.basename(path),
        content_disposition_type="inline",
    )


def _media_gone(media: EventMedia) -> Gone:
    why = "was removed by retention" if media.state == "pruned" else "is missing"
    return Gone(
        f"the {media.kind} of event {media.event_id} {why}",
        state=media.state,
        state_at=media.updated_at.isoformat(),
    )


def _media_file(ctx: EdgeContext, media: EventMedia) -> tuple[str, os.stat_result] | None:
    """The media's file (inside the media folder) and its stat, if it is there."""
    if not media.path:
        return None
    root = ctx.settings.media_dir.resolve()
    path = (root / media.path).resolve()
    if not path.is_relative_to(root):  # a row must never lead outside the media folder
        logger.error("event media path escapes the media folder", extra={"path": media.path})
        return None
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (str(path), st) if stat.S_ISREG(st.st_mode) else None


def _serve_media(ctx: EdgeContext, session: Session, event_id: str, kind: str) -> FileResponse:
    if session.get(Event, event_id) is None:
        raise NotFound(f"no event {event_id}")
    media = session.get(EventMedia, (event_id, kind))
    if media is None:
        raise NotFound(f"event {event_id} has no {kind}", state=None)
    if media.state == "pending":
        raise NotFound(f"the {kind} of event {event_id} is not ready yet", state="pending")
    if media.state == "failed":
        raise NotFound(f"the {kind} of event {event_id} could not be made", state="failed")
    if media.state != "present":
        raise _media_gone(media)
    found = _media_file(ctx, media)
    if found is None:
        # The row says present but the file is gone: record it so everyone sees why.
        now = dt.datetime.fromtimestamp(ctx.clock(), dt.UTC)
        session.execute(
            update(EventMedia)
            .where(
                EventMedia.event_id == event_id,
                EventMedia.kind == kind,
                EventMedia.state == "present",
            )
            .values(state="missing", updated_at=now)
        )
        session.commit()
        session.refresh(media)
        logger.warning(
            "event media file missing",
            extra={"event_id": event_id, "kind": kind, "path": media.path},
        )
        raise _media_gone(media)
    # End the read transaction before streaming: on SQLite it holds the database lock.
    session.commit()
    path, st = found
    return FileResponse(
        path,
        media_type=media.content_type,
        stat_result=st,
        filename=f"{event_id}-{MEDIA_FILES[kind]}",
        content_disposition_type="inline",
    )


EventId = Annotated[str, Path(max_length=64)]


def _media_responses(content_type: str, what: str) -> dict[int | str, dict[str, Any]]:
    return {**_errors(404, 410), 200: {"content": {content_type: {}}, "description": what}}


@router.get(
    "/events/{event_id}/snapshot.jpg",
    response_class=FileResponse,
    responses=_media_responses("image/jpeg", "The full-size frame of the event."),
)
def get_event_snapshot(ctx: ContextDep, session: SessionDep, event_id: EventId) -> FileResponse:
    """A camera event's snapshot; 404 until it exists, 410 once removed."""
    return _serve_media(ctx, session, event_id, "snapshot")


@router.get(
    "/events/{event_id}/thumbnail.jpg",
    response_class=FileResponse,
    responses=_media_responses("image/jpeg", "A small crop of the event."),
)
def get_event_thumbnail(ctx: ContextDep, session: SessionDep, event_id: EventId) -> FileResponse:
    """A camera event's thumbnail; 404 until it exists, 410 once removed."""
    return _serve_media(ctx, session, event_id, "thumbnail")


@router.get(
    "/events/{event_id}/clip.mp4",
    response_class=FileResponse,
    responses={
        **_media_responses("video/mp4", "The event's clip (pre- to post-roll)."),
        206: {"content": {"video/mp4": {}}, "description": "The requested byte range."},
    },
)
def get_event_clip(ctx: ContextDep, session: SessionDep, event_id: EventId) -> FileResponse:
    """A camera event's clip; supports HTTP Range. 404 until it is made, 410 once removed."""
    return _serve_media(ctx, session, event_id, "clip")
