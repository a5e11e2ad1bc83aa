"""``guardian edge camera discover`` and ``add-onvif`` in a subprocess, against an emulated
ONVIF camera and a WS-Discovery publisher on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardian.edge.camera.onvif import stream_url_with_credentials
from guardian.edge.config import EdgeSettings
from guardian.edge.context import build_context
from guardian.edge.store.cameras import camera_config, list_cameras
from tests.e2e.cli import run_cli
from tests.integration.edge.camera.test_onvif import (
    SCOPES,
    OnvifEmulator,
    publish_camera,
    serve_emulator,
)


@pytest.fixture
def camera() -> Iterator[OnvifEmulator]:
    with serve_emulator(OnvifEmulator()) as running:
        yield running


def _stored(data_dir: Path) -> dict[str, dict[str, object]]:
    ctx = build_context(EdgeSettings(data_dir=data_dir))
    try:
        with ctx.sessions() as session:
            return {c.name: camera_config(c).model_dump() for c in list_cameras(session)}
    finally:
        ctx.engine.dispose()


def test_discover_lists_the_camera_with_profiles_and_redacted_streams(
    camera: OnvifEmulator,
) -> None:
    with publish_camera(f"{camera.base}/onvif/device_service", SCOPES) as endpoint:
        result = run_cli(
            "edge", "camera", "discover", "--json", "--interface", "127.0.0.1",
            "--timeout", "1.5", "--username", "admin",
            env={"GUARDIAN_ONVIF_PASSWORD": camera.password},
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [row] = [r for r in json.loads(result.stdout) if r["endpoint"] == endpoint]
    assert (row["name"], row["hardware"]) == ("Shop Door", "EmuCam-1")
    assert (row["host"], row["port"]) == ("127.0.0.1", camera.port)
    device = row["device"]
    assert (device["manufacturer"], device["model"]) == ("Guardian Labs", "EmuCam 1")
    streams = {p["token"]: p["stream_uri"] for p in device["profiles"]}
    assert streams == {
        "prof_main": "rtsp://127.0.0.1:8554/main",
        "prof_sub": "rtsp://127.0.0.1:8554/sub",
    }
    assert camera.password not in result.stdout + result.stderr


def test_discover_with_a_wrong_password_reports_the_device_and_fails(
    camera: OnvifEmulator,
) -> None:
    with publish_camera(f"{camera.base}/onvif/device_service", SCOPES):
        result = run_cli(
            "edge", "camera", "discover", "--address", "127.0.0.1", "--timeout", "1",
            "--username", "admin", "--password", "wrong",
        )  # fmt: skip
    assert result.returncode == 1
    assert "Shop Door" in result.stdout
    assert "authentication failed" in result.stdout


def test_add_onvif_registers_the_largest_stream_and_a_smaller_detect_stream(
    camera: OnvifEmulator, tmp_path: Path
) -> None:
    data_dir = tmp_path / "edge"
    result = run_cli(
        "edge", "camera", "add-onvif", "shop", "--host", "127.0.0.1", "--port", str(camera.port),
        "--username", "admin", "--password", camera.password, "--json",
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["url"] == "rtsp://admin:***@127.0.0.1:8554/main"
    assert out["detect_url"] == "rtsp://admin:***@127.0.0.1:8554/sub"
    assert (out["profile"]["token"], out["detect_profile"]["token"]) == ("prof_main", "prof_sub")
    assert camera.password not in result.stdout + result.stderr
    stored = _stored(data_dir)["shop"]
    assert stored["url"] == stream_url_with_credentials(
        "rtsp://127.0.0.1:8554/main", "admin", camera.password
    )
    assert stored["detect_url"] == stream_url_with_credentials(
        "rtsp://127.0.0.1:8554/sub", "admin", camera.password
    )


def test_add_onvif_with_a_named_profile_and_no_smaller_one_has_no_detect_stream(
    camera: OnvifEmulator, tmp_path: Path
) -> None:
    data_dir = tmp_path / "edge"
    result = run_cli(
        "edge", "camera", "add-onvif", "side", "--host", "127.0.0.1", "--port", str(camera.port),
        "--username", "admin", "--password", camera.password, "--profile", "SubStream",
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "camera side added: SubStream (640x360 @ 10 fps)" in result.stdout
    stored = _stored(data_dir)["side"]
    assert str(stored["url"]).endswith("@127.0.0.1:8554/sub")
    assert stored["detect_url"] is None


def test_add_onvif_with_a_wrong_password_adds_nothing(
    camera: OnvifEmulator, tmp_path: Path
) -> None:
    data_dir = tmp_path / "edge"
    result = run_cli(
        "edge", "camera", "add-onvif", "shop", "--host", "127.0.0.1", "--port", str(camera.port),
        "--username", "admin", "--password", "wrong", "--data-dir", str(data_dir),
    )  # fmt: skip
    assert result.returncode == 1
    assert "authentication failed" in result.stderr
    assert not data_dir.exists() or "shop" not in _stored(data_dir)
