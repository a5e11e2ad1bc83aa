"""docs/configuration.md: generated from the settings models, complete, never stale."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from typer.testing import CliRunner

from guardian.cli import app
from guardian.common.settings import settings_reference
from guardian.docs.config_reference import Service, render_reference, services

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_committed_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render_reference(), (
        "docs/configuration.md is stale: run scripts/gen-docs"
    )


def test_every_option_of_every_service_has_a_row_with_its_variable_and_default() -> None:
    text = render_reference()
    for service in services():
        for row in settings_reference(service.model, service.env_prefix):
            start = f"| `{row['name']}` | `{row['env']}`"
            line = next((ln for ln in text.splitlines() if ln.startswith(start)), None)
            assert line is not None, row["env"]
            assert row["description"].replace("|", "\\|") in line


def test_edge_relay_and_control_are_documented_with_their_env_files() -> None:
    text = render_reference()
    for prefix, env_file in (
        ("GUARDIAN_EDGE_", "/etc/guardian/edge.env"),
        ("GUARDIAN_RELAY_", "/etc/guardian/relay.env"),
        ("GUARDIAN_CONTROL_", "/etc/guardian/control.env"),
    ):
        assert f"`{prefix}DATA_DIR`" in text and env_file in text
    assert (
        "| `detector.model` | `GUARDIAN_EDGE_DETECTOR__MODEL` | str | `ssd-mobilenetv2-oidv4` |"
        in (text)
    )


class _Odd(BaseSettings):
    # Not a ServiceSettings subclass: those are all walked by tests/unit/common/test_settings.py.
    model_config = SettingsConfigDict(env_prefix="ODD_")

    pipes: str = Field("a|b", description="One | two.")


def test_cells_escape_pipes_and_sections_are_marked() -> None:
    text = render_reference([Service("Odd", "-", _Odd, "intro")])
    assert "| `pipes` | `ODD_PIPES` | str | `a\\|b` | One \\| two. |" in text
    edge = render_reference(services()[1:2])
    assert "| `detector` | `GUARDIAN_EDGE_DETECTOR` | DetectorSettings | `(section)` |" in edge


def test_cli_check_fails_on_a_stale_file_and_passes_on_a_fresh_one(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "configuration.md"
    target.write_text("old\n")
    assert runner.invoke(app, ["docs", "config", "--out", str(target), "--check"]).exit_code == 1
    assert runner.invoke(app, ["docs", "config", "--out", str(target)]).exit_code == 0
    assert target.read_text() == render_reference()
    assert runner.invoke(app, ["docs", "config", "--out", str(target), "--check"]).exit_code == 0
    assert runner.invoke(app, ["docs", "config", "--check"]).exit_code == 2
