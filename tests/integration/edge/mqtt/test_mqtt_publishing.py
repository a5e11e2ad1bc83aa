"""MQTT publishing against the real Mosquitto on 127.0.0.1:1883: Home Assistant discovery,
retained availability and state, event messages, the last will when the edge dies.

Every test uses its own topic prefix, node and discovery prefix, and clears the retained
messages it left, so runs do not see each other.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from guardian.edge.camera.config import CameraConfig
from guardian.edge.config import EdgeSettings
from guardian.edge.context import EdgeContext, build_context
from guardian.edge.events.camera_store import apply_action
from guardian.edge.mqtt.config import MqttSettings
from guardian.edge.mqtt.maintainer import MqttMaintainer
from guardian.edge.store.cameras import add_camera
from guardian.edge.store.devices import add_device
from guardian.edge.store.tables import CameraStatus, Event
from guardian.edge.track.lifecycle import INTERACTION, EventAction
from tests.ports import reserve_port

BROKER = ("127.0.0.1", 1883)
WAIT_S = 10.0


def broker_reachable() -> bool:
    try:
        socket.create_connection(BROKER, timeout=1).close()
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not broker_reachable(), reason="Mosquitto is not listening on 127.0.0.1:1883"
)


@dataclass
class Message:
    topic: str
    payload: str
    retain: bool


@dataclass
class Subscriber:
    """A paho client collecting every message under some topic filters."""

    filters: list[str]
    messages: queue.Queue[Message] = field(default_factory=queue.Queue)
    seen: list[Message] = field(default_factory=list)
    client: mqtt.Client | None = None

    def start(self) -> Subscriber:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex}")
        ready = threading.Event()

        def on_connect(c: mqtt.Client, u: Any, f: Any, reason: Any, p: Any) -> None:
            for topic in self.filters:
                c.subscribe(topic, qos=1)
            ready.set()

        def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
            self.messages.put(Message(msg.topic, msg.payload.decode(), bool(msg.retain)))

        client.on_connect = on_connect
        client.on_message = on_message
        client.connect(*BROKER)
        client.loop_start()
        assert ready.wait(WAIT_S), "subscriber could not connect"
        self.client = client
        return self

    def drain(self) -> list[Message]:
        while True:
            try:
                self.seen.append(self.messages.get_nowait())
            except queue.Empty:
                return self.seen

    def latest(self, topic: str) -> Message | None:
        found = [msg for msg in self.drain() if msg.topic == topic]
        return found[-1] if found else None

    def wait(self, what: str, check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.drain()
            result = check()
            if result:
                return result
            time.sleep(0.1)
        topics = sorted({m.topic for m in self.seen})
        raise AssertionError(f"timed out waiting for {what}; topics seen: {topics}")

    def wait_payload(self, topic: str, payload: str, timeout: float = WAIT_S) -> Message:
        def check() -> Message | None:
            msg = self.latest(topic)
            return msg if msg is not None and msg.payload == payload else None

        found: Message = self.wait(f"{topic} = {payload!r}", check, timeout)
        return found

    def stop(self) -> None:
        if self.client is not None:
            self.client.loop_stop()
            self.client.disconnect()


@dataclass
class Names:
    prefix: str
    node: str
    discovery: str

    def settings(self) -> MqttSettings:
        return MqttSettings(
            enabled=True, host=BROKER[0], port=BROKER[1], topic_prefix=self.prefix,
            node_id=self.node, discovery_prefix=self.discovery, poll_seconds=0.2,
            keepalive_seconds=5, presence_seconds=30,
        )  # fmt: skip

    def env(self) -> dict[str, str]:
        return {
            "GUARDIAN_EDGE_MQTT__ENABLED": "true",
            "GUARDIAN_EDGE_MQTT__TOPIC_PREFIX": self.prefix,
            "GUARDIAN_EDGE_MQTT__NODE_ID": self.node,
            "GUARDIAN_EDGE_MQTT__DISCOVERY_PREFIX": self.discovery,
            "GUARDIAN_EDGE_MQTT__POLL_SECONDS": "0.2",
        }


@pytest.fixture
def names() -> Iterator[Names]:
    tag = uuid.uuid4().hex[:10]
    made = Names(f"guardian-test-{tag}", f"edge-{tag}", f"ha-test-{tag}")
    yield made
    # Clear the retained messages the test left on the shared broker.
    sweeper = Subscriber([f"{made.prefix}/#", f"{made.discovery}/#"]).start()
    time.sleep(0.5)
    assert sweeper.client is not None
    for topic in {m.topic for m in sweeper.drain() if m.retain}:
        sweeper.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    sweeper.stop()


@pytest.fixture
def subscriber(names: Names) -> Iterator[Subscriber]:
    sub = Subscriber([f"{names.prefix}/#", f"{names.discovery}/#"]).start()
    yield sub
    sub.stop()


@pytest.fixture
def ctx(tmp_path: Path, names: Names) -> Iterator[EdgeContext]:
    settings = EdgeSettings(data_dir=tmp_path / "edge", mqtt=names.settings())
    context = build_context(settings)
    yield context
    context.engine.dispose()


def action(kind: str, key: str, ts: float) -> EventAction:
    box = (0.1, 0.1, 0.4, 0.9)
    return EventAction(
        kind=kind, key=key, event_type=INTERACTION, camera="front-door", track_id=1,  # type: ignore[arg-type]
        label="person", ts=ts, start_ts=ts - 2.0, end_ts=ts, box=box, best_score=0.8123,
        best_ts=ts - 1.0, best_box=box, zones=("shelf",), zone="shelf", dwell_s=2.0,
        person_count=1, peak_person_count=1,
    )  # fmt: skip


def device_event(ctx: EdgeContext, device: str) -> str:
    now = dt.datetime.now(dt.UTC)
    event_id = str(uuid.uuid4())
    with ctx.sessions.begin() as session:
        session.add(
            Event(
                id=event_id, type=INTERACTION, source_kind="device", source_id=device,
                started_at=now, ended_at=now, person_count=1, best_score=0.66,
                details={"person_count": 1, "best_score": 0.66, "capture_ids": ["cap-1"],
                         "boxes": {"cap-1": [[1, 2, 3, 4]]}},
                created_at=now, updated_at=now, version=1,
            )
        )  # fmt: skip
    return event_id


def test_discovery_state_and_events_reach_the_broker_and_stop_leaves_offline(
    ctx: EdgeContext, names: Names, subscriber: Subscriber
) -> None:
    with ctx.sessions.begin() as session:
        add_camera(session, CameraConfig(name="front-door", url="rtsp://cam.local/s"))
        add_device(session, ctx.sealer, "door-pi")
        session.add(CameraStatus(name="front-door", state="online",
                                 updated_at=dt.datetime.now(dt.UTC)))  # fmt: skip
    stop = threading.Event()
    maintainer = MqttMaintainer(ctx, stop)
    topics = maintainer.topics
    maintainer.start()
    try:
        subscriber.wait_payload(topics.availability, "online")
        disc = f"{names.discovery}/"
        expected = {
            f"{disc}binary_sensor/{names.node}/edge_online/config",
            f"{disc}binary_sensor/{names.node}/front-door_person/config",
            f"{disc}sensor/{names.node}/front-door_state/config",
            f"{disc}sensor/{names.node}/camera_front-door_interactions_today/config",
            f"{disc}sensor/{names.node}/device_door-pi_interactions_today/config",
        }
        subscriber.wait("discovery configs", lambda: expected <= {m.topic for m in subscriber.seen})
        configs = {t: json.loads(subscriber.latest(t).payload) for t in expected}  # type: ignore[union-attr]
        # Retained: a subscriber that comes later gets every config (with the retain flag).
        late = Subscriber([f"{names.discovery}/#"]).start()
        try:
            late.wait("retained configs", lambda: expected <= {m.topic for m in late.seen})
            assert all(m.retain for m in late.seen)
        finally:
            late.stop()
        assert len({c["unique_id"] for c in configs.values()}) == 5
        person = configs[f"{disc}binary_sensor/{names.node}/front-door_person/config"]
        assert person["device"]["name"] == "front-door"
        subscriber.wait_payload(topics.camera("front-door", "state"), "online")
        subscriber.wait_payload(topics.camera("front-door", "availability"), "online")
        subscriber.wait_payload(topics.camera("front-door", "person"), "OFF")
        subscriber.wait_payload(topics.interactions_today("camera", "front-door"), "0")

        # A camera interaction starts: an event message, presence ON, the counter at 1.
        now = time.time()
        with ctx.sessions.begin() as session:
            started = apply_action(session, action("start", "k1", now),
                                   now=dt.datetime.now(dt.UTC), events_days=7)  # fmt: skip
            event_id = started.id
        subscriber.wait_payload(topics.camera("front-door", "person"), "ON")
        subscriber.wait_payload(topics.interactions_today("camera", "front-door"), "1")
        with ctx.sessions.begin() as session:
            apply_action(session, action("end", "k1", now + 3),
                         now=dt.datetime.now(dt.UTC), events_days=7)  # fmt: skip
        subscriber.wait_payload(topics.camera("front-door", "person"), "OFF")
        device_id = device_event(ctx, "door-pi")
        subscriber.wait_payload(topics.interactions_today("device", "door-pi"), "1")

        def events() -> list[dict[str, Any]]:
            return [json.loads(m.payload) for m in subscriber.seen if m.topic == topics.events]

        subscriber.wait("three event messages", lambda: len(events()) >= 3)
        got = events()
        assert [(e["id"], e["version"]) for e in got] == [
            (event_id, 1), (event_id, 2), (device_id, 1),
        ]  # fmt: skip
        assert [e["state"] for e in got[:2]] == ["active", "ended"]
        assert got[2]["source_kind"] == "device" and got[2]["source"] == "door-pi"
        raw = "".join(m.payload for m in subscriber.seen if m.topic == topics.events)
        assert "box" not in raw and "0.8123" not in raw and "cap-1" not in raw and "0.66" not in raw
        assert not any(m.retain for m in subscriber.seen if m.topic == topics.events)

        # The camera breaks: state and its availability follow.
        with ctx.sessions.begin() as session:
            row = session.get(CameraStatus, "front-door")
            assert row is not None
            row.state = "error"
        subscriber.wait_payload(topics.camera("front-door", "availability"), "offline")
        assert subscriber.latest(topics.camera("front-door", "state")).payload == "error"  # type: ignore[union-attr]
    finally:
        stop.set()
        maintainer.join(15)
    assert not maintainer.is_alive()
    # A clean stop publishes offline itself (the will fires only on an unclean end).
    late = Subscriber([topics.availability]).start()
    try:
        msg = late.wait_payload(topics.availability, "offline")
        assert msg.retain
    finally:
        late.stop()


def test_edge_run_publishes_online_and_the_broker_sends_the_last_will_when_it_dies(
    tmp_path: Path, names: Names, subscriber: Subscriber
) -> None:
    port = reserve_port()
    env = {
        **os.environ, **names.env(), "GUARDIAN_LOG_FORMAT": "json",
        "GUARDIAN_EDGE_CAMERAS__ENABLED": "false", "GUARDIAN_EDGE_QUEUE__WORKERS": "0",
        "GUARDIAN_EDGE_RETENTION__INTERVAL_SECONDS": "0", "GUARDIAN_EDGE_LINK__ENABLED": "false",
    }  # fmt: skip
    data = tmp_path / "edge"
    cmd = [sys.executable, "-m", "guardian", "edge", "run", "--data-dir", str(data)]
    with (tmp_path / "edge.log").open("w") as log:
        proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, stdout=log, stderr=log)
    availability = f"{names.prefix}/{names.node}/availability"
    try:
        online = subscriber.wait_payload(availability, "online", timeout=60)
        assert online.topic == availability
        edge_config = f"{names.discovery}/binary_sensor/{names.node}/edge_online/config"
        subscriber.wait("the edge's discovery config", lambda: subscriber.latest(edge_config))
        # A newcomer gets the retained online.
        late = Subscriber([availability]).start()
        try:
            assert late.wait_payload(availability, "online").retain
        finally:
            late.stop()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        subscriber.wait_payload(availability, "offline", timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "edge.log").read_text()[-3000:]
    assert "mqtt connected" in (tmp_path / "edge.log").read_text()


def test_an_unreachable_broker_neither_blocks_nor_crashes_the_edge(
    tmp_path: Path, names: Names
) -> None:
    closed = reserve_port()  # nothing listens there
    settings = EdgeSettings(
        data_dir=tmp_path / "edge", mqtt=names.settings().model_copy(update={"port": closed})
    )
    context = build_context(settings)
    stop = threading.Event()
    maintainer = MqttMaintainer(context, stop)
    try:
        maintainer.start()
        time.sleep(1.5)
        assert maintainer.is_alive()
        assert not maintainer.publisher.connected
        maintainer.tick()  # nothing to do while disconnected, and no error
    finally:
        stop.set()
        started = time.monotonic()
        maintainer.join(15)
        context.engine.dispose()
    assert not maintainer.is_alive()
    assert time.monotonic() - started < 10


def test_after_a_reconnect_the_retained_state_is_published_again(
    ctx: EdgeContext, names: Names, subscriber: Subscriber
) -> None:
    with ctx.sessions.begin() as session:
        add_camera(session, CameraConfig(name="yard", url="rtsp://cam.local/y"))
    stop = threading.Event()
    maintainer = MqttMaintainer(ctx, stop)
    state = maintainer.topics.camera("yard", "state")
    maintainer.start()
    try:
        subscriber.wait_payload(state, "unknown")  # no status row yet
        first = maintainer.publisher.generation
        # The broker forgets the retained state (as after a restart without persistence) ...
        assert subscriber.client is not None
        subscriber.client.publish(state, b"", qos=1, retain=True).wait_for_publish(5)
        subscriber.wait_payload(state, "")
        # ... and drops the edge's connection: another client takes over its client id.
        intruder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"guardian-edge-{names.node}")
        intruder.connect(*BROKER)
        intruder.loop_start()
        subscriber.wait("the edge to lose its session", lambda: not maintainer.publisher.connected)
        intruder.disconnect()
        intruder.loop_stop()
        subscriber.wait("a reconnect", lambda: maintainer.publisher.generation > first, timeout=15)
        subscriber.wait_payload(state, "unknown")
        subscriber.wait_payload(maintainer.topics.availability, "online")
    finally:
        stop.set()
        maintainer.join(15)
