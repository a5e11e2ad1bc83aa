"""The edge HTTP client: builds the multipart body, signs exactly those bytes, uploads."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from guardian.contracts.device_auth import signed_headers

logger = logging.getLogger(__name__)

CAPTURES_PATH = "/v1/captures"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Offsets below this are ordinary clock noise (the Date header has 1 s resolution).
CLOCK_SKEW_TOLERANCE_S = 30.0
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


def sniff_image(data: bytes) -> str | None:
    """``image/jpeg`` or ``image/png`` judged by the magic bytes, else None."""
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if data.startswith(PNG_MAGIC):
        return "image/png"
    return None


def build_multipart(
    fields: list[tuple[str, str]],
    file_field: str,
    filename: str,
    content_type: str,
    data: bytes,
    boundary: str,
) -> bytes:
    """A ``multipart/form-data`` body (RFC 7578): text fields, then one file part."""
    # The filename is reduced to a safe charset so no quoting or header injection is possible.
    safe_name = _UNSAFE_FILENAME.sub("_", filename) or "capture"
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{safe_name}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
    )
    parts.append(data)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def format_captured_at(value: datetime | str | None) -> str | None:
    """RFC 3339 text for ``captured_at`` (naive datetimes are rejected: ambiguous zone)."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("captured_at must be timezone-aware")
    return value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class UploadResult:
    """The edge's answer to one upload; ``status_code`` is None when no answer came."""

    status_code: int | None
    capture_id: str | None = None
    duplicate: bool = False
    retry_after: float | None = None
    error: str | None = None
    body: dict[str, Any] | None = None

    @property
    def delivered(self) -> bool:
        """The edge holds this capture (201 new, or 200 duplicate of an earlier upload)."""
        return self.status_code in (200, 201) and self.capture_id is not None


class EdgeClient:
    """Uploads captures to one edge as one device; thread-confined (one per uploader)."""

    def __init__(
        self,
        base_url: str,
        device_id: str,
        key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = httpx.URL(base_url.rstrip("/") + CAPTURES_PATH)
        self.device_id = device_id
        self._key = key
        self._clock = clock
        self._clock_offset = 0.0  # edge time minus our time, when our clock is clearly off
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> EdgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def clock_offset(self) -> float:
        """Seconds added to our clock when signing (learned from the edge's Date header)."""
        return self._clock_offset

    def build_request(
        self,
        image_bytes: bytes,
        device_seq: int,
        captured_at: datetime | str | None = None,
        filename: str | None = None,
    ) -> httpx.Request:
        """The signed request for one capture (the signature covers exactly its body)."""
        if device_seq < 0:
            raise ValueError("device_seq must be >= 0")
        content_type = sniff_image(image_bytes) or "application/octet-stream"
        if filename is None:
            filename = f"{device_seq}.{'png' if content_type == 'image/png' else 'jpg'}"
        fields = [("device_seq", str(device_seq))]
        stamp = format_captured_at(captured_at)
        if stamp is not None:
            fields.append(("captured_at", stamp))
        boundary = "guardian-" + secrets.token_hex(16)
        body = build_multipart(fields, "image", filename, content_type, image_bytes, boundary)
        now = self._clock() + self._clock_offset
        headers = signed_headers(self._key, self.device_id, "POST", self.url.path, body, now)
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        return self._http.build_request("POST", self.url, content=body, headers=headers)

    def upload(
        self,
        image_bytes: bytes,
        device_seq: int,
        captured_at: datetime | str | None = None,
        *,
        filename: str | None = None,
    ) -> UploadResult:
        """Send one capture once; never raises for network or HTTP errors."""
        request = self.build_request(image_bytes, device_seq, captured_at, filename)
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            return UploadResult(status_code=None, error=f"{type(exc).__name__}: {exc}")
        self._learn_clock(response)
        return self._result(response)

    def _result(self, response: httpx.Response) -> UploadResult:
        body: dict[str, Any] | None = None
        try:
            parsed = response.json()
            body = parsed if isinstance(parsed, dict) else {"detail": parsed}
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        error = None
        if response.status_code not in (200, 201):
            error = _error_text(body) or response.text[:200] or response.reason_phrase
        capture_id = body.get("capture_id") if body else None
        return UploadResult(
            status_code=response.status_code,
            capture_id=str(capture_id) if capture_id is not None else None,
            duplicate=bool(body.get("duplicate")) if body else False,
            retry_after=parse_retry_after(response.headers.get("retry-after"), self._clock()),
            error=error,
            body=body,
        )

    def _learn_clock(self, response: httpx.Response) -> None:
        # A Pi without a real-time clock may sign with a wrong time until NTP syncs; the
        # edge's clock is the one the signature is checked against, so follow it.
        date = response.headers.get("date")
        if not date:
            return
        try:
            edge_now = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return
        offset = edge_now - self._clock()
        new = offset if abs(offset) > CLOCK_SKEW_TOLERANCE_S else 0.0
        if abs(new - self._clock_offset) > CLOCK_SKEW_TOLERANCE_S:
            if new:
                logger.warning(
                    "device clock differs from the edge's; signing with the edge's time",
                    extra={"offset_s": round(offset, 1)},
                )
            else:
                logger.info("device clock agrees with the edge's again")
        self._clock_offset = new


def _error_text(body: dict[str, Any] | None) -> str | None:
    if not body:
        return None
    for key in ("error", "detail", "message"):
        if key in body:
            value = body[key]
            return value if isinstance(value, str) else json.dumps(value)
    return json.dumps(body)
