"""``guardian device`` argument handling (the delivery paths are integration tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from guardian.device.cli import default_spool_dir, device_app

BASE = ["--edge", "http://127.0.0.1:9", "--device-id", "pi-1"]
ENV = {"GUARDIAN_DEVICE_KEY": "k"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give one of --camera"),
        (["--watch", ".", "--camera", "0"], "cannot be combined"),
        (["--watch", ".", "--interval", "1"], "cannot be combined"),
        (["--watch", "/nonexistent-dir"], "is not a folder"),
        (["--interval", "0"], "--interval"),
    ],
)
def test_run_rejects_bad_source_options(extra: list[str], message: str) -> None:
    result = CliRunner().invoke(device_app, ["run", *BASE, *extra], env=ENV)
    assert result.exit_code == 2
    assert message in result.output


def test_key_is_required() -> None:
    result = CliRunner().invoke(device_app, ["run", *BASE, "--camera", "0"], env={})
    assert result.exit_code == 2
    assert "--key" in result.output


def test_send_validates_captured_at(tmp_path: Path) -> None:
    image = tmp_path / "x.jpg"
    image.write_bytes(b"\xff\xd8\xff")
    for bad, message in (("yesterday", "RFC 3339"), ("2024-05-01T12:00:00", "time zone")):
        result = CliRunner().invoke(
            device_app,
            ["send", str(image), "--seq", "1", *BASE, "--captured-at", bad],
            env=ENV,
        )
        assert result.exit_code == 2
        assert message in result.output


def test_send_rejects_negative_seq(tmp_path: Path) -> None:
    image = tmp_path / "x.jpg"
    image.write_bytes(b"\xff\xd8\xff")
    result = CliRunner().invoke(device_app, ["send", str(image), "--seq", "-1", *BASE], env=ENV)
    assert result.exit_code == 2


def test_default_spool_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_spool_dir("pi-1") == tmp_path / ".local/share/guardian-device/pi-1"
    assert default_spool_dir("../x/y") == tmp_path / ".local/share/guardian-device/_x_y"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_spool_dir("pi-1") == tmp_path / "data/guardian-device/pi-1"
