"""The device client against a real HTTP edge on 127.0.0.1: exactly-once delivery.

The edge here is a small FastAPI app that implements the ``POST /v1/captures`` contract
strictly (HMAC check, (device, seq) + sha256 dedupe with 200/409, 413/415/422/429). The
real edge app will later be pointed at by the same tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image
from starlette.datastructures import UploadFile

from guardian.contracts.device_auth import HEADER_DEVICE, HEADER_SIGNATURE, HEADER_TIMESTAMP, verify
from guardian.device.client import EdgeClient
from guardian.device.runner import DeviceConfig, run_device
from guardian.device.sources import WatchDirSource
from guardian.device.spool import Spool
from tests.ports import reserve_port

DEVICE = "pi-1"
KEY = "device-key-" + "x" * 20


# --- the strict test edge ------------------------------------------------------------------


@dataclass
class Stored:
    capture_id: str
    seq: int
    sha256: str
    captured_at: str | None


@dataclass
class FakeEdge:
    """Everything the test edge stored and saw; survives server restarts (the edge's DB)."""

    keys: dict[str, str]
    captures: dict[tuple[str, int], Stored] = field(default_factory=dict)
    requests: list[tuple[float, int, int | None]] = field(default_factory=list)  # t, status, seq
    throttle: int = 0  # answer this many next requests with 429
    retry_after: int = 1
    max_bytes: int = 10 * 1024 * 1024
    delay: float = 0.0  # seconds to sit on an accepted upload before answering
    lock: threading.Lock = field(default_factory=threading.Lock)

    def statuses(self, seq: int | None = None) -> list[int]:
        with self.lock:
            return [s for _, s, q in self.requests if seq is None or q == seq]

    def stored_seqs_in_arrival_order(self) -> list[int]:
        with self.lock:
            return [q for _, s, q in self.requests if s == 201 and q is not None]


def _decodable_image(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("JPEG", "PNG"):
                return False
            img.load()
    except (OSError, SyntaxError, ValueError):
        return False
    return True


def make_app(edge: FakeEdge) -> FastAPI:
    app = FastAPI()

    def answer(
        status: int, seq: int | None, body: dict[str, object], **headers: str
    ) -> JSONResponse:
        with edge.lock:
            edge.requests.append((time.monotonic(), status, seq))
        return JSONResponse(body, status_code=status, headers=headers)

    @app.post("/v1/captures")
    async def captures(request: Request) -> JSONResponse:
        body = await request.body()  # the raw bytes the signature covers
        device = request.headers.get(HEADER_DEVICE, "")
        key = edge.keys.get(device)
        if key is None:
            return answer(401, None, {"error": "unknown device"})
        reason = verify(
            key,
            request.method,
            request.url.path,
            request.headers.get(HEADER_TIMESTAMP, ""),
            hashlib.sha256(body).hexdigest(),
            request.headers.get(HEADER_SIGNATURE, ""),
            time.time(),
        )
        if reason is not None:
            return answer(401, None, {"error": reason})
        with edge.lock:
            throttled = edge.throttle > 0
            if throttled:
                edge.throttle -= 1
        if throttled:
            return answer(
                429, None, {"error": "rate limited"}, **{"Retry-After": str(edge.retry_after)}
            )
        if len(body) > edge.max_bytes:
            return answer(413, None, {"error": f"over {edge.max_bytes} bytes"})
        async with request.form() as form:  # parsed from the cached body; closes the files
            return await accept(
                device, form.get("image"), form.get("device_seq"), form.get("captured_at")
            )

    async def accept(
        device: str, image: object, seq_text: object, captured_at: object
    ) -> JSONResponse:
        if not isinstance(image, UploadFile) or not isinstance(seq_text, str):
            return answer(422, None, {"error": "image and device_seq are required"})
        if not seq_text.isdigit():
            return answer(422, None, {"error": "device_seq must be an integer >= 0"})
        seq = int(seq_text)
        if captured_at is not None:
            try:
                ok = isinstance(captured_at, str) and datetime.fromisoformat(captured_at).tzinfo
            except ValueError:
                ok = False
            if not ok:
                return answer(422, seq, {"error": "captured_at must be RFC 3339"})
        data = await image.read()
        if not _decodable_image(data):
            return answer(415, seq, {"error": "not a decodable JPEG or PNG"})
        digest = hashlib.sha256(data).hexdigest()
        stamp = captured_at if isinstance(captured_at, str) else None
        with edge.lock:
            existing = edge.captures.get((device, seq))
            if existing is None:
                edge.captures[(device, seq)] = Stored(uuid.uuid4().hex, seq, digest, stamp)
        if existing is not None:
            if existing.sha256 != digest:
                return answer(409, seq, {"error": "device_seq already used with other bytes"})
            dup = {"capture_id": existing.capture_id, "status": "stored", "duplicate": True}
            return answer(200, seq, dup)
        await asyncio.sleep(edge.delay)
        new = {"capture_id": edge.captures[(device, seq)].capture_id, "status": "stored"}
        return answer(201, seq, {**new, "duplicate": False})

    return app


class EdgeServer:
    """uvicorn serving the test edge in a thread; stop and start again on the same port."""

    def __init__(self, edge: FakeEdge, port: int) -> None:
        self.edge = edge
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> EdgeServer:
        config = uvicorn.Config(
            make_app(self.edge), host="127.0.0.1", port=self.port,
            log_level="warning", lifespan="off", ws="none", http="h11",
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_until(lambda: self._server is not None and self._server.started, 10, "edge start")
        return self

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(10)
        assert not self._thread.is_alive()


@pytest.fixture
def edge() -> FakeEdge:
    return FakeEdge(keys={DEVICE: KEY})


@pytest.fixture
def server(edge: FakeEdge) -> Iterator[EdgeServer]:
    srv = EdgeServer(edge, reserve_port()).start()
    yield srv
    if srv._server is not None and not srv._server.should_exit:
        srv.stop()


# --- helpers -------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.01)


def image_bytes(n: int) -> bytes:
    """A small, unique, valid image (PNG for even n, JPEG for odd)."""
    img = Image.new("RGB", (16, 12), (n % 251, (n * 7) % 251, (n * 13) % 251))
    out = io.BytesIO()
    img.save(out, format="PNG" if n % 2 == 0 else "JPEG", quality=95)
    return out.getvalue()


@dataclass
class Sensor:
    """Drops files into the watched folder the recommended way (temp name, then rename)."""

    watch: Path
    dropped: dict[str, int] = field(default_factory=dict)  # sha256 -> drop index

    def drop(self, count: int = 1, data: bytes | None = None) -> None:
        for _ in range(count):
            n = len(self.dropped)
            blob = data if data is not None else image_bytes(n)
            ext = "png" if blob.startswith(b"\x89PNG") else "jpg"
            name = f"{n:05d}.{ext}"
            (self.watch / f".{name}.tmp").write_bytes(blob)
            os.rename(self.watch / f".{name}.tmp", self.watch / name)
            self.dropped[hashlib.sha256(blob).hexdigest()] = n
            time.sleep(0.002)  # distinct mtimes keep the drop order


def assert_exactly_once(edge: FakeEdge, sensor: Sensor) -> None:
    stored = [c for (dev, _), c in edge.captures.items() if dev == DEVICE]
    hashes = [c.sha256 for c in stored]
    assert len(hashes) == len(set(hashes)), "a capture was stored under two seqs"
    assert set(hashes) == set(sensor.dropped), "a capture was lost"
    arrivals = edge.stored_seqs_in_arrival_order()
    assert arrivals == sorted(arrivals) and len(arrivals) == len(set(arrivals))
    # Seqs follow the order the sensor dropped the files in.
    by_drop = sorted(stored, key=lambda c: sensor.dropped[c.sha256])
    seqs = [c.seq for c in by_drop]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))


@pytest.fixture
def sensor(tmp_path: Path) -> Sensor:
    watch = tmp_path / "watch"
    watch.mkdir()
    return Sensor(watch)


def device_config(url: str, spool: Path, key: str = KEY) -> DeviceConfig:
    return DeviceConfig(
        edge_url=url, device_id=DEVICE, key=key, spool_dir=spool,
        timeout=5, backoff_base=0.02, backoff_cap=0.2, idle_poll=0.1,
    )  # fmt: skip


class InProcessDevice:
    """``run_device`` on a thread with its own stop event."""

    def __init__(self, config: DeviceConfig, watch: Path) -> None:
        self.stop = threading.Event()
        self.code: int | None = None

        def target() -> None:
            self.code = run_device(config, [WatchDirSource(watch, poll=0.02)], stop=self.stop)

        self.thread = threading.Thread(target=target)
        self.thread.start()

    def close(self) -> int | None:
        self.stop.set()
        self.thread.join(20)
        assert not self.thread.is_alive()
        return self.code


def pending(spool: Path) -> int:
    return len(Spool(spool).pending_seqs())


# --- the tests -----------------------------------------------------------------------------


def test_delivers_everything_exactly_once_across_an_edge_outage(
    edge: FakeEdge, server: EdgeServer, sensor: Sensor, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    device = InProcessDevice(device_config(server.url, spool), sensor.watch)
    try:
        sensor.drop(5)
        wait_until(lambda: len(edge.captures) == 5, what="first batch delivered")

        server.stop()  # outage: the device keeps capturing and spooling
        sensor.drop(6)
        wait_until(lambda: pending(spool) == 6, what="outage batch spooled")
        time.sleep(0.5)  # several failed retries
        assert len(edge.captures) == 5
        assert pending(spool) == 6

        server.start()  # same port, same store
        sensor.drop(4)
        wait_until(lambda: len(edge.captures) == 15, what="everything delivered")
        wait_until(lambda: pending(spool) == 0, what="spool drained")
    finally:
        assert device.close() == 0
    assert_exactly_once(edge, sensor)
    assert set(edge.statuses()) == {201}


@pytest.mark.slow
def test_exactly_once_across_device_crashes(
    edge: FakeEdge, server: EdgeServer, sensor: Sensor, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    log = (tmp_path / "device.log").open("ab")

    def start(fault: str = "") -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "GUARDIAN_DEVICE_KEY": KEY,  # not on the command line
            "GUARDIAN_FAULTS": fault,
            "GUARDIAN_LOG_FORMAT": "json",
        }
        cmd = [
            sys.executable, "-m", "guardian.device.cli", "run",
            "--edge", server.url, "--device-id", DEVICE, "--watch", str(sensor.watch),
            "--spool", str(spool), "--poll", "0.02", "--timeout", "5",
            "--backoff-base", "0.02", "--backoff-cap", "0.2",
        ]  # fmt: skip
        return subprocess.Popen(cmd, env=env, stdout=log, stderr=log)

    try:
        # Each run dies by SIGKILL at a different point of the pipeline.
        for fault in (
            "device_after_delivered",  # the edge stored it, the device never heard
            "device_watch_after_claim",  # file claimed, not yet spooled
            "device_spool_after_data",  # data written, sidecar not yet
            "device_spool_after_data_unlink",  # removal half done
        ):
            proc = start(fault)
            sensor.drop(2)
            assert proc.wait(30) == -signal.SIGKILL, f"{fault} was not reached"

        # A plain kill at an arbitrary moment, with uploads in flight.
        edge.delay = 0.05
        proc = start()
        sensor.drop(8)
        wait_until(lambda: len(edge.captures) >= 6, what="some progress")
        proc.kill()
        proc.wait(10)
        sensor.drop(3)  # while the device is down

        edge.delay = 0.0
        proc = start()
        sensor.drop(3)
        wait_until(lambda: len(edge.captures) == len(sensor.dropped), what="all delivered")
        wait_until(lambda: pending(spool) == 0, what="spool drained")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, "graceful shutdown on SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert_exactly_once(edge, sensor)
    assert 200 in edge.statuses(), "the re-send after a lost answer should be a duplicate"
    assert not set(edge.statuses()) - {200, 201}
    assert list((sensor.watch / ".guardian-claimed").iterdir()) == []
    assert sorted(p.name for p in sensor.watch.iterdir()) == [".guardian-claimed"]


def test_rate_limit_retry_after_is_honoured(
    edge: FakeEdge, server: EdgeServer, sensor: Sensor, tmp_path: Path
) -> None:
    edge.throttle, edge.retry_after = 1, 1
    device = InProcessDevice(device_config(server.url, tmp_path / "spool"), sensor.watch)
    try:
        sensor.drop(1)
        wait_until(lambda: len(edge.captures) == 1, what="delivery after 429")
    finally:
        device.close()
    (t429, s429, _), (t201, s201, _) = edge.requests
    assert (s429, s201) == (429, 201)  # no hammering in between despite a 0.02 s backoff base
    assert t201 - t429 >= 0.95


@pytest.mark.parametrize("refusal", [409, 413, 415])
def test_permanent_refusal_moves_item_to_rejected_and_is_not_retried(
    edge: FakeEdge, server: EdgeServer, sensor: Sensor, tmp_path: Path, refusal: int
) -> None:
    if refusal == 409:
        edge.captures[(DEVICE, 0)] = Stored("older", 0, "0" * 64, None)
        first = image_bytes(100)
    elif refusal == 413:
        edge.max_bytes = 50_000
        noisy = Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3))
        out = io.BytesIO()
        noisy.save(out, format="PNG")
        first = out.getvalue()
    else:
        first = b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10  # passes the sniff, not a decode
    spool = tmp_path / "spool"
    device = InProcessDevice(device_config(server.url, spool), sensor.watch)
    try:
        sensor.drop(1, data=first)
        sensor.drop(1)
        wait_until(lambda: (DEVICE, 1) in edge.captures, what="the next capture delivered")
        time.sleep(0.3)  # would be several retries if it were retried
    finally:
        device.close()
    assert edge.statuses(seq=0 if refusal != 413 else None).count(refusal) == 1
    (rejected,) = Spool(spool).rejected()
    assert rejected["device_seq"] == 0 and rejected["status"] == refusal
    assert "error" in rejected["error"]
    assert pending(spool) == 0


