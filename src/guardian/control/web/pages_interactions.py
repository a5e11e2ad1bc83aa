"""UI page: interactions, counted per day and per camera/device, with their notes inline."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from fastapi import APIRouter, Request
from starlette.responses import Response

from guardian.control.api.deps import ContextDep
from guardian.control.inventory.queries import INTERACTION, EventFilter, note_out, summarize
from guardian.control.inventory.repository import live_notes
from guardian.control.inventory.schemas import NoteOut
from guardian.control.tenancy.cameras import list_cameras
from guardian.control.tenancy.views import camera_out, now_of
from guardian.control.web.charts import bar_chart, daily_series
from guardian.control.web.deps import WebPrincipal, WebRoute
from guardian.control.web.forms import format_items, local_day_start
from guardian.control.web.pages_events import author_names, event_page
from guardian.control.web.render import render, viewer_zone

router = APIRouter(route_class=WebRoute, include_in_schema=False)
RANGES = (7, 30)
LIST_SIZE = 20


@router.get("/interactions")
def interactions(request: Request, ctx: ContextDep, principal: WebPrincipal) -> Response:
    days = 30 if request.query_params.get("days") == "30" else 7
    cursor = request.query_params.get("cursor") or None
    zone = viewer_zone(request)
    now = now_of(ctx)
    today = now.astimezone(zone).date()
    since = local_day_start((today - dt.timedelta(days=days - 1)).isoformat(), zone)
    tenant_id = principal.tenant_id
    f = EventFilter(type=INTERACTION, since=since)
    with ctx.db.tenant(tenant_id) as session:
        summary = summarize(session, tenant_id, f)
        names = {
            c.id: c.name for c in (camera_out(c, now) for c in list_cameras(session, tenant_id))
        }
        page = event_page(ctx, session, tenant_id, f, cursor, LIST_SIZE)
        notes: dict[str, list[NoteOut]] = defaultdict(list)
        for note in live_notes(session, tenant_id, [e.id for e in page.items]):
            notes[note.event_id].append(note_out(note))
        authors = author_names(
            session, principal, {n.author_id for ns in notes.values() for n in ns}
        )
    per_day = {d.day: d.interactions for d in summary.by_day}
    series = daily_series(per_day, now.astimezone(dt.UTC).date(), days)
    sources = [
        (names.get(s.camera_id or "", s.source_name), s.source_kind, s.interactions)
        for s in summary.by_source
        if s.interactions
    ]
    return render(
        request, "interactions.html", active="interactions", days=days, ranges=RANGES,
        total=summary.interactions, chart=bar_chart(series), series=list(reversed(series)),
        sources=sources, peak=max((c for *_, c in sources), default=0), page=page,
        notes=notes, authors=authors, format_items=format_items,
        back=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    )  # fmt: skip
