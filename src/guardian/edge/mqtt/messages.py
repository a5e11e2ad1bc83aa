"""What the edge publishes over MQTT (pure): topics, privacy-minimal event messages and
Home Assistant discovery configs.

Topics under ``<prefix>/<node>/``: ``availability`` (retained ``online``; ``offline`` as
the last will and on a clean stop), ``events`` (one JSON summary per event version),
``camera/<name>/state|availability|person`` and ``<camera|device>/<name>/interactions_today``
(retained). Discovery configs go to ``<discovery>/<component>/<node>/<object>/config``
(retained), one Home Assistant device per camera and per capture device, each linked to
the edge's own device.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ONLINE, OFFLINE = "online", "offline"
ON, OFF = "ON", "OFF"
CAMERA, DEVICE = "camera", "device"
INTERACTION = "interaction_detected"
# Event fields that may leave the edge over MQTT: no boxes, scores, image or capture refs.
_SUMMARY_DETAILS = ("label", "zone", "dwell_s", "state")
CAMERA_STATES = ["starting", "online", "offline", "error", "disabled", "unknown"]


def object_id(name: str) -> str:
    """``name`` as a topic level and Home Assistant object id: ``[A-Za-z0-9_-]`` only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name) or "_"


def day_start(now: dt.datetime) -> dt.datetime:
    """Local midnight of the aware datetime ``now`` (when the "today" counters reset)."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Topics:
    """Topic names of one edge (``node``)."""

    prefix: str
    node: str
    discovery_prefix: str = "homeassistant"

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.node}"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def events(self) -> str:
        return f"{self.base}/events"

    def camera(self, name: str, leaf: str) -> str:
        """``<base>/camera/<name>/<leaf>`` (leaf: state, availability, person)."""
        return f"{self.base}/camera/{object_id(name)}/{leaf}"

    def interactions_today(self, kind: str, name: str) -> str:
        """``<base>/<kind>/<name>/interactions_today``."""
        return f"{self.base}/{kind}/{object_id(name)}/interactions_today"

    def discovery(self, component: str, obj: str) -> str:
        """Home Assistant's ``<discovery>/<component>/<node>/<object>/config``."""
        return f"{self.discovery_prefix}/{component}/{object_id(self.node)}/{obj}/config"


def event_summary(event: Mapping[str, Any]) -> dict[str, Any]:
    """The MQTT message of an event (its outbox JSON form in): an allow-list of fields."""
    details = event.get("details") or {}
    summary: dict[str, Any] = {
        "id": event["id"],
        "type": event["type"],
        "source_kind": event["source_kind"],
        "source": event["source_id"],
        "started_at": event["started_at"],
        "ended_at": event["ended_at"],
        "person_count": event["person_count"],
        "version": event["version"],
    }
    for key in _SUMMARY_DETAILS:
        summary[key] = details.get(key)
    if summary["label"] is None and event["source_kind"] == DEVICE:
        summary["label"] = "person"  # capture events are about people
    return summary


def encode(payload: Mapping[str, Any]) -> str:
    """Compact JSON, as every message is sent."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def _edge_device(node: str, version: str) -> dict[str, Any]:
    return {
        "identifiers": [f"guardian_{object_id(node)}"],
        "name": f"Guardian edge {node}",
        "manufacturer": "Guardian",
        "model": "Edge",
        "sw_version": version,
    }


def _source_device(node: str, kind: str, name: str) -> dict[str, Any]:
    return {
        "identifiers": [f"guardian_{object_id(node)}_{kind}_{object_id(name)}"],
        "name": name,
        "manufacturer": "Guardian",
        "model": "Camera" if kind == CAMERA else "Capture device",
        "via_device": f"guardian_{object_id(node)}",
    }


def _unique_id(node: str, *parts: str) -> str:
    return "_".join(["guardian", object_id(node), *(object_id(p) for p in parts)])


def edge_discovery(topics: Topics, version: str) -> dict[str, dict[str, Any]]:
    """The edge's own entity (connectivity): discovery topic → config."""
    node = topics.node
    return {
        topics.discovery("binary_sensor", "edge_online"): {
            "name": "Online",
            "unique_id": _unique_id(node, "edge", "online"),
            "device_class": "connectivity",
            "entity_category": "diagnostic",
            "state_topic": topics.availability,
            "payload_on": ONLINE,
            "payload_off": OFFLINE,
            "device": _edge_device(node, version),
        }
    }


def _availability(topics: Topics, *extra: str) -> dict[str, Any]:
    return {
        "availability": [
            {"topic": t, "payload_available": ONLINE, "payload_not_available": OFFLINE}
            for t in (topics.availability, *extra)
        ],
        "availability_mode": "all",
    }


def camera_discovery(topics: Topics, name: str) -> dict[str, dict[str, Any]]:
    """A camera's entities: person presence, state, interactions today."""
    node, obj = topics.node, object_id(name)
    device = _source_device(node, CAMERA, name)
    live = _availability(topics, topics.camera(name, "availability"))
    return {
        topics.discovery("binary_sensor", f"{obj}_person"): {
            "name": "Person",
            "unique_id": _unique_id(node, CAMERA, name, "person"),
            "device_class": "occupancy",
            "state_topic": topics.camera(name, "person"),
            "payload_on": ON,
            "payload_off": OFF,
            "device": device,
            **live,
        },
        topics.discovery("sensor", f"{obj}_state"): {
            "name": "State",
            "unique_id": _unique_id(node, CAMERA, name, "state"),
            "device_class": "enum",
            "options": CAMERA_STATES,
            "state_topic": topics.camera(name, "state"),
            "entity_category": "diagnostic",
            "device": device,
            **_availability(topics),
        },
        **_counter(topics, CAMERA, name, device),
    }


def device_discovery(topics: Topics, name: str) -> dict[str, dict[str, Any]]:
    """A capture device's entity: interactions today."""
    return _counter(topics, DEVICE, name, _source_device(topics.node, DEVICE, name))


def _counter(
    topics: Topics, kind: str, name: str, device: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    return {
        topics.discovery("sensor", f"{kind}_{object_id(name)}_interactions_today"): {
            "name": "Interactions today",
            "unique_id": _unique_id(topics.node, kind, name, "interactions_today"),
            "state_topic": topics.interactions_today(kind, name),
            "state_class": "total_increasing",
            "unit_of_measurement": "interactions",
            "icon": "mdi:hand-back-right",
            "device": device,
            **_availability(topics),
        }
    }


def camera_states(
    topics: Topics, name: str, state: str, present: bool, interactions: int
) -> dict[str, str]:
    """A camera's retained state messages: topic → payload."""
    return {
        topics.camera(name, "state"): state if state in CAMERA_STATES else "unknown",
        topics.camera(name, "availability"): ONLINE if state == "online" else OFFLINE,
        topics.camera(name, "person"): ON if present else OFF,
        topics.interactions_today(CAMERA, name): str(interactions),
    }


def device_states(topics: Topics, name: str, interactions: int) -> dict[str, str]:
    """A capture device's retained state messages: topic → payload."""
    return {topics.interactions_today(DEVICE, name): str(interactions)}
