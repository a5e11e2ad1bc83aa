"""Tests for the shared service settings and the configuration-reference walker."""

from __future__ import annotations

import importlib
import os
import pkgutil

import pytest
from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

import guardian
from guardian.common.settings import ServiceSettings, settings_reference


class _PoolSettings(BaseModel):
    size: int = Field(default=5, description="Connections kept open.")


class _DatabaseSettings(BaseModel):
    url: str = Field(default="postgresql://localhost/guardian", description="Database URL.")
    password: SecretStr = Field(default=SecretStr("hunter2"), description="Password.")
    pool: _PoolSettings = Field(default_factory=_PoolSettings, description="Pool tuning.")


class _ControlLikeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GUARDIAN_CONTROL_")

    database: _DatabaseSettings = Field(
        default_factory=_DatabaseSettings, description="Database connection."
    )
    replicas: list[str] = Field(default_factory=list, description="Read replicas.")
    region: str | None = Field(default=None, description="Cloud region, if any.")


class _EdgeLikeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GUARDIAN_EDGE_")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's shell (or CI) may export Guardian settings; tests must not depend on it.
    for name in list(os.environ):
        if name.upper().startswith("GUARDIAN_") and name.upper() != "GUARDIAN_TEST_DATABASE_URL":
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = ServiceSettings()
    assert settings.log_level == "INFO"
    assert settings.log_format == "auto"
    assert settings.environment == "development"


def test_subclass_keeps_base_config() -> None:
    config = _EdgeLikeSettings.model_config
    assert config["env_prefix"] == "GUARDIAN_EDGE_"
    assert config["extra"] == "forbid"
    assert config["env_nested_delimiter"] == "__"
    assert config["validate_default"] is True


def test_env_prefix_is_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDIAN_EDGE_LOG_LEVEL", "debug")
    monkeypatch.setenv("GUARDIAN_EDGE_ENVIRONMENT", "production")
    monkeypatch.setenv("GUARDIAN_CONTROL_LOG_LEVEL", "ERROR")
    edge = _EdgeLikeSettings()
    assert edge.log_level == "DEBUG"
    assert edge.environment == "production"
    assert _ControlLikeSettings().log_level == "ERROR"


def test_unprefixed_env_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    assert _EdgeLikeSettings().log_level == "INFO"
    assert ServiceSettings().log_level == "INFO"


def test_nested_env_uses_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDIAN_CONTROL_DATABASE__URL", "postgresql://db/prod")
    monkeypatch.setenv("GUARDIAN_CONTROL_DATABASE__POOL__SIZE", "12")
    settings = _ControlLikeSettings()
    assert settings.database.url == "postgresql://db/prod"
    assert settings.database.pool.size == 12


@pytest.mark.parametrize(
    ("given", "expected"),
    [("info", "INFO"), (" Warning ", "WARNING"), ("warn", "WARNING"), ("CRITICAL", "CRITICAL")],
)
def test_log_level_is_normalised(given: str, expected: str) -> None:
    assert ServiceSettings(log_level=given).log_level == expected


@pytest.mark.parametrize("bad", ["verbose", "", "NOTSET", "10"])
def test_log_level_rejects_unknown_names(bad: str) -> None:
    with pytest.raises(ValidationError, match="log level"):
        ServiceSettings(log_level=bad)


def test_invalid_env_value_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDIAN_EDGE_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError, match="log_format"):
        _EdgeLikeSettings()


def test_invalid_env_log_level_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    # validate_default plus the validator mean a bad env value fails at startup, not later.
    monkeypatch.setenv("GUARDIAN_EDGE_LOG_LEVEL", "LOUD")
    with pytest.raises(ValidationError, match="log level"):
        _EdgeLikeSettings()


def test_unknown_init_argument_is_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        _EdgeLikeSettings(log_levle="DEBUG")  # type: ignore[call-arg]


