"""ControlLink over TLS: the control plane's certificate settings and the relay's CA file.

Real certificates (a CA made with ``cryptography`` and a server certificate for
localhost/127.0.0.1) on a real loopback gRPC server, dialled by the relay's ControlClient.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from pydantic import ValidationError

from guardian.contracts.pb.guardian.v1 import control_pb2, control_pb2_grpc
from guardian.control.config import ControlSettings
from guardian.control.context import ControlContext
from guardian.control.link_server import LinkTlsError, serve_control_link, server_credentials
from guardian.relay.config import RelaySettings
from guardian.relay.context import (
    ControlClient,
    RelayConfigError,
    control_roots,
    control_target,
)
from guardian.relay.pki import CertificateAuthority
from tests.control_helpers import make_relay
from tests.ports import reserve_port


@dataclasses.dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def _pki(directory: Path, name: str) -> TlsFiles:
    ca = CertificateAuthority.load_or_create(directory / "ca", name=name)
    issued = ca.server_certificate(["localhost"], ["127.0.0.1"])
    files = TlsFiles(directory / "ca.crt", directory / "control.crt", directory / "control.key")
    files.ca.write_bytes(ca.cert_pem)
    files.cert.write_bytes(issued.cert_pem)
    files.key.write_bytes(issued.key_pem)
    return files


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    return _pki(tmp_path / "pki", "control test CA")


@pytest.fixture
def served(
    sqlite_control_ctx: ControlContext, tls: TlsFiles
) -> Iterator[tuple[ControlContext, int]]:
    settings = sqlite_control_ctx.settings.model_copy(
        update={"grpc_tls_cert_file": tls.cert, "grpc_tls_key_file": tls.key}
    )
    ctx = dataclasses.replace(sqlite_control_ctx, settings=settings)
    port = reserve_port()
    server = serve_control_link(ctx, port)
    yield ctx, port
    server.stop(grace=None).wait()


def _relay_client(tmp_path: Path, url: str, token: str, ca: Path | None) -> ControlClient:
    settings = RelaySettings(
        data_dir=tmp_path / "relay", control_url=url, control_token=token, control_ca_file=ca
    )
    assert settings.control_url is not None
    target = control_target(settings.control_url)
    return ControlClient(
        target, token, timeout=5, root_certificates=control_roots(settings, target)
    )


def test_a_relay_trusting_the_control_ca_talks_tls_to_the_control_link(
    served: tuple[ControlContext, int], tls: TlsFiles, tmp_path: Path
) -> None:
    ctx, port = served
    _relay_id, token = make_relay(ctx, "tls-relay")
    for host in ("localhost", "127.0.0.1"):
        client = _relay_client(tmp_path, f"https://{host}:{port}", token, tls.ca)
        try:
            ack = client.stub.PushHealth(
                control_pb2.HealthReport(), metadata=client.metadata, timeout=client.timeout
            )
        finally:
            client.close()
        assert list(ack.results) == []  # authenticated and answered over TLS


def test_the_control_link_refuses_plaintext_and_untrusted_certificates(
    served: tuple[ControlContext, int], tmp_path: Path
) -> None:
    ctx, port = served
    _relay_id, token = make_relay(ctx, "tls-relay")
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = control_pb2_grpc.ControlLinkStub(channel)
        with pytest.raises(grpc.RpcError) as plain:
            stub.PushHealth(control_pb2.HealthReport(), timeout=5)
    assert plain.value.code() == grpc.StatusCode.UNAVAILABLE

    other = _pki(tmp_path / "other", "some other CA")
    for ca in (other.ca, None):  # another CA, then the system roots
        client = _relay_client(tmp_path, f"https://localhost:{port}", token, ca)
        try:
            with pytest.raises(grpc.RpcError) as refused:
                client.stub.PushHealth(
                    control_pb2.HealthReport(), metadata=client.metadata, timeout=5
                )
        finally:
            client.close()
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_settings_are_checked(tmp_path: Path, tls: TlsFiles) -> None:
    with pytest.raises(ValidationError, match="together"):
        ControlSettings(data_dir=tmp_path, grpc_tls_cert_file=tls.cert)
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    broken = ControlSettings(
        data_dir=tmp_path, grpc_tls_cert_file=not_pem, grpc_tls_key_file=tls.key
    )
    with pytest.raises(LinkTlsError, match="PEM"):
        server_credentials(broken)
    missing = ControlSettings(
        data_dir=tmp_path, grpc_tls_cert_file=tmp_path / "nope.crt", grpc_tls_key_file=tls.key
    )
    with pytest.raises(LinkTlsError, match="cannot read"):
        server_credentials(missing)
    assert server_credentials(ControlSettings(data_dir=tmp_path)) is None

    plain = RelaySettings(
        data_dir=tmp_path, control_url="http://127.0.0.1:8721", control_ca_file=tls.ca
    )
    with pytest.raises(RelayConfigError, match="https"):
        control_roots(plain, control_target("http://127.0.0.1:8721"))
    wrong = RelaySettings(
        data_dir=tmp_path, control_url="https://control.example", control_ca_file=not_pem
    )
    with pytest.raises(RelayConfigError, match="no PEM"):
        control_roots(wrong, control_target("https://control.example"))
