"""API schemas of sites, relays, cameras, telemetry and plans (separate from the tables)."""

from __future__ import annotations

import datetime as dt
import typing
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from guardian.control.tenancy.health import Health

_SITE_ID = "7f1c2a4e-3b9d-4c1e-8a55-0d2f6e9b1a37"
_CAMERA_ID = "0b6f4d2a-91c3-4e8b-b7a1-5c3e2d9f8a10"
_SEEN = "2025-01-31T09:30:00Z"

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
# A count or byte size the edge reported: a JSON integer that fits a signed 64-bit column.
Count = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]

# The edge's figures a site's telemetry may carry, stored in columns of the same names.
EdgeFigure = Literal[
    "disk_free_bytes", "disk_total_bytes", "queue_depth", "dead_jobs", "outbox_depth"
]
EDGE_FIGURES: tuple[EdgeFigure, ...] = typing.get_args(EdgeFigure)
_FIGURE_DOCS: dict[EdgeFigure, str] = {
    "disk_free_bytes": "Free bytes on the edge's data volume.",
    "disk_total_bytes": "Size of the edge's data volume, bytes.",
    "queue_depth": "Capture (detection) jobs waiting at the edge.",
    "dead_jobs": "Capture jobs that gave up at the edge.",
    "outbox_depth": "Event rows at the edge waiting for the relay's ack.",
}


class SiteOut(BaseModel):
    """A site (one edge appliance) and its health as last reported."""

    id: str = Field(examples=[_SITE_ID])
    name: str = Field(examples=["Main street shop"])
    health: Health = Field(
        examples=["healthy"],
        description="healthy | degraded | offline (also when not seen for 5 minutes) | "
        "unknown (never seen)",
    )
    last_seen_at: dt.datetime | None = Field(examples=[_SEEN])
    enrolled_at: dt.datetime | None = Field(examples=[None])
    created_at: dt.datetime = Field(examples=["2025-01-30T12:00:00Z"])
    details: dict[str, Any] = Field(
        examples=[{"version": "0.4.0"}], description="Summary of the site's last telemetry."
    )
    disk_free_bytes: int | None = Field(
        examples=[412_000_000_000],
        description=_FIGURE_DOCS["disk_free_bytes"] + " Null: not reported.",
    )
    disk_total_bytes: int | None = Field(
        examples=[500_000_000_000],
        description=_FIGURE_DOCS["disk_total_bytes"] + " Null: not reported.",
    )
    queue_depth: int | None = Field(
        examples=[3], description=_FIGURE_DOCS["queue_depth"] + " Null: not reported."
    )
    dead_jobs: int | None = Field(
        examples=[0], description=_FIGURE_DOCS["dead_jobs"] + " Null: not reported."
    )
    outbox_depth: int | None = Field(
        examples=[0], description=_FIGURE_DOCS["outbox_depth"] + " Null: not reported."
    )


class SiteList(BaseModel):
    """The caller's tenant's sites, by name."""

    sites: list[SiteOut]


class SiteIn(BaseModel):
    """A new site."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Shop"}]})

    name: Name = Field(description="What people call the site.")


class SitePatch(BaseModel):
    """Changes to a site."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Shop"}]})

    name: Name = Field(description="The new name.")


class BootstrapTokenOut(BaseModel):
    """A single-use token to enrol the site's appliance (shown once)."""

    bootstrap_token: str = Field(examples=["gbt_Vd2…"])
    bootstrap_expires_at: dt.datetime = Field(examples=["2025-02-01T12:00:00Z"])


class SiteCreated(BootstrapTokenOut):
    """The new site and its first bootstrap token."""

    site: SiteOut


class RelayOut(BaseModel):
    """The relay serving the caller's tenant."""

    id: str = Field(examples=["c2d5b1e0-8a7f-4e3b-9d61-2f4a0c9e7b58"])
    name: str = Field(examples=["eu-1"])
    url: str = Field(examples=["https://relay-eu-1.example.com"])
    health: Health = Field(examples=["healthy"])
    last_seen_at: dt.datetime | None = Field(examples=[_SEEN])
    assigned_at: dt.datetime = Field(examples=["2025-01-30T12:00:00Z"])


class RelayList(BaseModel):
    """The tenant's relay (a tenant has at most one)."""

    relays: list[RelayOut]


