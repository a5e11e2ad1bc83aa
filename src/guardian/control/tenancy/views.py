"""Rows to API schemas, with health as shown (stale reports read ``offline``)."""

from __future__ import annotations

import datetime as dt

from guardian.control.context import ControlContext
from guardian.control.store.tables import Camera, Relay, RelayAssignment, Site
from guardian.control.tenancy.cameras import camera_label
from guardian.control.tenancy.health import effective_health
from guardian.control.tenancy.schemas import CameraOut, RelayOut, SiteOut


def now_of(ctx: ControlContext) -> dt.datetime:
    """The context clock's time as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(ctx.clock(), dt.UTC)


def site_out(site: Site, now: dt.datetime) -> SiteOut:
    return SiteOut(
        id=site.id,
        name=site.name,
        health=effective_health(site.health, site.last_seen_at, now),
        last_seen_at=site.last_seen_at,
        enrolled_at=site.enrolled_at,
        created_at=site.created_at,
        details=site.details or {},
        disk_free_bytes=site.disk_free_bytes,
        disk_total_bytes=site.disk_total_bytes,
        queue_depth=site.queue_depth,
        dead_jobs=site.dead_jobs,
        outbox_depth=site.outbox_depth,
    )


def camera_out(camera: Camera, now: dt.datetime) -> CameraOut:
    return CameraOut(
        id=camera.id,
        site_id=camera.site_id,
        name=camera_label(camera),
        edge_name=camera.edge_name,
        display_name=camera.display_name,
        labels=[str(label) for label in camera.labels or []],
        health=effective_health(camera.health, camera.last_seen_at, now),
        last_seen_at=camera.last_seen_at,
        details=camera.details or {},
        created_at=camera.created_at,
        updated_at=camera.updated_at,
    )


def relay_out(relay: Relay, assignment: RelayAssignment, now: dt.datetime) -> RelayOut:
    return RelayOut(
        id=relay.id,
        name=relay.name,
        url=relay.url,
        health=effective_health(relay.health, relay.last_seen_at, now),
        last_seen_at=relay.last_seen_at,
        assigned_at=assignment.assigned_at,
    )
