"""Edge tables: devices, captures, jobs, events, outbox, admin tokens, cameras and their media."""

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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class Device(Base):
    """A registered capture device (Raspberry Pi). Its key is sealed, never stored plain."""

    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    last_seen_at: Mapped[dt.datetime | None]


class Capture(Base):
    """One still image a device sent; unique per (device, device_seq)."""

    __tablename__ = "captures"
    __table_args__ = (UniqueConstraint("device_id", "device_seq"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    device_seq: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    captured_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime]
    storage_uri: Mapped[str] = mapped_column(Text)
    # stored -> processed | failed
    status: Mapped[str] = mapped_column(String(16), default="stored")
    processed_at: Mapped[dt.datetime | None]
    person_count: Mapped[int | None]
    detections: Mapped[dict[str, Any] | None]
    # present | pruned (retention) | missing (file vanished)
    file_state: Mapped[str] = mapped_column(String(16), default="present")
    file_state_at: Mapped[dt.datetime | None]


Index("ix_captures_device_captured", Capture.device_id, Capture.captured_at)
Index("ix_captures_received", Capture.received_at)


class Job(Base):
    """A leased unit of work; ``fair_key`` spreads claims across devices."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    fair_key: Mapped[str] = mapped_column(String(64))
    ref_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any] | None]
    # queued -> running -> done | queued (retry) | dead
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[dt.datetime]
    locked_by: Mapped[str | None] = mapped_column(String(128))
    locked_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]


Index("ix_jobs_claim", Job.state, Job.run_after)
Index("ix_jobs_ref", Job.kind, Job.ref_id, unique=True)


class Event(Base):
    """An event (e.g. ``interaction_detected``); rows are kept indefinitely."""

    __tablename__ = "events"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    source_kind: Mapped[str] = mapped_column(String(16))  # device | camera
    source_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime]
    person_count: Mapped[int]
    best_score: Mapped[float]
    details: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)


Index("ix_events_started", Event.started_at, Event.id)
Index("ix_events_source", Event.source_kind, Event.source_id, Event.ended_at)


class EventCapture(Base):
    """Which captures make an event (a capture belongs to at most one event)."""

    __tablename__ = "event_captures"
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), primary_key=True)
    capture_id: Mapped[str] = mapped_column(
        ForeignKey("captures.id"), primary_key=True, unique=True
    )


class Outbox(Base):
    """Messages for the relay, written in the same transaction as their event."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime]


class AdminToken(Base):
    """A bearer token for the local admin/read API; only its SHA-256 is stored."""

    __tablename__ = "admin_tokens"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class Camera(Base):
    """A camera's configuration (``CameraConfig`` as JSON, without its name)."""

    __tablename__ = "cameras"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    config: Mapped[dict[str, Any]]
    enabled: Mapped[bool]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)


class CameraStatus(Base):
    """A camera's live status, written by the running edge every few seconds."""

    __tablename__ = "camera_status"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # starting | online | offline | error | disabled
    state: Mapped[str] = mapped_column(String(16))
    decoder: Mapped[str | None] = mapped_column(String(32))  # vaapi | software
    codec: Mapped[str | None] = mapped_column(String(32))
    width: Mapped[int | None]
    height: Mapped[int | None]
    input_fps: Mapped[float | None]
    detect_fps: Mapped[float | None]
    skipped_by_motion: Mapped[float | None]  # fraction of sampled frames the motion gate skipped
    detector_latency_ms: Mapped[float | None]
    last_frame_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    reconnects: Mapped[int] = mapped_column(Integer, default=0)
    # recording | paused_disk | off | idle
    recording: Mapped[str] = mapped_column(String(16), default="idle")
    storage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    stats: Mapped[dict[str, Any] | None]
    updated_at: Mapped[dt.datetime]


class Recording(Base):
    """One fixed-length MP4 segment of a camera's stream (remuxed, never re-encoded)."""

    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text, unique=True)  # relative to the media folder
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime]
    duration_s: Mapped[float]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    codec: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    # present | pruned (retention) | missing (file vanished)
    state: Mapped[str] = mapped_column(String(16), default="present")
    state_at: Mapped[dt.datetime | None]


Index("ix_recordings_camera_started", Recording.camera, Recording.started_at)
Index("ix_recordings_state_started", Recording.state, Recording.started_at)


class EventMedia(Base):
    """A camera event's snapshot, thumbnail or clip, and where it is in its life."""

    __tablename__ = "event_media"
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # snapshot | thumbnail | clip
    camera: Mapped[str] = mapped_column(String(64))
    # pending -> present | failed; present -> pruned (retention) | missing
    state: Mapped[str] = mapped_column(String(16))
    path: Mapped[str | None] = mapped_column(Text)  # relative to the media folder
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    meta: Mapped[dict[str, Any] | None]
    due_at: Mapped[dt.datetime | None]  # clips: when the post-roll has been recorded
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


Index("ix_event_media_state_due", EventMedia.state, EventMedia.due_at)
Index("ix_event_media_expires", EventMedia.expires_at)
