"""``PUT /v1/sites/{site_id}/cameras/{name}``: create or replace a camera on a site's edge.

The body is the camera's configuration (the edge's CameraConfig without its name, e.g.
``{"url": "rtsp://…", "detect_fps": 5}``, optionally with ``enabled``). The relay sends it
down the site's link stream as an ``UpdateCameraConfig`` command and answers with the
edge's verdict: 200 once applied, 422 with the edge's reason when refused, 409 when the
site's edge is not connected, 504 when it did not answer in time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, HTTPException
from fastapi import Path as PathParam
from fastapi.params import Depends

from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.relay.commands import EdgeOffline
from guardian.relay.context import RelayContext

logger = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 20.0
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"

SiteId = Annotated[str, PathParam(min_length=1, max_length=64)]
CameraName = Annotated[str, PathParam(pattern=NAME_PATTERN, examples=["front"])]
ConfigBody = Annotated[
    dict[str, Any],
    Body(examples=[{"url": "rtsp://192.168.1.20:554/stream1", "detect_fps": 5}]),
]


def camera_command(name: str, body: dict[str, Any]) -> link_pb2.Command:
    """The ``UpdateCameraConfig`` command for a route body (``enabled`` travels on its own)."""
    config = dict(body)
    enabled = config.pop("enabled", None)
    if enabled is not None and not isinstance(enabled, bool):
        raise HTTPException(422, "enabled must be true or false")
    update = link_pb2.UpdateCameraConfig(camera=name, config_json=json.dumps(config))
    if enabled is not None:
        update.enabled = enabled
    return link_pb2.Command(update_camera_config=update)


def install(
    app: FastAPI,
    ctx: RelayContext,
    dependencies: Sequence[Depends],
    *,
    timeout: float = ANSWER_TIMEOUT_S,
) -> None:
    """Add the route to ``app`` behind ``dependencies`` (the relay admin check)."""
    router = APIRouter(dependencies=list(dependencies))

    @router.put("/v1/sites/{site_id}/cameras/{name}")
    def put_camera(site_id: SiteId, name: CameraName, body: ConfigBody) -> dict[str, Any]:
        """Create or replace camera ``name`` on the site's edge; waits for its answer."""
        command = camera_command(name, body)
        try:
            command_id = ctx.commands.send(site_id, command)
        except EdgeOffline as exc:
            raise HTTPException(409, str(exc)) from exc
        try:
            result = ctx.commands.wait(command_id, timeout)
        finally:
            ctx.commands.forget(command_id)
        if result is None:
            raise HTTPException(504, f"the edge of site {site_id} did not answer in {timeout} s")
        if not result.ok:
            raise HTTPException(422, result.error or "the edge refused the camera config")
        logger.info("camera config applied at the edge", extra={"site_id": site_id, "camera": name})
        return {"site_id": site_id, "camera": name, "command_id": command_id, "applied": True}

    app.include_router(router)
