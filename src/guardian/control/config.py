"""Control plane settings (environment prefix ``GUARDIAN_CONTROL_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import SettingsConfigDict

from guardian.common.db import sqlite_url
from guardian.common.settings import NESTED_DELIMITER, ServiceSettings


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthSettings(_Section):
    """Access tokens: the built-in issuer and/or an external OIDC issuer (e.g. Auth0)."""

    issuer: str = Field(
        "http://127.0.0.1:8720",
        description="`iss` of tokens the built-in issuer signs (the control plane's public URL).",
    )
    audience: str = Field(
        "guardian-control", description="`aud` the built-in issuer puts in its tokens."
    )
    access_token_seconds: int = Field(900, ge=30, le=86400, description="Access token lifetime.")
    refresh_token_seconds: int = Field(
        30 * 86400, ge=300, description="Refresh token lifetime (rotated on every use)."
    )
    builtin_enabled: bool = Field(True, description="Accept tokens of the built-in issuer.")
    oidc_issuer: str | None = Field(
        None,
        description="External OIDC issuer URL, e.g. https://TENANT.eu.auth0.com/ (trailing "
        "slash as the issuer writes it in `iss`).",
    )
    oidc_audience: str | None = Field(
        None, description="`aud` required in external tokens (the Auth0 API identifier)."
    )
    oidc_jwks_url: str | None = Field(
        None,
        description="JWKS of the external issuer; default <issuer>/.well-known/jwks.json.",
    )
    oidc_tenant_claim: str = Field(
        "https://guardian/tenant_id",
        description="Claim carrying the Guardian tenant id in external tokens.",
    )
    oidc_role_claim: str = Field(
        "https://guardian/role", description="Claim carrying the role (admin | viewer)."
    )
    jwks_cache_seconds: int = Field(
        600, ge=0, description="How long a fetched JWKS is trusted before it is fetched again."
    )
    leeway_seconds: int = Field(30, ge=0, le=300, description="Clock skew allowed on exp/nbf.")
    login_max_failures: int = Field(
        5, ge=1, description="Failed logins per account (and per address x 4) per window."
    )
    login_window_seconds: int = Field(900, ge=1, description="Login throttling window.")


class HttpSettings(_Section):
    """Browser-facing HTTP behaviour."""

    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (empty: none)."
    )
    rate_per_second: float = Field(
        20.0, gt=0, description="Sustained API requests per second per caller."
    )
    rate_burst: int = Field(60, gt=0, description="Burst of API requests per caller.")


class PlaybackSettings(_Section):
    """Clip and snapshot playback tokens (verified by the relay; docs/playback-tokens.md)."""

    token_seconds: int = Field(
        300,
        ge=10,
        le=3600,
        description="Lifetime of a playback token (the player asks for a new one when it "
        "expires); keep it below auth.access_token_seconds, for which a retired signing key "
        "stays published.",
    )


class ControlSettings(ServiceSettings):
    """Settings of the multi-tenant control plane."""

    model_config = SettingsConfigDict(
        env_prefix="GUARDIAN_CONTROL_",
        extra="forbid",
        env_nested_delimiter=NESTED_DELIMITER,
        validate_default=True,
    )

    data_dir: Path = Field(
        Path("guardian-data/control"),
        description="Folder for the embedded SQLite database and the master key.",
    )
    database_url: str | None = Field(
        None, description="PostgreSQL URL (production); default: SQLite in data_dir."
    )
    app_role: str = Field(
        "guardian_app",
        description="PostgreSQL role API sessions switch to (it must not own the tables, so "
        "row-level security applies).",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(8720, ge=0, le=65535, description="Port of the HTTP API.")
    grpc_port: int = Field(
        8721,
        ge=0,
        le=65535,
        description="Port of the relay link (gRPC ControlLink) on `host`; 0 turns it off.",
    )
    grpc_tls_cert_file: Path | None = Field(
        None,
        description="PEM certificate chain of the relay link's TLS server (with "
        "grpc_tls_key_file); unset: plaintext, for loopback only. Relays trust it through "
        "their system roots or GUARDIAN_RELAY_CONTROL_CA_FILE.",
    )
    grpc_tls_key_file: Path | None = Field(
        None, description="PEM private key of grpc_tls_cert_file (never logged)."
    )
    auth: AuthSettings = Field(default_factory=AuthSettings, description="Authentication.")
    http: HttpSettings = Field(default_factory=HttpSettings, description="CORS, rate limits.")
    playback: PlaybackSettings = Field(
        default_factory=PlaybackSettings, description="Clip and snapshot playback tokens."
    )

    @model_validator(mode="after")
    def _grpc_tls_pair(self) -> ControlSettings:
        if (self.grpc_tls_cert_file is None) != (self.grpc_tls_key_file is None):
            raise ValueError("set grpc_tls_cert_file and grpc_tls_key_file together")
        return self

    @property
    def master_key_path(self) -> Path:
        return self.data_dir / "master.key"

    def resolved_database_url(self) -> str:
        return self.database_url or sqlite_url(self.data_dir / "control.db")
