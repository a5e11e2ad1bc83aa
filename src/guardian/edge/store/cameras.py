"""The camera registry: add, read, patch and remove cameras; read their live status rows."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from guardian.common.db import utcnow
from guardian.edge.camera.config import CameraConfig
from guardian.edge.store.tables import Camera, CameraStatus

logger = logging.getLogger(__name__)


class CameraExists(ValueError):
    """A camera with that name is already registered."""


class CameraNotFound(KeyError):
    """No camera with that name is registered."""

    def __str__(self) -> str:
        # KeyError's own str() is the repr of its argument; show the plain message.
        return str(self.args[0]) if self.args else "unknown camera"


def camera_config(camera: Camera) -> CameraConfig:
    """The validated configuration a registry row holds."""
    return CameraConfig.from_stored(camera.name, camera.config)


def add_camera(session: Session, config: CameraConfig) -> Camera:
    """Register a camera (version 1). Raises ``CameraExists``; runs in the caller's transaction."""
    if session.get(Camera, config.name) is not None:
        raise CameraExists(f"camera {config.name!r} already exists")
    now = utcnow()
    camera = Camera(
        name=config.name,
        config=config.stored(),
        enabled=config.enabled,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(camera)
    try:
        session.flush()
    except IntegrityError as exc:  # added concurrently by another process
        raise CameraExists(f"camera {config.name!r} already exists") from exc
    logger.info("camera added", extra={"camera": config.name})
    return camera


def get_camera(session: Session, name: str) -> Camera:
    """The registry row of ``name``; raises ``CameraNotFound``."""
    camera = session.get(Camera, name)
    if camera is None:
        raise CameraNotFound(f"unknown camera {name!r}")
    return camera


def list_cameras(session: Session) -> list[Camera]:
    """All registered cameras, ordered by name."""
    return list(session.scalars(select(Camera).order_by(Camera.name)))


def update_camera(session: Session, name: str, changes: dict[str, Any]) -> Camera:
    """Apply ``changes`` (a PATCH body) and bump ``version`` when the config changed.

    Raises ``CameraNotFound``, or ``ValueError`` (a pydantic ``ValidationError`` for bad
    values) leaving the row untouched. An unchanged config keeps its version, so the
    running edge does not restart the camera for nothing.
    """
    camera = session.scalars(
        select(Camera).where(Camera.name == name).with_for_update()
    ).one_or_none()
    if camera is None:
        raise CameraNotFound(f"unknown camera {name!r}")
    config = camera_config(camera).patched(changes)
    stored = config.stored()
    if stored == camera.config:
        return camera
    camera.config = stored
    camera.enabled = config.enabled
    camera.version += 1
    camera.updated_at = utcnow()
    session.flush()
    logger.info("camera updated", extra={"camera": name, "version": camera.version})
    return camera


def remove_camera(session: Session, name: str) -> None:
    """Delete the camera and its status row; its events, media and recordings stay."""
    camera = get_camera(session, name)
    session.execute(delete(CameraStatus).where(CameraStatus.name == name))
    session.delete(camera)
    session.flush()
    logger.info("camera removed", extra={"camera": name})


def camera_statuses(
    session: Session, names: Iterable[str] | None = None
) -> dict[str, CameraStatus]:
    """Status rows by camera name (all of them, or those of ``names``)."""
    stmt = select(CameraStatus)
    if names is not None:
        stmt = stmt.where(CameraStatus.name.in_(list(names)))
    return {row.name: row for row in session.scalars(stmt)}


def camera_status(session: Session, name: str) -> CameraStatus | None:
    """The status row of ``name``, if the running edge has written one."""
    return session.get(CameraStatus, name)
