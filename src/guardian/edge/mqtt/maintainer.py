"""``MqttMaintainer``: publishes the edge's events, camera state, counters and Home Assistant
discovery while ``guardian edge run`` runs (when ``GUARDIAN_EDGE_MQTT__ENABLED``).

Events are published as they are committed from the moment the maintainer starts (older
ones are not replayed: a home automation should not react to yesterday's visitor after a
restart); retained state is published on change and again after every reconnect.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from collections.abc import Callable

from guardian import __version__
from guardian.edge.context import EdgeContext
from guardian.edge.mqtt import messages as m
from guardian.edge.mqtt.config import MqttSettings
from guardian.edge.mqtt.feed import EventFeed, Sources, read_sources
from guardian.edge.mqtt.publisher import MqttPublisher

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


def _local_now() -> dt.datetime:
    return dt.datetime.now().astimezone()


def node_id(settings: MqttSettings) -> str:
    """The configured node id, else this machine's host name made topic-safe."""
    return settings.node_id or m.object_id(socket.gethostname())


def topics_for(settings: MqttSettings) -> m.Topics:
    """The topic names these settings give."""
    return m.Topics(settings.topic_prefix, node_id(settings), settings.discovery_prefix)


class MqttMaintainer(threading.Thread):
    """Polls the store every ``poll_seconds`` and publishes what changed."""

    def __init__(
        self,
        ctx: EdgeContext,
        stop_event: threading.Event,
        *,
        publisher: MqttPublisher | None = None,
        clock: Clock = _local_now,
    ) -> None:
        super().__init__(name="mqtt", daemon=True)
        self._ctx = ctx
        self._settings = ctx.settings.mqtt
        self._stop_event = stop_event
        self._clock = clock
        self.topics = topics_for(self._settings)
        self.publisher = publisher or MqttPublisher(
            self._settings,
            self.topics,
            self._settings.client_id or f"guardian-edge-{self.topics.node}",
        )
        self._feed = EventFeed(cursor=clock())
        self._generation = 0
        self._configs: dict[str, str] = {}  # discovery topic -> payload published
        self._states: dict[str, str] = {}  # state topic -> payload published

    def run(self) -> None:
        self.publisher.start()
        try:
            while not self._stop_event.wait(self._settings.poll_seconds):
                try:
                    self.tick()
                except Exception:  # a bad read must not end publishing; the next tick retries
                    logger.exception("mqtt publishing failed; retrying")
        finally:
            self.publisher.stop()

    def tick(self) -> None:
        """One round: discovery, changed state and new events (skipped while disconnected)."""
        if not self.publisher.connected:
            return
        generation = self.publisher.generation
        if generation != self._generation:  # (re)connected: the broker may have lost state
            self._generation = generation
            self._states.clear()
            self._configs.clear()
        now = self._clock()
        with self._ctx.sessions() as session:
            sources = read_sources(
                session,
                now=now,
                today=m.day_start(now),
                presence=dt.timedelta(seconds=self._settings.presence_seconds),
            )
            events = self._feed.read(session, sources.pairs())
        if self._settings.discovery:
            self._publish_discovery(sources)
        self._publish_states(sources)
        self._publish_events(events)

    def _publish_discovery(self, sources: Sources) -> None:
        wanted = m.edge_discovery(self.topics, __version__)
        for name in sources.cameras:
            wanted.update(m.camera_discovery(self.topics, name))
        for name in sources.devices:
            wanted.update(m.device_discovery(self.topics, name))
        for topic, config in wanted.items():
            payload = m.encode(config)
            if self._configs.get(topic) != payload and self.publisher.publish(
                topic, payload, retain=True
            ):
                self._configs[topic] = payload
        for topic in set(self._configs) - set(wanted):  # removed camera or device
            if self.publisher.publish(topic, "", retain=True):
                del self._configs[topic]

    def _publish_states(self, sources: Sources) -> None:
        wanted: dict[str, str] = {}
        for name, state in sources.cameras.items():
            count = sources.interactions.get((m.CAMERA, name), 0)
            wanted.update(m.camera_states(self.topics, name, state, name in sources.present, count))
        for name in sources.devices:
            count = sources.interactions.get((m.DEVICE, name), 0)
            wanted.update(m.device_states(self.topics, name, count))
        for topic, payload in wanted.items():
            if self._states.get(topic) != payload and self.publisher.publish(
                topic, payload, retain=True
            ):
                self._states[topic] = payload

    def _publish_events(self, events: list[dict[str, object]]) -> None:
        for index, event in enumerate(events):
            if not self.publisher.publish(self.topics.events, m.encode(m.event_summary(event))):
                self._feed.forget(events[index:])
                return
