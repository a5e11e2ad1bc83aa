"""The capture file layout, its file:// URIs and the durable temp-fsync-rename write."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from guardian.edge.capture.staging import (
    TMP_PREFIX,
    capture_path,
    ensure_dir,
    path_to_uri,
    uri_to_path,
    write_durably,
)

CID = "6f1c2d3e-0000-4000-8000-000000000001"


def test_layout_is_device_then_utc_date_then_capture_id(tmp_path: Path) -> None:
    # 23:30 at UTC-5 on 29 Feb is already 1 March in UTC.
    when = dt.datetime(2024, 2, 29, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    path = capture_path(tmp_path, "door-pi", when, CID, "jpg")
    assert path == tmp_path / "captures" / "door-pi" / "2024" / "03" / "01" / f"{CID}.jpg"


def test_layout_needs_an_aware_time(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone"):
        capture_path(tmp_path, "door-pi", dt.datetime(2024, 1, 1), CID, "jpg")


@pytest.mark.parametrize("device_id", ["..", ".hidden", "a/b", "", "a\\b"])
def test_layout_refuses_path_escapes(tmp_path: Path, device_id: str) -> None:
    with pytest.raises(ValueError, match="unsafe path component"):
        capture_path(tmp_path, device_id, dt.datetime.now(dt.UTC), CID, "jpg")


def test_uri_round_trip_with_awkward_characters(tmp_path: Path) -> None:
    path = tmp_path / "media dir" / "é%#?" / "x.jpg"
    uri = path_to_uri(path)
    assert uri.startswith("file:///")
    assert " " not in uri and "#" not in uri.removeprefix("file://").split("/")[-2]
    assert uri_to_path(uri) == path


def test_relative_paths_become_absolute_uris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert uri_to_path(path_to_uri(Path("a/b.png"))) == tmp_path / "a" / "b.png"


@pytest.mark.parametrize("uri", ["http://host/x.jpg", "file://otherhost/x.jpg", "/plain/path"])
def test_non_local_uris_are_refused(uri: str) -> None:
    with pytest.raises(ValueError, match="not a local file://"):
        uri_to_path(uri)


def test_write_durably_creates_folders_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "captures" / "d" / "2024" / "01" / "02" / "x.jpg"
    write_durably(target, b"payload")
    assert target.read_bytes() == b"payload"
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.jpg"]


def test_write_durably_removes_its_temp_file_when_the_rename_fails(tmp_path: Path) -> None:
    target = tmp_path / "d" / "x.jpg"
    target.mkdir(parents=True)  # a directory in the way: rename fails
    with pytest.raises(OSError):
        write_durably(target, b"payload")
    assert not [p for p in target.parent.iterdir() if p.name.startswith(TMP_PREFIX)]


def test_ensure_dir_is_idempotent(tmp_path: Path) -> None:
    ensure_dir(tmp_path / "a" / "b")
    ensure_dir(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
