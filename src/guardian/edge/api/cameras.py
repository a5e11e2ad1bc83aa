"""The camera registry API: add, list, read, patch and remove cameras, with live status."""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Annotated, Any

import psutil  # type: ignore[import-untyped,unused-ignore]  # no stubs in the venv
from fastapi import APIRouter, Path, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from guardian.edge.api.camera_schemas import (
    BoxStatus,
    CameraIn,
    CameraList,
    CameraOut,
    CameraPatch,
    camera_out,
)
from guardian.edge.api.deps import AdminDep, ContextDep, SessionDep
from guardian.edge.api.schemas import ErrorBody
from guardian.edge.camera.config import describe_problems, validation_problems
from guardian.edge.context import EdgeContext
from guardian.edge.errors import Conflict, NotFound, Unprocessable
from guardian.edge.store.cameras import (
    CameraExists,
    CameraNotFound,
    add_camera,
    camera_status,
    camera_statuses,
    get_camera,
    list_cameras,
    remove_camera,
    update_camera,
)
from guardian.edge.store.tables import Camera

logger = logging.getLogger(__name__)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in (401, *statuses)}


router = APIRouter(prefix="/v1", tags=["cameras"], dependencies=[AdminDep], responses=_errors())

CameraName = Annotated[str, Path(max_length=64, examples=["front"])]


def _now(ctx: EdgeContext) -> dt.datetime:
    return dt.datetime.fromtimestamp(ctx.clock(), dt.UTC)


def box_status(ctx: EdgeContext) -> BoxStatus:
    """The box's CPU, memory and media-disk use, and the detector's queue, measured now."""
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(ctx.settings.media_dir))
    return BoxStatus(
        # Since the previous call in this process (the first call compares with boot).
        cpu_percent=psutil.cpu_percent(interval=None),
        memory_total_bytes=memory.total,
        memory_used_bytes=memory.total - memory.available,
        process_rss_bytes=psutil.Process(os.getpid()).memory_info().rss,
        disk_total_bytes=disk.total,
        disk_free_bytes=disk.free,
        detector_queue=ctx.detector_queue(),
    )


def _out(ctx: EdgeContext, session: Session, camera: Camera) -> CameraOut:
    return camera_out(camera, camera_status(session, camera.name), _now(ctx))


@router.post("/cameras", status_code=201, response_model=CameraOut, responses=_errors(409, 422))
def create_camera(ctx: ContextDep, session: SessionDep, body: CameraIn) -> CameraOut:
    """Register a camera; the running edge starts it within a few seconds."""
    try:
        camera = add_camera(session, body)
    except CameraExists as exc:
        session.rollback()
        raise Conflict(str(exc)) from exc
    session.commit()
    return _out(ctx, session, camera)


@router.get("/cameras", response_model=CameraList)
def get_cameras(ctx: ContextDep, session: SessionDep) -> CameraList:
    """Every camera with its live status, and the box's load."""
    now = _now(ctx)
    statuses = camera_statuses(session)
    cameras = [camera_out(c, statuses.get(c.name), now) for c in list_cameras(session)]
    session.commit()
    return CameraList(cameras=cameras, box=box_status(ctx))


@router.get("/cameras/{name}", response_model=CameraOut, responses=_errors(404))
def get_one_camera(ctx: ContextDep, session: SessionDep, name: CameraName) -> CameraOut:
    """One camera with its live status."""
    try:
        camera = get_camera(session, name)
    except CameraNotFound as exc:
        raise NotFound(str(exc)) from exc
    return _out(ctx, session, camera)


@router.patch("/cameras/{name}", response_model=CameraOut, responses=_errors(404, 422))
def patch_camera(
    ctx: ContextDep, session: SessionDep, name: CameraName, body: CameraPatch
) -> CameraOut:
    """Change some settings; ``version`` is bumped and the running edge restarts the camera."""
    try:
        camera = update_camera(session, name, body.changes())
    except CameraNotFound as exc:
        session.rollback()
        raise NotFound(str(exc)) from exc
    except ValidationError as exc:  # e.g. an explicit null for a required setting
        session.rollback()
        problems = validation_problems(exc)
        raise Unprocessable(describe_problems(problems), fields=problems) from exc
    except ValueError as exc:
        session.rollback()
        raise Unprocessable(str(exc), fields=[]) from exc
    session.commit()
    return _out(ctx, session, camera)


@router.delete("/cameras/{name}", status_code=204, response_class=Response, responses=_errors(404))
def delete_camera(session: SessionDep, name: CameraName) -> Response:
    """Remove a camera and its status; its events, clips and recordings stay."""
    try:
        remove_camera(session, name)
    except CameraNotFound as exc:
        session.rollback()
        raise NotFound(str(exc)) from exc
    session.commit()
    return Response(status_code=204)
