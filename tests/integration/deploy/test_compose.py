"""deploy/compose.yaml and the container files agree with the settings models.

Neither is run here (no container engine in CI); these checks are what can be known offline.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from guardian.common.settings import settings_reference
from guardian.control.config import ControlSettings
from guardian.relay.config import RelaySettings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
MODELS: dict[str, Any] = {"control": ControlSettings, "relay": RelaySettings}


def _interpolate(text: str) -> str:
    """Compose's ``${VAR:-default}`` / ``${VAR:?message}`` with every variable unset (``:?``
    ones get a placeholder, as if the operator had set them)."""
    text = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)
    return re.sub(r"\$\{\w+:\?[^}]*\}", "set-by-operator", text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(_interpolate((DEPLOY / "compose.yaml").read_text()))
    return data


def _env_names(model: Any) -> set[str]:
    return {r["env"] for r in settings_reference(model, str(model.model_config["env_prefix"]))}


def _published(service: dict[str, Any]) -> set[int]:
    return {int(str(p).rsplit(":", 1)[-1]) for p in service.get("ports", [])}


def test_postgres_control_and_relay_are_defined_and_built_from_the_container_files(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert {"postgres", "control", "relay"} <= set(services)
    for name in ("control", "relay"):
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve().is_file()
        assert build["dockerfile"] == f"deploy/container/Containerfile.{name}"
    assert services["control"]["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["control", "relay"])
def test_every_guardian_variable_is_a_real_setting_with_a_valid_value(
    compose: dict[str, Any], name: str
) -> None:
    environment = compose["services"][name]["environment"]
    guardian = {k: str(v) for k, v in environment.items() if k.startswith("GUARDIAN_")}
    assert sorted(set(guardian) - _env_names(MODELS[name])) == []
    # The values must load: the model validates them as the service would at start.
    prefix = str(MODELS[name].model_config["env_prefix"])
    fields = {
        k.removeprefix(prefix).lower(): v for k, v in guardian.items() if "__" not in k and v != ""
    }
    fields.pop("data_dir", None)
    MODELS[name](**fields)


def test_ports_match_the_settings_and_the_relay_reaches_the_control_link(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    control = services["control"]["environment"]
    relay = services["relay"]["environment"]
    # The relay shares the control container's network, so control publishes both.
    assert services["relay"]["network_mode"] == "service:control"
    published = _published(services["control"])
    assert {
        int(control["GUARDIAN_CONTROL_PORT"]),
        int(relay["GUARDIAN_RELAY_HTTP_PORT"]),
        int(relay["GUARDIAN_RELAY_LINK_PORT"]),
    } <= published
    assert int(control["GUARDIAN_CONTROL_GRPC_PORT"]) not in published  # loopback only
    target = urlsplit(relay["GUARDIAN_RELAY_CONTROL_URL"])
    assert target.hostname == "127.0.0.1"
    assert target.port == int(control["GUARDIAN_CONTROL_GRPC_PORT"])


def test_control_uses_the_compose_postgres(compose: dict[str, Any]) -> None:
    url = urlsplit(compose["services"]["control"]["environment"]["GUARDIAN_CONTROL_DATABASE_URL"])
    postgres = compose["services"]["postgres"]["environment"]
    assert url.scheme == "postgresql" and url.hostname == "postgres" and url.port == 5432
    assert url.username == postgres["POSTGRES_USER"]
    assert url.path.lstrip("/") == postgres["POSTGRES_DB"]


def test_the_compose_file_refuses_to_run_without_a_database_password() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    assert "${POSTGRES_PASSWORD:?" in text and "POSTGRES_PASSWORD:-" not in text


@pytest.mark.parametrize("name", ["control", "relay"])
def test_container_files_run_the_service_unprivileged_with_real_settings(name: str) -> None:
    text = (DEPLOY / "container" / f"Containerfile.{name}").read_text()
    model = MODELS[name]
    env = set(re.findall(r"\b(GUARDIAN_[A-Z0-9_]+)=", text))
    assert env and env <= _env_names(model)
    exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()}  # type: ignore[union-attr]
    defaults = model()
    ports = (
        {defaults.port, defaults.grpc_port}
        if name == "control"
        else {defaults.http_port, defaults.link_port, defaults.link_port + 1}  # + direct link
    )
    assert exposed == ports
    assert re.search(r"^USER guardian:guardian$", text, re.M)
    assert f'ENTRYPOINT ["guardian", "{name}"]' in text
    assert "FROM python:3.11-" in text


def test_prometheus_scrapes_the_ports_compose_publishes(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in config["scrape_configs"]
    }
    control = compose["services"]["control"]["environment"]
    relay = compose["services"]["relay"]["environment"]
    assert targets["guardian-control"] == f"control:{control['GUARDIAN_CONTROL_PORT']}"
    assert targets["guardian-relay"] == f"control:{relay['GUARDIAN_RELAY_HTTP_PORT']}"
    grafana = compose["services"]["grafana"]["volumes"]
    assert "./grafana/dashboards:/var/lib/grafana/dashboards/guardian:ro" in grafana
