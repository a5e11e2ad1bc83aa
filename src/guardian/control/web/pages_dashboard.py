"""UI page: the dashboard (health of sites, cameras and relay, interactions, plan and quota)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from guardian.control.api.deps import ContextDep
from guardian.control.api.plan import get_plan
from guardian.control.api.relays import get_relays
from guardian.control.inventory.queries import INTERACTION, EventFilter, summarize
from guardian.control.tenancy.cameras import list_cameras
from guardian.control.tenancy.schemas import SiteOut
from guardian.control.tenancy.sites import list_sites
from guardian.control.tenancy.views import camera_out, now_of, site_out
from guardian.control.web.charts import bar_chart, daily_series
from guardian.control.web.deps import WebPrincipal, WebRoute
from guardian.control.web.forms import local_day_start
from guardian.control.web.render import render, viewer_zone

router = APIRouter(route_class=WebRoute, include_in_schema=False)
ONLINE = ("healthy", "degraded")


def edge_resources(site: SiteOut) -> dict[str, Any]:
    """A site's edge figures for the Sites tables (each ``None`` when not reported): free
    disk and its share of the disk (when the total is known), queued and dead capture jobs,
    the outbox depth, and the edge version."""
    free, total = site.disk_free_bytes, site.disk_total_bytes
    share = None
    if free is not None and total:
        share = round(100 * min(free, total) / total)
    return {
        "disk_free": free,
        "disk_total": total,
        "disk_free_pct": share,
        "queue": site.queue_depth,
        "dead_jobs": site.dead_jobs,
        "outbox": site.outbox_depth,
        "version": site.details.get("version"),
    }


@router.get("/")
def dashboard(request: Request, ctx: ContextDep, principal: WebPrincipal) -> Response:
    zone = viewer_zone(request)
    now = now_of(ctx)
    today = now.astimezone(zone).date()
    today_start = local_day_start(today.isoformat(), zone)
    week_start = local_day_start((today - dt.timedelta(days=6)).isoformat(), zone)
    tenant_id = principal.tenant_id
    with ctx.db.tenant(tenant_id) as session:
        sites = [site_out(s, now) for s in list_sites(session, tenant_id)]
        cameras = [camera_out(c, now) for c in list_cameras(session, tenant_id)]
        plan = get_plan(principal, session)
        week = summarize(session, tenant_id, EventFilter(type=INTERACTION, since=week_start))
        day = summarize(session, tenant_id, EventFilter(type=INTERACTION, since=today_start))
    relays = get_relays(ctx, principal).relays
    per_day = {d.day: d.interactions for d in week.by_day}
    chart = bar_chart(daily_series(per_day, now.astimezone(dt.UTC).date(), 7))
    return render(
        request, "dashboard.html", active="dashboard",
        sites=[(s, edge_resources(s)) for s in sites], cameras=cameras, relays=relays,
        plan=plan, today=day.interactions, week=week.interactions, chart=chart,
        sites_online=sum(s.health in ONLINE for s in sites),
        cameras_online=sum(c.health in ONLINE for c in cameras),
    )  # fmt: skip
