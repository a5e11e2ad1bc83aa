"""Relay service settings (environment prefix ``GUARDIAN_RELAY_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from guardian.common.db import sqlite_url
from guardian.common.settings import NESTED_DELIMITER, ServiceSettings
from guardian.relay.archive.config import RelayArchiveSettings
from guardian.relay.media.config import RelayMediaSettings


class RelaySettings(ServiceSettings):
    """Settings of the per-tenant relay node."""

    model_config = SettingsConfigDict(
        env_prefix="GUARDIAN_RELAY_",
        extra="forbid",
        env_nested_delimiter=NESTED_DELIMITER,
        validate_default=True,
    )

    data_dir: Path = Field(
        Path("guardian-data/relay"),
        description="Folder for the relay's SQLite database and its certificate authority.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy/PostgreSQL URL of the relay store; default: SQLite in data_dir.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP API and the gRPC link listen on.")
    http_port: int = Field(8730, ge=0, le=65535, description="Port of the relay's HTTP API.")
    link_port: int = Field(
        8731,
        ge=0,
        le=65535,
        description="Port of the gRPC link edges enrol at (and edges enrolled before "
        "link_direct_port existed link through): TLS, the client certificate optional.",
    )
    link_direct_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Port of the direct edge link: EdgeLink only, on grpcio's own mutual TLS "
        "with the client certificate required and no TLS proxy in between (the fast path for "
        "event streams and clip uploads). Edges learn it at enrolment and fall back to "
        "link_port while it is unreachable. Default: link_port + 1, or any free port when "
        "that one is taken or link_port is 0.",
    )
    control_url: str | None = Field(
        None,
        description="Base URL of the control plane, e.g. https://control.example.com; "
        "none: nothing is forwarded (events wait in the forward queue).",
    )
    control_token: str | None = Field(
        None,
        description="The relay credential printed by `guardian control relay add` "
        "(sent as a bearer token to the control plane; never logged).",
        repr=False,
    )
    control_ca_file: Path | None = Field(
        None,
        description="PEM CA certificate(s) to verify the control plane's TLS certificate "
        "(https:// control_url); unset: the system roots.",
    )
    cache_days: float = Field(
        7.0, gt=0, description="Keep the full detail of received events this many days."
    )
    forward_batch: int = Field(
        500, ge=1, le=500, description="Most event summaries sent to the control plane at once."
    )
    forward_retry_max_seconds: float = Field(
        30.0, gt=0, description="Cap of the jittered backoff between forwarding retries."
    )
    heartbeat_seconds: float = Field(
        5.0, gt=0, description="How often the link sends a heartbeat on an idle stream."
    )
    dead_link_seconds: float = Field(
        15.0, gt=0, description="A link silent (no message, no heartbeat) this long is dead."
    )
    archive: RelayArchiveSettings = Field(
        default_factory=RelayArchiveSettings, description="The encrypted archive's blob store."
    )
    media: RelayMediaSettings = Field(
        default_factory=RelayMediaSettings,
        description="Clip and snapshot playback: token keys, timeouts, the media cache.",
    )

    @field_validator("control_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("control_url must start with http:// or https://")
        return None if value is None else value.rstrip("/")

    @model_validator(mode="after")
    def _dead_link_after_heartbeats(self) -> RelaySettings:
        if self.dead_link_seconds <= self.heartbeat_seconds:
            raise ValueError("dead_link_seconds must exceed heartbeat_seconds")
        return self

    @model_validator(mode="after")
    def _two_link_ports(self) -> RelaySettings:
        direct = self.resolved_link_direct_port()
        if direct > 65535:
            raise ValueError("link_port is 65535: set link_direct_port")
        if self.link_port and direct == self.link_port:
            raise ValueError("link_direct_port must differ from link_port")
        return self

    def resolved_link_direct_port(self) -> int:
        """``link_direct_port``, or the default: ``link_port + 1`` (0 when ``link_port`` is 0)."""
        if self.link_direct_port is not None:
            return self.link_direct_port
        return self.link_port + 1 if self.link_port else 0

    def resolved_database_url(self) -> str:
        """The configured URL, or the SQLite file in the data dir."""
        return self.database_url or sqlite_url(self.data_dir / "relay.db")
