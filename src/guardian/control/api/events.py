"""Control plane API: the event timeline, one event, and summaries (any role of the tenant).

Free-text ``q`` matches type, label, zone, camera/device names and note texts: on
PostgreSQL ``search_text ILIKE '%q%'`` served by the pg_trgm GIN index (for ``q`` of three
characters or more), on SQLite a ``LIKE`` scan over the tenant's events (the documented
fallback).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query
from pydantic import AwareDatetime

from guardian.common.api_errors import BadRequest
from guardian.control.api.deps import ContextDep, PrincipalDep, TenantSessionDep
from guardian.control.app import SHUTDOWN, STARTUP, add_hook
from guardian.control.context import ControlContext
from guardian.control.inventory.cursor import decode_cursor
from guardian.control.inventory.queries import EventFilter, event_detail, list_events, summarize
from guardian.control.inventory.retention import EventRetentionCleanup
from guardian.control.inventory.schemas import EventDetailOut, EventPage, EventSummaryOut
from guardian.control.inventory.search import MAX_QUERY_CHARS

router = APIRouter(prefix="/api/v1/events", tags=["events"])
RETENTION_SERVICE = "inventory.retention"
DEFAULT_LIMIT, MAX_LIMIT = 50, 200

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing or invalid access token"},
    422: {"description": "Invalid parameters"},
}
CameraQ = Annotated[str | None, Query(max_length=36, description="Camera id.")]
SiteQ = Annotated[str | None, Query(max_length=36, description="Site id.")]
SinceQ = Annotated[
    AwareDatetime | None, Query(description="RFC 3339; events that started at or after it.")
]
UntilQ = Annotated[AwareDatetime | None, Query(description="RFC 3339; events started before it.")]


@router.get(
    "",
    response_model=EventPage,
    summary="List events, newest first",
    description="Keyset pages on (started_at, id): pass `next_cursor` as `cursor` for the "
    "next, older page. Events arriving meanwhile are neither skipped nor repeated.",
    responses={**_ERRORS, 400: {"description": "Invalid cursor"}},
)
def get_events(
    ctx: ContextDep,
    principal: PrincipalDep,
    session: TenantSessionDep,
    camera: CameraQ = None,
    site: SiteQ = None,
    type: Annotated[str | None, Query(max_length=64, examples=["interaction_detected"])] = None,
    since: SinceQ = None,
    until: UntilQ = None,
    has_notes: Annotated[bool | None, Query(description="Only events with/without notes.")] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            description="Free text: labels, camera names, notes.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> EventPage:
    after = None
    if cursor is not None:
        try:
            after = decode_cursor(cursor)
        except ValueError as exc:
            raise BadRequest(f"invalid cursor: {exc}") from exc
    filters = EventFilter(camera, site, type, since, until, has_notes, q)
    if q is not None and ctx.db.postgres:
        # Trigram search runs in the owner's session (see list_events): RLS would keep
        # PostgreSQL from using the index for the non-LEAKPROOF ILIKE.
        with ctx.db.system() as lookup:
            return list_events(
                session, principal.tenant_id, filters, limit=limit, after=after, lookup=lookup
            )
    return list_events(session, principal.tenant_id, filters, limit=limit, after=after)


@router.get(
    "/summary",
    response_model=EventSummaryOut,
    summary="Event counts by type, by UTC day and by camera/device",
    responses=_ERRORS,
)
def get_summary(
    principal: PrincipalDep,
    session: TenantSessionDep,
    since: SinceQ = None,
    until: UntilQ = None,
    site: SiteQ = None,
    camera: CameraQ = None,
) -> EventSummaryOut:
    filters = EventFilter(camera_id=camera, site_id=site, since=since, until=until)
    return summarize(session, principal.tenant_id, filters)


@router.get(
    "/{event_id}",
    response_model=EventDetailOut,
    summary="One event with its notes",
    responses={**_ERRORS, 404: {"description": "No such event in your tenant"}},
)
def get_event(
    event_id: Annotated[str, Path(max_length=36)],
    principal: PrincipalDep,
    session: TenantSessionDep,
) -> EventDetailOut:
    return event_detail(session, principal.tenant_id, event_id)


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Start the event retention cleanup with the app (once per context)."""
    if RETENTION_SERVICE in ctx.services:
        return
    cleanup = EventRetentionCleanup(ctx.db)
    ctx.services[RETENTION_SERVICE] = cleanup
    add_hook(ctx, STARTUP, cleanup.start)
    add_hook(ctx, SHUTDOWN, cleanup.stop)
