"""MQTT messages: topic names, the privacy-minimal event summary, Home Assistant discovery."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest

from guardian.edge.mqtt import messages as m

TOPICS = m.Topics("guardian", "shop-edge", "homeassistant")
DISCOVERY_TOPIC = re.compile(
    r"^homeassistant/(binary_sensor|sensor)/shop-edge/[A-Za-z0-9_-]+/config$"
)


def camera_event(**details: Any) -> dict[str, Any]:
    return {
        "id": "e1", "type": "interaction_detected", "source_kind": "camera", "source_id": "front",
        "started_at": "2024-05-01T10:00:00+00:00", "ended_at": "2024-05-01T10:00:04+00:00",
        "person_count": 2, "best_score": 0.8123, "version": 3,
        "created_at": "2024-05-01T10:00:00+00:00", "updated_at": "2024-05-01T10:00:04+00:00",
        "details": {"camera": "front", "label": "person", "track_id": 7, "zones": ["shelf"],
                    "zone": "shelf", "dwell_s": 4.0, "state": "active",
                    "best_at": "2024-05-01T10:00:02+00:00", "key": "front:7", **details},
    }  # fmt: skip


def test_object_ids_keep_only_topic_and_entity_safe_characters() -> None:
    assert m.object_id("front door/1+#") == "front_door_1__"
    assert m.object_id("a-b_C9") == "a-b_C9"
    assert m.object_id("") == "_"


def test_topics_put_every_source_under_the_prefix_and_node() -> None:
    assert TOPICS.availability == "guardian/shop-edge/availability"
    assert TOPICS.events == "guardian/shop-edge/events"
    assert TOPICS.camera("front door", "person") == "guardian/shop-edge/camera/front_door/person"
    assert TOPICS.interactions_today("device", "pi/1") == (
        "guardian/shop-edge/device/pi_1/interactions_today"
    )
    assert TOPICS.discovery("sensor", "x") == "homeassistant/sensor/shop-edge/x/config"


def test_event_summary_is_an_allow_list_without_boxes_scores_or_references() -> None:
    summary = m.event_summary(camera_event(best_box=[1, 2, 3, 4], snapshot="/media/x.jpg"))
    assert summary == {
        "id": "e1", "type": "interaction_detected", "source_kind": "camera", "source": "front",
        "started_at": "2024-05-01T10:00:00+00:00", "ended_at": "2024-05-01T10:00:04+00:00",
        "person_count": 2, "version": 3, "label": "person", "zone": "shelf", "dwell_s": 4.0,
        "state": "active",
    }  # fmt: skip
    text = m.encode(summary)
    assert "0.8123" not in text and "box" not in text and "track" not in text


def test_device_event_summary_drops_capture_boxes_and_ids() -> None:
    event = camera_event()
    event.update(source_kind="device", source_id="door-pi", details={
        "person_count": 1, "best_score": 0.7, "capture_ids": ["c1"],
        "captured_at": {"c1": "2024-05-01T10:00:00+00:00"}, "boxes": {"c1": [[0, 0, 1, 1]]},
        "models": [{"name": "ssd"}],
    })  # fmt: skip
    summary = m.event_summary(event)
    assert summary["source_kind"] == "device" and summary["source"] == "door-pi"
    assert summary["label"] == "person"
    assert summary["zone"] is None and summary["state"] is None
    assert "c1" not in m.encode(summary) and "0.7" not in m.encode(summary)


def test_camera_discovery_gives_three_entities_on_one_device_linked_to_the_edge() -> None:
    configs = m.camera_discovery(TOPICS, "front door")
    assert len(configs) == 3
    assert all(DISCOVERY_TOPIC.match(topic) for topic in configs), list(configs)
    unique_ids = [c["unique_id"] for c in configs.values()]
    assert len(set(unique_ids)) == 3
    devices = [c["device"] for c in configs.values()]
    assert all(d == devices[0] for d in devices)
    assert devices[0]["identifiers"] == ["guardian_shop-edge_camera_front_door"]
    assert devices[0]["via_device"] == "guardian_shop-edge"
    person = configs["homeassistant/binary_sensor/shop-edge/front_door_person/config"]
    assert person["state_topic"] == "guardian/shop-edge/camera/front_door/person"
    assert person["device_class"] == "occupancy"
    assert [a["topic"] for a in person["availability"]] == [
        "guardian/shop-edge/availability", "guardian/shop-edge/camera/front_door/availability",
    ]  # fmt: skip
    counter = configs["homeassistant/sensor/shop-edge/camera_front_door_interactions_today/config"]
    assert counter["state_class"] == "total_increasing"
    assert counter["state_topic"] == "guardian/shop-edge/camera/front_door/interactions_today"
    json.dumps(configs)  # every config is plain JSON


def test_edge_and_device_discovery_make_the_edge_device_and_a_counter_per_device() -> None:
    edge = m.edge_discovery(TOPICS, "1.2.3")
    (config,) = edge.values()
    assert config["device"]["identifiers"] == ["guardian_shop-edge"]
    assert config["state_topic"] == TOPICS.availability
    device = m.device_discovery(TOPICS, "door-pi")
    (counter,) = device.values()
    assert counter["device"]["model"] == "Capture device"
    assert counter["unique_id"] == "guardian_shop-edge_device_door-pi_interactions_today"


@pytest.mark.parametrize(
    ("state", "shown", "available"),
    [("online", "online", "online"), ("error", "error", "offline"),
     ("disabled", "disabled", "offline"), ("weird", "unknown", "offline")],
)  # fmt: skip
def test_camera_state_messages(state: str, shown: str, available: str) -> None:
    got = m.camera_states(TOPICS, "front", state, present=True, interactions=4)
    assert got == {
        "guardian/shop-edge/camera/front/state": shown,
        "guardian/shop-edge/camera/front/availability": available,
        "guardian/shop-edge/camera/front/person": "ON",
        "guardian/shop-edge/camera/front/interactions_today": "4",
    }
    assert m.camera_states(TOPICS, "front", state, False, 0)[TOPICS.camera("front", "person")] == (
        "OFF"
    )


def test_day_start_is_local_midnight() -> None:
    tz = dt.timezone(dt.timedelta(hours=2))
    now = dt.datetime(2024, 5, 1, 0, 30, 5, 7, tzinfo=tz)
    assert m.day_start(now) == dt.datetime(2024, 5, 1, tzinfo=tz)
    assert m.day_start(now).astimezone(dt.UTC) == dt.datetime(2024, 4, 30, 22, tzinfo=dt.UTC)
