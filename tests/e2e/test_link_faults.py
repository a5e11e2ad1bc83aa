"""Faults on the edge ⇄ relay ⇄ control plane link lose nothing and duplicate nothing.

Three real processes on loopback (``guardian control run`` on PostgreSQL, ``guardian relay
run`` and ``guardian edge run`` on SQLite). After each fault the set of event ids in the
control plane equals the set produced at the edge, each at its latest version. The issue
asks for a relay down "for a minute"; the test keeps it down 20 s (heartbeats are 1 s
here, so that is 20 dead-link intervals) to keep the suite fast.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from guardian.contracts.pb.guardian.v1 import link_pb2, link_pb2_grpc
from guardian.edge.link.identity import EdgeIdentityFiles
from guardian.relay.pki import CertificateAuthority
from tests.e2e.link_harness import (
    LinkStack,
    assert_exactly_once,
    cli_result,
    open_stack,
    wait_for,
)
from tests.pg import MakeDatabase

RELAY_DOWN_S = 20.0


@pytest.fixture
def stack(tmp_path: Path, pg_database_factory: MakeDatabase) -> Iterator[LinkStack]:
    with open_stack(tmp_path, pg_database_factory) as running:
        running.start_all()
        yield running


def test_relay_down_20s_while_events_keep_coming(stack: LinkStack) -> None:
    events = stack.edge_events
    stack.wait_delivered(events.add(20))
    stack.relay_service.stop()
    down_until = time.monotonic() + RELAY_DOWN_S
    while time.monotonic() < down_until:
        events.add(5)
        time.sleep(1.0)
    assert events.outbox_depth() >= 5 * int(RELAY_DOWN_S) - 5  # nothing left while down
    stack.relay_service.start()
    stack.wait_delivered(stack.made, timeout=60)
    wait_for(lambda: events.outbox_depth() == 0, 30, "outbox drained", stack.edge)
    assert_exactly_once(stack, stack.made)


def test_control_down_then_relay_restarted_with_its_cache(stack: LinkStack) -> None:
    events = stack.edge_events
    stack.wait_delivered(events.add(10))
    stack.control.stop()
    events.add(50)
    # The relay acks once it has the batch: the edge's outbox drains with control down.
    wait_for(
        lambda: events.outbox_depth() == 0, 30, "outbox drained", stack.edge, stack.relay_service
    )
    stack.relay_service.stop()  # the summaries wait in the relay's forward queue, on disk
    stack.relay_service.start()
    stack.control.start()
    stack.wait_delivered(stack.made, timeout=60)
    assert_exactly_once(stack, stack.made)


def test_edge_killed_mid_batch(stack: LinkStack) -> None:
    events = stack.edge_events
    stack.wait_delivered(events.add(5))
    stack.edge.stop()
    stack.edge.start({"GUARDIAN_FAULTS": "link.edge.after_send"})
    events.add(300)  # more than one batch
    assert stack.edge.wait_exit(30) == -9  # died right after putting a batch on the wire
    assert events.outbox_depth() > 0
    stack.edge.start()
    stack.wait_delivered(stack.made, timeout=60)
    wait_for(lambda: events.outbox_depth() == 0, 30, "outbox drained", stack.edge)
    assert_exactly_once(stack, stack.made)


def test_lost_acks_deliver_the_batch_twice_without_duplicates(stack: LinkStack) -> None:
    events = stack.edge_events
    stack.wait_delivered(events.add(5))
    relay = stack.relay_service
    relay.stop()
    relay.start({"GUARDIAN_FAULTS": "link.relay.before_ack"})
    events.add(40)
    assert relay.wait_exit(30) == -9  # stored the batch, died before acking it
    assert events.outbox_depth() == 40  # so the edge still holds every row of it
    relay.start()
    stack.wait_delivered(stack.made, timeout=60)
    wait_for(lambda: events.outbox_depth() == 0, 30, "outbox drained", stack.edge)
    assert_exactly_once(stack, stack.made)


def test_updated_events_arrive_at_their_latest_version(stack: LinkStack) -> None:
    events = stack.edge_events
    ids = events.add(10)
    events.update(ids[:4])  # a second version while the first may be in flight
    stack.wait_delivered(ids)
    wait_for(lambda: events.outbox_depth() == 0, 30, "outbox drained", stack.edge)
    wait_for(
        lambda: all(stack.control_events()[i]["version"] == 2 for i in ids[:4]),
        30,
        "version 2 in the control plane",
        stack.relay_service,
    )
    assert_exactly_once(stack, stack.made)


def test_revoked_edge_is_cut_off(stack: LinkStack) -> None:
    events = stack.edge_events
    stack.wait_delivered(events.add(5))
    deployment = stack.deployment
    assert deployment is not None
    revoked = cli_result("relay", "edge", "revoke", deployment.site_id, env=stack.relay_service.env)
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    before = set(stack.control_events())
    late = events.add(5)
    time.sleep(8)  # several heartbeats and reconnect attempts
    assert set(stack.control_events()) == before
    assert events.outbox_depth() == len(late)  # kept for a later, valid link
    assert "UNAUTHENTICATED" in stack.edge.log() or "revoked" in stack.relay_service.log()


def _connect_once(stack: LinkStack, key_pem: bytes, cert_pem: bytes) -> grpc.StatusCode:
    """Open ``EdgeLink.Connect`` with this client certificate and say Hello; the status."""
    files = EdgeIdentityFiles(stack.edge_dir / "link")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=files.ca_path.read_bytes(),
        private_key=key_pem,
        certificate_chain=cert_pem,
    )
    deployment = stack.deployment
    assert deployment is not None
    hello = link_pb2.EdgeMessage(
        hello=link_pb2.Hello(site_id=deployment.site_id, protocol_version=1)
    )
    target = f"127.0.0.1:{stack.relay_link_port}"
    with grpc.secure_channel(target, credentials) as channel:
        stream = link_pb2_grpc.EdgeLinkStub(channel).Connect(iter([hello]), timeout=10)
        try:
            for message in stream:
                if message.HasField("welcome"):
                    return grpc.StatusCode.OK
        except grpc.RpcError as exc:
            assert isinstance(exc, grpc.Call)
            return exc.code()
    return grpc.StatusCode.OK


def _tampered(cert_pem: bytes) -> bytes:
    """The certificate with one bit of its signature flipped (it still parses)."""
    der = bytearray(x509.load_pem_x509_certificate(cert_pem).public_bytes(Encoding.DER))
    der[-1] ^= 0x01
    return x509.load_der_x509_certificate(bytes(der)).public_bytes(Encoding.PEM)


def test_tampered_or_expired_certificates_are_refused(stack: LinkStack) -> None:
    files = EdgeIdentityFiles(stack.edge_dir / "link")
    key_pem = files.key_path.read_bytes()
    cert_pem = files.cert_path.read_bytes()
    deployment = stack.deployment
    assert deployment is not None
    relay_ca = CertificateAuthority.load_or_create(stack.relay_dir / "ca", name="unused")
    expired = relay_ca.issue_client_certificate(
        files.create_csr(),
        site_id=deployment.site_id,
        tenant_id=deployment.tenant_id,
        days=1,
        now=dt.datetime.now(dt.UTC) - dt.timedelta(days=10),
    )
    refused = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAVAILABLE}
    assert _connect_once(stack, key_pem, cert_pem) == grpc.StatusCode.OK  # the real one works
    assert _connect_once(stack, key_pem, _tampered(cert_pem)) in refused
    assert _connect_once(stack, key_pem, expired.cert_pem) in refused


def test_a_reused_bootstrap_token_is_refused(stack: LinkStack, tmp_path: Path) -> None:
    again = stack.enroll(data_dir=tmp_path / "second-edge")
    assert again.returncode != 0
    assert "PERMISSION_DENIED" in again.stdout + again.stderr
    assert not (tmp_path / "second-edge" / "link" / "edge.crt").exists()
