"""UI pages: the event timeline (filters, pages, live updates) and one event's detail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from guardian.common.api_errors import BadRequest, NotFound
from guardian.control.api import stream
from guardian.control.api.deps import ContextDep
from guardian.control.auth.principal import Principal
from guardian.control.auth.users import get_user
from guardian.control.context import ControlContext
from guardian.control.inventory.cursor import decode_cursor
from guardian.control.inventory.queries import EventFilter, event_detail, list_events
from guardian.control.inventory.schemas import EventPage
from guardian.control.tenancy.cameras import list_cameras
from guardian.control.tenancy.views import camera_out, now_of
from guardian.control.web import media
from guardian.control.web.deps import Csrf, WebPrincipal, WebRoute
from guardian.control.web.forms import format_items
from guardian.control.web.render import render, viewer_zone
from guardian.control.web.timeline import KNOWN_TYPES, PAGE_SIZE, TimelineQuery, group_by_day

router = APIRouter(route_class=WebRoute, include_in_schema=False)
EventId = Annotated[str, Path(max_length=36)]


def event_page(
    ctx: ControlContext,
    session: Session,
    tenant_id: str,
    f: EventFilter,
    cursor: str | None,
    limit: int = PAGE_SIZE,
) -> EventPage:
    """One timeline page, as ``GET /api/v1/events`` reads it (free text via the owner's
    lookup on PostgreSQL, see ``list_events``)."""
    after = None
    if cursor is not None:
        try:
            after = decode_cursor(cursor)
        except ValueError as exc:
            raise BadRequest(f"invalid page link: {exc}") from exc
    if f.q and ctx.db.postgres:
        with ctx.db.system() as lookup:
            return list_events(session, tenant_id, f, limit=limit, after=after, lookup=lookup)
    return list_events(session, tenant_id, f, limit=limit, after=after)


def author_names(session: Session, principal: Principal, author_ids: set[str]) -> dict[str, str]:
    """How to name each note author: "you", else their display name or email."""
    names: dict[str, str] = {}
    for author_id in author_ids:
        if author_id == principal.user_id:
            names[author_id] = "you"
            continue
        try:
            user = get_user(session, principal.tenant_id, author_id)
        except NotFound:  # a removed user: the note keeps its author id only
            names[author_id] = "a former user"
            continue
        names[author_id] = user.display_name or user.email
    return names


@router.get("/events")
def timeline(request: Request, ctx: ContextDep, principal: WebPrincipal) -> Response:
    query = TimelineQuery.of(request.query_params)
    f = query.event_filter(viewer_zone(request))
    tenant_id = principal.tenant_id
    with ctx.db.tenant(tenant_id) as session:
        now = now_of(ctx)
        cameras = [camera_out(c, now) for c in list_cameras(session, tenant_id)]
        page = event_page(ctx, session, tenant_id, f, query.cursor)
    types = list(dict.fromkeys([*KNOWN_TYPES, *([query.type] if query.type else [])]))
    return render(
        request, "timeline.html", active="events", query=query, page=page,
        groups=group_by_day(page.items), cameras=cameras, types=types,
        live=query.cursor is None,
    )  # fmt: skip


@router.get("/events/live")
async def live(
    ctx: ContextDep,
    principal: WebPrincipal,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """The tenant's live event feed for the page script (the API's SSE stream, by cookie)."""
    return await stream.stream_events(ctx, principal, last_event_id, None)


@router.get("/events/{event_id}")
def event(
    request: Request, event_id: EventId, ctx: ContextDep, principal: WebPrincipal
) -> Response:
    with ctx.db.tenant(principal.tenant_id) as session:
        detail = event_detail(session, principal.tenant_id, event_id)
        authors = author_names(session, principal, {n.author_id for n in detail.notes})
    playback = media.for_event(ctx, principal, detail.id, viewer_zone(request).key)
    media.allow(request, playback)
    return render(
        request, "event.html", active="events", event=detail, authors=authors,
        playback=playback, format_items=format_items,
    )  # fmt: skip


@router.post("/events/{event_id}/media", dependencies=[Csrf])
def fresh_media(
    request: Request, event_id: EventId, ctx: ContextDep, principal: WebPrincipal
) -> Response:
    """New playback links for the page script once the ones in the page have expired."""
    zone = viewer_zone(request).key
    with ctx.db.tenant(principal.tenant_id) as session:
        event_detail(session, principal.tenant_id, event_id)  # 404 for another tenant's
    found = media.for_event(ctx, principal, event_id, zone)
    return JSONResponse(media.as_json(found), status_code=503 if found.problem else 200)
