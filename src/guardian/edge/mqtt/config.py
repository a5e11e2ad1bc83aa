"""Settings of the edge's optional MQTT publishing (``GUARDIAN_EDGE_MQTT__…``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class MqttSettings(BaseModel):
    """Events, camera state and Home Assistant discovery over MQTT (off by default)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="Publish to an MQTT broker while the edge runs.")
    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 is usual with TLS).")
    tls: bool = Field(False, description="Connect with TLS (the system's CAs unless ca_file).")
    ca_file: Path | None = Field(None, description="CA certificate (PEM) to verify the broker.")
    username: str | None = Field(None, description="Broker user name.")
    password: SecretStr | None = Field(None, description="Broker password.")
    client_id: str | None = Field(
        None, description="MQTT client id; default: guardian-edge-<node_id>."
    )
    topic_prefix: str = Field(
        "guardian",
        min_length=1,
        pattern=r"^[^#+]+$",
        description="First level of every Guardian topic (no wildcards).",
    )
    node_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="This edge's id in topics and Home Assistant; default: the host name.",
    )
    discovery: bool = Field(True, description="Publish Home Assistant MQTT discovery configs.")
    discovery_prefix: str = Field(
        "homeassistant",
        min_length=1,
        pattern=r"^[^#+]+$",
        description="Home Assistant's discovery prefix.",
    )
    qos: int = Field(1, ge=0, le=2, description="QoS of every message.")
    keepalive_seconds: int = Field(
        30, ge=5, le=3600, description="MQTT keepalive; the broker sends the last will after "
        "1.5 times this without a word from the edge.",
    )  # fmt: skip
    poll_seconds: float = Field(
        1.0, gt=0, description="How often new events and state changes are looked for."
    )
    presence_seconds: float = Field(
        60.0,
        gt=0,
        description="A camera shows a person present while an active person event was "
        "updated this recently.",
    )
