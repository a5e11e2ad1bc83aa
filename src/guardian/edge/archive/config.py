"""Settings of the edge's archive (``GUARDIAN_EDGE_ARCHIVE__…``); off by default."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from guardian.archive.blob import (
    DEFAULT_CHUNK_BYTES,
    MAX_CHUNK_BYTES,
    MAX_MEMORY_KIB,
    MAX_TIME_COST,
    MIN_CHUNK_BYTES,
    MIN_MEMORY_KIB,
    MIN_TIME_COST,
)


class EdgeArchiveSettings(BaseModel):
    """Which events' clips are sealed and archived at the relay, and how."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        False, description="Archive the clips of selected events (needs an archive secret)."
    )
    types: list[str] = Field(
        default_factory=list, description="Event types to archive; empty: every type."
    )
    cameras: list[str] = Field(
        default_factory=list, description="Cameras whose events are archived; empty: all."
    )
    zones: list[str] = Field(
        default_factory=list,
        description="Archive only events in one of these zones; empty: any zone or none.",
    )
    chunk_bytes: int = Field(
        DEFAULT_CHUNK_BYTES,
        ge=MIN_CHUNK_BYTES,
        le=MAX_CHUNK_BYTES,
        description="Plaintext bytes per sealed chunk.",
    )
    kdf_time_cost: int = Field(
        2, ge=MIN_TIME_COST, le=MAX_TIME_COST, description="Argon2id passes (t)."
    )
    kdf_memory_kib: int = Field(
        MIN_MEMORY_KIB,
        ge=MIN_MEMORY_KIB,
        le=MAX_MEMORY_KIB,
        description="Argon2id memory in KiB (m; at least 19 MiB).",
    )
    scan_seconds: float = Field(
        10.0, gt=0, description="How often new clips are looked for and archive jobs queued."
    )
    upload_timeout_seconds: float = Field(
        600.0, gt=0, description="Longest one blob upload to the relay may take."
    )
    quota_retry_seconds: float = Field(
        3600.0,
        gt=0,
        description="An upload refused for quota waits this long before it is tried again "
        "(the job is kept and no attempt is used up).",
    )
    max_attempts: int = Field(
        20, ge=1, description="Failed attempts (not quota refusals) before a job is dead."
    )
