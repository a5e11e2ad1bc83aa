"""Control plane API: cameras of the caller's tenant (list, read, rename and label)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query

from guardian.control.api.deps import ContextDep, PrincipalDep, TenantSessionDep, require_admin
from guardian.control.api.errors_doc import errors
from guardian.control.context import ControlContext
from guardian.control.tenancy.cameras import clean_labels, get_camera, list_cameras
from guardian.control.tenancy.schemas import CameraList, CameraOut, CameraPatch
from guardian.control.tenancy.views import camera_out, now_of

router = APIRouter(prefix="/api/v1", tags=["cameras"], responses=errors(401))

CameraId = Annotated[str, Path(max_length=64, examples=["0b6f4d2a-91c3-4e8b-b7a1-5c3e2d9f8a10"])]


@router.get("/cameras", response_model=CameraList, responses=errors(422))
def get_cameras(
    ctx: ContextDep,
    principal: PrincipalDep,
    session: TenantSessionDep,
    site: Annotated[str | None, Query(max_length=64, description="Only this site's.")] = None,
) -> CameraList:
    """The tenant's cameras (of one site with ``site``), health included."""
    now = now_of(ctx)
    cameras = list_cameras(session, principal.tenant_id, site)
    return CameraList(cameras=[camera_out(c, now) for c in cameras])


@router.get("/cameras/{id}", response_model=CameraOut, responses=errors(404))
def get_one_camera(
    id: CameraId, ctx: ContextDep, principal: PrincipalDep, session: TenantSessionDep
) -> CameraOut:
    """One camera of the caller's tenant."""
    return camera_out(get_camera(session, principal.tenant_id, id), now_of(ctx))


@router.patch("/cameras/{id}", response_model=CameraOut, responses=errors(403, 404, 422))
def patch_camera(
    id: CameraId,
    body: CameraPatch,
    ctx: ContextDep,
    principal: PrincipalDep,
    session: TenantSessionDep,
) -> CameraOut:
    """Rename (``display_name``, null to clear) and label a camera (admin)."""
    camera = get_camera(session, principal.tenant_id, id)
    require_admin(principal)
    now = now_of(ctx)
    if "display_name" in body.model_fields_set:
        camera.display_name = body.display_name
    if "labels" in body.model_fields_set:
        camera.labels = clean_labels(body.labels or [])
    camera.updated_at = now
    session.flush()
    return camera_out(camera, now)


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Nothing to attach: the routes use the shared dependencies."""
