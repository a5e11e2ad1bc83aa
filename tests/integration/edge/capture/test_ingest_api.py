"""``POST /v1/captures`` over real HTTP (uvicorn) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from guardian.common.db import session_factory
from guardian.common.seal import Sealer
from guardian.edge.app import create_app
from guardian.edge.capture.staging import uri_to_path
from guardian.edge.config import CaptureSettings, EdgeSettings
from guardian.edge.context import EdgeContext
from guardian.edge.store.devices import add_device, revoke_device
from guardian.edge.store.jobs import KIND_DETECT_CAPTURE
from guardian.edge.store.tables import Capture, Device, Job
from tests.capture_helpers import (
    capture_request,
    jpeg_bytes,
    png_bytes,
    serve_app,
    sign_request,
)
from tests.edge_fixtures import EdgeDb

DEVICE = "door-pi"
# Generous defaults so only the test that is about a limit meets it.
TEST_CAPTURE = {"min_free_bytes": 0, "rate_per_second": 1000.0, "rate_burst": 1000}


@dataclass
class Edge:
    """A running edge with one registered device."""

    ctx: EdgeContext
    url: str
    http: httpx.Client
    key: str
    device_id: str = DEVICE
    keys: dict[str, str] = field(default_factory=dict)

    def limits(self, **capture: Any) -> None:
        """Change capture limits of the running edge (read per request)."""
        merged = {**self.ctx.settings.capture.model_dump(), **capture}
        self.ctx.settings = self.ctx.settings.model_copy(
            update={"capture": CaptureSettings(**merged)}
        )

    def request(
        self,
        image: bytes | None,
        seq: int | str | None,
        *,
        captured_at: str | None = None,
        filename: str = "capture.jpg",
        content_type: str = "image/jpeg",
    ) -> httpx.Request:
        fields = {} if seq is None else {"device_seq": str(seq)}
        if captured_at is not None:
            fields["captured_at"] = captured_at
        return capture_request(
            self.url, image=image, fields=fields, filename=filename, content_type=content_type
        )

    def upload(
        self,
        image: bytes | None,
        seq: int | str | None,
        *,
        device_id: str | None = None,
        key: str | None = None,
        now: float | None = None,
        **kw: Any,
    ) -> httpx.Response:
        req = sign_request(
            self.request(image, seq, **kw), device_id or self.device_id, key or self.key, now
        )
        return self.http.send(req)

    def add_device(self, device_id: str) -> str:
        with self.ctx.sessions.begin() as session:
            key = add_device(session, self.ctx.sealer, device_id)
        self.keys[device_id] = key
        return key

    def captures(self) -> list[Capture]:
        with self.ctx.sessions() as session:
            return list(session.scalars(select(Capture).order_by(Capture.device_seq)))

    def jobs(self) -> list[Job]:
        with self.ctx.sessions() as session:
            return list(session.scalars(select(Job).order_by(Job.id)))

    def files(self) -> list[Path]:
        root = self.ctx.settings.media_dir / "captures"
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

    def ingest_count(self, result: str) -> float:
        value = self.ctx.metrics.registry.get_sample_value(
            "guardian_ingest_total", {"result": result}
        )
        return value or 0.0


@pytest.fixture
def make_edge(edge_db: EdgeDb) -> Iterator[Callable[..., Edge]]:
    """Start the real app on uvicorn with ``capture`` setting overrides."""
    with ExitStack() as stack:

        def make(**capture: Any) -> Edge:
            settings: EdgeSettings = edge_db.settings.model_copy(
                update={"capture": CaptureSettings(**{**TEST_CAPTURE, **capture})}
            )
            ctx = EdgeContext(
                settings, edge_db.engine, session_factory(edge_db.engine), Sealer(os.urandom(32))
            )
            url = stack.enter_context(serve_app(create_app(ctx)))
            http = stack.enter_context(httpx.Client(timeout=30))
            edge = Edge(ctx, url, http, key="")
            edge.key = edge.add_device(DEVICE)
            return edge

        yield make


@pytest.fixture
def edge(make_edge: Callable[..., Edge]) -> Edge:
    return make_edge()


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The JSON error body, after checking status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()["error"]
    assert body["code"] == code, body
    assert body["message"]
    return dict(body)


@dataclass(frozen=True)
class Accepted:
    capture_id: str
    path: Path
    data: bytes


def accept_one(edge: Edge, seq: int = 0, data: bytes | None = None) -> Accepted:
    """Upload one capture that must be accepted."""
    data = data if data is not None else jpeg_bytes(seed=seq)
    response = edge.upload(data, seq)
    assert response.status_code == 201, response.text
    capture_id = response.json()["capture_id"]
    (row,) = [c for c in edge.captures() if c.id == capture_id]
    return Accepted(capture_id, uri_to_path(row.storage_uri), data)


def assert_intact(edge: Edge, *accepted: Accepted) -> None:
    """Exactly the accepted captures exist: rows, whole files, one job each, no stray files."""
    rows = edge.captures()
    assert sorted(r.id for r in rows) == sorted(a.capture_id for a in accepted)
    for item in accepted:
        assert item.path.read_bytes() == item.data
    assert sorted(edge.files()) == sorted(a.path for a in accepted)
    jobs = edge.jobs()
    assert sorted(j.ref_id for j in jobs) == sorted(a.capture_id for a in accepted)


def test_accepted_capture_is_stored_at_its_canonical_path_with_a_queued_job(edge: Edge) -> None:
    data = jpeg_bytes(80, 60)
    before = dt.datetime.now(dt.UTC)
    response = edge.upload(data, 7)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {"capture_id": body["capture_id"], "status": "stored", "duplicate": False}

    (row,) = edge.captures()
    day = row.captured_at
    assert before - dt.timedelta(seconds=5) <= day <= dt.datetime.now(dt.UTC)
    expected = (
        edge.ctx.settings.media_dir
        / "captures"
        / DEVICE
        / f"{day:%Y}"
        / f"{day:%m}"
        / f"{day:%d}"
        / f"{row.id}.jpg"
    )
    assert row.storage_uri == expected.absolute().as_uri()
    assert expected.read_bytes() == data
    assert edge.files() == [expected]
    assert (row.device_id, row.device_seq, row.status, row.file_state) == (
        DEVICE,
        7,
        "stored",
        "present",
    )
    assert (row.content_type, row.width, row.height, row.size_bytes) == (
        "image/jpeg",
        80,
        60,
        len(data),
    )
    (job,) = edge.jobs()
    assert (job.kind, job.ref_id, job.fair_key, job.state) == (
        KIND_DETECT_CAPTURE,
        row.id,
        DEVICE,
        "queued",
    )
    assert job.max_attempts == edge.ctx.settings.queue.max_attempts
    with edge.ctx.sessions() as session:
        device = session.get(Device, DEVICE)
        assert device is not None and device.last_seen_at is not None
    assert edge.ingest_count("accepted") == 1


def test_png_and_captured_at_place_the_file_by_utc_date(edge: Edge) -> None:
    response = edge.upload(
        png_bytes(), 1, captured_at="2024-02-29T23:30:00-05:00", filename="x.png"
    )
    assert response.status_code == 201, response.text
    (row,) = edge.captures()
    assert row.captured_at == dt.datetime(2024, 3, 1, 4, 30, tzinfo=dt.UTC)
    path = uri_to_path(row.storage_uri)
    assert path.relative_to(edge.ctx.settings.media_dir).parts == (
        "captures",
        DEVICE,
        "2024",
        "03",
        "01",
        f"{row.id}.png",
    )
    assert row.content_type == "image/png"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01t12:00:00.250z", dt.datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=dt.UTC)),
        ("2024-05-01 14:00:00+02:00", dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)),
    ],
)
def test_rfc3339_variants_are_accepted(edge: Edge, text: str, expected: dt.datetime) -> None:
    assert edge.upload(jpeg_bytes(), 0, captured_at=text).status_code == 201
    (row,) = edge.captures()
    assert row.captured_at == expected


def test_a_retry_with_the_same_bytes_is_a_duplicate_of_the_original(edge: Edge) -> None:
    first = accept_one(edge, 3)
    for _ in range(2):
        response = edge.upload(first.data, 3)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "capture_id": first.capture_id,
            "status": "stored",
            "duplicate": True,
        }
    assert_intact(edge, first)
    assert edge.ingest_count("duplicate") == 2


def test_the_same_seq_with_other_bytes_conflicts_and_keeps_the_original(edge: Edge) -> None:
    first = accept_one(edge, 5)
    mtime = first.path.stat().st_mtime_ns
    error = error_of(edge.upload(jpeg_bytes(seed=99), 5), 409, "conflict")
    assert "device_seq 5" in error["message"] and "different bytes" in error["message"]
    assert error["capture_id"] == first.capture_id
    assert error["next_seq"] == 6  # where a reflashed device can resume
    assert first.path.stat().st_mtime_ns == mtime
    assert_intact(edge, first)
    assert edge.ingest_count("conflict") == 1


def test_concurrent_identical_uploads_make_exactly_one_capture(edge: Edge) -> None:
    data = jpeg_bytes(seed=42)
    start = threading.Barrier(8)
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        request = sign_request(edge.request(data, 11), DEVICE, edge.key)
        with httpx.Client(timeout=60) as client:
            start.wait()
            response = client.send(request)
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201], [r.text for r in responses]
    assert len({r.json()["capture_id"] for r in responses}) == 1
    (row,) = edge.captures()
    assert_intact(edge, Accepted(row.id, uri_to_path(row.storage_uri), data))


def test_unauthenticated_requests_are_refused_with_401(edge: Edge) -> None:
    kept = accept_one(edge)
    data = jpeg_bytes(seed=1)
    edge.add_device("old-pi")
    with edge.ctx.sessions.begin() as session:
        revoke_device(session, "old-pi")

    unsigned = edge.http.send(edge.request(data, 1))
    error = error_of(unsigned, 401, "unauthorized")
    assert "missing header(s): X-Guardian-Device, X-Guardian-Timestamp" in error["message"]
    assert unsigned.headers["www-authenticate"].startswith("Guardian-HMAC")

    cases: dict[str, tuple[httpx.Response, str]] = {
        "unknown device": (
            edge.upload(data, 1, device_id="ghost-pi"),
            "unknown or revoked device",
        ),
        "revoked device": (
            edge.upload(data, 1, device_id="old-pi", key=edge.keys["old-pi"]),
            "unknown or revoked device",
        ),
        "id that is not a device id": (
            edge.upload(data, 1, device_id="../etc"),
            "unknown or revoked device",
        ),
        "wrong key": (edge.upload(data, 1, key="not-the-key"), "bad signature"),
        "stale timestamp": (
            edge.upload(data, 1, now=edge.ctx.clock() - 301),
            "timestamp is more than 300 s off",
        ),
        "future timestamp": (
            edge.upload(data, 1, now=edge.ctx.clock() + 301),
            "timestamp is more than 300 s off",
        ),
    }
    # A valid signature over other bytes, or for another path, does not carry over.
    signed = sign_request(edge.request(data, 1), DEVICE, edge.key)
    tampered = edge.request(jpeg_bytes(seed=2), 1)
    tampered.headers.update({k: v for k, v in signed.headers.items() if k.startswith("x-guard")})
    cases["body changed after signing"] = (edge.http.send(tampered), "bad signature")
    elsewhere = edge.request(data, 1)
    elsewhere.url = elsewhere.url.copy_with(path="/v1/other")
    sign_request(elsewhere, DEVICE, edge.key)
    moved = edge.request(data, 1)
    moved.headers.update({k: v for k, v in elsewhere.headers.items() if k.startswith("x-guard")})
    cases["signed for another path"] = (edge.http.send(moved), "bad signature")

    for name, (response, reason) in cases.items():
        error = error_of(response, 401, "unauthorized")
        assert reason in error["message"], name
        assert edge.key not in response.text, name
    assert edge.ingest_count("unauthorized") == 1 + len(cases)
    assert_intact(edge, kept)


def test_oversized_uploads_are_refused_with_413(edge: Edge) -> None:
    kept = accept_one(edge)
    edge.limits(max_bytes=2_000)
    big = jpeg_bytes(400, 300, seed=3)
    assert len(big) > 70_000

    # By Content-Length, before the body is read.
    error = error_of(edge.upload(big, 1), 413, "payload_too_large")
    assert "larger than" in error["message"] and error["max_bytes"] == 2_000

    # Streamed without a Content-Length (chunked): refused while reading.
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    headers = dict(sign_request(edge.request(b"x", 1), DEVICE, edge.key).headers)
    headers.pop("content-length", None)
    response = edge.http.post(edge.url + "/v1/captures", content=chunks(), headers=headers)
    assert response.request.headers.get("transfer-encoding") == "chunked"
    error_of(response, 413, "payload_too_large")

    # A body within the framing allowance whose image part is over the limit.
    medium = jpeg_bytes(64, 64, seed=4)
    assert 2_000 < len(medium) < 60_000
    error = error_of(edge.upload(medium, 1), 413, "payload_too_large")
    assert f"image is {len(medium)} bytes, over the limit of 2000" in error["message"]
    assert edge.ingest_count("too_large") == 3
    assert_intact(edge, kept)


def test_content_that_is_not_a_decodable_jpeg_or_png_is_refused_with_415(edge: Edge) -> None:
    kept = accept_one(edge)
    text = error_of(
        edge.upload(b"just some text, not a photo\n", 1, filename="photo.jpg"),
        415,
        "unsupported_media_type",
    )
    assert "not a JPEG or PNG" in text["message"] and text["field"] == "image"

    data = jpeg_bytes(seed=5)
    truncated = error_of(edge.upload(data[: len(data) // 2], 1), 415, "unsupported_media_type")
    assert "truncated or corrupt" in truncated["message"]

    edge.limits(max_pixels=1_000)
    over = error_of(
        edge.upload(png_bytes(64, 48), 1, filename="x.png", content_type="image/png"),
        415,
        "unsupported_media_type",
    )
    assert "64x48 = 3072 pixels, over the limit of 1000" in over["message"]
    assert edge.ingest_count("unsupported_media") == 3
    assert_intact(edge, kept)


def test_missing_or_invalid_fields_are_refused_with_422_naming_the_field(edge: Edge) -> None:
    kept = accept_one(edge)
    data = jpeg_bytes(seed=6)
    cases: list[tuple[httpx.Response, list[str], str]] = [
        (edge.upload(None, 1), ["image"], "missing"),
        (edge.upload(data, None), ["device_seq"], "missing"),
        (edge.upload(data, -1), ["device_seq"], "between 0 and"),
        (edge.upload(data, "seven"), ["device_seq"], "must be an integer"),
        (edge.upload(data, 2**63), ["device_seq"], "between 0 and"),
        (edge.upload(data, 1, captured_at="yesterday"), ["captured_at"], "RFC 3339"),
        (edge.upload(data, 1, captured_at="2024-05-01T12:00:00"), ["captured_at"], "timezone"),
        (edge.upload(data, 1, captured_at="2024-05-01"), ["captured_at"], "RFC 3339"),
        (edge.upload(data, 1, captured_at="2024-05-01T12:00Z"), ["captured_at"], "RFC 3339"),
        (edge.upload(data, 1, captured_at="2024-13-01T12:00:00Z"), ["captured_at"], "RFC 3339"),
        (edge.upload(data, "1_000"), ["device_seq"], "must be an integer"),
        (edge.upload(None, "x"), ["image", "device_seq"], "missing"),
    ]
    # Not multipart at all.
    urlencoded = httpx.Request("POST", edge.url + "/v1/captures", data={"device_seq": "1"})
    cases.append((edge.http.send(sign_request(urlencoded, DEVICE, edge.key)), ["request"], "multi"))
    # Multipart without a boundary cannot be parsed.
    broken = httpx.Request(
        "POST",
        edge.url + "/v1/captures",
        content=b"--x\r\n\r\n",
        headers={"content-type": "multipart/form-data"},
    )
    cases.append(
        (edge.http.send(sign_request(broken, DEVICE, edge.key)), ["request"], "not valid multipart")
    )

    for response, fields, words in cases:
        error = error_of(response, 422, "invalid_request")
        assert [f["field"] for f in error["fields"]] == fields, error
        assert words in error["message"], error
        for name in fields:
            assert error["message"].startswith(fields[0]) and f"{name}:" in error["message"]
    assert edge.ingest_count("invalid") == len(cases)
    assert_intact(edge, kept)


def test_a_device_over_its_rate_is_refused_with_429_and_retry_after(
    make_edge: Callable[..., Edge],
) -> None:
    edge = make_edge(rate_per_second=0.5, rate_burst=2)
    # Requests that fail authentication do not spend the device's tokens.
    for _ in range(3):
        error_of(edge.upload(jpeg_bytes(), 0, key="wrong"), 401, "unauthorized")
    kept = [accept_one(edge, 0), accept_one(edge, 1)]
    response = edge.upload(jpeg_bytes(seed=2), 2)
    error = error_of(response, 429, "rate_limited")
    assert response.headers["retry-after"] == "2"
    assert 1.5 < error["retry_after_seconds"] <= 2.0
    assert "rate limit" in error["message"]
    # Other devices have their own bucket.
    other_key = edge.add_device("other-pi")
    assert edge.upload(jpeg_bytes(seed=3), 0, device_id="other-pi", key=other_key).is_success
    assert edge.ingest_count("rate_limited") == 1
    assert len(edge.captures()) == 3
    for item in kept:
        assert item.path.read_bytes() == item.data


def test_low_disk_is_refused_with_507_but_retries_of_stored_captures_still_answer(
    edge: Edge,
) -> None:
    kept = accept_one(edge)
    edge.limits(min_free_bytes=2**62)
    error = error_of(edge.upload(jpeg_bytes(seed=7), 1), 507, "insufficient_storage")
    assert "under the floor" in error["message"] and error["min_free_bytes"] == 2**62
    retry = edge.upload(kept.data, 0)
    assert retry.status_code == 200 and retry.json()["duplicate"] is True
    assert edge.ingest_count("insufficient_storage") == 1
    assert_intact(edge, kept)


def test_every_capture_counts_in_the_prometheus_metrics(edge: Edge) -> None:
    accept_one(edge)
    edge.upload(jpeg_bytes(seed=0), 0)
    with edge.ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Capture)) == 1
    assert (edge.ingest_count("accepted"), edge.ingest_count("duplicate")) == (1, 1)
