"""Mutual TLS on loopback with certificates from the relay CA and the edge's identity files."""

from __future__ import annotations

import datetime as dt
import queue
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from guardian.edge.link.identity import EdgeIdentityFiles, IdentityError
from guardian.relay.pki import (
    CertificateAuthority,
    CertificateRejected,
    RejectReason,
    RevocationSet,
)

SITE = "3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c"
TENANT = "acme"
TIMEOUT = 5.0


@dataclass
class Outcome:
    """What the server made of one connection."""

    site_id: str | None = None
    error: str | None = None


class MtlsServer:
    """A TLS server on 127.0.0.1 that requires a client cert from the CA and answers its site."""

    def __init__(self, ca: CertificateAuthority, directory: Path, revoked: RevocationSet) -> None:
        cert_pem, key_pem = ca.server_certificate(["relay.test"], [])
        (directory / "server.crt").write_bytes(cert_pem)
        (directory / "server.key").write_bytes(key_pem)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(directory / "server.crt", directory / "server.key")
        self.context.load_verify_locations(cadata=ca.cert_pem.decode())
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.ca, self.revoked = ca, revoked
        self.outcomes: queue.Queue[Outcome] = queue.Queue()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> MtlsServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT)
        self.listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(TIMEOUT)
            self.outcomes.put(self._handle(conn))

    def _handle(self, conn: socket.socket) -> Outcome:
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                der = tls.getpeercert(binary_form=True)
                assert der is not None
                try:
                    identity = self.ca.identity_of(der, is_revoked=self.revoked)
                except CertificateRejected as exc:
                    return Outcome(error=exc.reason.value)
                tls.sendall(identity.site_id.encode())
                return Outcome(site_id=identity.site_id)
        except (OSError, AssertionError) as exc:  # ssl.SSLError is an OSError
            return Outcome(error=f"handshake: {exc}")
        finally:
            conn.close()

    def next_outcome(self) -> Outcome:
        return self.outcomes.get(timeout=TIMEOUT)


def connect(port: int, files: EdgeIdentityFiles, host: str = "localhost") -> bytes | Exception:
    """Dial the server as the edge; the bytes it answered, or the error the client saw."""
    credentials = files.load()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=credentials.root_certificates.decode())
    context.load_cert_chain(files.cert_path, files.key_path)
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            return tls.recv(1024)
    except OSError as exc:
        return exc


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path / "relay-ca", name="relay acme")


@pytest.fixture
def revoked() -> RevocationSet:
    return RevocationSet()


@pytest.fixture
def server(
    ca: CertificateAuthority, tmp_path: Path, revoked: RevocationSet
) -> Iterator[MtlsServer]:
    with MtlsServer(ca, tmp_path, revoked) as running:
        yield running


def enrol(
    ca: CertificateAuthority, directory: Path, *, now: dt.datetime | None = None, days: int = 365
) -> EdgeIdentityFiles:
    files = EdgeIdentityFiles(directory)
    issued = ca.issue_client_certificate(
        files.create_csr(), site_id=SITE, tenant_id=TENANT, days=days, now=now
    )
    files.store(issued.cert_pem, ca.cert_pem)
    return files


def test_enrolled_edge_connects_and_is_identified(
    ca: CertificateAuthority, server: MtlsServer, tmp_path: Path
) -> None:
    files = enrol(ca, tmp_path / "edge")

    assert connect(server.port, files) == SITE.encode()
    assert server.next_outcome() == Outcome(site_id=SITE)
    assert connect(server.port, files, host="127.0.0.1") == SITE.encode()
    assert server.next_outcome() == Outcome(site_id=SITE)


def test_edge_with_a_certificate_from_another_ca_is_refused(
    ca: CertificateAuthority, server: MtlsServer, tmp_path: Path
) -> None:
    other = CertificateAuthority.load_or_create(tmp_path / "other-ca", name="relay acme")
    files = enrol(other, tmp_path / "edge")
    # The edge trusts the real relay, so only the relay's check of the client can fail.
    files.store(files.cert_path.read_bytes(), ca.cert_pem)

    result = connect(server.port, files)

    assert not isinstance(result, bytes) or result == b""
    outcome = server.next_outcome()
    assert outcome.site_id is None
    assert outcome.error is not None and "certificate verify failed" in outcome.error


