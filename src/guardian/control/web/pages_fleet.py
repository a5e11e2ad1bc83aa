"""UI pages: cameras (status, rename, labels) and sites with onboarding (bootstrap tokens)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from guardian.common.api_errors import Unprocessable
from guardian.control.api import cameras as cameras_api
from guardian.control.api import sites as sites_api
from guardian.control.api.deps import ContextDep
from guardian.control.api.relays import get_relays
from guardian.control.auth.principal import Principal
from guardian.control.context import ControlContext
from guardian.control.tenancy.cameras import list_cameras
from guardian.control.tenancy.schemas import CameraPatch, SiteIn
from guardian.control.tenancy.sites import list_sites
from guardian.control.tenancy.views import camera_out, now_of, site_out
from guardian.control.web.deps import Csrf, WebAdmin, WebPrincipal, WebRoute
from guardian.control.web.forms import field, first_error, parse_labels
from guardian.control.web.pages_dashboard import edge_resources
from guardian.control.web.render import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Id = Annotated[str, Path(max_length=64)]
RELAY_PLACEHOLDER = "RELAY-HOST:PORT"


def relay_address(ctx: ControlContext, principal: Principal) -> str | None:
    """``host:port`` where the tenant's sites reach its relay (``None``: no relay yet)."""
    relays = get_relays(ctx, principal).relays
    if not relays:
        return None
    parts = urlsplit(relays[0].url if "://" in relays[0].url else f"//{relays[0].url}")
    if not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{parts.port}" if parts.port else host


def enroll_command(relay: str | None, token: str) -> str:
    """The exact command to run on the site's appliance."""
    return f"guardian edge enroll --relay {relay or RELAY_PLACEHOLDER} --token {token}"


@router.get("/cameras")
def cameras(request: Request, ctx: ContextDep, principal: WebPrincipal) -> Response:
    now = now_of(ctx)
    with ctx.db.tenant(principal.tenant_id) as session:
        sites = {s.id: s.name for s in list_sites(session, principal.tenant_id)}
        found = [camera_out(c, now) for c in list_cameras(session, principal.tenant_id)]
    return render(request, "cameras.html", active="cameras", cameras=found, sites=sites, error=None)


@router.post("/cameras/{camera_id}", dependencies=[Csrf])
async def edit_camera(
    request: Request, camera_id: Id, ctx: ContextDep, principal: WebAdmin
) -> Response:
    """Rename (an empty name goes back to the edge's name) and relabel a camera (admin)."""
    form = await request.form()
    name = field(form, "display_name").strip()
    try:
        patch = CameraPatch(display_name=name or None, labels=parse_labels(field(form, "labels")))
    except ValidationError as exc:
        raise Unprocessable(first_error(exc)) from None
    with ctx.db.tenant(principal.tenant_id) as session:
        cameras_api.patch_camera(camera_id, patch, ctx, principal, session)
    return RedirectResponse(f"/cameras?done=camera-saved#camera-{camera_id}", status_code=303)


@router.get("/sites")
def sites(request: Request, ctx: ContextDep, principal: WebPrincipal) -> Response:
    now = now_of(ctx)
    with ctx.db.tenant(principal.tenant_id) as session:
        found = [site_out(s, now) for s in list_sites(session, principal.tenant_id)]
    return render(
        request, "sites.html", active="sites", sites=[(s, edge_resources(s)) for s in found],
        relay=relay_address(ctx, principal), error=None,
    )  # fmt: skip


def _onboarding(
    request: Request,
    ctx: ContextDep,
    principal: Principal,
    site_name: str,
    token: str,
    expires: dt.datetime,
) -> Response:
    relay = relay_address(ctx, principal)
    return render(
        request, "onboarding.html", status=201, active="sites", site_name=site_name,
        command=enroll_command(relay, token), relay=relay, expires_at=expires,
    )  # fmt: skip


@router.post("/sites", dependencies=[Csrf])
async def create_site(request: Request, ctx: ContextDep, principal: WebAdmin) -> Response:
    """A new site and its bootstrap token, shown once with the enrol command."""
    form = await request.form()
    try:
        body = SiteIn(name=field(form, "name"))
    except ValidationError as exc:
        raise Unprocessable(first_error(exc)) from None
    with ctx.db.tenant(principal.tenant_id) as session:
        made = sites_api.post_site(body, ctx, principal, session)
    return _onboarding(
        request, ctx, principal, made.site.name, made.bootstrap_token, made.bootstrap_expires_at
    )


@router.post("/sites/{site_id}/token", dependencies=[Csrf])
def new_token(request: Request, site_id: Id, ctx: ContextDep, principal: WebAdmin) -> Response:
    """A fresh bootstrap token for a site (its unused earlier ones stop working)."""
    with ctx.db.tenant(principal.tenant_id) as session:
        site = sites_api.get_one_site(site_id, ctx, principal, session)
        made = sites_api.new_bootstrap_token(site_id, ctx, principal, session)
    return _onboarding(
        request, ctx, principal, site.name, made.bootstrap_token, made.bootstrap_expires_at
    )
