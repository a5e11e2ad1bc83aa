"""Relay archive tables: stored blobs, archived events, tenant quotas, the admin audit trail.

They share the relay store's metadata (``guardian.relay.store.tables.Base``), so the
relay's migrations and model checks cover them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from guardian.common.db_types import BigId
from guardian.relay.store.tables import Base


class ArchiveObject(Base):
    """A sealed blob a tenant holds, by CID (its bytes live in the blob backend)."""

    __tablename__ = "archive_objects"
    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cid: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[dt.datetime]


class ArchiveEvent(Base):
    """Which blob archives an event; ``reported_at`` is null until the control plane has it."""

    __tablename__ = "archive_events"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    cid: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    archived_at: Mapped[dt.datetime]
    deleted_at: Mapped[dt.datetime | None]
    reported_at: Mapped[dt.datetime | None]


Index("ix_archive_events_cid", ArchiveEvent.tenant_id, ArchiveEvent.cid)
Index("ix_archive_events_unreported", ArchiveEvent.reported_at)


class ArchiveQuota(Base):
    """A tenant's archive quota as the control plane last answered (null limit: unlimited)."""

    __tablename__ = "archive_quotas"
    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    limit_bytes: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime]


class ArchiveAudit(Base):
    """An admin action on the archive (e.g. a deletion): who, what, when, why."""

    __tablename__ = "archive_audit"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[str] = mapped_column(String(36))
    cid: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
