"""Capture test helpers: real JPEG/PNG bytes, signed uploads, an edge app on real uvicorn."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx
import numpy as np
import uvicorn
from fastapi import FastAPI
from PIL import Image

from guardian.contracts.device_auth import signed_headers

CAPTURES_PATH = "/v1/captures"


def pixels(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """A noisy RGB picture (noise so that different seeds give different bytes)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def jpeg_bytes(width: int = 64, height: int = 48, seed: int = 0, **save: object) -> bytes:
    """A real JPEG file."""
    out = io.BytesIO()
    pixels(width, height, seed).save(out, "JPEG", quality=90, **save)
    return out.getvalue()


def png_bytes(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """A real PNG file."""
    out = io.BytesIO()
    pixels(width, height, seed).save(out, "PNG")
    return out.getvalue()


def capture_request(
    base_url: str,
    *,
    image: bytes | None,
    fields: Mapping[str, str],
    filename: str = "capture.jpg",
    content_type: str = "image/jpeg",
) -> httpx.Request:
    """An unsigned multipart ``POST /v1/captures`` (``image=None`` leaves the part out)."""
    files = {"image": (filename, image, content_type)} if image is not None else None
    # httpx only encodes multipart when there are files; force it for field-only bodies.
    if files is None:
        files = {"_": ("", b"", "application/octet-stream")}
    return httpx.Request("POST", base_url + CAPTURES_PATH, data=dict(fields), files=files)


def sign_request(
    request: httpx.Request, device_id: str, key: str, now: float | None = None
) -> httpx.Request:
    """Add the device signature headers over the request's exact body bytes."""
    body = request.read()
    headers = signed_headers(
        key, device_id, request.method, request.url.path, body, time.time() if now is None else now
    )
    request.headers.update(headers)
    return request


def free_port_socket() -> socket.socket:
    """A listening-ready socket bound to a free localhost port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_app(app: FastAPI) -> Iterator[str]:
    """Run ``app`` on real uvicorn in a thread; yields its base URL, stops it on exit."""
    sock = free_port_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
