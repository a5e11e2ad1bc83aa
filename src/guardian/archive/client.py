"""Talking to a relay's ``Archive`` service for restore: who we are, and the calls."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from guardian.contracts.pb.guardian.v1 import archive_pb2, archive_pb2_grpc

ADMIN_TOKEN_ENV = "GUARDIAN_RELAY_ADMIN_TOKEN"
KEY_FILE, CERT_FILE, CA_FILE = "edge.key", "edge.crt", "ca.crt"


class RelayAccessError(Exception):
    """How to reach or authenticate to the relay is missing or unusable."""


@dataclass(frozen=True, slots=True)
class RelayAccess:
    """TLS trust in the relay plus either the edge's client certificate or an admin token."""

    root_certificates: bytes
    private_key: bytes | None = None
    certificate_chain: bytes | None = None
    admin_token: str | None = None

    @classmethod
    def from_identity(cls, directory: Path) -> RelayAccess:
        """The edge's link identity folder (``<edge data_dir>/link``): key, cert and relay CA."""
        try:
            return cls(
                root_certificates=(directory / CA_FILE).read_bytes(),
                private_key=(directory / KEY_FILE).read_bytes(),
                certificate_chain=(directory / CERT_FILE).read_bytes(),
            )
        except OSError as exc:
            raise RelayAccessError(f"cannot read the edge identity in {directory}: {exc}") from exc

    @classmethod
    def from_admin_token(cls, ca_file: Path, token: str) -> RelayAccess:
        """A relay admin token (``guardian relay admin-token``) and the relay's CA file."""
        try:
            root = ca_file.read_bytes()
        except OSError as exc:
            raise RelayAccessError(f"cannot read the CA file {ca_file}: {exc}") from exc
        return cls(root_certificates=root, admin_token=token)

    def channel(self, relay: str) -> grpc.Channel:
        """A TLS channel to ``relay`` (HOST:PORT)."""
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )
        return grpc.secure_channel(relay, credentials)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata: the admin token, when that is how we authenticate."""
        return (("authorization", f"Bearer {self.admin_token}"),) if self.admin_token else ()


def fetch(
    channel: grpc.Channel, access: RelayAccess, cid: str, *, timeout: float
) -> Iterator[bytes]:
    """The blob's bytes from the relay, in order (``grpc.RpcError`` on failure)."""
    stub = archive_pb2_grpc.ArchiveStub(channel)
    chunks = stub.Get(
        archive_pb2.GetBlobRequest(cid=cid), timeout=timeout, metadata=access.metadata
    )
    for chunk in chunks:
        yield chunk.data
