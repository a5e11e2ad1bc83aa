"""MQTT settings: off by default, from the environment, bad values refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from guardian.edge.config import EdgeSettings
from guardian.edge.mqtt.config import MqttSettings
from guardian.edge.mqtt.maintainer import node_id


def test_mqtt_is_off_by_default_with_the_guardian_prefix() -> None:
    settings = MqttSettings()
    assert settings.enabled is False
    assert (settings.host, settings.port, settings.tls) == ("127.0.0.1", 1883, False)
    assert (settings.topic_prefix, settings.discovery_prefix) == ("guardian", "homeassistant")


def test_settings_come_from_the_environment_and_hide_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in {
        "GUARDIAN_EDGE_MQTT__ENABLED": "true", "GUARDIAN_EDGE_MQTT__HOST": "broker.lan",
        "GUARDIAN_EDGE_MQTT__PORT": "8883", "GUARDIAN_EDGE_MQTT__TLS": "true",
        "GUARDIAN_EDGE_MQTT__USERNAME": "edge", "GUARDIAN_EDGE_MQTT__PASSWORD": "s3cret-pw",
        "GUARDIAN_EDGE_MQTT__TOPIC_PREFIX": "shop", "GUARDIAN_EDGE_MQTT__NODE_ID": "edge-1",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    mqtt = EdgeSettings(data_dir=tmp_path).mqtt
    assert mqtt.enabled and mqtt.tls and (mqtt.host, mqtt.port) == ("broker.lan", 8883)
    assert mqtt.password is not None and mqtt.password.get_secret_value() == "s3cret-pw"
    assert "s3cret-pw" not in repr(mqtt) and "s3cret-pw" not in str(EdgeSettings(data_dir=tmp_path))
    assert node_id(mqtt) == "edge-1"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("topic_prefix", "guardian/#", "topic_prefix"), ("node_id", "my edge", "node_id"),
     ("port", 0, "port"), ("qos", 3, "qos"), ("unknown", 1, "unknown")],
)  # fmt: skip
def test_bad_settings_are_refused_naming_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MqttSettings(**{field: value})


def test_default_node_id_is_the_host_name_made_topic_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "shop edge.local")
    assert node_id(MqttSettings()) == "shop_edge_local"
