"""The whole capture flow through the CLI and real processes.

``guardian edge device add`` → ``guardian edge run`` (HTTP + workers + real detector) →
``guardian device send`` (a Pi upload) → the interaction event in the read API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from guardian.edge.detect.models.store import ModelStore, default_models_dir
from guardian.edge.launch import edge_process
from tests.e2e.cli import run_cli
from tests.media import image_path


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    if "ssd-mobilenetv2-oidv4" not in ModelStore(default_models_dir()).names():
        pytest.skip("the default model is not fetched (make models)")
    data = tmp_path / "edge"
    env = {"GUARDIAN_LOG_FORMAT": "json", "GUARDIAN_EDGE_LOG_FORMAT": "json"}
    with (tmp_path / "edge.log").open("w") as log, edge_process(data, env=env, log=log) as url:
        yield url, data


def test_a_person_photo_from_a_device_becomes_an_interaction_event(
    edge: tuple[str, Path],
) -> None:
    url, data = edge
    added = run_cli("edge", "device", "add", "door-pi", "--data-dir", str(data), "--json")
    assert added.returncode == 0, added.stderr
    device = json.loads(added.stdout)
    assert device["device_id"] == "door-pi" and len(device["key"]) >= 32
    token = json.loads(
        run_cli("edge", "token", "create", "--data-dir", str(data), "--json").stdout
    )["token"]

    env = {"GUARDIAN_DEVICE_KEY": device["key"]}
    for seq, name in enumerate(["astronaut", "coffee"]):
        sent = run_cli(
            "device", "send", str(image_path(name)), "--seq", str(seq), "--edge", url,
            "--device-id", "door-pi", "--json", env=env,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
    again = run_cli(
        "device", "send", str(image_path("astronaut")), "--seq", "0", "--edge", url,
        "--device-id", "door-pi", "--json", env=env,
    )  # fmt: skip
    assert again.returncode == 0 and json.loads(again.stdout)["duplicate"] is True

    auth = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 60
    while True:
        events = httpx.get(f"{url}/v1/events", headers=auth, timeout=5).json()["items"]
        if events:
            break
        assert time.monotonic() < deadline, "no event within 60 s"
        time.sleep(0.5)
    (event,) = events
    assert event["type"] == "interaction_detected"
    detail = httpx.get(f"{url}/v1/events/{event['id']}", headers=auth, timeout=5).json()
    assert detail["person_count"] == 1 and len(detail["capture_ids"]) == 1
    capture_id = detail["capture_ids"][0]
    image = httpx.get(f"{url}/v1/captures/{capture_id}/image", headers=auth, timeout=5)
    assert image.status_code == 200 and image.content == image_path("astronaut").read_bytes()
    metrics = httpx.get(f"{url}/metrics", timeout=5).text
    assert 'guardian_ingest_total{result="accepted"} 2.0' in metrics
    assert 'guardian_ingest_total{result="duplicate"} 1.0' in metrics
    assert httpx.get(f"{url}/v1/events", timeout=5).status_code == 401
