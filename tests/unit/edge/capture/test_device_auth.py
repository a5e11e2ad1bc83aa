"""The device signing contract: what ``sign`` makes, ``verify`` accepts; any change fails."""

from __future__ import annotations

import hashlib

import pytest

from guardian.contracts.device_auth import (
    HEADER_DEVICE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_CLOCK_SKEW_S,
    sign,
    signed_headers,
    verify,
)

KEY = "k3y-from-device-add"
NOW = 1_700_000_000.0
BODY = b"--boundary\r\n...image bytes...\r\n--boundary--\r\n"


def _check(
    *,
    key: str = KEY,
    method: str = "POST",
    path: str = "/v1/captures",
    timestamp: str | None = None,
    body: bytes = BODY,
    signature: str | None = None,
    now: float = NOW,
) -> str | None:
    headers = signed_headers(KEY, "door-pi", "POST", "/v1/captures", BODY, NOW)
    return verify(
        key,
        method,
        path,
        timestamp if timestamp is not None else headers[HEADER_TIMESTAMP],
        hashlib.sha256(body).hexdigest(),
        signature if signature is not None else headers[HEADER_SIGNATURE],
        now,
    )


def test_round_trip() -> None:
    headers = signed_headers(KEY, "door-pi", "POST", "/v1/captures", BODY, NOW)
    assert headers[HEADER_DEVICE] == "door-pi"
    assert headers[HEADER_TIMESTAMP] == str(int(NOW))
    assert headers[HEADER_SIGNATURE] == sign(KEY, "POST", "/v1/captures", str(int(NOW)), BODY)
    assert _check() is None


def test_signature_case_and_surrounding_space_do_not_matter() -> None:
    sig = sign(KEY, "POST", "/v1/captures", str(int(NOW)), BODY)
    assert _check(signature=f" {sig.upper()} ") is None


@pytest.mark.parametrize(
    "tamper",
    [
        {"key": "another-key"},
        {"method": "PUT"},
        {"path": "/v1/captures/other"},
        {"body": BODY + b"x"},
        {"timestamp": str(int(NOW) + 1)},
        {"signature": "0" * 64},
        {"signature": ""},
    ],
    ids=["key", "method", "path", "body", "timestamp", "signature", "empty-signature"],
)
def test_any_tampering_is_a_bad_signature(tamper: dict[str, str | bytes]) -> None:
    assert _check(**tamper) == "bad signature"  # type: ignore[arg-type]


@pytest.mark.parametrize("offset", [MAX_CLOCK_SKEW_S + 1, -(MAX_CLOCK_SKEW_S + 1)])
def test_a_skewed_clock_is_refused(offset: int) -> None:
    assert "timestamp is more than 300 s off" in str(_check(now=NOW + offset))


def test_skew_within_the_window_is_fine() -> None:
    assert _check(now=NOW + MAX_CLOCK_SKEW_S) is None


def test_a_timestamp_that_is_not_unix_seconds_is_refused() -> None:
    assert _check(timestamp="2024-01-01T00:00:00Z") == "timestamp is not unix seconds"