class CameraOut(BaseModel):
    """A camera known from a site's telemetry or events."""

    id: str = Field(examples=[_CAMERA_ID])
    site_id: str = Field(examples=[_SITE_ID])
    name: str = Field(examples=["Front door"], description="display_name, else edge_name.")
    edge_name: str = Field(examples=["front"], description="The site's name for the camera.")
    display_name: str | None = Field(examples=["Front door"])
    labels: list[str] = Field(examples=[["entrance"]])
    health: Health = Field(examples=["healthy"])
    last_seen_at: dt.datetime | None = Field(examples=[_SEEN])
    details: dict[str, Any] = Field(
        examples=[{"state": "online", "input_fps": 25.0, "detect_fps": 5.0}],
        description="Summary of the camera's last telemetry.",
    )
    created_at: dt.datetime = Field(examples=["2025-01-30T12:00:00Z"])
    updated_at: dt.datetime = Field(examples=["2025-01-30T12:00:00Z"])


class CameraList(BaseModel):
    """The caller's tenant's cameras, by site and name."""

    cameras: list[CameraOut]


class CameraPatch(BaseModel):
    """Changes to a camera; omitted fields stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"display_name": "Front door", "labels": ["entrance"]}]},
    )

    display_name: Name | None = Field(
        None, description="Shown instead of the edge name; null clears it."
    )
    labels: list[Label] | None = Field(None, max_length=16, description="Short tags.")


class SiteTelemetry(BaseModel):
    """A site's own state in a telemetry report: health, version and the edge's figures (each
    optional; a report without one clears it). Extra scalar fields are kept as details."""

    model_config = ConfigDict(extra="allow")

    health: Literal["healthy", "degraded", "offline"]
    version: str | None = Field(None, max_length=64)
    disk_free_bytes: Count | None = Field(None, description=_FIGURE_DOCS["disk_free_bytes"])
    disk_total_bytes: Count | None = Field(None, description=_FIGURE_DOCS["disk_total_bytes"])
    queue_depth: Count | None = Field(None, description=_FIGURE_DOCS["queue_depth"])
    dead_jobs: Count | None = Field(None, description=_FIGURE_DOCS["dead_jobs"])
    outbox_depth: Count | None = Field(None, description=_FIGURE_DOCS["outbox_depth"])

    @model_validator(mode="after")
    def _free_within_total(self) -> SiteTelemetry:
        free, total = self.disk_free_bytes, self.disk_total_bytes
        if free is not None and total is not None and free > total:
            raise ValueError("disk_free_bytes exceeds disk_total_bytes")
        return self

    def figures(self) -> dict[str, int | None]:
        """The edge's figures by name (``EDGE_FIGURES``), ``None`` when not reported."""
        return {name: getattr(self, name) for name in EDGE_FIGURES}


class CameraTelemetry(BaseModel):
    """One camera's state in a telemetry report (summaries only)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=64)
    state: str = Field(max_length=32, description="online | offline | error | …")
    input_fps: float | None = None
    detect_fps: float | None = None
    recording: bool | str | None = None


class TelemetryIn(BaseModel):
    """A relay's report of one site's health and its cameras."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "5e0a7c9b-2d41-4f8e-a3b6-9c1d7e2f4a80",
                    "site_id": _SITE_ID,
                    "at": _SEEN,
                    "site": {
                        "health": "healthy",
                        "version": "0.4.0",
                        "disk_free_bytes": 412_000_000_000,
                        "disk_total_bytes": 500_000_000_000,
                        "queue_depth": 3,
                        "dead_jobs": 0,
                        "outbox_depth": 0,
                    },
                    "cameras": [
                        {
                            "name": "front",
                            "state": "online",
                            "input_fps": 25.0,
                            "detect_fps": 5.0,
                            "recording": "recording",
                        }
                    ],
                }
            ]
        }
    )

    tenant_id: str = Field(max_length=36)
    site_id: str = Field(max_length=36)
    at: AwareDatetime
    site: SiteTelemetry
    cameras: list[CameraTelemetry] = Field(default_factory=list, max_length=256)


class TelemetryOut(BaseModel):
    """The site's stored health and how many cameras were updated."""

    site: Health = Field(examples=["healthy"])
    cameras: int = Field(examples=[1])


class PlanQuotas(BaseModel):
    """Limits of the plan (null: unlimited; for retention: events are kept)."""

    cameras: int | None = Field(examples=[8])
    sites: int | None = Field(examples=[2])
    event_retention_days: int | None = Field(examples=[None])
    archive_bytes: int | None = Field(examples=[1073741824])


class PlanUsage(BaseModel):
    """What the tenant uses now."""

    cameras: int = Field(examples=[3])
    sites: int = Field(examples=[1])
    archive_bytes: int = Field(
        default=0, examples=[52428800], description="Bytes of sealed archives at the relay."
    )


class PlanOut(BaseModel):
    """The tenant's plan, its quotas and the current usage."""

    name: str = Field(examples=["free"])
    quotas: PlanQuotas
    usage: PlanUsage
