"""Demo-grade end to end: footage and a Pi capture at the edge become events in the control plane.

``guardian control run``, ``guardian relay run`` and ``guardian edge run`` run as separate
processes; the edge is enrolled with ``guardian edge enroll`` and a bootstrap token made
through the control API. Street footage (vtest) plays through the real camera pipeline
from a ``file://`` camera and a person photo is sent with ``guardian device send``; the
events show up in the control plane's API within seconds, without boxes or image bytes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from guardian.common.db import session_factory
from guardian.edge.detect.models.store import ModelStore, default_models_dir
from guardian.edge.store.tables import Event
from tests.e2e.link_harness import LinkStack, cli, open_stack, wait_for
from tests.media import image_path
from tests.pg import MakeDatabase

STREET = {
    "name": "pavement",
    "polygon": [[0.0, 0.35], [1.0, 0.35], [1.0, 1.0], [0.0, 1.0]],
    "interaction": True,
    "min_dwell": 2.0,
}
CAMERA_ENV = {
    "GUARDIAN_EDGE_CAMERAS__POLL_SECONDS": "0.5",
    "GUARDIAN_EDGE_CAMERAS__STATUS_SECONDS": "1",
    "GUARDIAN_EDGE_CAMERAS__CRITICAL_FREE_BYTES": "0",
}
ARRIVAL_S = 10.0  # "within seconds": edge commit to the control plane's API
# Field names that would carry detail the control plane must never hold.
DETAIL_WORDS = ("box", "score", "image", "snapshot", "thumbnail", "capture", "path", "base64")


@pytest.fixture
def stack(
    tmp_path: Path, pg_database_factory: MakeDatabase, vtest_h264: Path
) -> Iterator[LinkStack]:
    if "ssd-mobilenetv2-oidv4" not in ModelStore(default_models_dir()).names():
        pytest.skip("the default model is not fetched (make models)")
    with open_stack(tmp_path, pg_database_factory) as running:
        running.setup()
        running.relay_service.start()
        enrolled = running.enroll()
        assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr
        data = str(running.edge_dir)
        cli(
            "edge", "camera", "add", "street", "--url", vtest_h264.resolve().as_uri(),
            "--zone", json.dumps(STREET), "--detect-fps", "5", "--data-dir", data,
        )  # fmt: skip
        running.edge.env.update(CAMERA_ENV)
        running.edge.start()
        yield running


def _control_events(stack: LinkStack, headers: dict[str, str]) -> list[dict[str, Any]]:
    got = httpx.get(
        f"{stack.control_url}/api/v1/events", params={"limit": 200}, headers=headers, timeout=10
    )
    assert got.status_code == 200, got.text
    items: list[dict[str, Any]] = got.json()["items"]
    return items


def _edge_event_ids(stack: LinkStack) -> set[str]:
    with session_factory(stack.edge_events.engine)() as session:
        return set(session.scalars(select(Event.id)))


def test_footage_and_a_pi_capture_reach_the_control_plane_as_summaries(
    stack: LinkStack,
) -> None:
    data = str(stack.edge_dir)
    device = json.loads(cli("edge", "device", "add", "door-pi", "--data-dir", data, "--json"))
    sent_at = time.monotonic()
    cli(
        "device", "send", str(image_path("astronaut")), "--seq", "0", "--edge", stack.edge_url,
        "--device-id", "door-pi", "--json", env={"GUARDIAN_DEVICE_KEY": device["key"]},
    )  # fmt: skip
    headers = stack.admin_headers()

    def device_event() -> bool:
        return any(e["source_kind"] == "device" for e in _control_events(stack, headers))

    wait_for(device_event, 30, "the Pi capture's event", stack.edge, stack.relay_service)
    # Detection, the event commit and the whole link in well under the budget.
    assert time.monotonic() - sent_at < ARRIVAL_S + 10

    def camera_events() -> bool:
        return any(e["source_kind"] == "camera" for e in _control_events(stack, headers))

    wait_for(camera_events, 60, "camera events from the footage", stack.edge, stack.relay_service)
    events = _control_events(stack, headers)
    deployment = stack.deployment
    assert deployment is not None
    assert {e["site_id"] for e in events} == {deployment.site_id}
    assert {e["source_name"] for e in events} >= {"street", "door-pi"}
    for event in events:
        assert event["confidence"] in {"low", "medium", "high"}
        body = json.dumps(event).lower()
        assert not any(word in body for word in DETAIL_WORDS), event

    # Every event the edge committed arrives (the footage loops: new ones keep coming).
    produced = _edge_event_ids(stack)
    stack.wait_delivered(produced, timeout=ARRIVAL_S + 20)
    assert set(stack.control_events()) <= _edge_event_ids(stack)
