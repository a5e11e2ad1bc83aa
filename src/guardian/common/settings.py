"""Base settings shared by every Guardian service, plus a configuration-reference walker."""

from __future__ import annotations

import enum
import json
import logging
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    Field,
    SecretBytes,
    SecretStr,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

LogFormat = Literal["auto", "json", "human"]
Environment = Literal["development", "production", "test"]

#: Delimiter between a nested model field and its sub-field in environment variable names.
NESTED_DELIMITER = "__"


class ServiceSettings(BaseSettings):
    """Settings every service shares; each service subclasses this and sets its own env_prefix.

    The base prefix ``GUARDIAN_`` only applies when the base class is used directly; it keeps a
    stray generic ``LOG_LEVEL`` in the environment from silently configuring Guardian.
    """

    model_config = SettingsConfigDict(
        env_prefix="GUARDIAN_",
        extra="forbid",
        env_nested_delimiter=NESTED_DELIMITER,
        validate_default=True,
    )

    log_level: str = Field(
        default="INFO",
        description="Minimum log level: DEBUG, INFO, WARNING, ERROR or CRITICAL (any case).",
    )
    log_format: LogFormat = Field(
        default="auto",
        description=(
            "Log output format: 'json' (one object per line), 'human' (for terminals) or "
            "'auto' (human when stderr is a TTY, json otherwise)."
        ),
    )
    environment: Environment = Field(
        default="development",
        description="Deployment environment: development, production or test.",
    )

    @field_validator("log_level")
    @classmethod
    def _validate_log_level(cls, value: str) -> str:
        name = value.strip().upper()
        if name not in logging.getLevelNamesMapping() or name == "NOTSET":
            allowed = "DEBUG, INFO, WARNING, ERROR, CRITICAL"
            raise ValueError(f"unknown log level {value!r}; expected one of {allowed}")
        # Canonicalise aliases so downstream code sees one spelling per level.
        return logging.getLevelName(logging.getLevelNamesMapping()[name])


def settings_reference(model: type[BaseModel], env_prefix: str) -> list[dict[str, str]]:
    """Describe every field of ``model`` (recursing into nested models) for documentation.

    Returns one row per field, parents before their children, each with ``name`` (dotted path),
    ``env`` (the environment variable that sets it), ``type``, ``default`` (rendered as it would
    be written in the environment; ``(required)`` when there is none) and ``description``
    (empty string when missing, so callers can assert on it).
    """
    delimiter = NESTED_DELIMITER
    if issubclass(model, BaseSettings):
        delimiter = model.model_config.get("env_nested_delimiter") or NESTED_DELIMITER
    rows: list[dict[str, str]] = []
    _walk(model, name_prefix="", env_prefix=env_prefix, delimiter=delimiter, rows=rows, seen=())
    return rows


def _walk(
    model: type[BaseModel],
    *,
    name_prefix: str,
    env_prefix: str,
    delimiter: str,
    rows: list[dict[str, str]],
    seen: tuple[type[BaseModel], ...],
) -> None:
    if model in seen:
        # A self-referential model cannot be configured from flat env vars anyway.
        return
    for field_name, info in model.model_fields.items():
        env_name = _env_segment(field_name, info)
        name = f"{name_prefix}{field_name}"
        # pydantic-settings ignores env_prefix for aliased top-level fields.
        env = env_name if (not name_prefix and env_name != field_name) else env_prefix + env_name
        rows.append(
            {
                "name": name,
                "env": env.upper(),
                "type": _type_name(info.annotation),
                "default": _default_text(info),
                "description": (info.description or "").strip(),
            }
        )
        nested = _nested_model(info.annotation)
        if nested is not None:
            _walk(
                nested,
                name_prefix=f"{name}.",
                env_prefix=f"{env}{delimiter}",
                delimiter=delimiter,
                rows=rows,
                seen=(*seen, model),
            )


def _env_segment(field_name: str, info: FieldInfo) -> str:
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        alias = alias.choices[0] if alias.choices else None
    if isinstance(alias, AliasPath):
        alias = str(alias.path[0]) if alias.path else None
    if isinstance(alias, str):
        return alias
    return info.alias or field_name


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model class behind ``Model`` or ``Model | None``; ``None`` for anything else."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return _nested_model(members[0])
    return None


def _type_name(annotation: Any) -> str:
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, type) and get_origin(annotation) is None:
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def _default_text(info: FieldInfo) -> str:
    if info.default_factory is not None:
        # Factories usually build nested models whose leaves get their own rows.
        return "(computed)"
    if info.default is PydanticUndefined:
        return "(required)"
    return _render_value(info.default)


def _render_value(value: object) -> str:
    if isinstance(value, SecretStr | SecretBytes):
        return "***"
    if isinstance(value, enum.Enum):
        return _render_value(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "None"
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, list | tuple | dict | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return json.dumps(items, default=str)
    return str(value)
