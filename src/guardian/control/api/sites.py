"""Control plane API: sites, their bootstrap tokens, and telemetry ingest from relays."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Response

from guardian.common.api_errors import NotFound
from guardian.control.api.deps import (
    AdminDep,
    ContextDep,
    PrincipalDep,
    RelayDep,
    TenantSessionDep,
    require_admin,
)
from guardian.control.api.errors_doc import errors
from guardian.control.context import ControlContext
from guardian.control.tenancy.relays import relay_serves, touch_relay
from guardian.control.tenancy.schemas import (
    BootstrapTokenOut,
    SiteCreated,
    SiteIn,
    SiteList,
    SiteOut,
    SitePatch,
    TelemetryIn,
    TelemetryOut,
)
from guardian.control.tenancy.sites import (
    bootstrap_expiry,
    create_site,
    delete_site,
    get_site,
    issue_bootstrap_token,
    list_sites,
)
from guardian.control.tenancy.telemetry import apply_telemetry
from guardian.control.tenancy.views import now_of, site_out

router = APIRouter(prefix="/api/v1", tags=["sites"], responses=errors(401))

SiteId = Annotated[str, Path(max_length=64, examples=["7f1c2a4e-3b9d-4c1e-8a55-0d2f6e9b1a37"])]


@router.post("/sites", status_code=201, response_model=SiteCreated, responses=errors(403, 422))
def post_site(
    body: SiteIn, ctx: ContextDep, principal: AdminDep, session: TenantSessionDep
) -> SiteCreated:
    """Create a site (admin; within the plan's site quota) and its single-use bootstrap
    token, valid for 24 hours and shown only in this answer."""
    now = now_of(ctx)
    site, token = create_site(session, tenant_id=principal.tenant_id, name=body.name, now=now)
    expires_at = bootstrap_expiry(session, principal.tenant_id, site.id)
    assert expires_at is not None
    return SiteCreated(
        site=site_out(site, now), bootstrap_token=token, bootstrap_expires_at=expires_at
    )


@router.get("/sites", response_model=SiteList)
def get_sites(ctx: ContextDep, principal: PrincipalDep, session: TenantSessionDep) -> SiteList:
    """The caller's tenant's sites with their health (offline when not seen for 5 minutes)."""
    now = now_of(ctx)
    return SiteList(sites=[site_out(s, now) for s in list_sites(session, principal.tenant_id)])


@router.get("/sites/{id}", response_model=SiteOut, responses=errors(404))
def get_one_site(
    id: SiteId, ctx: ContextDep, principal: PrincipalDep, session: TenantSessionDep
) -> SiteOut:
    """One site of the caller's tenant."""
    return site_out(get_site(session, principal.tenant_id, id), now_of(ctx))


@router.patch("/sites/{id}", response_model=SiteOut, responses=errors(403, 404, 422))
def patch_site(
    id: SiteId,
    body: SitePatch,
    ctx: ContextDep,
    principal: PrincipalDep,
    session: TenantSessionDep,
) -> SiteOut:
    """Rename a site (admin)."""
    site = get_site(session, principal.tenant_id, id)
    require_admin(principal)
    site.name = body.name
    session.flush()
    return site_out(site, now_of(ctx))


@router.delete("/sites/{id}", status_code=204, responses=errors(403, 404))
def remove_site(id: SiteId, principal: PrincipalDep, session: TenantSessionDep) -> Response:
    """Delete a site with its cameras and bootstrap tokens (admin); its events are kept."""
    site = get_site(session, principal.tenant_id, id)
    require_admin(principal)
    delete_site(session, site)
    return Response(status_code=204)


@router.post(
    "/sites/{id}/bootstrap-token",
    status_code=201,
    response_model=BootstrapTokenOut,
    responses=errors(403, 404),
)
def new_bootstrap_token(
    id: SiteId, ctx: ContextDep, principal: PrincipalDep, session: TenantSessionDep
) -> BootstrapTokenOut:
    """A new single-use bootstrap token for the site (admin); unused earlier ones stop
    working."""
    site = get_site(session, principal.tenant_id, id)
    require_admin(principal)
    token, expires_at = issue_bootstrap_token(session, site=site, now=now_of(ctx))
    return BootstrapTokenOut(bootstrap_token=token, bootstrap_expires_at=expires_at)


@router.post(
    "/ingest/telemetry",
    response_model=TelemetryOut,
    tags=["ingest"],
    responses=errors(404, 422),
)
def post_telemetry(body: TelemetryIn, ctx: ContextDep, relay: RelayDep) -> TelemetryOut:
    """A relay reports one site's health and cameras (relay token). The relay must serve
    the tenant and the site must be that tenant's, else 404."""
    now = now_of(ctx)
    with ctx.db.system() as system:
        if not relay_serves(system, relay.relay_id, body.tenant_id):
            raise NotFound("no such site")
        touch_relay(system, relay.relay_id, now)
    with ctx.db.tenant(body.tenant_id) as session:
        site = get_site(session, body.tenant_id, body.site_id)
        health, cameras = apply_telemetry(session, site, body, now)
    return TelemetryOut(site=health, cameras=cameras)


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Nothing to attach: the routes use the shared dependencies."""
