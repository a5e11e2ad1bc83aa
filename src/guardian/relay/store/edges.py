"""Enrolled edges, revoked certificate serials and the latest telemetry of each site."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from guardian.relay.store.tables import Edge, RevokedSerial, Telemetry

REPLACED = "replaced by a new enrolment"


@dataclass(frozen=True, slots=True)
class EdgeView:
    """One enrolled edge as operators see it."""

    site_id: str
    tenant_id: str
    cert_serial: str
    enrolled_at: dt.datetime
    revoked_at: dt.datetime | None
    last_seen_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class SiteTelemetry:
    """The latest telemetry a site's edge sent (``MessageToDict`` form of ``Telemetry``)."""

    site_id: str
    tenant_id: str
    payload: dict[str, Any]
    received_at: dt.datetime


def _view(edge: Edge) -> EdgeView:
    return EdgeView(
        edge.site_id,
        edge.tenant_id,
        edge.cert_serial,
        edge.enrolled_at,
        edge.revoked_at,
        edge.last_seen_at,
    )


def _revoke_serial(session: Session, serial: str, now: dt.datetime, reason: str) -> None:
    if session.get(RevokedSerial, serial) is None:
        session.add(RevokedSerial(serial=serial, revoked_at=now, reason=reason[:200]))


def record_enrollment(
    session: Session,
    *,
    site_id: str,
    tenant_id: str,
    serial: str,
    cert_pem: str,
    now: dt.datetime,
) -> EdgeView:
    """Record the edge of ``site_id`` with its new certificate; a previous one is revoked."""
    edge = session.get(Edge, site_id)
    if edge is None:
        edge = Edge(site_id=site_id, tenant_id=tenant_id, last_seen_at=None)
        session.add(edge)
    elif edge.cert_serial != serial:
        _revoke_serial(session, edge.cert_serial, now, REPLACED)
        session.flush()
    edge.tenant_id = tenant_id
    edge.cert_serial = serial.lower()
    edge.cert_pem = cert_pem
    edge.enrolled_at = now
    edge.revoked_at = None
    session.flush()
    return _view(edge)


def revoke_site(session: Session, site_id: str, now: dt.datetime, reason: str) -> bool:
    """Refuse the site's edge certificate from now on; False when no such edge is enrolled."""
    edge = session.get(Edge, site_id)
    if edge is None:
        return False
    _revoke_serial(session, edge.cert_serial, now, reason)
    if edge.revoked_at is None:
        edge.revoked_at = now
    session.flush()
    return True


def is_revoked(executor: Session | Connection, serial: str) -> bool:
    """Whether the certificate serial (hex) has been revoked.

    Asked on every edge call: a plain Core query, so a ``Connection`` will do (about half
    the cost of an ORM session's lookup).
    """
    query = select(RevokedSerial.serial).where(RevokedSerial.serial == serial.lower()).limit(1)
    return executor.execute(query).first() is not None


def list_edges(session: Session) -> list[EdgeView]:
    """All enrolled edges by site id."""
    return [_view(e) for e in session.scalars(select(Edge).order_by(Edge.site_id))]


def get_edge(session: Session, site_id: str) -> EdgeView | None:
    """The edge enrolled for ``site_id``, if any."""
    edge = session.get(Edge, site_id)
    return None if edge is None else _view(edge)


def touch(session: Session, site_id: str, now: dt.datetime) -> None:
    """Note that the site's edge was heard from at ``now``."""
    session.execute(update(Edge).where(Edge.site_id == site_id).values(last_seen_at=now))


def store_telemetry(
    session: Session, *, site_id: str, tenant_id: str, payload: dict[str, Any], now: dt.datetime
) -> None:
    """Keep ``payload`` as the site's latest telemetry."""
    row = session.get(Telemetry, site_id)
    if row is None:
        session.add(
            Telemetry(site_id=site_id, tenant_id=tenant_id, payload=payload, received_at=now)
        )
    else:
        row.tenant_id, row.payload, row.received_at = tenant_id, payload, now
    session.flush()


def latest_telemetry(session: Session) -> dict[str, SiteTelemetry]:
    """Each site's latest telemetry, keyed by site id."""
    return {
        t.site_id: SiteTelemetry(t.site_id, t.tenant_id, t.payload, t.received_at)
        for t in session.scalars(select(Telemetry))
    }
