"""Download names and relay URLs of playback."""

from __future__ import annotations

import datetime as dt

import pytest

from guardian.common.api_errors import Unprocessable
from guardian.control.playback.naming import (
    download_name,
    media_url,
    validate_public_url,
    zone_of,
)

START = dt.datetime(2026, 7, 1, 22, 30, 5, tzinfo=dt.UTC)


def test_download_name_uses_the_viewers_local_time_and_safe_characters() -> None:
    assert (
        download_name("Front door", START, "clip", dt.UTC) == "Front_door-20260701-223005-clip.mp4"
    )
    tokyo = zone_of("Asia/Tokyo")
    assert download_name('a"/b', START, "snapshot", tokyo) == "a_b-20260702-073005-snapshot.jpg"


def test_unknown_zones_and_bad_public_urls_are_bad_requests() -> None:
    assert zone_of(None) is dt.UTC
    for zone in ("Mars/Olympus", "../etc/passwd"):
        with pytest.raises(Unprocessable, match="time zone"):
            zone_of(zone)
    assert validate_public_url(" https://relay.example:8443/ ") == "https://relay.example:8443"
    for bad in ("ftp://relay", "https://", "https://relay/?a=1", "relay.example"):
        with pytest.raises(Unprocessable):
            validate_public_url(bad)


def test_media_urls_carry_the_token_and_the_download_flag() -> None:
    url = media_url("https://r.example/", "e1", "clip", "a.b+c", download=True)
    assert url == "https://r.example/v1/media/e1/clip?token=a.b%2Bc&download=1"
