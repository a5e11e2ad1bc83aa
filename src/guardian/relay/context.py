"""The relay's collaborators: store, CA, metrics, control-plane client; built once, passed in."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import logging
import os
import secrets
import threading
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from guardian.common.db import session_factory
from guardian.contracts.pb.guardian.v1 import control_pb2_grpc
from guardian.device.durable import write_atomic
from guardian.relay.commands import EdgeCommands
from guardian.relay.config import RelaySettings
from guardian.relay.media.upload import MediaUploads
from guardian.relay.pki import CertificateAuthority
from guardian.relay.store.edges import is_revoked as stored_revoked
from guardian.relay.store.schema import open_store

logger = logging.getLogger(__name__)

DEFAULT_CONTROL_GRPC_PORT = 8721
ADMIN_TOKENS_FILE = "admin_tokens.json"
ADMIN_TOKEN_PREFIX = "gra"


class RelayConfigError(ValueError):
    """Settings the relay cannot run with."""


class RelayMetrics:
    """The relay's Prometheus metrics, in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.forward_queue_depth = Gauge(
            "guardian_relay_forward_queue_depth",
            "Event summaries waiting for the control plane.",
            registry=self.registry,
        )
        self.edges_connected = Gauge(
            "guardian_relay_edges_connected", "Edges with an open link.", registry=self.registry
        )
        self.batches_acked = Counter(
            "guardian_relay_batches_acked",
            "Edge event batches acknowledged.",
            registry=self.registry,
        )
        self.control_push_errors = Counter(
            "guardian_relay_control_push_errors",
            "Failed pushes to the control plane.",
            registry=self.registry,
        )


class ConnectedEdges:
    """Which sites have an open link right now (thread-safe)."""

    def __init__(self, on_change: Callable[[int], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._open: Tally[str] = Tally()
        self._versions: dict[str, str] = {}
        self._on_change = on_change

    def opened(self, site_id: str, edge_version: str) -> None:
        """A stream of ``site_id`` started."""
        with self._lock:
            self._open[site_id] += 1
            self._versions[site_id] = edge_version
            count = len(+self._open)
        if self._on_change:
            self._on_change(count)

    def closed(self, site_id: str) -> None:
        """A stream of ``site_id`` ended."""
        with self._lock:
            self._open[site_id] -= 1
            self._open = +self._open  # drops sites without streams
            count = len(self._open)
        if self._on_change:
            self._on_change(count)

    def is_connected(self, site_id: str) -> bool:
        """Whether ``site_id`` has an open stream."""
        with self._lock:
            return self._open[site_id] > 0

    def version(self, site_id: str) -> str:
        """The edge version the site's last Hello named; empty when unknown."""
        with self._lock:
            return self._versions.get(site_id, "")


class AdminTokens:
    """Relay admin tokens, kept as SHA-256 hashes in a 0600 JSON file in the data dir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _hashes(self) -> list[str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        hashes = data.get("sha256") if isinstance(data, dict) else None
        return [h for h in hashes if isinstance(h, str)] if isinstance(hashes, list) else []

    def create(self) -> str:
        """A new token (shown once; only its hash is stored)."""
        token = f"{ADMIN_TOKEN_PREFIX}_{secrets.token_urlsafe(32)}"
        with self._lock:
            hashes = [*self._hashes(), _sha256(token)]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps({"sha256": hashes}).encode())
            os.chmod(self.path, 0o600)
        return token

    def verify(self, token: str) -> bool:
        """Whether ``token`` is one this relay issued."""
        digest = _sha256(token)
        return any(secrets.compare_digest(digest, h) for h in self._hashes())


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ControlTarget:
    """Where the control plane's gRPC link listens, and whether to use TLS."""

    address: str
    tls: bool


def control_target(url: str) -> ControlTarget:
    """The gRPC target of ``control_url``: its host and port (default 8721).

    ``https://`` uses TLS with the system roots; ``http://`` (plaintext) is allowed only to a
    loopback host, so a relay token never crosses a network in the clear.
    """
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise RelayConfigError(f"control_url has no host: {url!r}")
    port = parts.port or DEFAULT_CONTROL_GRPC_PORT
    if parts.scheme == "http" and not _is_loopback(host):
        raise RelayConfigError("plaintext control_url (http://) is allowed only to loopback")
    shown = f"[{host}]" if ":" in host else host
    return ControlTarget(f"{shown}:{port}", tls=parts.scheme == "https")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ControlClient:
    """The relay's ``ControlLink`` stub with its bearer token on every call."""

    def __init__(
        self,
        target: ControlTarget,
        token: str,
        *,
        timeout: float = 10.0,
        root_certificates: bytes | None = None,
    ) -> None:
        credentials = (
            grpc.ssl_channel_credentials(root_certificates=root_certificates)
            if target.tls
            else None
        )
        self.channel = (
            grpc.secure_channel(target.address, credentials)
            if credentials is not None
            else grpc.insecure_channel(target.address)
        )
        self.stub = control_pb2_grpc.ControlLinkStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),)
        self.timeout = timeout

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()


def control_roots(settings: RelaySettings, target: ControlTarget) -> bytes | None:
    """The CA certificates to trust for the control plane: ``control_ca_file``, or None
    (the system roots). ``RelayConfigError`` if the file is unreadable, not PEM, or set
    for a plaintext ``control_url``."""
    if settings.control_ca_file is None:
        return None
    if not target.tls:
        raise RelayConfigError("control_ca_file is set but control_url is not https://")
    try:
        pem = settings.control_ca_file.read_bytes()
    except OSError as exc:
        raise RelayConfigError(f"cannot read control_ca_file: {exc}") from exc
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise RelayConfigError(
            f"control_ca_file holds no PEM certificate: {settings.control_ca_file}"
        )
    return pem


@dataclass
class RelayContext:
    """Everything the relay's servers and workers share."""

    settings: RelaySettings
    engine: Engine
    ca: CertificateAuthority
    control: ControlClient | None
    metrics: RelayMetrics = field(default_factory=RelayMetrics)
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    connected: ConnectedEdges = field(default_factory=ConnectedEdges)

    def __post_init__(self) -> None:
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self.connected = ConnectedEdges(self.metrics.edges_connected.set)
        self.admin_tokens = AdminTokens(self.settings.data_dir / ADMIN_TOKENS_FILE)
        self.commands = EdgeCommands()
        #: Set when summaries were queued, so the forwarder pushes them at once.
        self.forward_wake = threading.Event()
        self.uploads = MediaUploads(self.settings.data_dir)

    @property
    def relay_id(self) -> str:
        """This relay's identifier: the first 16 hex digits of its CA certificate's SHA-256."""
        return hashlib.sha256(self.ca.cert_pem).hexdigest()[:16]

    def is_revoked(self, serial: str) -> bool:
        """Whether ``serial`` is revoked (a fresh read of the store)."""
        with self.engine.connect() as connection:
            return stored_revoked(connection, serial)


def build_context(settings: RelaySettings, *, migrate: bool = True) -> RelayContext:
    """Open (and migrate) the store, load or create the CA, connect to the control plane."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = open_store(settings.resolved_database_url(), migrate=migrate)
    ca = CertificateAuthority.load_or_create(settings.data_dir / "ca", name="Guardian relay CA")
    control = None
    if settings.control_url is not None:
        if not settings.control_token:
            raise RelayConfigError("control_url is set but control_token is not")
        target = control_target(settings.control_url)
        control = ControlClient(
            target, settings.control_token, root_certificates=control_roots(settings, target)
        )
    return RelayContext(settings, engine, ca, control)
