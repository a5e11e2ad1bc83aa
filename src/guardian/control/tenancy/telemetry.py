"""Store a site's telemetry: the site's and each camera's health, last-seen and summary."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from guardian.control.store.tables import Site
from guardian.control.tenancy.cameras import create_or_touch_camera
from guardian.control.tenancy.health import (
    CAMERA_DETAIL_KEYS,
    Health,
    camera_health,
    clamp_seen,
    is_newer,
    site_health,
    summarise,
)
from guardian.control.tenancy.plans import QuotaExceeded
from guardian.control.tenancy.schemas import EDGE_FIGURES, TelemetryIn

logger = logging.getLogger(__name__)


def apply_telemetry(
    session: Session, site: Site, report: TelemetryIn, now: dt.datetime
) -> tuple[Health, int]:
    """Update ``site`` and its cameras from ``report``; returns (site health, cameras updated).

    A report older than what is stored changes nothing; cameras beyond the plan's quota are
    skipped (logged), the rest of the report still applies. The edge's figures (disk, job
    queue, outbox) are those of the latest report: one without them (an older relay or edge)
    sets them to ``None`` rather than leaving figures that are no longer current.
    """
    seen = clamp_seen(report.at, now)
    if not is_newer(seen, site.last_seen_at):
        return site_health(site.health), 0
    health = site_health(report.site.health)
    site.health = health
    site.last_seen_at = seen
    site.details = summarise(report.site.model_dump(exclude={"health", *EDGE_FIGURES}))
    for name, value in report.site.figures().items():
        setattr(site, name, value)
    updated = 0
    for item in report.cameras:
        try:
            camera = create_or_touch_camera(session, site.tenant_id, site.id, item.name, seen)
        except QuotaExceeded as exc:
            logger.warning("camera %r of site %s not added: %s", item.name, site.id, exc.message)
            continue
        camera.health = camera_health(item.state)
        camera.details = summarise(item.model_dump(), CAMERA_DETAIL_KEYS)
        updated += 1
    session.flush()
    return health, updated
