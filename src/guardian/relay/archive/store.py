"""Relay archive bookkeeping in the relay store: blobs, archived events, quotas, audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from guardian.relay.archive.quota import Quota
from guardian.relay.archive.tables import ArchiveAudit, ArchiveEvent, ArchiveObject, ArchiveQuota

REPORT_BATCH = 500


def usage(session: Session, tenant_id: str) -> int:
    """Bytes of blobs the tenant holds."""
    total = session.scalar(
        select(func.coalesce(func.sum(ArchiveObject.size_bytes), 0)).where(
            ArchiveObject.tenant_id == tenant_id
        )
    )
    return int(total or 0)


def find_object(session: Session, tenant_id: str, cid: str) -> ArchiveObject | None:
    """The tenant's blob ``cid``, if it holds it."""
    return session.get(ArchiveObject, (tenant_id, cid))


def find_any_object(session: Session, cid: str) -> ArchiveObject | None:
    """Any tenant's blob ``cid`` (for relay admins)."""
    return session.scalars(select(ArchiveObject).where(ArchiveObject.cid == cid).limit(1)).first()


def quota_of(
    session: Session, tenant_id: str, *, default: int | None, now: dt.datetime, ttl: float
) -> Quota:
    """The tenant's quota as last answered by the control plane, or ``default`` if never."""
    row = session.get(ArchiveQuota, tenant_id)
    if row is None:
        return Quota(default, fresh=False)
    age = (now - row.updated_at).total_seconds()
    return Quota(row.limit_bytes, fresh=0 <= age < ttl)


def set_quota(session: Session, tenant_id: str, limit: int | None, now: dt.datetime) -> None:
    """Remember the quota the control plane answered."""
    row = session.get(ArchiveQuota, tenant_id)
    if row is None:
        session.add(ArchiveQuota(tenant_id=tenant_id, limit_bytes=limit, updated_at=now))
    else:
        row.limit_bytes, row.updated_at = limit, now


def add_object(
    session: Session, tenant_id: str, cid: str, size: int, now: dt.datetime
) -> ArchiveObject:
    """Record the tenant's new blob."""
    row = ArchiveObject(tenant_id=tenant_id, cid=cid, size_bytes=size, stored_at=now)
    session.add(row)
    return row


def record_event(
    session: Session,
    *,
    event_id: str,
    tenant_id: str,
    site_id: str,
    cid: str,
    size: int,
    now: dt.datetime,
) -> None:
    """Say which blob archives ``event_id`` (a new one replaces the old); to be reported."""
    row = session.get(ArchiveEvent, event_id)
    if row is None:
        session.add(
            ArchiveEvent(
                event_id=event_id,
                tenant_id=tenant_id,
                site_id=site_id,
                cid=cid,
                size_bytes=size,
                archived_at=now,
                deleted_at=None,
                reported_at=None,
            )
        )
        return
    if row.tenant_id != tenant_id:
        raise ValueError("the event belongs to another tenant")
    if row.cid != cid or row.deleted_at is not None:
        row.cid, row.size_bytes, row.archived_at = cid, size, now
        row.site_id, row.deleted_at, row.reported_at = site_id, None, None


def unreported(session: Session, limit: int = REPORT_BATCH) -> list[ArchiveEvent]:
    """Archived or deleted events the control plane has not acknowledged, oldest first."""
    query = (
        select(ArchiveEvent)
        .where(ArchiveEvent.reported_at.is_(None))
        .order_by(ArchiveEvent.archived_at, ArchiveEvent.event_id)
        .limit(limit)
    )
    return list(session.scalars(query))


def mark_reported(
    session: Session, reported: Iterable[tuple[str, dt.datetime]], now: dt.datetime
) -> None:
    """Mark events reported, unless they changed since (matched on ``archived_at``)."""
    for event_id, archived_at in reported:
        session.execute(
            update(ArchiveEvent)
            .where(ArchiveEvent.event_id == event_id, ArchiveEvent.archived_at == archived_at)
            .values(reported_at=now)
            .execution_options(synchronize_session=False)
        )


def tenants(session: Session) -> list[str]:
    """Tenants that hold blobs or have archived events."""
    held = set(session.scalars(select(ArchiveObject.tenant_id).distinct()))
    held |= set(session.scalars(select(ArchiveEvent.tenant_id).distinct()))
    return sorted(held)


def delete_object(
    session: Session, obj: ArchiveObject, *, actor: str, reason: str, now: dt.datetime
) -> list[str]:
    """Forget a blob, mark its events deleted (to report) and audit it; the events' ids."""
    session.add(
        ArchiveAudit(
            at=now,
            actor=actor,
            action="delete",
            tenant_id=obj.tenant_id,
            cid=obj.cid,
            size_bytes=obj.size_bytes,
            reason=reason,
        )
    )
    events = list(
        session.scalars(
            select(ArchiveEvent).where(
                ArchiveEvent.tenant_id == obj.tenant_id,
                ArchiveEvent.cid == obj.cid,
                ArchiveEvent.deleted_at.is_(None),
            )
        )
    )
    for event in events:
        event.deleted_at, event.archived_at, event.reported_at = now, now, None
    session.delete(obj)
    return [e.event_id for e in events]


def audit_trail(session: Session, limit: int = 100) -> list[ArchiveAudit]:
    """The latest admin actions, newest first."""
    query = select(ArchiveAudit).order_by(ArchiveAudit.id.desc()).limit(limit)
    return list(session.scalars(query))
