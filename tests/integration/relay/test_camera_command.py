"""``PUT /v1/sites/{site}/cameras/{name}`` reaches a real edge over the mTLS link and is applied.

The relay's link server and HTTP app, and the edge's LinkMaintainer on its SQLite store, on
loopback; the camera lands in the edge's registry through its own registry code.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from guardian.edge.config import EdgeSettings, LinkSettings
from guardian.edge.context import EdgeContext, build_context
from guardian.edge.link.client import LinkMaintainer
from guardian.edge.link.enroll import LinkInfo, link_dir
from guardian.edge.link.identity import EdgeIdentityFiles
from guardian.edge.store.cameras import get_camera
from guardian.relay import cameras
from guardian.relay.app import create_app
from guardian.relay.context import RelayContext
from guardian.relay.enroll import control_redeemer
from guardian.relay.link_server import LinkServer
from guardian.relay.pki import CertificateAuthority
from tests.relay_fixtures import RelayDb

SITE = str(uuid.uuid4())
TENANT = str(uuid.uuid4())


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def relay(sqlite_relay_db: RelayDb) -> Iterator[tuple[RelayContext, LinkServer]]:
    settings = sqlite_relay_db.settings.model_copy(
        update={"link_port": 0, "heartbeat_seconds": 0.5, "dead_link_seconds": 2.0}
    )
    ca = CertificateAuthority.load_or_create(settings.data_dir / "ca", name="relay test")
    ctx = RelayContext(settings, sqlite_relay_db.engine, ca, None)
    server = LinkServer(ctx, control_redeemer(None), workers=8)
    server.start()
    yield ctx, server
    server.stop(grace=0)


@pytest.fixture
def edge(tmp_path: Path, relay: tuple[RelayContext, LinkServer]) -> Iterator[EdgeContext]:
    ctx, server = relay
    link = LinkSettings(relay=f"localhost:{server.port}", reconnect_max_seconds=1.0)
    edge_ctx = build_context(EdgeSettings(data_dir=tmp_path / "edge", link=link))
    directory = link_dir(edge_ctx.settings.data_dir)
    files = EdgeIdentityFiles(directory)
    issued = ctx.ca.issue_client_certificate(files.create_csr(), site_id=SITE, tenant_id=TENANT)
    files.store(issued.cert_pem, ctx.ca.cert_pem)
    LinkInfo(link.relay or "", SITE, TENANT, ctx.relay_id).save(directory)
    stop = threading.Event()
    maintainer = LinkMaintainer(edge_ctx, stop)
    maintainer.start()
    wait_for(lambda: ctx.commands.is_online(SITE))
    yield edge_ctx
    stop.set()
    maintainer.join(10)
    edge_ctx.engine.dispose()


@pytest.fixture
def client(relay: tuple[RelayContext, LinkServer]) -> Iterator[tuple[TestClient, dict[str, str]]]:
    ctx, _ = relay
    headers = {"Authorization": f"Bearer {ctx.admin_tokens.create()}"}
    with TestClient(create_app(ctx)) as http:
        yield http, headers


def _camera(edge: EdgeContext, name: str) -> tuple[int, bool, dict[str, object]]:
    with edge.sessions() as session:
        camera = get_camera(session, name)
        return camera.version, camera.enabled, dict(camera.config)


def test_camera_config_is_created_then_replaced_at_the_edge(
    edge: EdgeContext, client: tuple[TestClient, dict[str, str]]
) -> None:
    http, headers = client
    url = f"/v1/sites/{SITE}/cameras/front"
    first = {"url": "rtsp://192.168.1.20:554/stream1", "detect_fps": 4, "record": False}
    made = http.put(url, json=first, headers=headers)
    assert made.status_code == 200, made.text
    assert made.json()["applied"] is True
    version, enabled, config = _camera(edge, "front")
    assert (version, enabled) == (1, True)
    assert (config["detect_fps"], config["record"]) == (4.0, False)

    # A replace: what the new config leaves out takes its default; enabled travels apart.
    second = {"url": "rtsp://192.168.1.20:554/stream2", "enabled": False}
    replaced = http.put(url, json=second, headers=headers)
    assert replaced.status_code == 200, replaced.text
    version, enabled, config = _camera(edge, "front")
    assert (version, enabled) == (2, False)
    assert config["url"] == "rtsp://192.168.1.20:554/stream2"
    assert (config["detect_fps"], config["record"]) == (5.0, True)

    # The same config again changes nothing (no needless camera restart).
    assert http.put(url, json=second, headers=headers).status_code == 200
    assert _camera(edge, "front")[0] == 2


def test_bad_camera_configs_are_refused_and_change_nothing(
    edge: EdgeContext, client: tuple[TestClient, dict[str, str]]
) -> None:
    http, headers = client
    url = f"/v1/sites/{SITE}/cameras/door"
    good = {"url": "rtsp://192.168.1.21/stream"}
    assert http.put(url, json=good, headers=headers).status_code == 200

    too_fast = http.put(url, json={**good, "detect_fps": 99}, headers=headers)
    assert too_fast.status_code == 422
    assert "detect_fps" in too_fast.json()["detail"]
    unknown = http.put(url, json={**good, "colour": "red"}, headers=headers)
    assert unknown.status_code == 422
    assert "colour" in unknown.json()["detail"]
    renamed = http.put(url, json={**good, "name": "back"}, headers=headers)
    assert renamed.status_code == 422
    assert "renamed" in renamed.json()["detail"]
    assert http.put(url, json={**good, "enabled": "yes"}, headers=headers).status_code == 422
    assert http.put(url, json=["not", "an object"], headers=headers).status_code == 422
    assert _camera(edge, "door")[0] == 1  # still the first config


def test_the_route_needs_an_admin_token_and_a_connected_edge(
    edge: EdgeContext, client: tuple[TestClient, dict[str, str]]
) -> None:
    http, headers = client
    body = {"url": "rtsp://192.168.1.22/stream"}
    assert http.put(f"/v1/sites/{SITE}/cameras/yard", json=body).status_code == 401
    offline = http.put(f"/v1/sites/{uuid.uuid4()}/cameras/yard", json=body, headers=headers)
    assert offline.status_code == 409
    assert "not connected" in offline.json()["detail"]
    bad_name = http.put(f"/v1/sites/{SITE}/cameras/Yard!", json=body, headers=headers)
    assert bad_name.status_code == 422


def test_the_command_carries_enabled_apart_from_the_config() -> None:
    command = cameras.camera_command("front", {"url": "rtsp://x/s", "enabled": False})
    update = command.update_camera_config
    assert update.camera == "front" and update.HasField("enabled") and not update.enabled
    assert "enabled" not in update.config_json
    assert not cameras.camera_command("front", {"url": "rtsp://x/s"}).update_camera_config.HasField(
        "enabled"
    )
