"""Control plane tables. Summaries only: no images, clips, boxes or raw scores.

Every row that belongs to a tenant carries ``tenant_id``; on PostgreSQL the migrations add
row-level security policies on exactly the tables in ``TENANT_TABLES``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from guardian.common.db_types import NAMING, TYPE_ANNOTATION_MAP, BigId

Id = String(36)

# Tables with a tenant_id column (row-level security on PostgreSQL); ``tenants`` itself is
# policed by its ``id``.
TENANT_TABLES = (
    "users",
    "refresh_tokens",
    "sites",
    "bootstrap_tokens",
    "cameras",
    "events",
    "event_notes",
    "event_note_history",
    "event_feed",
    "relay_assignments",
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    plan: Mapped[str] = mapped_column(String(32), default="free")
    created_at: Mapped[dt.datetime]


class User(Base):
    """A person of one tenant; ``password_hash`` (Argon2id) is empty for OIDC-only users."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))  # admin | viewer
    subject: Mapped[str | None] = mapped_column(String(255), unique=True)  # external OIDC sub
    display_name: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]
    disabled_at: Mapped[dt.datetime | None]


class SigningKey(Base):
    """An RS256 key of the built-in issuer; the private key is sealed with the master key."""

    __tablename__ = "signing_keys"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime]
    retired_at: Mapped[dt.datetime | None]


class RefreshToken(Base):
    """A rotating refresh token (only its SHA-256); reuse of a used one revokes the family."""

    __tablename__ = "refresh_tokens"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    family_id: Mapped[str] = mapped_column(Id, index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class LoginFailure(Base):
    """Failed logins per key (``account:<email>`` or ``address:<ip>``) in the current window."""

    __tablename__ = "login_failures"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window_start: Mapped[dt.datetime]
    count: Mapped[int] = mapped_column(Integer, default=0)


class Site(Base):
    """One edge appliance of a tenant."""

    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]
    enrolled_at: Mapped[dt.datetime | None]
    health: Mapped[str] = mapped_column(String(16), default="unknown")
    last_seen_at: Mapped[dt.datetime | None]
    details: Mapped[dict[str, Any] | None]
    # The edge's figures from its last telemetry (counters only); None: not reported.
    disk_free_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    disk_total_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    queue_depth: Mapped[int | None] = mapped_column(BigInteger, default=None)
    dead_jobs: Mapped[int | None] = mapped_column(BigInteger, default=None)
    outbox_depth: Mapped[int | None] = mapped_column(BigInteger, default=None)


class BootstrapToken(Base):
    """A single-use, expiring token to enrol a site (only its SHA-256 is kept)."""

    __tablename__ = "bootstrap_tokens"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class Relay(Base):
    """A private relay node; it authenticates to the control plane with its token."""

    __tablename__ = "relays"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    url: Mapped[str] = mapped_column(Text)
    # Browser-facing base URL of the relay's HTTP API (clip playback); None: not set.
    public_url: Mapped[str | None] = mapped_column(Text, default=None)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    health: Mapped[str] = mapped_column(String(16), default="unknown")
    last_seen_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    details: Mapped[dict[str, Any] | None]


class RelayAssignment(Base):
    """Which relay serves a tenant (one per tenant)."""

    __tablename__ = "relay_assignments"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    relay_id: Mapped[str] = mapped_column(ForeignKey("relays.id"), index=True)
    assigned_at: Mapped[dt.datetime]


class Camera(Base):
    """A camera known from a site's telemetry; admins may rename and label it."""

    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("site_id", "edge_name"),)
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    edge_name: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(128))
    labels: Mapped[list[Any]] = mapped_column(default=list)
    health: Mapped[str] = mapped_column(String(16), default="unknown")
    last_seen_at: Mapped[dt.datetime | None]
    details: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class Event(Base):
    """An event summary: what, where, when, how many — never pixels, boxes or raw scores.

    ``id`` is the edge's UUID (idempotent ingest); ``version`` the edge's version of it
    (an older version never overwrites a newer one). ``confidence`` is a bucket.
    """

    __tablename__ = "events"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    camera_id: Mapped[str | None] = mapped_column(ForeignKey("cameras.id"))
    source_kind: Mapped[str] = mapped_column(String(16))  # camera | device
    source_name: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(32))
    zone: Mapped[str | None] = mapped_column(String(64))
    dwell_s: Mapped[float | None]
    person_count: Mapped[int] = mapped_column(Integer, default=0)
    confidence: Mapped[str] = mapped_column(String(8))  # low | medium | high
    state: Mapped[str] = mapped_column(String(16), default="ended")  # active | ended
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)
    has_notes: Mapped[bool] = mapped_column(default=False)
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


Index("ix_events_tenant_started", Event.tenant_id, Event.started_at.desc(), Event.id.desc())
Index("ix_events_tenant_camera", Event.tenant_id, Event.camera_id, Event.started_at.desc())
Index("ix_events_tenant_site", Event.tenant_id, Event.site_id, Event.started_at.desc())
Index("ix_events_tenant_type", Event.tenant_id, Event.type, Event.started_at.desc())


class EventNote(Base):
    """An operator's note on an event (plan 000): items added/taken and a comment."""

    __tablename__ = "event_notes"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    added_items: Mapped[list[Any]] = mapped_column(default=list)  # [{"item", "quantity"}]
    took_items: Mapped[list[Any]] = mapped_column(default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    deleted_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)


class EventNoteHistory(Base):
    """Every change to a note: who, when, what it became."""

    __tablename__ = "event_note_history"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    note_id: Mapped[str] = mapped_column(Id, index=True)
    event_id: Mapped[str] = mapped_column(Id)
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete
    data: Mapped[dict[str, Any]]
    actor_id: Mapped[str] = mapped_column(Id)
    at: Mapped[dt.datetime]


class EventFeed(Base):
    """The live-update sequence: one row per event change, ``id`` is the SSE event id."""

    __tablename__ = "event_feed"
    # A client resumes from an id (Last-Event-ID): one must never be handed out twice, which
    # SQLite does without AUTOINCREMENT once the newest rows are deleted (migration 0006).
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    event_id: Mapped[str] = mapped_column(Id)
    kind: Mapped[str] = mapped_column(String(16))  # created | updated | note
    at: Mapped[dt.datetime]


Index("ix_event_feed_tenant_id", EventFeed.tenant_id, EventFeed.id)
