"""Edge service settings (environment prefix ``GUARDIAN_EDGE_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from guardian.common.settings import NESTED_DELIMITER, ServiceSettings
from guardian.edge.detect.config import DetectorSettings


class EdgeSettings(ServiceSettings):
    """Settings of the edge appliance service."""

    model_config = SettingsConfigDict(
        env_prefix="GUARDIAN_EDGE_",
        extra="forbid",
        env_nested_delimiter=NESTED_DELIMITER,
        validate_default=True,
    )

    data_dir: Path = Field(
        Path("guardian-data/edge"),
        description="Folder for the edge's database and media.",
    )
    detector: DetectorSettings = Field(
        default_factory=DetectorSettings, description="Object detector settings."
    )
