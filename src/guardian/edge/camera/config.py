"""A camera's configuration (pure): the registry's JSON, the API's body, the CLI's flags."""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from guardian.edge.track.zones import Zone

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
URL_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "file")

Point = Annotated[list[float], Field(min_length=2, max_length=2)]


def _check_polygon(polygon: list[list[float]], what: str) -> list[list[float]]:
    if len(polygon) < 3:
        raise ValueError(f"{what}: a polygon needs at least 3 points")
    for x, y in polygon:
        if not (math.isfinite(x) and math.isfinite(y) and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(
                f"{what}: point [{x}, {y}] is outside the frame; use fractions of its "
                "width and height, 0..1"
            )
    return polygon


def check_polygon(polygon: list[list[float]], what: str) -> list[list[float]]:
    """``polygon`` if it has 3+ points inside the frame (fractions 0..1), else ``ValueError``."""
    return _check_polygon(polygon, what)


def check_zone_names(zones: list[ZoneConfig]) -> list[ZoneConfig]:
    """``zones`` if their names are unique, else ``ValueError`` naming the duplicates."""
    names = [z.name for z in zones]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"zone names must be unique per camera: {', '.join(dupes)}")
    return zones


def validation_problems(exc: ValidationError) -> list[dict[str, str]]:
    """Each error of ``exc`` as ``{"field": "zones.0.polygon", "message": ...}``."""
    problems = []
    for err in exc.errors():
        message = str(err.get("msg", "invalid"))
        # pydantic prefixes errors raised in validators; the message alone reads better.
        message = message.removeprefix("Value error, ")
        problems.append({"field": ".".join(str(p) for p in err.get("loc", ())), "message": message})
    return problems


def describe_problems(problems: list[dict[str, str]]) -> str:
    """One line: ``field: message; field: message``."""
    return "; ".join(f"{p['field'] or 'config'}: {p['message']}" for p in problems)


def check_url(url: str) -> str:
    """``url`` if it is a stream URL Guardian can open, else ``ValueError`` saying why."""
    parts = urlsplit(url)
    if parts.scheme not in URL_SCHEMES:
        raise ValueError(f"unsupported URL scheme {parts.scheme!r}; use one of {URL_SCHEMES}")
    if parts.scheme == "file":
        if not parts.path:
            raise ValueError("a file:// URL needs a path, e.g. file:///videos/door.mp4")
    elif not parts.hostname:
        raise ValueError(f"{parts.scheme}:// URL needs a host")
    return url


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for output and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class ZoneConfig(BaseModel):
    """A named polygon of the frame; ``interaction`` zones count dwelling people."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="Zone name, unique per camera.")
    polygon: list[Point] = Field(
        description="Corners as [x, y] fractions of frame width and height.",
        examples=[[[0.1, 0.5], [0.6, 0.5], [0.6, 1.0], [0.1, 1.0]]],
    )
    interaction: bool = Field(
        False, description="Count a person staying min_dwell seconds as interaction_detected."
    )
    min_dwell: float = Field(2.0, ge=0.0, le=3600.0, description="Seconds of dwell needed.")

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, value: list[list[float]]) -> list[list[float]]:
        return _check_polygon(value, "zone polygon")

    def to_zone(self) -> Zone:
        return Zone(
            self.name,
            tuple((p[0], p[1]) for p in self.polygon),
            interaction=self.interaction,
            min_dwell=self.min_dwell,
        )


class RetentionConfig(BaseModel):
    """How long this camera's media is kept."""

    model_config = ConfigDict(extra="forbid")

    segments_days: float = Field(
        1.0, gt=0.0, description="Keep recorded segments (footage without events) this long."
    )
    events_days: float = Field(7.0, gt=0.0, description="Keep event clips and snapshots this long.")


class CameraSettingsFields(BaseModel):
    """Every camera setting but its name; all optional in a PATCH."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        description="Main stream: rtsp://… or file:///…/video.mp4 (a file loops like a camera).",
        examples=["rtsp://user:pass@192.168.1.20:554/stream1"],
    )
    detect_url: str | None = Field(None, description="Lower-resolution stream for detection.")
    record_url: str | None = Field(None, description="Stream to record, if not the main one.")
    detect_fps: float = Field(5.0, gt=0.0, le=30.0, description="Frames per second detected.")
    zones: list[ZoneConfig] = Field(default_factory=list, description="Zones of the frame.")
    masks: list[list[Point]] = Field(
        default_factory=list,
        description="Polygons (frame fractions) where detections are ignored (by their feet).",
    )
    enabled: bool = Field(True, description="Run this camera.")
    record: bool = Field(True, description="Record the stream into segments.")
    segment_seconds: float = Field(10.0, ge=2.0, le=600.0, description="Segment length.")
    pre_roll_s: float = Field(5.0, ge=0.0, le=120.0, description="Clip seconds before an event.")
    post_roll_s: float = Field(5.0, ge=0.0, le=120.0, description="Clip seconds after an event.")
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description="Retention of this camera's media."
    )

    @field_validator("url", "detect_url", "record_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("masks")
    @classmethod
    def _masks(cls, value: list[list[list[float]]]) -> list[list[list[float]]]:
        return [_check_polygon(m, "mask polygon") for m in value]

    @model_validator(mode="after")
    def _unique_zones(self) -> CameraSettingsFields:
        check_zone_names(self.zones)
        return self


class CameraConfig(CameraSettingsFields):
    """A camera as registered: its name plus its settings."""

    name: str = Field(pattern=NAME_PATTERN, description="Camera name.", examples=["front"])

    @property
    def detect_source(self) -> str:
        return self.detect_url or self.url

    @property
    def record_source(self) -> str:
        return self.record_url or self.url

    def stored(self) -> dict[str, Any]:
        """The registry's JSON (everything but the name)."""
        return self.model_dump(mode="json", exclude={"name"})

    @classmethod
    def from_stored(cls, name: str, config: dict[str, Any]) -> CameraConfig:
        return cls.model_validate({**config, "name": name})

    def patched(self, changes: dict[str, Any]) -> CameraConfig:
        """A new config with ``changes`` (a PATCH body) applied and validated."""
        if "name" in changes and changes["name"] != self.name:
            raise ValueError("a camera cannot be renamed; remove it and add it again")
        merged = {**self.model_dump(mode="json"), **changes}
        return CameraConfig.model_validate(merged)
