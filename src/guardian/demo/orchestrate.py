"""Run ``guardian …`` services as child processes on loopback: start, wait healthy, stop.

Shared by ``guardian demo`` and usable by tests and benchmarks that run the three services
(control plane, relay, edge) as real processes: a one-shot CLI runner, a long-running
``ServiceProcess`` with its log file and health URL, a poll-until helper, and ports.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from guardian.edge.launch import free_port

__all__ = [
    "ServiceError", "ServiceProcess", "cli_output", "free_port", "guardian_command",
    "port_is_free", "restartable_port", "run_cli", "stop_all", "wait_until",
]  # fmt: skip

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


class ServiceError(RuntimeError):
    """A child process failed to start, answer, or exited when it should not have."""


def guardian_command(*args: str) -> list[str]:
    """The argv that runs ``guardian ARGS`` with this interpreter."""
    return [sys.executable, "-m", "guardian", *args]


def run_cli(
    *args: str,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """``guardian ARGS`` to completion, whatever its outcome (stdout/stderr captured)."""
    return subprocess.run(
        guardian_command(*args),
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "GUARDIAN_LOG_FORMAT": "json", **(env or {})},
        timeout=timeout,
        check=False,
    )


def cli_output(*args: str, stdin: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """``guardian ARGS``' stdout; ``ServiceError`` with its output when it fails."""
    done = run_cli(*args, stdin=stdin, env=env)
    if done.returncode != 0:
        raise ServiceError(
            f"guardian {' '.join(args[:3])} … failed ({done.returncode}): "
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )
    return done.stdout


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    poll: float = 0.25,
    on_poll: Callable[[], None] | None = None,
) -> None:
    """Poll ``check`` until it is true; ``ServiceError`` naming ``what`` after ``timeout``.

    ``on_poll`` runs after every unsuccessful check (e.g. to advance a progress bar or to
    notice that a process died).
    """
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ServiceError(f"timed out after {timeout:.0f} s waiting for {what}")
        if on_poll is not None:
            on_poll()
        time.sleep(poll)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``host:port`` can be bound right now."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def restartable_port(low: int = 20000, high: int = 32000) -> int:
    """A free loopback port below the kernel's ephemeral range (32768-60999 on Linux).

    A service stopped and started again on the same port could otherwise find it taken as
    the local end of some outgoing connection ("address already in use").
    """
    while True:
        port = random.randrange(low, high)
        if port_is_free(port):
            return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when the process that started it dies (even SIGKILL)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class ServiceProcess:
    """One long-running child (``argv``, usually ``guardian_command(...)``): started in its
    own session (a terminal's Ctrl-C reaches only the parent, which stops children in
    order), output appended to ``log_path``, healthy when ``health_url`` answers 200."""

    name: str
    argv: Sequence[str]
    log_path: Path
    health_url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        """Start the process (again); does not wait."""
        if self.running:
            raise ServiceError(f"{self.name} is already running")
        self.starts += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            log.write(f"--- start {self.starts} ---\n")
            log.flush()
            self.proc = subprocess.Popen(
                list(self.argv),
                env={**os.environ, "GUARDIAN_LOG_FORMAT": "json", **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self) -> None:
        """``ServiceError`` (with the log's tail) when the process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise ServiceError(
                f"{self.name} exited with {self.proc.returncode}; log {self.log_path}:\n"
                + self.log_tail()
            )

    def healthy(self) -> bool:
        """Running and (when it has a health URL) answering 200 there."""
        self.ensure_running()
        if self.health_url is None:
            return self.running
        try:
            return httpx.get(self.health_url, timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def wait_healthy(
        self, timeout: float = START_TIMEOUT_S, on_poll: Callable[[], None] | None = None
    ) -> None:
        """Block until ``healthy()``; ``ServiceError`` if it exits or times out."""
        try:
            wait_until(self.healthy, timeout, f"{self.name} to answer", on_poll=on_poll)
        except ServiceError as exc:
            if "timed out" in str(exc):
                raise ServiceError(f"{exc}; log {self.log_path}:\n{self.log_tail()}") from exc
            raise

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; the exit code (None: never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the process's log file."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]


def stop_all(services: Sequence[ServiceProcess], timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop ``services`` one after another, in the order given."""
    for service in services:
        service.stop(timeout)