def test_bad_key_is_retried_until_reprovisioned(
    edge: FakeEdge, server: EdgeServer, sensor: Sensor, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    device = InProcessDevice(device_config(server.url, spool, key="wrong"), sensor.watch)
    try:
        sensor.drop(2)
        wait_until(lambda: edge.statuses().count(401) >= 3, what="retries with the bad key")
        assert pending(spool) == 2 and edge.captures == {}
    finally:
        device.close()
    assert Spool(spool).rejected() == []
    device = InProcessDevice(device_config(server.url, spool), sensor.watch)  # new key
    try:
        wait_until(lambda: len(edge.captures) == 2, what="delivery with the right key")
    finally:
        device.close()
    assert_exactly_once(edge, sensor)


def test_device_with_a_wrong_clock_follows_the_edge(edge: FakeEdge, server: EdgeServer) -> None:
    with EdgeClient(server.url, DEVICE, KEY, timeout=5, clock=lambda: time.time() - 5000) as c:
        first = c.upload(image_bytes(1), 0)
        second = c.upload(image_bytes(1), 0)
    assert first.status_code == 401 and first.error is not None and "timestamp" in first.error
    assert second.status_code == 201 and second.delivered


def _send(url: str, image: Path, seq: int, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable, "-m", "guardian.device.cli", "send", str(image), "--seq", str(seq),
        "--edge", url, "--device-id", DEVICE, "--json", *extra,
    ]  # fmt: skip
    env = {**os.environ, "GUARDIAN_DEVICE_KEY": KEY}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


def test_send_command(edge: FakeEdge, server: EdgeServer, tmp_path: Path) -> None:
    image, other, junk = tmp_path / "a.jpg", tmp_path / "b.png", tmp_path / "c.jpg"
    image.write_bytes(image_bytes(1))
    other.write_bytes(image_bytes(2))
    junk.write_bytes(b"hello")

    created = _send(server.url, image, 7, "--captured-at", "2024-05-01T12:00:00+02:00")
    assert created.returncode == 0, created.stderr
    body = json.loads(created.stdout)
    assert body["duplicate"] is False and body["capture_id"]
    assert edge.captures[(DEVICE, 7)].captured_at == "2024-05-01T12:00:00+02:00"

    again = _send(server.url, image, 7)
    assert again.returncode == 0
    assert json.loads(again.stdout) == {**body, "duplicate": True}

    conflict = _send(server.url, other, 7)
    assert conflict.returncode == 1
    assert "already used" in json.loads(conflict.stdout)["error"]
    assert "409" in conflict.stderr

    unsupported = _send(server.url, junk, 8)
    assert unsupported.returncode == 1
    assert json.loads(unsupported.stdout) == {"error": "not a decodable JPEG or PNG"}
    assert edge.statuses() == [201, 200, 409, 415]


def test_send_without_edge_fails_cleanly(tmp_path: Path) -> None:
    image = tmp_path / "a.jpg"
    image.write_bytes(image_bytes(1))
    result = _send(f"http://127.0.0.1:{reserve_port()}", image, 1)
    assert result.returncode == 1
    assert "ConnectError" in json.loads(result.stdout)["error"]
