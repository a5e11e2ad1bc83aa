"""The device request-signing contract (Raspberry Pi capture devices → edge).

Every device request carries::

    X-Guardian-Device:    <device_id>
    X-Guardian-Timestamp: <unix seconds>
    X-Guardian-Signature: hex HMAC-SHA256(key, METHOD "\\n" PATH "\\n" TIMESTAMP "\\n"
                                          hex SHA-256 of the raw request body)

``key`` is the device key exactly as ``guardian edge device add`` printed it (its UTF-8
bytes). PATH is the request path without the query string.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER_DEVICE = "X-Guardian-Device"
HEADER_TIMESTAMP = "X-Guardian-Timestamp"
HEADER_SIGNATURE = "X-Guardian-Signature"
MAX_CLOCK_SKEW_S = 300


def canonical_string(method: str, path: str, timestamp: str, body_sha256_hex: str) -> bytes:
    """The bytes that are signed."""
    return f"{method.upper()}\n{path}\n{timestamp}\n{body_sha256_hex}".encode()


def sign(key: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """Hex signature of a request."""
    digest = hashlib.sha256(body).hexdigest()
    msg = canonical_string(method, path, timestamp, digest)
    return hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()


def signed_headers(
    key: str, device_id: str, method: str, path: str, body: bytes, now: float
) -> dict[str, str]:
    """The three headers for a request made at unix time ``now``."""
    ts = str(int(now))
    return {
        HEADER_DEVICE: device_id,
        HEADER_TIMESTAMP: ts,
        HEADER_SIGNATURE: sign(key, method, path, ts, body),
    }


def verify(
    key: str,
    method: str,
    path: str,
    timestamp: str,
    body_sha256_hex: str,
    signature: str,
    now: float,
    max_skew: int = MAX_CLOCK_SKEW_S,
) -> str | None:
    """``None`` when valid, else the reason it is not (never says which part differed)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return "timestamp is not unix seconds"
    if abs(now - ts) > max_skew:
        return f"timestamp is more than {max_skew} s off the edge's clock"
    msg = canonical_string(method, path, timestamp, body_sha256_hex)
    expected = hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        return "bad signature"
    return None
