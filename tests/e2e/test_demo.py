"""``guardian demo`` as a newcomer runs it: one command, then the login works and events from
the street camera and the simulated Pi arrive in the control plane; Ctrl-C stops everything
(exit 0, no child left); a second run reuses the first one's deployment and login.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from guardian.demo.footage import media_dir
from guardian.demo.layout import EDGE_OFFSET, RELAY_DIRECT_OFFSET
from guardian.demo.orchestrate import port_is_free
from guardian.edge.detect.models.catalog import DEFAULT_MODEL
from guardian.edge.detect.models.store import ModelStore, default_models_dir
from tests.ports import reserve_port

pytestmark = pytest.mark.slow
T = TypeVar("T")
READY_S = 120.0  # first run: migrations, enrolment, model load on a loaded 2-core box
EVENTS_S = 45.0
CLIP_S = 90.0  # a clip is cut once its event ended and the post-roll was recorded
CHILDREN = {"control run", "relay run", "edge run", "device run"}


def wait_for(what: str, check: Callable[[], T | None], timeout: float, poll: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def demo_port() -> int:
    """A control port whose derived neighbours (edge -10 … relay direct link +12) are free
    too, and given to no other test of this run."""
    return reserve_port(*(d for d in range(EDGE_OFFSET, RELAY_DIRECT_OFFSET + 1) if d))


def children_of(pid: int) -> dict[int, str]:
    """Direct children of ``pid``: their pids and command lines (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found[int(entry.name)] = cmdline
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class DemoRun:
    proc: subprocess.Popen[bytes]
    log: Path
    status_file: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def status(self) -> dict[str, str] | None:
        assert self.proc.poll() is None, f"demo exited {self.proc.returncode}:\n{self.output()}"
        if not self.status_file.exists():
            return None
        loaded: dict[str, str] = json.loads(self.status_file.read_text())
        return loaded

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(60)


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[Callable[[Path, int], DemoRun]]:
    if DEFAULT_MODEL not in ModelStore(default_models_dir()).names():
        pytest.skip("the default model is not fetched (make models)")
    if not (media_dir() / "vtest.avi").is_file():
        pytest.skip("vtest.avi is missing (scripts/fetch-test-media)")
    runs: list[DemoRun] = []

    def start(data_dir: Path, port: int) -> DemoRun:
        n = len(runs)
        log, status = tmp_path / f"demo-{n}.log", tmp_path / f"status-{n}.json"
        cmd = [sys.executable, "-m", "guardian", "demo", "--data-dir", str(data_dir)]
        cmd += ["--port", str(port), "--status-file", str(status)]
        # Placement settings of the caller's environment must not leak into the demo.
        env = {**os.environ, "GUARDIAN_CONTROL_DATABASE_URL": "postgresql://nowhere.invalid/x",
               "GUARDIAN_EDGE_DATA_DIR": str(tmp_path / "not-the-demo")}  # fmt: skip
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        run = DemoRun(proc, log, status)
        runs.append(run)
        return run

    yield start
    for run in runs:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(30)


def api(url: str, token: str, path: str, **params: Any) -> Any:
    answer = httpx.get(
        url.rstrip("/") + path, params=params, headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


def login(status: dict[str, str]) -> str:
    answer = httpx.post(
        status["url"].rstrip("/") + "/api/v1/auth/login",
        json={"email": status["email"], "password": status["password"]},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def playable_clip(status: dict[str, str], token: str) -> bytes | None:
    """The first KiB of an ended camera event's clip, fetched from the relay with the
    playback URL the control plane issues; None while no clip is ready."""
    base, auth = status["url"].rstrip("/"), {"Authorization": f"Bearer {token}"}
    items = api(status["url"], token, "/api/v1/events", limit=50)["items"]
    for event in items:
        if event["source_kind"] != "camera" or event["state"] != "ended":
            continue
        issued = httpx.post(f"{base}/api/v1/events/{event['id']}/playback",
                            json={"kind": "clip"}, headers=auth, timeout=10)  # fmt: skip
        assert issued.status_code == 200, issued.text
        got = httpx.get(issued.json()["url"], headers={"Range": "bytes=0-1023"}, timeout=30)
        if got.status_code == 206:
            assert got.headers["content-type"] == "video/mp4"
            return got.content
        assert got.status_code in (404, 409, 503, 504), got.text  # not made yet
    return None


def test_demo_runs_everything_shows_camera_and_pi_events_and_stops_cleanly(
    tmp_path: Path, start_demo: Callable[[Path, int], DemoRun]
) -> None:
    data = tmp_path / "demo"
    port = demo_port()
    run = start_demo(data, port)
    started = time.monotonic()
    status = wait_for("the status file", run.status, READY_S)
    assert status["url"] == f"http://127.0.0.1:{port}/"
    assert status["email"] and len(status["password"]) >= 16
    assert status["password"] in run.output()  # printed once, on the first run
    assert "ignoring GUARDIAN_CONTROL_DATABASE_URL" in run.output()
    assert not (tmp_path / "not-the-demo").exists()
    kids = children_of(run.proc.pid)
    assert {" ".join(c.split()[3:5]) for c in kids.values()} == CHILDREN, kids
    assert not port_is_free(port)  # the control plane holds its port

    token = login(status)

    def both_sources() -> dict[str, list[dict[str, Any]]] | None:
        items = api(status["url"], token, "/api/v1/events", limit=200)["items"]
        kinds: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            kinds.setdefault(item["source_kind"], []).append(item)
        return kinds if {"camera", "device"} <= kinds.keys() else None

    kinds = wait_for("events from the camera and the Pi", both_sources, EVENTS_S, poll=1.0)
    assert {e["source_name"] for e in kinds["camera"]} == {"street"}
    assert {e["source_name"] for e in kinds["device"]} == {"demo-pi"}
    assert all(e["label"] in {"person", "vehicle", None} for e in kinds["camera"])
    sites = api(status["url"], token, "/api/v1/sites")["sites"]
    assert [s["health"] for s in sites] != [] and sites[0]["last_seen_at"] is not None
    first_run_s = time.monotonic() - started
    # Clips play: a camera event's clip comes from the edge through the relay, by range.
    clip = wait_for("a camera clip through the relay", lambda: playable_clip(status, token),
                    CLIP_S, poll=2.0)  # fmt: skip
    assert clip.startswith(b"\x00\x00") and b"ftyp" in clip[:16]

    assert run.interrupt() == 0, run.output()
    gone = wait_for("the children to be gone", lambda: not any(map(alive, kids)) or None, 5)
    assert gone
    assert "Demo stopped." in run.output()
    assert not run.status_file.exists()  # not ready any more
    state = json.loads((data / "demo.json").read_text())
    assert (data / "demo.json").stat().st_mode & 0o077 == 0  # secrets: owner only
    cert = data / "edge" / "link" / "edge.crt"
    enrolled_at = cert.stat().st_mtime_ns

    # A second run reuses the deployment: same login, no new enrolment, no new site.
    again = start_demo(data, port)
    status2 = wait_for("the second status file", again.status, READY_S)
    assert status2 == status
    assert status["password"] not in again.output()
    assert json.loads((data / "demo.json").read_text())["site_id"] == state["site_id"]
    assert cert.stat().st_mtime_ns == enrolled_at
    token = login(status2)
    assert len(api(status2["url"], token, "/api/v1/sites")["sites"]) == 1
    kids2 = children_of(again.proc.pid)
    assert again.interrupt() == 0, again.output()
    assert wait_for("the children to be gone", lambda: not any(map(alive, kids2)) or None, 5)
    assert first_run_s < READY_S + EVENTS_S


def test_demo_refuses_a_taken_port_and_a_reset_of_a_folder_it_did_not_make(
    tmp_path: Path,
) -> None:
    def demo(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "guardian", "demo", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        taken = demo("--data-dir", str(tmp_path / "d"), "--port", str(port))
    assert taken.returncode == 1
    assert f"port {port} is in use" in taken.stderr
    assert not (tmp_path / "d" / "demo.json").exists()

    precious = tmp_path / "precious"
    (precious / "photos").mkdir(parents=True)
    refused = demo("--data-dir", str(precious), "--reset", "--port", str(demo_port()))
    assert refused.returncode == 1
    assert "does not look like a demo data dir" in refused.stderr
    assert (precious / "photos").is_dir()

    low = demo("--port", "80")
    assert low.returncode == 2 and "--port" in low.stderr
