"""The MQTT connection (paho-mqtt 2.x): last will, retained availability, reconnects."""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from guardian.edge.mqtt.config import MqttSettings
from guardian.edge.mqtt.messages import OFFLINE, ONLINE, Topics

logger = logging.getLogger(__name__)

STOP_FLUSH_S = 5.0


class MqttPublisher:
    """One broker connection in paho's network thread.

    The broker holds ``offline`` (retained) as this client's last will, so subscribers see
    the edge go offline when it dies; on every (re)connect ``online`` is published
    retained, and ``generation`` counts connections so callers re-publish their retained
    state after a reconnect. ``stop`` publishes ``offline`` itself (a clean disconnect does
    not fire the will).
    """

    def __init__(self, settings: MqttSettings, topics: Topics, client_id: str) -> None:
        self._settings = settings
        self._topics = topics
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._generation = 0
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.will_set(topics.availability, OFFLINE, qos=settings.qos, retain=True)
        if settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else None
            client.username_pw_set(settings.username, password)
        if settings.tls:
            client.tls_set(
                ca_certs=str(settings.ca_file) if settings.ca_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._client = client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def generation(self) -> int:
        """How many times the client has connected (a change means: re-publish state)."""
        with self._lock:
            return self._generation

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected (True) or ``timeout`` seconds passed (False)."""
        return self._connected.wait(timeout)

    def start(self) -> None:
        """Connect in the background (paho retries until it reaches the broker)."""
        logger.info(
            "mqtt connecting",
            extra={"host": self._settings.host, "port": self._settings.port,
                   "tls": self._settings.tls},
        )  # fmt: skip
        self._client.connect_async(
            self._settings.host, self._settings.port, keepalive=self._settings.keepalive_seconds
        )
        self._client.loop_start()

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> bool:
        """Queue one message; False when the client refused it (not connected, queue full)."""
        info = self._client.publish(topic, payload, qos=self._settings.qos, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def stop(self) -> None:
        """Publish ``offline`` (retained), flush, disconnect, end the network thread."""
        if self.connected:
            info = self._client.publish(
                self._topics.availability, OFFLINE, qos=self._settings.qos, retain=True
            )
            try:
                info.wait_for_publish(STOP_FLUSH_S)
            except (RuntimeError, ValueError):
                logger.warning("mqtt: could not publish offline before disconnecting")
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: Any,
        properties: Any,
    ) -> None:
        if reason.is_failure:
            logger.warning("mqtt connection refused", extra={"reason": str(reason)})
            return
        client.publish(self._topics.availability, ONLINE, qos=self._settings.qos, retain=True)
        with self._lock:
            self._generation += 1
        self._connected.set()
        logger.info("mqtt connected", extra={"host": self._settings.host})

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: Any,
        properties: Any,
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was:
            logger.warning("mqtt disconnected", extra={"reason": str(reason)})
