"""Camera API wire formats (pure): the body of POST and PATCH, a camera with its status."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo

from guardian.edge.camera.config import (
    CameraConfig,
    CameraSettingsFields,
    Point,
    RetentionConfig,
    ZoneConfig,
    check_polygon,
    check_url,
    check_zone_names,
    redact_url,
)
from guardian.edge.store.tables import Camera, CameraStatus

# A status row not refreshed for this long means the edge (or the camera's pipeline) stopped.
STALE_AFTER_S = 30.0
STALE_ERROR = "edge not running or camera stalled"

CameraIn = CameraConfig


def _optional(name: str) -> Any:
    """``name``'s field of ``CameraSettingsFields`` (description, bounds) defaulting to None."""
    info: FieldInfo = copy.copy(CameraSettingsFields.model_fields[name])
    info.default, info.default_factory = None, None
    return info


class CameraPatch(BaseModel):
    """A partial update: only the settings given change; the name cannot."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = _optional("url")
    detect_url: str | None = _optional("detect_url")
    record_url: str | None = _optional("record_url")
    detect_fps: float | None = _optional("detect_fps")
    zones: list[ZoneConfig] | None = _optional("zones")
    masks: list[list[Point]] | None = _optional("masks")
    enabled: bool | None = _optional("enabled")
    record: bool | None = _optional("record")
    segment_seconds: float | None = _optional("segment_seconds")
    pre_roll_s: float | None = _optional("pre_roll_s")
    post_roll_s: float | None = _optional("post_roll_s")
    retention: RetentionConfig | None = _optional("retention")

    @field_validator("url", "detect_url", "record_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("zones")
    @classmethod
    def _zones(cls, value: list[ZoneConfig] | None) -> list[ZoneConfig] | None:
        return None if value is None else check_zone_names(value)

    @field_validator("masks")
    @classmethod
    def _masks(cls, value: list[list[list[float]]] | None) -> list[list[list[float]]] | None:
        return None if value is None else [check_polygon(m, "mask polygon") for m in value]

    def changes(self) -> dict[str, Any]:
        """The settings the client sent (explicit nulls included), as JSON values."""
        return self.model_dump(mode="json", exclude_unset=True)


class CameraStatusOut(BaseModel):
    """What the running edge last reported for the camera."""

    state: str = Field(
        examples=["online"],
        description="starting | online | offline | error | disabled | unknown (no report yet)",
    )
    decoder: str | None = Field(None, examples=["software"], description="vaapi | software")
    codec: str | None = Field(None, examples=["h264"])
    width: int | None = Field(None, examples=[1920])
    height: int | None = Field(None, examples=[1080])
    input_fps: float | None = Field(None, examples=[25.0])
    detect_fps: float | None = Field(None, examples=[5.0])
    skipped_by_motion: float | None = Field(
        None, examples=[0.8], description="Fraction of sampled frames the motion gate skipped."
    )
    detector_latency_ms: float | None = Field(None, examples=[38.5])
    last_frame_at: dt.datetime | None = None
    last_error: str | None = None
    reconnects: int = Field(0, examples=[0])
    recording: str | None = Field(
        None, examples=["recording"], description="recording | paused_disk | off | idle"
    )
    storage_bytes: int = Field(0, description="Bytes of this camera's media on disk.")
    updated_at: dt.datetime | None = Field(None, description="When the edge last reported.")


class CameraOut(CameraConfig):
    """A registered camera: its config (passwords redacted), version, times and status."""

    version: int = Field(examples=[1], description="Bumped by every change of the config.")
    created_at: dt.datetime
    updated_at: dt.datetime
    status: CameraStatusOut


class BoxStatus(BaseModel):
    """The edge box's load, measured now."""

    cpu_percent: float = Field(examples=[23.5], description="System-wide CPU use.")
    memory_total_bytes: int
    memory_used_bytes: int
    process_rss_bytes: int = Field(description="Resident memory of the edge API process.")
    disk_total_bytes: int = Field(description="Size of the media folder's file system.")
    disk_free_bytes: int = Field(description="Free bytes of the media folder's file system.")
    detector_queue: int | None = Field(
        examples=[0], description="Frames waiting for the detector; null when no camera runs."
    )


class CameraList(BaseModel):
    """Every camera, by name, and the box's load."""

    cameras: list[CameraOut]
    box: BoxStatus


def status_out(status: CameraStatus | None, *, enabled: bool, now: dt.datetime) -> CameraStatusOut:
    """The status to report: ``disabled``, ``unknown`` (no row), stale → ``offline``, or the row."""
    if status is None:
        return CameraStatusOut(state="disabled" if not enabled else "unknown")
    out = CameraStatusOut(
        state=status.state,
        decoder=status.decoder,
        codec=status.codec,
        width=status.width,
        height=status.height,
        input_fps=status.input_fps,
        detect_fps=status.detect_fps,
        skipped_by_motion=status.skipped_by_motion,
        detector_latency_ms=status.detector_latency_ms,
        last_frame_at=status.last_frame_at,
        last_error=status.last_error,
        reconnects=status.reconnects,
        recording=status.recording,
        storage_bytes=status.storage_bytes,
        updated_at=status.updated_at,
    )
    if not enabled:
        return out.model_copy(update={"state": "disabled"})
    if (now - status.updated_at).total_seconds() > STALE_AFTER_S:
        return out.model_copy(update={"state": "offline", "last_error": STALE_ERROR})
    return out


def camera_out(camera: Camera, status: CameraStatus | None, now: dt.datetime) -> CameraOut:
    """A registry row and its status row as the API shows them (URL passwords redacted)."""
    config = CameraConfig.from_stored(camera.name, camera.config)
    data = config.model_dump()
    for key in ("url", "detect_url", "record_url"):
        if data[key] is not None:
            data[key] = redact_url(data[key])
    return CameraOut(
        **data,
        version=camera.version,
        created_at=camera.created_at,
        updated_at=camera.updated_at,
        status=status_out(status, enabled=config.enabled, now=now),
    )
