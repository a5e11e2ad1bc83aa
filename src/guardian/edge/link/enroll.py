"""Enrolment: redeem a bootstrap token at the relay for a client certificate, and keep it.

Trust in the relay comes from ``--ca-file`` when given. Otherwise it is trust on first use:
the edge reads the certificate chain the relay presents, pins the CA that signed the relay's
certificate (its SHA-256 is printed so an operator can compare it with the relay's), and
from then on trusts only that CA.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import socket
import ssl
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from guardian.contracts.pb.guardian.v1 import link_pb2, link_pb2_grpc
from guardian.device.durable import write_atomic
from guardian.edge.link.identity import EdgeIdentityFiles, IdentityError

logger = logging.getLogger(__name__)

LINK_DIR = "link"
LINK_FILE = "link.json"
ENROLL_TIMEOUT_S = 20.0
_DER = 2  # _ssl.ENCODING_DER


class EnrollError(Exception):
    """Enrolment failed; the message is meant for the operator."""


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """Where and as whom the edge is enrolled (``<data_dir>/link/link.json``)."""

    relay: str
    site_id: str
    tenant_id: str
    relay_id: str
    #: The relay's direct EdgeLink port on the same host (0: none, or enrolled before it).
    link_port: int = 0

    @classmethod
    def load(cls, directory: Path) -> LinkInfo | None:
        """The stored info, or None when the edge has not enrolled."""
        path = directory / LINK_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(
            relay=str(data["relay"]),
            site_id=str(data["site_id"]),
            tenant_id=str(data["tenant_id"]),
            relay_id=str(data.get("relay_id", "")),
            link_port=int(data.get("link_port", 0)),
        )

    def link_targets(self) -> list[str]:
        """Where to dial ``EdgeLink``, in order: the direct port on the enrolment host, if
        the relay named one, then the enrolment address itself."""
        if not self.link_port:
            return [self.relay]
        host, _ = split_address(self.relay)
        shown = f"[{host}]" if ":" in host else host
        return [f"{shown}:{self.link_port}", self.relay]

    def save(self, directory: Path) -> None:
        """Write the info atomically."""
        write_atomic(directory / LINK_FILE, json.dumps(asdict(self), indent=2).encode())


@dataclass(frozen=True, slots=True)
class EnrollResult:
    """What enrolment granted, as printed by ``guardian edge enroll``."""

    site_id: str
    tenant_id: str
    relay: str
    ca_sha256: str


def link_dir(data_dir: Path) -> Path:
    """The folder holding the edge's link identity and ``link.json``."""
    return data_dir / LINK_DIR


def is_enrolled(data_dir: Path) -> bool:
    """Whether the edge holds a certificate and knows its relay."""
    directory = link_dir(data_dir)
    return EdgeIdentityFiles(directory).is_enrolled() and (directory / LINK_FILE).exists()


def split_address(address: str) -> tuple[str, int]:
    """``host`` and ``port`` of ``HOST:PORT`` (IPv6 in brackets)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EnrollError(f"the relay address must be HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


def ca_fingerprint(ca_pem: bytes) -> str:
    """Hex SHA-256 of the (first) CA certificate's DER encoding."""
    cert = x509.load_pem_x509_certificates(ca_pem)[0]
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def pick_issuer_ca(chain: list[x509.Certificate]) -> x509.Certificate:
    """The CA certificate in a presented chain that signed the leaf (the chain's first)."""
    if not chain:
        raise EnrollError("the relay presented no certificate")
    leaf = chain[0]
    for cert in chain[1:]:
        if _is_ca(cert) and cert.subject == leaf.issuer:
            try:
                leaf.verify_directly_issued_by(cert)
            except (InvalidSignature, ValueError, TypeError):
                continue
            return cert
    raise EnrollError(
        "the relay did not present its CA certificate; pass it with --ca-file (the relay's ca.crt)"
    )


def fetch_relay_ca(host: str, port: int, timeout: float = 10.0) -> bytes:
    """Trust on first use: the PEM of the CA that signed the certificate the relay presents."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # nothing to verify against yet: this *is* the TOFU
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            # Public as SSLSocket.get_unverified_chain from 3.13; the private object has it
            # since 3.10 (a list of _ssl.Certificate).
            presented = tls._sslobj.get_unverified_chain() or []  # type: ignore[attr-defined]
            ders = [c.public_bytes(_DER) for c in presented]
    except OSError as exc:
        raise EnrollError(f"cannot reach the relay at {host}:{port}: {exc}") from exc
    chain = [x509.load_der_x509_certificate(d) for d in ders]
    return pick_issuer_ca(chain).public_bytes(serialization.Encoding.PEM)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("guardian")
    except PackageNotFoundError:
        return "0"


def enroll(
    data_dir: Path,
    relay: str,
    token: str,
    *,
    ca_file: Path | None = None,
    force: bool = False,
    timeout: float = ENROLL_TIMEOUT_S,
) -> EnrollResult:
    """Enrol this edge at ``relay`` (``HOST:PORT``) with a bootstrap token.

    Writes the key (kept across re-enrolments), certificate chain, relay CA and
    ``link.json`` under ``<data_dir>/link``. Raises :class:`EnrollError` when the edge is
    enrolled already (unless ``force``), the relay is unreachable or refuses the token.
    """
    host, port = split_address(relay)
    directory = link_dir(data_dir)
    if is_enrolled(data_dir) and not force:
        raise EnrollError(
            f"this edge is enrolled already ({directory}); use --force to enrol again"
        )
    if ca_file is not None:
        try:
            pinned = ca_file.read_bytes()
            ca_fingerprint(pinned)
        except (OSError, ValueError) as exc:
            raise EnrollError(f"cannot read the CA file {ca_file}: {exc}") from exc
    else:
        pinned = fetch_relay_ca(host, port)
        logger.warning(
            "trusting the relay CA on first use", extra={"ca_sha256": ca_fingerprint(pinned)}
        )
    files = EdgeIdentityFiles(directory)
    try:
        csr = files.create_csr()
    except IdentityError as exc:
        raise EnrollError(str(exc)) from exc
    request = link_pb2.EnrollRequest(
        bootstrap_token=token,
        csr_pem=csr.decode(),
        edge_version=_version(),
        hostname=socket.gethostname(),
    )
    credentials = grpc.ssl_channel_credentials(root_certificates=pinned)
    try:
        with grpc.secure_channel(relay, credentials) as channel:
            response = link_pb2_grpc.EnrollmentStub(channel).Enroll(request, timeout=timeout)
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        detail = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        raise EnrollError(
            f"the relay refused enrolment ({getattr(code, 'name', code)}): {detail}"
        ) from exc
    ca_pem = response.ca_pem.encode()
    if ca_fingerprint(ca_pem) != ca_fingerprint(pinned):
        raise EnrollError("the relay returned a CA other than the one it presented")
    try:
        files.forget_certificate()
        files.store(response.certificate_chain_pem.encode(), ca_pem)
    except IdentityError as exc:
        raise EnrollError(str(exc)) from exc
    LinkInfo(
        relay, response.site_id, response.tenant_id, response.relay_id, response.link_port
    ).save(directory)
    not_after = response.not_after.ToDatetime(tzinfo=dt.UTC)
    logger.info(
        "enrolled", extra={"site_id": response.site_id, "relay": relay, "not_after": str(not_after)}
    )
    return EnrollResult(response.site_id, response.tenant_id, relay, ca_fingerprint(ca_pem))