def test_edge_with_an_expired_certificate_is_refused(
    ca: CertificateAuthority, server: MtlsServer, tmp_path: Path
) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    files = enrol(ca, tmp_path / "edge", now=long_ago, days=1)

    result = connect(server.port, files)

    assert not isinstance(result, bytes) or result == b""
    outcome = server.next_outcome()
    assert outcome.site_id is None
    assert outcome.error is not None and "expired" in outcome.error


def test_revoked_edge_passes_tls_but_gets_no_identity(
    ca: CertificateAuthority, server: MtlsServer, revoked: RevocationSet, tmp_path: Path
) -> None:
    files = enrol(ca, tmp_path / "edge")
    revoked.revoke(ca.identity_of(files.cert_path.read_bytes()).serial)

    assert connect(server.port, files) != SITE.encode()  # the server hangs up
    assert server.next_outcome() == Outcome(error=RejectReason.REVOKED.value)


def test_tampered_certificate_file_is_rejected_by_identity_of(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    files = enrol(ca, tmp_path / "edge")
    cert = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    der = bytearray(cert.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x80

    with pytest.raises(CertificateRejected) as info:
        ca.identity_of(bytes(der))
    assert info.value.reason is RejectReason.BAD_SIGNATURE


def test_identity_files_keep_a_private_key_and_reload_the_enrolment(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    files = enrol(ca, tmp_path / "edge")
    key_before = files.key_path.read_bytes()

    again = EdgeIdentityFiles(tmp_path / "edge")
    credentials = again.load()

    assert stat.S_IMODE(files.key_path.stat().st_mode) == 0o600
    assert (credentials.site_id, credentials.tenant_id) == (SITE, TENANT)
    assert credentials.private_key == key_before
    assert credentials.root_certificates == ca.cert_pem
    assert credentials.not_after > dt.datetime.now(dt.UTC)
    again.create_csr()
    assert files.key_path.read_bytes() == key_before  # a new CSR reuses the key


def test_identity_files_refuse_a_certificate_for_another_key(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    stranger = enrol(ca, tmp_path / "stranger")
    files = EdgeIdentityFiles(tmp_path / "edge")

    with pytest.raises(IdentityError, match="not for this edge"):
        files.store(stranger.cert_path.read_bytes(), ca.cert_pem)
    assert not files.is_enrolled()
    with pytest.raises(IdentityError, match="not enrolled"):
        files.load()


def test_grpc_mutual_tls_identifies_the_edge_and_refuses_revoked_ones(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    revoked = RevocationSet()

    def who_am_i(request: bytes, context: grpc.ServicerContext) -> bytes:
        # At run time each auth-context value is a list of bytes (the stubs say bytes).
        pem = cast("list[bytes]", context.auth_context()["x509_pem_cert"])[0]
        try:
            return ca.identity_of(pem, is_revoked=revoked).site_id.encode()
        except CertificateRejected as exc:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, exc.reason.value)

    handler = grpc.method_handlers_generic_handler(
        "test.Identity", {"WhoAmI": grpc.unary_unary_rpc_method_handler(who_am_i)}
    )
    cert_pem, key_pem = ca.server_certificate([], [])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_secure_port(
        "127.0.0.1:0",
        grpc.ssl_server_credentials(
            [(key_pem, cert_pem)], root_certificates=ca.cert_pem, require_client_auth=True
        ),
    )
    server.start()
    try:
        files = enrol(ca, tmp_path / "edge")
        creds = files.load()
        channel_credentials = grpc.ssl_channel_credentials(
            root_certificates=creds.root_certificates,
            private_key=creds.private_key,
            certificate_chain=creds.certificate_chain,
        )
        with grpc.secure_channel(f"localhost:{port}", channel_credentials) as channel:
            call: grpc.UnaryUnaryMultiCallable[bytes, bytes]
            call = channel.unary_unary("/test.Identity/WhoAmI")
            assert call(b"", timeout=TIMEOUT) == SITE.encode()
            revoked.revoke(ca.identity_of(creds.certificate_chain).serial)
            with pytest.raises(grpc.RpcError) as info:
                call(b"", timeout=TIMEOUT)
            assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
    finally:
        server.stop(None)
