"""Cameras of a tenant's sites: known from telemetry and events, renamed and labelled by admins."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from guardian.common.api_errors import BadRequest, NotFound
from guardian.control.store.tables import Camera
from guardian.control.tenancy.plans import check_quota

EDGE_NAME_MAX = 64
LABEL_MAX = 32
LABELS_MAX = 16


def clean_labels(labels: list[str]) -> list[str]:
    """Labels stripped, de-duplicated (first spelling wins) and checked for length."""
    cleaned: list[str] = []
    for label in labels:
        label = label.strip()
        if not label or len(label) > LABEL_MAX:
            raise BadRequest(f"a camera label needs 1-{LABEL_MAX} characters")
        if label.casefold() not in {c.casefold() for c in cleaned}:
            cleaned.append(label)
    if len(cleaned) > LABELS_MAX:
        raise BadRequest(f"a camera takes at most {LABELS_MAX} labels")
    return cleaned


def find_camera(session: Session, tenant_id: str, site_id: str, edge_name: str) -> Camera | None:
    """The camera the site calls ``edge_name``, if known."""
    return session.scalar(
        select(Camera).where(
            Camera.tenant_id == tenant_id,
            Camera.site_id == site_id,
            Camera.edge_name == edge_name,
        )
    )


def create_or_touch_camera(
    session: Session, tenant_id: str, site_id: str, edge_name: str, now: dt.datetime
) -> Camera:
    """The site's camera ``edge_name``, created when new (``QuotaExceeded`` over the quota).

    The caller has checked that ``site_id`` belongs to ``tenant_id``. A known camera gets
    ``last_seen_at`` moved forward to ``now``.
    """
    if not edge_name or len(edge_name) > EDGE_NAME_MAX:
        raise BadRequest(f"a camera name needs 1-{EDGE_NAME_MAX} characters")
    camera = find_camera(session, tenant_id, site_id, edge_name)
    if camera is None:
        check_quota(session, tenant_id, "cameras")
        camera = Camera(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            site_id=site_id,
            edge_name=edge_name,
            labels=[],
            health="unknown",
            created_at=now,
            updated_at=now,
        )
        try:
            # A savepoint: a concurrent request may create the same camera first.
            with session.begin_nested():
                session.add(camera)
        except IntegrityError:
            camera = find_camera(session, tenant_id, site_id, edge_name)
            if camera is None:
                raise
    if camera.last_seen_at is None or camera.last_seen_at < now:
        camera.last_seen_at = now
    return camera


def list_cameras(session: Session, tenant_id: str, site_id: str | None = None) -> list[Camera]:
    """The tenant's cameras (of one site when ``site_id`` is given), by site and name."""
    query = select(Camera).where(Camera.tenant_id == tenant_id)
    if site_id is not None:
        query = query.where(Camera.site_id == site_id)
    return list(session.scalars(query.order_by(Camera.site_id, Camera.edge_name)))


def get_camera(session: Session, tenant_id: str, camera_id: str) -> Camera:
    """The tenant's camera ``camera_id`` or ``NotFound`` (also for another tenant's)."""
    camera = session.scalar(
        select(Camera).where(Camera.tenant_id == tenant_id, Camera.id == camera_id)
    )
    if camera is None:
        raise NotFound("no such camera")
    return camera


def camera_label(camera: Camera) -> str:
    """What people call the camera: its display name, else the site's name for it."""
    return camera.display_name or camera.edge_name
