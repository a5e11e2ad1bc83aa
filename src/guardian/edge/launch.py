"""Start ``guardian edge run`` as a child process and wait until it is healthy.

Used by benchmarks and end-to-end tests (and later by ``guardian demo``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def edge_process(
    data_dir: Path,
    *,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
    log: IO[str] | None = None,
    start_timeout: float = 60.0,
) -> Iterator[str]:
    """Run the edge on a free loopback port; yields its base URL; SIGTERM and wait on exit.

    Its stderr goes to ``log`` (discarded when None: a pipe nobody reads would fill and
    stall the server).
    """
    port = free_port()
    cmd = [sys.executable, "-m", "guardian", "edge", "run", "--data-dir", str(data_dir)]
    cmd += ["--port", str(port)]
    if database_url:
        cmd += ["--database-url", database_url]
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, stderr=log or subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"guardian edge run exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"guardian edge run not healthy within {start_timeout} s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
