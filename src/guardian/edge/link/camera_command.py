"""The edge's answer to ``UpdateCameraConfig``: create or replace a camera in its registry.

The same registry code as the edge API's camera routes (``guardian.edge.store.cameras``):
a new name is added, a known one gets the whole new configuration (fields left out take
their defaults, as in a create), and its version is bumped only when something changed, so
the running edge restarts the camera only then.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.edge.camera.config import CameraConfig, describe_problems, validation_problems
from guardian.edge.store.cameras import CameraExists, add_camera, update_camera
from guardian.edge.store.tables import Camera

logger = logging.getLogger(__name__)


class CameraCommandError(ValueError):
    """The command cannot be applied; the message goes back to the relay."""


def requested_config(
    request: link_pb2.UpdateCameraConfig, current_enabled: bool | None
) -> CameraConfig:
    """The full configuration ``request`` asks for (``CameraCommandError`` if invalid).

    ``enabled`` comes from the request's own field when set, else from ``config_json``,
    else stays as the camera has it (``current_enabled``; a new camera is enabled).
    """
    try:
        data: Any = json.loads(request.config_json or "{}")
    except json.JSONDecodeError as exc:
        raise CameraCommandError(f"config_json is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CameraCommandError("config_json must be a JSON object")
    if data.get("name", request.camera) != request.camera:
        raise CameraCommandError("config_json names another camera; a camera cannot be renamed")
    if request.HasField("enabled"):
        data["enabled"] = request.enabled
    elif "enabled" not in data and current_enabled is not None:
        data["enabled"] = current_enabled
    try:
        return CameraConfig.model_validate({**data, "name": request.camera})
    except ValidationError as exc:
        raise CameraCommandError(
            f"invalid camera config: {describe_problems(validation_problems(exc))}"
        ) from exc


def apply_camera_config(session: Session, request: link_pb2.UpdateCameraConfig) -> Camera:
    """Create or replace the camera in ``session``'s transaction; the registry row."""
    existing = session.get(Camera, request.camera)
    config = requested_config(request, existing.enabled if existing is not None else None)
    if existing is None:
        try:
            return add_camera(session, config)
        except CameraExists as exc:  # added meanwhile through the edge API
            raise CameraCommandError(str(exc)) from exc
    return update_camera(session, request.camera, config.model_dump(mode="json"))


def run_update_camera_config(
    sessions: sessionmaker[Session], request: link_pb2.UpdateCameraConfig
) -> str | None:
    """Apply the command in its own transaction; None on success, else why not."""
    try:
        with sessions.begin() as session:
            camera = apply_camera_config(session, request)
            version = camera.version
    except CameraCommandError as exc:
        return str(exc)
    logger.info("camera config applied", extra={"camera": request.camera, "version": version})
    return None
