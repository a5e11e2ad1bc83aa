"""Edge service settings (environment prefix ``GUARDIAN_EDGE_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from guardian.common.db import sqlite_url
from guardian.common.settings import NESTED_DELIMITER, ServiceSettings
from guardian.edge.archive.config import EdgeArchiveSettings
from guardian.edge.detect.config import DetectorSettings
from guardian.edge.mqtt.config import MqttSettings


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaptureSettings(_Section):
    """Limits on images pushed by capture devices."""

    max_bytes: int = Field(10 * 1024 * 1024, gt=0, description="Largest accepted upload (bytes).")
    max_pixels: int = Field(
        40_000_000, gt=0, description="Largest accepted image (width x height pixels)."
    )
    min_free_bytes: int = Field(
        512 * 1024 * 1024,
        ge=0,
        description="Refuse uploads (507) when the media disk has less free space than this.",
    )
    rate_per_second: float = Field(
        10.0, gt=0, description="Sustained requests per second allowed per device."
    )
    rate_burst: int = Field(20, gt=0, description="Burst of requests allowed per device.")


class QueueSettings(_Section):
    """The leased job queue and its workers."""

    workers: int = Field(
        2,
        ge=0,
        description="Worker threads started by `guardian edge run` (two overlap decoding and "
        "database work with inference).",
    )
    max_attempts: int = Field(5, ge=1, description="Attempts before a job is dead.")
    lease_seconds: float = Field(
        30.0, gt=0, description="A running job whose heartbeat is older than this is rescued."
    )
    heartbeat_seconds: float = Field(5.0, gt=0, description="How often a worker heartbeats.")
    backoff_base_seconds: float = Field(2.0, gt=0, description="First retry delay.")
    backoff_max_seconds: float = Field(300.0, gt=0, description="Cap of the retry delay.")
    poll_seconds: float = Field(0.5, gt=0, description="Idle worker poll interval.")


class EventSettings(_Section):
    """How detections become events."""

    person_threshold: float = Field(
        0.4,
        ge=0.0,
        le=1.0,
        description="Minimum person score for a capture to count (the default SSD model scores "
        "clearly visible people 0.44-0.75).",
    )
    merge_window_seconds: float = Field(
        10.0,
        ge=0.0,
        description="Captures of one device within this many seconds join one event.",
    )


class RetentionSettings(_Section):
    """Media retention and the cleanup job."""

    capture_days: float = Field(30.0, gt=0, description="Keep capture files this many days.")
    max_delete_fraction: float = Field(
        0.25,
        gt=0.0,
        le=1.0,
        description="Refuse a cleanup that would delete more than this fraction of files "
        "(unless forced).",
    )
    interval_seconds: float = Field(
        3600.0, ge=0.0, description="How often the running edge cleans up (0: never)."
    )
    orphan_grace_seconds: float = Field(
        300.0,
        ge=0.0,
        description="Files without a row younger than this are left alone (uploads in flight).",
    )


class CameraSettings(_Section):
    """The camera pipeline: status, detection frames, recording and its disk guard."""

    enabled: bool = Field(
        True, description="Run the cameras of the registry (`guardian edge camera add`)."
    )
    poll_seconds: float = Field(
        1.0, gt=0, description="How often the running edge looks for camera config changes."
    )
    status_seconds: float = Field(
        2.0, gt=0, description="How often each camera's live status is written to the store."
    )
    detect_max_width: int = Field(
        1280,
        ge=160,
        description="Frames wider than this are scaled down before detection and snapshots.",
    )
    open_timeout_seconds: float = Field(10.0, gt=0, description="Stream connect timeout.")
    read_timeout_seconds: float = Field(
        10.0, gt=0, description="A stream silent this long counts as lost and is reconnected."
    )
    reconnect_max_seconds: float = Field(
        30.0, gt=0, description="Cap of the reconnect backoff (it starts at 1 s)."
    )
    person_threshold: float = Field(
        0.4,
        ge=0.0,
        le=1.0,
        description="Least person score a camera detection must have (the default SSD model "
        "scores the pedestrians of a street camera 0.35-0.6).",
    )
    vehicle_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Least vehicle score a camera detection must have."
    )
    min_track_seconds: float = Field(
        0.5, ge=0.0, description="A track must live this long before it becomes an event."
    )
    high_water_fraction: float = Field(
        0.90,
        gt=0.0,
        le=1.0,
        description="When the media disk is fuller than this, the oldest footage is deleted "
        "first (until 5 points below).",
    )
    critical_free_bytes: int = Field(
        1024**3,
        ge=0,
        description="Below this much free disk, recording pauses (detection and events go "
        "on); it resumes with 20% headroom.",
    )
    retention_interval_seconds: float = Field(
        60.0, gt=0, description="How often recording retention and the disk guard run."
    )
    clip_settle_seconds: float = Field(
        2.0,
        ge=0,
        description="Extra wait after an event's post-roll before its clip is assembled.",
    )


class LinkSettings(_Section):
    """The link to the relay (runs once the edge is enrolled with `guardian edge enroll`)."""

    enabled: bool = Field(
        True, description="Keep the link to the relay open while the edge runs (when enrolled)."
    )
    relay: str | None = Field(
        None,
        description="Relay link address HOST:PORT; default: the one `guardian edge enroll` "
        "stored in <data_dir>/link/link.json.",
    )
    batch_size: int = Field(
        200, ge=1, le=1000, description="Most outbox rows sent in one EventBatch."
    )
    telemetry_seconds: float = Field(
        10.0, gt=0, description="How often box, camera and outbox telemetry is sent."
    )
    outbox_warn_rows: int = Field(
        100_000, ge=1, description="Log a warning while the outbox holds more rows than this."
    )
    reconnect_max_seconds: float = Field(
        30.0, ge=1.0, description="Cap of the jittered reconnect backoff (it starts at 1 s)."
    )


class EdgeSettings(ServiceSettings):
    """Settings of the edge appliance service."""

    model_config = SettingsConfigDict(
        env_prefix="GUARDIAN_EDGE_",
        extra="forbid",
        env_nested_delimiter=NESTED_DELIMITER,
        validate_default=True,
    )

    data_dir: Path = Field(
        Path("guardian-data/edge"),
        description="Folder for the edge's SQLite database, master key and media.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy/PostgreSQL URL of the edge store; default: SQLite in data_dir.",
    )
    host: str = Field("127.0.0.1", description="Address the local HTTP API listens on.")
    port: int = Field(8710, ge=0, le=65535, description="Port of the local HTTP API.")
    detector: DetectorSettings = Field(
        default_factory=DetectorSettings, description="Object detector settings."
    )
    capture: CaptureSettings = Field(
        default_factory=CaptureSettings, description="Capture ingest limits."
    )
    queue: QueueSettings = Field(default_factory=QueueSettings, description="Job queue.")
    events: EventSettings = Field(default_factory=EventSettings, description="Event rules.")
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="Media retention and cleanup."
    )
    cameras: CameraSettings = Field(
        default_factory=CameraSettings, description="Camera pipeline and recording."
    )
    link: LinkSettings = Field(default_factory=LinkSettings, description="The link to the relay.")
    mqtt: MqttSettings = Field(
        default_factory=MqttSettings, description="MQTT / Home Assistant publishing (off)."
    )
    archive: EdgeArchiveSettings = Field(
        default_factory=EdgeArchiveSettings, description="The encrypted archive (off by default)."
    )

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def master_key_path(self) -> Path:
        return self.data_dir / "master.key"

    def resolved_database_url(self) -> str:
        """The configured URL, or the SQLite file in the data dir."""
        return self.database_url or sqlite_url(self.data_dir / "edge.db")
