"""Relay tables: enrolled edges, revoked certificates, cached events, forward queue, telemetry."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from guardian.common.db_types import NAMING, TYPE_ANNOTATION_MAP, BigId


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class Edge(Base):
    """An enrolled edge appliance (one per site) and the client certificate it was issued."""

    __tablename__ = "edges"
    site_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    cert_serial: Mapped[str] = mapped_column(String(64), unique=True)  # lowercase hex
    cert_pem: Mapped[str] = mapped_column(Text)
    enrolled_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    last_seen_at: Mapped[dt.datetime | None]


class RevokedSerial(Base):
    """A certificate serial the link refuses (kept after its edge re-enrols with a new one)."""

    __tablename__ = "revoked_serials"
    serial: Mapped[str] = mapped_column(String(64), primary_key=True)
    revoked_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(String(200))


class CachedEvent(Base):
    """An event's full detail as the edge sent it (boxes, scores), newest version, until expiry.

    ``type`` to ``started_at`` copy payload fields so the tenant's event list can filter and
    page without parsing JSON.
    """

    __tablename__ = "cached_events"
    __table_args__ = (
        Index("ix_cached_events_tenant_started", "tenant_id", "started_at", "id"),
        Index("ix_cached_events_expires_at", "expires_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int]
    type: Mapped[str] = mapped_column(String(64))
    source_kind: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime]
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class ForwardQueue(Base):
    """An event summary waiting to be accepted by the control plane; one row per version."""

    __tablename__ = "forward_queue"
    __table_args__ = (
        UniqueConstraint("event_id", "version", name="uq_forward_queue_event_id_version"),
        Index("ix_forward_queue_due", "next_attempt_at", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    tenant_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int]
    summary: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(Text)


class Telemetry(Base):
    """The latest telemetry report of each site."""

    __tablename__ = "telemetry"
    site_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[dt.datetime]


# The archive's tables share this metadata (one migration history, one model check).
import guardian.relay.archive.tables  # noqa: E402, F401
