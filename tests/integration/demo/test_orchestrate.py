"""Child processes of the demo: stop escalates to SIGKILL, an early exit is reported with
its log, a process dies with its parent, health waits follow the health URL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from guardian.demo.orchestrate import (
    ServiceError,
    ServiceProcess,
    cli_output,
    free_port,
    wait_until,
)

STUBBORN = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ignoring SIGTERM', flush=True)\n"
    "time.sleep(60)\n"
)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_stop_sends_sigterm_then_sigkill_after_the_timeout(tmp_path: Path) -> None:
    child = ServiceProcess("stubborn", python(STUBBORN), tmp_path / "stubborn.log")
    child.start()
    wait_until(lambda: "ignoring" in child.log_tail(), 10, "the child to start")
    started = time.monotonic()
    assert child.stop(timeout=0.5) == -signal.SIGKILL
    assert time.monotonic() - started < 5
    assert not child.running


def test_a_graceful_child_stops_on_sigterm(tmp_path: Path) -> None:
    child = ServiceProcess("sleeper", python("import time; time.sleep(60)"), tmp_path / "s.log")
    child.start()
    assert child.stop(timeout=10) == -signal.SIGTERM
    assert child.stop() == -signal.SIGTERM  # stopping again is harmless


def test_an_exited_child_is_reported_with_its_log(tmp_path: Path) -> None:
    code = "import sys; print('bad config: no such file', flush=True); sys.exit(3)"
    child = ServiceProcess("broken", python(code), tmp_path / "b.log", "http://127.0.0.1:9/x")
    child.start()
    with pytest.raises(ServiceError, match=r"broken exited with 3(.|\n)*bad config"):
        child.wait_healthy(timeout=10)


def test_health_wait_times_out_naming_the_service(tmp_path: Path) -> None:
    port = free_port()
    child = ServiceProcess(
        "mute", python("import time; time.sleep(60)"), tmp_path / "m.log",
        f"http://127.0.0.1:{port}/healthz",
    )  # fmt: skip
    child.start()
    try:
        with pytest.raises(ServiceError, match="timed out after 1 s waiting for mute"):
            child.wait_healthy(timeout=1)
    finally:
        child.stop()


def test_children_die_with_their_parent(tmp_path: Path) -> None:
    # A parent that starts a ServiceProcess and is then SIGKILLed leaves no orphan.
    parent_code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from guardian.demo.orchestrate import ServiceProcess\n"
        f"c = ServiceProcess('kid', [sys.executable, '-c', 'import time; time.sleep(60)'], "
        f"Path({str(tmp_path / 'kid.log')!r}))\n"
        "c.start()\n"
        "print(c.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    with subprocess.Popen(python(parent_code), stdout=subprocess.PIPE, text=True) as parent:
        assert parent.stdout is not None
        kid = int(parent.stdout.readline())
        parent.kill()
        parent.wait(10)

    def kid_gone() -> bool:
        try:
            state = Path(f"/proc/{kid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        return state == "Z"

    wait_until(kid_gone, 10, "the orphan to end")


def test_cli_output_reports_a_failing_command() -> None:
    with pytest.raises(ServiceError, match="guardian control tenant"):
        cli_output("control", "tenant", "create", "x", "--data-dir", "/proc/forbidden")
