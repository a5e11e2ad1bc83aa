"""Camera config contract: validation, redaction, patches, and the status the API reports."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from guardian.edge.api.camera_schemas import (
    STALE_ERROR,
    CameraPatch,
    camera_out,
    status_out,
)
from guardian.edge.camera.config import (
    CameraConfig,
    describe_problems,
    redact_url,
    validation_problems,
)
from guardian.edge.store.tables import Camera, CameraStatus

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
SHELF = {
    "name": "shelf",
    "polygon": [[0.1, 0.5], [0.6, 0.5], [0.6, 1.0], [0.1, 1.0]],
    "interaction": True,
    "min_dwell": 2.0,
}


def config(**changes: Any) -> CameraConfig:
    return CameraConfig.model_validate({"name": "front", "url": "rtsp://cam/s", **changes})


def problems(body: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as info:
        CameraConfig.model_validate(body)
    return validation_problems(info.value)


def test_defaults_and_stored_round_trip() -> None:
    cam = config(zones=[SHELF], detect_url="rtsp://cam/sub")
    assert cam.detect_fps == 5.0 and cam.enabled and cam.record and cam.masks == []
    assert cam.detect_source == "rtsp://cam/sub" and cam.record_source == "rtsp://cam/s"
    stored = cam.stored()
    assert "name" not in stored and stored["zones"][0]["name"] == "shelf"
    assert CameraConfig.from_stored("front", stored) == cam


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "ftp://cam/s"}, "url", "unsupported URL scheme"),
        ({"url": "rtsp:///s"}, "url", "needs a host"),
        ({"url": "file://"}, "url", "needs a path"),
        ({"name": "bad name"}, "name", "pattern"),
        ({"detect_fps": 0}, "detect_fps", "greater than 0"),
        ({"zones": [{**SHELF, "polygon": [[0, 0], [1.2, 0], [1, 1]]}]}, "zones.0.polygon", "0..1"),
        ({"zones": [{**SHELF, "polygon": [[0, 0], [1, 1]]}]}, "zones.0.polygon", "3 points"),
        ({"zones": [SHELF, SHELF]}, "", "unique per camera: shelf"),
        ({"masks": [[[0, 0], [0.5, 0]]]}, "masks", "3 points"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"zones": [{**SHELF, "dwell": 3}]}, "zones.0.dwell", "Extra inputs"),
    ],
)
def test_bad_settings_name_the_field(body: dict[str, Any], field: str, words: str) -> None:
    found = problems({"name": "front", "url": "rtsp://cam/s", **body})
    assert [p["field"] for p in found] == [field]
    assert words in found[0]["message"]
    assert not found[0]["message"].startswith("Value error")
    assert words in describe_problems(found)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:s3cret@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
        ("rtsp://:s3cret@cam/live", "rtsp://:***@cam/live"),
        ("rtsp://admin@cam/live", "rtsp://admin@cam/live"),
        ("file:///videos/door.mp4", "file:///videos/door.mp4"),
    ],
)
def test_redact_url_hides_only_the_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_patched_merges_validates_and_refuses_renames() -> None:
    cam = config(zones=[SHELF])
    changed = cam.patched({"detect_fps": 2, "detect_url": "rtsp://cam/sub"})
    assert changed.detect_fps == 2.0 and changed.zones == cam.zones and changed.name == "front"
    assert cam.detect_fps == 5.0  # the original is untouched
    assert cam.patched({"detect_url": None}).detect_url is None
    with pytest.raises(ValueError, match="renamed"):
        cam.patched({"name": "back"})
    with pytest.raises(ValidationError):
        cam.patched({"url": None})


def test_a_patch_body_keeps_only_what_was_sent_and_checks_it() -> None:
    assert CameraPatch.model_validate({"detect_fps": 3, "detect_url": None}).changes() == {
        "detect_fps": 3.0,
        "detect_url": None,
    }
    assert CameraPatch.model_validate({}).changes() == {}
    for bad in (
        {"detect_fps": 31},
        {"url": "ftp://x/y"},
        {"masks": [[[0, 0], [1, 1]]]},
        {"zones": [SHELF, SHELF]},
        {"name": "back"},
        {"unknown": 1},
    ):
        with pytest.raises(ValidationError):
            CameraPatch.model_validate(bad)


def status_row(age_s: float, state: str = "online") -> CameraStatus:
    return CameraStatus(
        name="front",
        state=state,
        decoder="software",
        codec="h264",
        width=640,
        height=360,
        input_fps=25.0,
        detect_fps=5.0,
        skipped_by_motion=0.5,
        detector_latency_ms=12.0,
        last_frame_at=NOW,
        last_error=None,
        reconnects=2,
        recording="recording",
        storage_bytes=1234,
        updated_at=NOW - dt.timedelta(seconds=age_s),
    )


def test_status_is_unknown_without_a_row_and_disabled_when_disabled() -> None:
    assert status_out(None, enabled=True, now=NOW).state == "unknown"
    assert status_out(None, enabled=False, now=NOW).state == "disabled"
    old = status_out(status_row(3600), enabled=False, now=NOW)
    assert old.state == "disabled" and old.last_error is None


def test_a_fresh_row_is_reported_as_is_and_a_stale_one_as_offline() -> None:
    fresh = status_out(status_row(5, "error"), enabled=True, now=NOW)
    assert fresh.state == "error" and fresh.reconnects == 2 and fresh.storage_bytes == 1234
    assert (fresh.width, fresh.height, fresh.codec) == (640, 360, "h264")
    stale = status_out(status_row(31), enabled=True, now=NOW)
    assert stale.state == "offline" and stale.last_error == STALE_ERROR
    assert stale.input_fps == 25.0  # the last known figures stay visible


def test_camera_out_redacts_every_url() -> None:
    cam = config(
        url="rtsp://u:p1@cam/main",
        detect_url="rtsp://u:p2@cam/sub",
        record_url="rtsps://u:p3@cam/rec",
    )
    row = Camera(
        name="front", config=cam.stored(), enabled=True, created_at=NOW, updated_at=NOW, version=3
    )
    out = camera_out(row, None, NOW).model_dump(mode="json")
    assert (out["url"], out["detect_url"], out["record_url"]) == (
        "rtsp://u:***@cam/main",
        "rtsp://u:***@cam/sub",
        "rtsps://u:***@cam/rec",
    )
    assert "p1" not in str(out) and "p2" not in str(out) and "p3" not in str(out)
    assert out["version"] == 3 and out["status"]["state"] == "unknown"
