"""The camera pipeline as users run it: ``guardian edge run`` with the real detector, real
street footage (vtest) from a real RTSP server on loopback, managed over the HTTP API.

One edge and one live RTSP camera serve the whole module (the footage runs in real time);
the tests run in order: online, person events with tracks, interactions, clips, two
cameras, a garbage stream, and the camera going away and coming back.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from guardian.edge.detect.models.store import ModelStore, default_models_dir
from guardian.edge.launch import edge_process
from guardian.edge.record.probe import probe
from tests.e2e.cli import run_cli
from tests.rtsp_fixtures import VTEST_FPS, VTEST_GOP, RtspServer

T = TypeVar("T")
pytestmark = pytest.mark.slow
# The lower two thirds of vtest's street: people walk through it for several seconds.
STREET = [[0.0, 0.35], [1.0, 0.35], [1.0, 1.0], [0.0, 1.0]]


@dataclass
class Edge:
    url: str
    data: Path
    auth: dict[str, str]
    server: RtspServer

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(self.url + path, headers=self.auth, params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def camera(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/v1/cameras/{name}")
        return found

    def events(self, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get("/v1/events", limit=500, **params)["items"]
        return items


def wait_for(what: str, check: Callable[[], T | None], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory, vtest_h264: Path) -> Iterator[Edge]:
    if "ssd-mobilenetv2-oidv4" not in ModelStore(default_models_dir()).names():
        pytest.skip("the default model is not fetched (make models)")
    tmp = tmp_path_factory.mktemp("camera-e2e")
    server = RtspServer(vtest_h264, loop=True).start()
    env = {
        "GUARDIAN_EDGE_CAMERAS__POLL_SECONDS": "0.5",
        "GUARDIAN_EDGE_CAMERAS__STATUS_SECONDS": "1",
        "GUARDIAN_EDGE_CAMERAS__READ_TIMEOUT_SECONDS": "3",
        "GUARDIAN_EDGE_CAMERAS__OPEN_TIMEOUT_SECONDS": "3",
        "GUARDIAN_EDGE_CAMERAS__RECONNECT_MAX_SECONDS": "2",
        "GUARDIAN_EDGE_CAMERAS__CLIP_SETTLE_SECONDS": "1",
        "GUARDIAN_EDGE_CAMERAS__CRITICAL_FREE_BYTES": "0",
        "GUARDIAN_EDGE_QUEUE__WORKERS": "0",
    }
    data = tmp / "edge"
    try:
        with (tmp / "edge.log").open("w") as log, edge_process(data, env=env, log=log) as url:
            token = run_cli("edge", "token", "create", "--data-dir", str(data), "--json")
            assert token.returncode == 0, token.stderr
            auth = {"Authorization": "Bearer " + json.loads(token.stdout)["token"]}
            yield Edge(url, data, auth, server)
    finally:
        server.stop()


def test_a_camera_added_over_the_api_is_online_within_seconds(edge: Edge) -> None:
    body = {
        "name": "street",
        "url": edge.server.url,
        "detect_fps": 5,
        "zones": [{"name": "pavement", "polygon": STREET, "interaction": True, "min_dwell": 2.0}],
        "segment_seconds": 4,
        "pre_roll_s": 2,
        "post_roll_s": 2,
    }
    created = httpx.post(edge.url + "/v1/cameras", json=body, headers=edge.auth, timeout=10)
    assert created.status_code == 201, created.text
    added = time.monotonic()
    status = wait_for(
        "online", lambda: (s := edge.camera("street")["status"])["state"] == "online" and s, 15
    )
    assert time.monotonic() - added < 15
    assert status["codec"] == "h264" and (status["width"], status["height"]) == (768, 576)
    assert status["decoder"] == "software"
    listing = edge.get("/v1/cameras")
    assert [c["name"] for c in listing["cameras"]] == ["street"]
    assert listing["box"]["disk_total_bytes"] > 0


def test_people_become_person_events_with_tracks_not_one_per_frame(edge: Edge) -> None:
    def ended_people() -> list[dict[str, Any]]:
        found = edge.events(camera="street", type="person_detected")
        done = [e for e in found if e["state"] == "ended"]
        return done if len(done) >= 3 else []

    ended = wait_for("three ended person events", ended_people, 60)
    status = edge.camera("street")["status"]
    assert status["detect_fps"] > 2 and status["input_fps"] > 5
    every = edge.events(camera="street")
    detail = edge.get(f"/v1/events/{ended[0]['id']}")
    assert detail["camera"] == "street" and detail["label"] == "person"
    assert isinstance(detail["details"]["track_id"], int)
    # One event per track: far fewer events than frames detected (5 per second).
    first = min(dt.datetime.fromisoformat(e["started_at"]) for e in every)
    seconds = (dt.datetime.now(dt.UTC) - first).total_seconds()
    assert len(every) < max(seconds, 10) * 5 / 2
    for event in ended:
        assert event["ended_at"] >= event["started_at"]
        assert event["links"]["snapshot"]
        snap = httpx.get(edge.url + event["links"]["snapshot"], headers=edge.auth, timeout=10)
        assert snap.status_code == 200 and snap.headers["content-type"] == "image/jpeg"
        assert snap.content[:2] == b"\xff\xd8"


def test_dwelling_in_the_zone_is_one_interaction_per_visit(edge: Edge) -> None:
    def visits() -> list[dict[str, Any]]:
        found = edge.events(camera="street", type="interaction_detected")
        return [e for e in found if e["state"] == "ended"]

    ended = wait_for("an ended interaction", visits, 60)
    for event in ended:
        assert event["zone"] == "pavement"
        assert event["dwell_s"] >= 2.0
        assert event["person_count"] >= 1
    keys = [edge.get(f"/v1/events/{e['id']}")["details"]["key"] for e in ended]
    assert len(keys) == len(set(keys))  # counted once per visit


def test_an_ended_event_gets_a_clip_of_the_expected_length(edge: Edge, tmp_path: Path) -> None:
    def clip_ready() -> tuple[dict[str, Any], bytes] | None:
        for event in edge.events(camera="street", type="person_detected"):
            if event["state"] != "ended" or not event["links"].get("clip"):
                continue
            got = httpx.get(edge.url + event["links"]["clip"], headers=edge.auth, timeout=10)
            if got.status_code == 200:
                return event, got.content
        return None

    event, content = wait_for("a clip", clip_ready, 60)
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    info = probe(path)
    assert info.first_is_keyframe and info.faststart and info.codec == "h264"
    span = (
        dt.datetime.fromisoformat(event["ended_at"])
        - dt.datetime.fromisoformat(event["started_at"])
    ).total_seconds()
    # Pre- and post-roll of 2 s each around the event. The clip starts at the last
    # keyframe at or before its start (one every VTEST_GOP frames), so it may begin up to
    # a GOP early, and its last frame lasts one frame more.
    wanted = span + 4.0
    gop_s, frame_s = VTEST_GOP / VTEST_FPS, 1 / VTEST_FPS
    assert wanted - 0.5 <= info.duration <= wanted + gop_s + frame_s + 0.5, (info, span)
    ranged = httpx.get(
        edge.url + event["links"]["clip"], headers={**edge.auth, "Range": "bytes=0-99"}, timeout=10
    )
    assert ranged.status_code == 206 and len(ranged.content) == 100
    assert io.BytesIO(content).read(12)[4:8] == b"ftyp"


def test_two_cameras_at_once_and_a_garbage_stream_is_an_error_not_a_crash(
    edge: Edge, garbage_stream_url: str
) -> None:
    for name, url in (("second", edge.server.url), ("junk", garbage_stream_url)):
        added = httpx.post(
            edge.url + "/v1/cameras", json={"name": name, "url": url}, headers=edge.auth, timeout=10
        )
        assert added.status_code == 201, added.text
    wait_for("second online", lambda: edge.camera("second")["status"]["state"] == "online", 20)
    junk = wait_for(
        "junk in error",
        lambda: (s := edge.camera("junk")["status"])["state"] == "error" and s,
        30,
    )
    assert junk["last_error"]
    wait_for("events from the second camera", lambda: edge.events(camera="second"), 60)
    assert edge.camera("street")["status"]["state"] == "online"  # the others are unharmed
    for name in ("second", "junk"):
        gone = httpx.delete(f"{edge.url}/v1/cameras/{name}", headers=edge.auth, timeout=10)
        assert gone.status_code == 204


def test_the_camera_going_away_and_coming_back_is_reported_and_reconnected(edge: Edge) -> None:
    before = edge.camera("street")["status"]["reconnects"]
    edge.server.kill()
    lost = wait_for(
        "offline", lambda: (s := edge.camera("street")["status"])["state"] == "offline" and s, 30
    )
    assert lost["last_error"]
    edge.server.restart()
    back = wait_for(
        "online again",
        lambda: (s := edge.camera("street")["status"])["state"] == "online" and s,
        40,
    )
    assert back["reconnects"] > before
    metrics = httpx.get(edge.url + "/metrics", timeout=10).text
    assert 'guardian_camera_up{camera="street"} 1.0' in metrics
    assert "guardian_detector_queue_length" in metrics
    assert 'guardian_camera_reconnects_total{camera="street"}' in metrics
