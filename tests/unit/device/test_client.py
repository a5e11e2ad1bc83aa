"""The edge client: the multipart body it signs is exactly the body that arrives."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from guardian.contracts.device_auth import (
    HEADER_DEVICE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    verify,
)
from guardian.device.client import (
    EdgeClient,
    build_multipart,
    format_captured_at,
    parse_retry_after,
    sniff_image,
)

KEY = "k-test-0123456789"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4  # binary, includes CR/LF and dashes
PNG = b"\x89PNG\r\n\x1a\n" + b"\r\n--not-a-boundary\r\n" * 3


@dataclass
class Recorder:
    """What the raw HTTP server received, and what it should answer next."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 201
    body: bytes = b'{"capture_id": "cap-1", "status": "stored", "duplicate": false}'
    headers: dict[str, str] = field(default_factory=dict)


def _handler(rec: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            rec.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
            )
            self.send_response(rec.status)
            for k, v in rec.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(rec.body)))
            self.end_headers()
            self.wfile.write(rec.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def raw_server() -> Iterator[tuple[str, Recorder]]:
    rec = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _parse_form(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    out = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        out[name] = (part.get_filename(), payload)
    return out


def test_signed_body_is_the_body_sent(raw_server: tuple[str, Recorder]) -> None:
    url, rec = raw_server
    with EdgeClient(url, "pi-1", KEY, timeout=5) as client:
        result = client.upload(JPEG, 17, "2024-05-01T12:00:00Z", filename='a "b".jpg')
    assert result.delivered and result.capture_id == "cap-1" and not result.duplicate
    (req,) = rec.requests
    headers, body = req["headers"], req["body"]
    assert req["path"] == "/v1/captures"
    assert headers[HEADER_DEVICE] == "pi-1"
    digest = hashlib.sha256(body).hexdigest()
    reason = verify(
        KEY, "POST", "/v1/captures", headers[HEADER_TIMESTAMP], digest,
        headers[HEADER_SIGNATURE], time.time(),
    )  # fmt: skip
    assert reason is None
    assert verify("other", "POST", "/v1/captures", headers[HEADER_TIMESTAMP], digest,
                  headers[HEADER_SIGNATURE], time.time()) == "bad signature"  # fmt: skip
    form = _parse_form(headers["Content-Type"], body)
    assert form["device_seq"] == (None, b"17")
    assert form["captured_at"] == (None, b"2024-05-01T12:00:00Z")
    assert form["image"] == ("a__b_.jpg", JPEG)


def test_build_request_signature_covers_request_content() -> None:
    client = EdgeClient("http://127.0.0.1:9/edge/", "pi-1", KEY, clock=lambda: 1_700_000_000.0)
    try:
        request = client.build_request(PNG, 0)
    finally:
        client.close()
    assert request.url.path == "/edge/v1/captures"  # a path prefix is part of what is signed
    assert request.headers[HEADER_TIMESTAMP] == "1700000000"
    digest = hashlib.sha256(request.content).hexdigest()
    assert verify(KEY, "POST", "/edge/v1/captures", "1700000000", digest,
                  request.headers[HEADER_SIGNATURE], 1_700_000_000.0) is None  # fmt: skip
    form = _parse_form(request.headers["Content-Type"], request.content)
    assert "captured_at" not in form
    assert form["image"] == ("0.png", PNG)


def test_error_answer_is_parsed(raw_server: tuple[str, Recorder]) -> None:
    url, rec = raw_server
    rec.status, rec.body = 429, b'{"error": "rate limited"}'
    rec.headers = {"Retry-After": "3"}
    with EdgeClient(url, "pi-1", KEY, timeout=5) as client:
        result = client.upload(JPEG, 1)
    assert result.status_code == 429 and not result.delivered
    assert result.retry_after == 3.0
    assert result.error == "rate limited"
    assert result.body == {"error": "rate limited"}


def test_fastapi_style_detail_and_non_json(raw_server: tuple[str, Recorder]) -> None:
    url, rec = raw_server
    rec.status, rec.body = 422, json.dumps({"detail": [{"loc": ["device_seq"]}]}).encode()
    with EdgeClient(url, "pi-1", KEY, timeout=5) as client:
        result = client.upload(JPEG, 1)
        assert result.error is not None and "device_seq" in result.error
        rec.status, rec.body = 502, b"bad gateway"
        result = client.upload(JPEG, 1)
    assert result.status_code == 502 and result.body is None and result.error == "bad gateway"


def test_unreachable_edge_is_a_result_not_an_exception() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    with EdgeClient(f"http://127.0.0.1:{port}", "pi-1", KEY, timeout=2) as client:
        result = client.upload(JPEG, 1)
    assert result.status_code is None and not result.delivered
    assert result.error is not None and "Connect" in result.error


def test_learns_edge_clock_when_ours_is_far_off(raw_server: tuple[str, Recorder]) -> None:
    url, rec = raw_server
    edge_now = time.time()
    rec.headers = {"Date": formatdate(edge_now, usegmt=True)}
    with EdgeClient(url, "pi-1", KEY, timeout=5, clock=lambda: edge_now - 3600) as client:
        client.upload(JPEG, 1)
        assert client.clock_offset == pytest.approx(3600, abs=2)
        client.upload(JPEG, 2)
    ts = int(rec.requests[1]["headers"][HEADER_TIMESTAMP])
    assert abs(ts - edge_now) <= 2


def test_small_clock_noise_is_ignored(raw_server: tuple[str, Recorder]) -> None:
    url, rec = raw_server
    rec.headers = {"Date": formatdate(time.time() + 5, usegmt=True)}
    with EdgeClient(url, "pi-1", KEY, timeout=5) as client:
        client.upload(JPEG, 1)
        assert client.clock_offset == 0.0


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("5", now) == 5.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("", now) is None


def test_sniff_and_captured_at() -> None:
    assert sniff_image(JPEG) == "image/jpeg"
    assert sniff_image(PNG) == "image/png"
    assert sniff_image(b"GIF89a") is None
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert format_captured_at(when) == "2024-05-01T12:00:00Z"
    with pytest.raises(ValueError):
        format_captured_at(datetime(2024, 5, 1, 12, 0))
    with EdgeClient("http://127.0.0.1:9", "d", KEY) as client, pytest.raises(ValueError):
        client.build_request(JPEG, -1)


def test_multipart_layout() -> None:
    body = build_multipart([("a", "1")], "image", "x.png", "image/png", b"DATA", "BOUND")
    assert body == (
        b'--BOUND\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        b'--BOUND\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
        b"Content-Type: image/png\r\n\r\nDATA\r\n--BOUND--\r\n"
    )
