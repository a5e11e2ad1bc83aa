"""RTSP test fixtures: a real GStreamer RTSP server on loopback, vtest street footage, garbage.

``RtspServer`` runs ``tests/rtsp/gst_server.py`` with the system ``/usr/bin/python3`` (it
needs python3-gi and GStreamer's RTSP server from Debian; ``scripts/ensure-test-deps``
installs them). Fixtures:

- ``vtest_h264`` (session): OpenCV's vtest.avi as H.264 MP4, one keyframe every
  ``VTEST_GOP`` frames, 768x576 at 10 fps, cached per machine in the test media dir.
- ``rtsp_server_factory``: ``factory(file, mount="/cam", port=0, loop=False)`` -> a started
  ``RtspServer``; every server is stopped at teardown. Without ``loop`` each client
  connection gets the file from its first frame and the stream ends with the file; with
  ``loop`` the server is a live camera that plays the file forever and clients join live.
- ``garbage_stream_url``: ``rtsp://127.0.0.1:PORT/cam`` whose server answers with random bytes.

Tests skip with the reason when the server packages or vtest.avi are missing (under CI
those skips become failures).
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol, Self

import pytest

from guardian.demo.footage import sha256_of, transcode_h264
from tests.media import test_media_dir, vtest_path

SYSTEM_PYTHON = Path("/usr/bin/python3")
SERVER_SCRIPT = Path(__file__).parent / "rtsp" / "gst_server.py"
DEBIAN_PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
)

VTEST_SHA256 = "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
VTEST_FPS = 10
VTEST_FRAMES = 795
VTEST_WIDTH = 768
VTEST_HEIGHT = 576
VTEST_GOP = 10
# Bump when transcode_h264's settings change, so cached copies are made again.
TRANSCODE_VERSION = 2

_PROBE = """
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [e for e in ("filesrc", "qtdemux", "h264parse", "rtph264pay", "appsrc", "appsink")
           if Gst.ElementFactory.find(e) is None]
assert not missing, "missing GStreamer elements: " + ", ".join(missing)
"""


class RtspServerError(RuntimeError):
    """The RTSP server process did not start or report READY."""


@cache
def gst_missing_reason() -> str | None:
    """Why the GStreamer RTSP server cannot run here, or None when it can."""
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} is missing"
    result = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", _PROBE], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1:] or ["unknown error"]
        return (
            f"GStreamer RTSP server unavailable for {SYSTEM_PYTHON} ({detail[0]}); "
            f"run scripts/ensure-test-deps (apt-get install {DEBIAN_PACKAGES})"
        )
    return None


class RtspServer:
    """One ``gst_server.py`` process serving ``file`` at ``rtsp://127.0.0.1:port/mount``.

    ``port=0`` picks a free port on the first start; ``restart()`` reuses it.
    """

    def __init__(
        self,
        file: Path,
        *,
        mount: str = "/cam",
        port: int = 0,
        loop: bool = False,
        ready_timeout: float = 20.0,
    ) -> None:
        self.file = file
        self.mount = mount
        self.port = port
        self.loop = loop
        self.ready_timeout = ready_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The stream URL (the port is known once the server has started)."""
        return f"rtsp://127.0.0.1:{self.port}{self.mount}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Start the server and wait for READY; raise ``RtspServerError`` with its stderr."""
        if self.running:
            raise RtspServerError(f"{self.url} is already running")
        self._close_process()
        self._stderr = tempfile.TemporaryFile()
        command = [str(SYSTEM_PYTHON), str(SERVER_SCRIPT), "--port", str(self.port)]
        command += ["--mount", self.mount, "--file", str(self.file)]
        command += ["--loop"] if self.loop else []
        self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._stderr)
        try:
            self.port = self._wait_ready(self._proc)
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the server, wait for it to exit (SIGKILL if it does not); its exit status."""
        status = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGTERM)
                try:
                    self._proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            status = self._proc.returncode
        self._close_process()
        return status

    def kill(self) -> None:
        """SIGKILL the server, as a crash would."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._close_process()

    def restart(self) -> Self:
        """Stop the server if it runs, then start it again on the same port."""
        self.stop()
        return self.start()

    def stderr_text(self) -> str:
        """What the server has written on stderr so far."""
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def __enter__(self) -> Self:
        return self if self.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> int:
        assert proc.stdout is not None
        deadline = time.monotonic() + self.ready_timeout
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if not selector.select(left):
                    continue
                line = proc.stdout.readline().decode(errors="replace").strip()
                if line.startswith("READY "):
                    return int(line.split()[1].rsplit(":", 1)[1].split("/", 1)[0])
                if not line and proc.poll() is not None:
                    break
        raise RtspServerError(
            f"RTSP server for {self.file} on port {self.port} did not become ready "
            f"(exit status {proc.poll()}); stderr:\n{self.stderr_text()}"
        )

    def _close_process(self) -> None:
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def require_gstreamer() -> None:
    """Skip the calling test when the GStreamer RTSP server cannot run."""
    reason = gst_missing_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def vtest_h264() -> Path:
    """vtest.avi as H.264 MP4 with a keyframe every ``VTEST_GOP`` frames (cached per machine)."""
    source = vtest_path()
    if not source.is_file():
        pytest.skip(f"{source} is missing; run scripts/fetch-test-media")
    digest = sha256_of(source)
    if digest != VTEST_SHA256:
        pytest.fail(f"{source} has SHA-256 {digest}, expected {VTEST_SHA256}")
    dest = test_media_dir() / f"vtest-h264-g{VTEST_GOP}-v{TRANSCODE_VERSION}-{digest[:16]}.mp4"
    if not dest.is_file():
        transcode_h264(source, dest, gop=VTEST_GOP)
    return dest


class RtspServerFactory(Protocol):
    """Starts an ``RtspServer`` for ``file``; the fixture stops it at teardown."""

    def __call__(
        self, file: Path, *, mount: str = "/cam", port: int = 0, loop: bool = False
    ) -> RtspServer: ...


@pytest.fixture
def rtsp_server_factory() -> Iterator[RtspServerFactory]:
    """``factory(file, *, mount="/cam", port=0, loop=False)`` -> a started ``RtspServer``."""
    require_gstreamer()
    servers: list[RtspServer] = []

    def build(file: Path, *, mount: str = "/cam", port: int = 0, loop: bool = False) -> RtspServer:
        server = RtspServer(file, mount=mount, port=port, loop=loop)
        servers.append(server)
        return server.start()

    yield build
    for server in servers:
        server.stop()


class GarbageServer:
    """A TCP server on 127.0.0.1 that answers every connection with random bytes."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="garbage-rtsp", daemon=True)

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    conn.recv(4096)
                    conn.sendall(b"RTSP/1.0 ??? garbage\r\n" + os.urandom(16384))
                except OSError:
                    pass


@pytest.fixture
def garbage_stream_url() -> Iterator[str]:
    """An rtsp:// URL whose server sends an invalid answer of random bytes, then hangs up."""
    server = GarbageServer()
    server.start()
    yield server.url
    server.close()
