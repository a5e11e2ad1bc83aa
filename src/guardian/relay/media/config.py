"""Settings of clip and snapshot playback on the relay (``GUARDIAN_RELAY_MEDIA__…``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RelayMediaSettings(BaseModel):
    """Playback tokens, timeouts and the media cache."""

    model_config = ConfigDict(extra="forbid")

    jwks_url: str | None = Field(
        None,
        description="The control plane's JWKS (https://CONTROL/.well-known/jwks.json), whose "
        "keys sign playback tokens; none: media playback is off (503).",
    )
    issuer: str | None = Field(
        None, description="Required `iss` of playback tokens (the control plane's auth.issuer)."
    )
    jwks_cache_seconds: float = Field(
        600.0, ge=0, description="How long fetched signing keys are trusted before a refetch."
    )
    cache_seconds: float = Field(
        60.0,
        ge=0,
        description="Keep a fully fetched clip or snapshot on the relay's disk this long "
        "(seeking and replays do not ask the edge again); 0: never cache.",
    )
    first_byte_seconds: float = Field(
        10.0, gt=0, description="An edge that sends nothing this long after a request: 504."
    )
    stall_seconds: float = Field(
        15.0, gt=0, description="A transfer (edge or browser side) idle this long is dropped."
    )
    cors_origins: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Origins whose pages may read media responses (the control plane's UI); "
        "the token, not a cookie, authorises a request.",
    )

    @field_validator("jwks_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("jwks_url must start with http:// or https://")
        return value
