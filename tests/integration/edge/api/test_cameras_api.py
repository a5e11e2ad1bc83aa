"""The camera registry API over real HTTP (uvicorn) and a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from guardian.common.db import session_factory, utcnow
from guardian.common.seal import Sealer
from guardian.edge.app import create_app
from guardian.edge.context import EdgeContext
from guardian.edge.store.tables import Camera, CameraStatus
from guardian.edge.store.tokens import create_token
from tests.capture_helpers import serve_app
from tests.edge_fixtures import EdgeDb

SHELF = {
    "name": "shelf",
    "polygon": [[0.1, 0.5], [0.6, 0.5], [0.6, 1.0], [0.1, 1.0]],
    "interaction": True,
    "min_dwell": 2.0,
}
FRONT = {
    "name": "front",
    "url": "rtsp://admin:s3cret@192.168.1.20:554/stream1",
    "detect_fps": 5,
    "zones": [SHELF],
}


@dataclass
class Api:
    ctx: EdgeContext
    client: httpx.Client
    token: str

    def call(self, method: str, url: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.client.request(method, url, json=body, headers=headers)


@pytest.fixture
def api(edge_db: EdgeDb) -> Iterator[Api]:
    ctx = EdgeContext(
        edge_db.settings, edge_db.engine, session_factory(edge_db.engine), Sealer(os.urandom(32))
    )
    ctx.settings.media_dir.mkdir(parents=True, exist_ok=True)
    with ctx.sessions.begin() as session:
        token = create_token(session, "tests")
    with serve_app(create_app(ctx)) as url, httpx.Client(base_url=url) as client:
        yield Api(ctx, client, token)


def add(api: Api, **changes: Any) -> dict[str, Any]:
    response = api.call("POST", "/v1/cameras", {**FRONT, **changes})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def set_status(api: Api, name: str, age_s: float, state: str = "online") -> None:
    with api.ctx.sessions.begin() as session:
        session.merge(
            CameraStatus(
                name=name,
                state=state,
                decoder="software",
                codec="h264",
                width=1280,
                height=720,
                input_fps=25.0,
                detect_fps=5.0,
                skipped_by_motion=0.75,
                detector_latency_ms=20.5,
                last_frame_at=utcnow(),
                last_error=None,
                reconnects=1,
                recording="recording",
                storage_bytes=4096,
                updated_at=utcnow() - dt.timedelta(seconds=age_s),
            )
        )


def test_every_camera_route_needs_a_valid_admin_token(api: Api) -> None:
    add(api)
    for method, url in [
        ("GET", "/v1/cameras"),
        ("POST", "/v1/cameras"),
        ("GET", "/v1/cameras/front"),
        ("PATCH", "/v1/cameras/front"),
        ("DELETE", "/v1/cameras/front"),
    ]:
        response = api.client.request(method, url, headers={"Authorization": "Bearer gea_no"})
        assert response.status_code == 401, (method, url)
        assert response.json()["error"]["code"] == "unauthorized"
    assert api.call("GET", "/v1/cameras/front").status_code == 200


def test_add_returns_the_camera_with_its_password_redacted(api: Api) -> None:
    body = add(api, detect_url="rtsp://admin:other@192.168.1.20:554/stream2")
    assert body["name"] == "front" and body["version"] == 1
    assert body["url"] == "rtsp://admin:***@192.168.1.20:554/stream1"
    assert body["detect_url"] == "rtsp://admin:***@192.168.1.20:554/stream2"
    assert body["record_url"] is None
    assert body["zones"] == [SHELF] and body["detect_fps"] == 5.0 and body["enabled"]
    assert body["status"]["state"] == "unknown"
    assert body["created_at"] == body["updated_at"]
    assert "s3cret" not in api.call("GET", "/v1/cameras").text
    # The store keeps the real URL: the running edge needs it.
    with api.ctx.sessions() as session:
        row = session.get(Camera, "front")
        assert row is not None and row.config["url"] == FRONT["url"]


def test_a_file_url_and_every_setting_are_accepted(api: Api) -> None:
    body = add(
        api,
        name="demo",
        url="file:///videos/door.mp4",
        masks=[[[0, 0], [0.2, 0], [0.2, 0.2]]],
        enabled=False,
        record=False,
        segment_seconds=6,
        pre_roll_s=2,
        post_roll_s=3,
        retention={"segments_days": 2, "events_days": 30},
    )
    assert body["url"] == "file:///videos/door.mp4" and body["masks"] == [
        [[0, 0], [0.2, 0], [0.2, 0.2]]
    ]
    assert body["status"]["state"] == "disabled" and body["record"] is False
    assert body["retention"] == {"segments_days": 2.0, "events_days": 30.0}


def test_a_second_camera_of_the_same_name_is_a_conflict(api: Api) -> None:
    add(api)
    response = api.call("POST", "/v1/cameras", {**FRONT, "url": "rtsp://elsewhere/s"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert "front" in response.json()["error"]["message"]
    assert api.call("GET", "/v1/cameras/front").json()["url"].startswith("rtsp://admin:***@")


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"url": "ftp://cam/s"}, "url", "unsupported URL scheme"),
        ({"zones": [{**SHELF, "polygon": [[0, 0], [1.5, 0], [1, 1]]}]}, "zones.0.polygon", "0..1"),
        ({"zones": [{**SHELF, "polygon": [[0, 0], [1, 1]]}]}, "zones.0.polygon", "3 points"),
        ({"zones": [SHELF, SHELF]}, "", "unique per camera"),
        ({"frame_rate": 5}, "frame_rate", "Extra inputs"),
        ({"detect_fps": 0}, "detect_fps", "greater than 0"),
        ({"name": "../etc"}, "name", "pattern"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    api: Api, changes: dict[str, Any], field: str, words: str
) -> None:
    response = api.call("POST", "/v1/cameras", {**FRONT, **changes})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and words in error["message"]
    assert field in [f["field"] for f in error["fields"]]
    assert api.call("GET", "/v1/cameras").json()["cameras"] == []


def test_list_merges_status_unknown_fresh_stale_and_disabled(api: Api) -> None:
    for name in ("a-fresh", "b-stale", "c-unknown", "d-off"):
        add(api, name=name, enabled=name != "d-off")
    set_status(api, "a-fresh", age_s=2)
    set_status(api, "b-stale", age_s=45)
    set_status(api, "d-off", age_s=2, state="online")
    body = api.call("GET", "/v1/cameras").json()
    cameras = {c["name"]: c for c in body["cameras"]}
    assert list(cameras) == ["a-fresh", "b-stale", "c-unknown", "d-off"]
    fresh = cameras["a-fresh"]["status"]
    assert fresh["state"] == "online" and fresh["last_error"] is None
    assert (fresh["decoder"], fresh["codec"], fresh["width"], fresh["height"]) == (
        "software",
        "h264",
        1280,
        720,
    )
    assert fresh["input_fps"] == 25.0 and fresh["skipped_by_motion"] == 0.75
    assert fresh["detector_latency_ms"] == 20.5 and fresh["reconnects"] == 1
    assert fresh["recording"] == "recording" and fresh["storage_bytes"] == 4096
    assert fresh["last_frame_at"] is not None and fresh["updated_at"] is not None
    stale = cameras["b-stale"]["status"]
    assert stale["state"] == "offline"
    assert stale["last_error"] == "edge not running or camera stalled"
    assert cameras["c-unknown"]["status"]["state"] == "unknown"
    assert cameras["d-off"]["status"]["state"] == "disabled"
    assert api.call("GET", "/v1/cameras/b-stale").json()["status"]["state"] == "offline"


def test_the_box_section_reports_real_figures(api: Api) -> None:
    api.ctx.detector_queue = lambda: 3
    box = api.call("GET", "/v1/cameras").json()["box"]
    assert 0.0 <= box["cpu_percent"] <= 100.0
    assert 0 < box["memory_used_bytes"] <= box["memory_total_bytes"]
    assert 0 < box["process_rss_bytes"] < box["memory_total_bytes"]
    assert 0 < box["disk_free_bytes"] <= box["disk_total_bytes"]
    assert box["detector_queue"] == 3
    api.ctx.detector_queue = lambda: None
    assert api.call("GET", "/v1/cameras").json()["box"]["detector_queue"] is None


def test_patch_changes_only_what_is_sent_and_bumps_the_version(api: Api) -> None:
    created = add(api)
    response = api.call("PATCH", "/v1/cameras/front", {"detect_fps": 2, "enabled": False})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 2 and body["detect_fps"] == 2.0 and body["enabled"] is False
    assert body["zones"] == [SHELF] and body["url"] == created["url"]
    assert body["updated_at"] > created["updated_at"]
    assert body["status"]["state"] == "disabled"
    cleared = api.call("PATCH", "/v1/cameras/front", {"zones": []}).json()
    assert cleared["version"] == 3 and cleared["zones"] == []
    same = api.call("PATCH", "/v1/cameras/front", {"detect_fps": 2}).json()
    assert same["version"] == 3  # nothing changed: the edge need not restart the camera
    assert api.call("GET", "/v1/cameras/front").json()["version"] == 3


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"detect_fps": 99}, "detect_fps"),
        ({"url": "gopher://x/y"}, "url"),
        ({"url": None}, "url"),
        ({"zones": [SHELF, SHELF]}, "zones"),
        ({"name": "back"}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_patch_is_a_422_and_changes_nothing(
    api: Api, patch: dict[str, Any], field: str
) -> None:
    add(api)
    response = api.call("PATCH", "/v1/cameras/front", patch)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in [f["field"] for f in error["fields"]]
    body = api.call("GET", "/v1/cameras/front").json()
    assert body["version"] == 1 and body["detect_fps"] == 5.0


def test_unknown_cameras_are_404(api: Api) -> None:
    for method, body in [("GET", None), ("PATCH", {"detect_fps": 1}), ("DELETE", None)]:
        response = api.call(method, "/v1/cameras/nowhere", body)
        assert response.status_code == 404, method
        assert response.json()["error"] == {
            "code": "not_found",
            "message": "unknown camera 'nowhere'",
        }


def test_delete_removes_the_camera_and_its_status(api: Api) -> None:
    add(api)
    set_status(api, "front", age_s=1)
    response = api.call("DELETE", "/v1/cameras/front")
    assert response.status_code == 204 and response.content == b""
    assert api.call("GET", "/v1/cameras/front").status_code == 404
    with api.ctx.sessions() as session:
        assert session.get(CameraStatus, "front") is None
    assert api.call("POST", "/v1/cameras", FRONT).json()["status"]["state"] == "unknown"


def test_openapi_documents_the_camera_api(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    assert {"/v1/cameras", "/v1/cameras/{name}"} <= set(schema["paths"])
    assert {"get", "patch", "delete"} <= set(schema["paths"]["/v1/cameras/{name}"])
    components = schema["components"]["schemas"]
    assert {"CameraOut", "CameraList", "BoxStatus", "CameraPatch"} <= set(components)
    assert "exclusiveMinimum" in str(components["CameraPatch"]["properties"]["detect_fps"])
