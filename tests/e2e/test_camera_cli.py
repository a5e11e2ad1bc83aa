"""``guardian edge camera add|list|set|remove`` in subprocesses, as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.cli import run_cli

SHELF = (
    '{"name":"shelf","polygon":[[0.1,0.5],[0.6,0.5],[0.6,1],[0.1,1]],'
    '"interaction":true,"min_dwell":2}'
)
URL = "rtsp://admin:s3cret@192.168.1.20:554/stream1"


def camera(data: Path, *args: str) -> Any:
    return run_cli("edge", "camera", *args, "--data-dir", str(data))


def listed(data: Path) -> list[dict[str, Any]]:
    result = camera(data, "list", "--json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_add_list_set_remove(tmp_path: Path) -> None:
    data = tmp_path / "edge"
    added = camera(
        data, "add", "front", "--url", URL, "--zone", SHELF, "--detect-fps", "4", "--json"
    )
    assert added.returncode == 0, added.stderr
    body = json.loads(added.stdout)
    assert body["name"] == "front" and body["version"] == 1 and body["detect_fps"] == 4.0
    assert body["url"] == "rtsp://admin:***@192.168.1.20:554/stream1"
    assert body["zones"][0]["name"] == "shelf" and body["zones"][0]["interaction"] is True
    assert body["status"]["state"] == "unknown"

    (tmp_path / "back.json").write_text(
        json.dumps({"url": "file:///videos/back.mp4", "record": False, "detect_fps": 2})
    )
    from_file = camera(data, "add", "back", "--config", str(tmp_path / "back.json"), "--disabled")
    assert from_file.returncode == 0, from_file.stderr
    assert "camera back added" in from_file.stdout

    rows = listed(data)
    assert [r["name"] for r in rows] == ["back", "front"]
    assert rows[0]["record"] is False and rows[0]["status"]["state"] == "disabled"
    text = camera(data, "list")
    assert text.returncode == 0 and "s3cret" not in text.stdout + text.stderr
    assert "front" in text.stdout and "rtsp://admin:***@" in text.stdout

    door = '{"name":"door","polygon":[[0,0],[0.2,0],[0.2,0.2]]}'
    changed = camera(data, "set", "front", "--disable", "--zone", door, "--no-record", "--json")
    assert changed.returncode == 0, changed.stderr
    body = json.loads(changed.stdout)
    assert body["version"] == 2 and body["enabled"] is False and body["record"] is False
    assert [z["name"] for z in body["zones"]] == ["shelf", "door"]
    cleared = camera(data, "set", "front", "--enable", "--clear-zones", "--json")
    body = json.loads(cleared.stdout)
    assert body["version"] == 3 and body["enabled"] is True and body["zones"] == []
    unchanged = camera(data, "set", "front", "--enable")
    assert unchanged.returncode == 0 and "unchanged (version 3)" in unchanged.stdout

    removed = camera(data, "remove", "front")
    assert removed.returncode == 0 and "camera front removed" in removed.stderr
    assert [r["name"] for r in listed(data)] == ["back"]
    again = camera(data, "remove", "front")
    assert again.returncode == 1 and "unknown camera 'front'" in again.stderr


def test_bad_input_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "edge"
    assert camera(data, "add", "front", "--url", URL).returncode == 0
    cases = [
        (("add", "back", "--url", "ftp://cam/s"), "unsupported URL scheme"),
        (("add", "back"), "--url is required"),
        (("add", "back", "--url", URL, "--zone", "{oops"), "--zone: not valid JSON"),
        (("add", "back", "--url", URL, "--zone", "[1]"), "expected a JSON object"),
        (
            ("add", "back", "--url", URL, "--zone", '{"name":"z","polygon":[[0,0],[2,0],[1,1]]}'),
            "zones.0.polygon",
        ),
        (("add", "back", "--url", URL, "--zone", SHELF, "--zone", SHELF), "unique per camera"),
        (("add", "back", "--url", URL, "--mask", "[[0,0],[1,1]]"), "3 points"),
        (("set", "front", "--detect-fps", "0"), "detect_fps"),
        (("set", "front", "--url", "nope://x"), "unsupported URL scheme"),
    ]
    for args, words in cases:
        result = camera(data, *args)
        assert result.returncode == 2, (args, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and words in lines[0], (args, result.stderr)
    exists = camera(data, "add", "front", "--url", "rtsp://other/s")
    assert exists.returncode == 1 and "already exists" in exists.stderr
    missing = camera(data, "set", "nowhere", "--detect-fps", "2")
    assert missing.returncode == 1 and "unknown camera 'nowhere'" in missing.stderr
    rows = listed(data)
    assert [r["name"] for r in rows] == ["front"]
    assert rows[0]["version"] == 1 and rows[0]["detect_fps"] == 5.0