def test_reference_rows_for_base() -> None:
    rows = settings_reference(ServiceSettings, "GUARDIAN_EDGE_")
    assert rows == [
        {
            "name": "log_level",
            "env": "GUARDIAN_EDGE_LOG_LEVEL",
            "type": "str",
            "default": "INFO",
            "description": rows[0]["description"],
        },
        {
            "name": "log_format",
            "env": "GUARDIAN_EDGE_LOG_FORMAT",
            "type": "Literal['auto', 'json', 'human']",
            "default": "auto",
            "description": rows[1]["description"],
        },
        {
            "name": "environment",
            "env": "GUARDIAN_EDGE_ENVIRONMENT",
            "type": "Literal['development', 'production', 'test']",
            "default": "development",
            "description": rows[2]["description"],
        },
    ]


def test_reference_walks_nested_models() -> None:
    rows = {
        row["name"]: row for row in settings_reference(_ControlLikeSettings, "GUARDIAN_CONTROL_")
    }
    assert list(rows)[:3] == ["log_level", "log_format", "environment"]
    assert rows["database"]["env"] == "GUARDIAN_CONTROL_DATABASE"
    assert rows["database"]["type"] == "_DatabaseSettings"
    assert rows["database.url"]["env"] == "GUARDIAN_CONTROL_DATABASE__URL"
    assert rows["database.url"]["default"] == "postgresql://localhost/guardian"
    assert rows["database.pool.size"]["env"] == "GUARDIAN_CONTROL_DATABASE__POOL__SIZE"
    assert rows["database.pool.size"]["type"] == "int"
    assert rows["database.pool.size"]["default"] == "5"
    assert rows["replicas"]["type"] == "list[str]"
    assert rows["region"]["type"] == "str | None"
    assert rows["region"]["default"] == "None"


def test_reference_never_shows_secret_defaults() -> None:
    rows = {row["name"]: row for row in settings_reference(_ControlLikeSettings, "X_")}
    assert rows["database.password"]["default"] == "***"
    assert "hunter2" not in repr(rows)


def test_reference_reports_missing_descriptions() -> None:
    class Undocumented(BaseModel):
        documented: int = Field(default=1, description="Has one.")
        bare: int = 2

    rows = settings_reference(Undocumented, "P_")
    assert [(r["name"], r["description"]) for r in rows] == [
        ("documented", "Has one."),
        ("bare", ""),
    ]


def test_reference_marks_required_fields() -> None:
    class Required(BaseModel):
        token: str = Field(description="Must be given.")

    assert settings_reference(Required, "P_")[0]["default"] == "(required)"


def _import_service_settings_modules() -> None:
    # Subclasses only exist once their module is imported; import every ``*.settings`` and
    # ``*.config`` module of the distribution so new services are covered without editing
    # this test.
    for info in pkgutil.walk_packages(guardian.__path__, "guardian."):
        if info.name.rsplit(".", 1)[-1] in ("settings", "config"):
            importlib.import_module(info.name)


def _all_settings_classes() -> list[type[ServiceSettings]]:
    _import_service_settings_modules()
    found: list[type[ServiceSettings]] = [ServiceSettings]
    pending = list(ServiceSettings.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_settings_field_has_a_description() -> None:
    missing = [
        f"{cls.__qualname__}.{row['name']}"
        for cls in _all_settings_classes()
        for row in settings_reference(cls, str(cls.model_config.get("env_prefix", "")))
        if not row["description"]
    ]
    assert missing == []


def test_edge_settings_are_covered_down_to_the_runtime_options() -> None:
    from guardian.edge.config import EdgeSettings

    assert EdgeSettings in _all_settings_classes()
    rows = {r["name"]: r for r in settings_reference(EdgeSettings, "GUARDIAN_EDGE_")}
    assert rows["detector.model"]["env"] == "GUARDIAN_EDGE_DETECTOR__MODEL"
    assert all(r["description"] for r in rows.values())
