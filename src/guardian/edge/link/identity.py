"""The edge's link identity on disk: its private key, the CSR, and the certificate it was issued."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from guardian.device.durable import write_atomic

logger = logging.getLogger(__name__)

KEY_FILE = "edge.key"
CERT_FILE = "edge.crt"
CA_FILE = "ca.crt"
CSR_COMMON_NAME = "guardian-edge"


class IdentityError(Exception):
    """The identity files are missing, unreadable, or do not belong together."""


@dataclass(frozen=True, slots=True)
class LinkCredentials:
    """What ``grpc.ssl_channel_credentials`` takes, plus who the certificate says we are."""

    private_key: bytes
    certificate_chain: bytes
    root_certificates: bytes
    site_id: str
    tenant_id: str
    not_after: dt.datetime


def _attribute(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    value = values[0].value if values else ""
    return value if isinstance(value, str) else ""


class EdgeIdentityFiles:
    """The key (P-256, mode 0600), issued certificate chain and relay CA cert in one folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key_path = directory / KEY_FILE
        self.cert_path = directory / CERT_FILE
        self.ca_path = directory / CA_FILE

    def _load_key(self) -> ec.EllipticCurvePrivateKey:
        try:
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise IdentityError(f"cannot read the edge key {self.key_path}: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise IdentityError(f"{self.key_path} is not an EC private key")
        return key

    def ensure_key(self) -> ec.EllipticCurvePrivateKey:
        """The edge's private key, generated on first use (kept across re-enrolments)."""
        if self.key_path.exists():
            return self._load_key()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_atomic(self.key_path, pem)  # created 0600
        logger.info("generated the edge link key in %s", self.directory)
        return key

    def create_csr(self) -> bytes:
        """A PEM certificate signing request for the edge key (the relay sets the identity)."""
        key = self.ensure_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CSR_COMMON_NAME)])
        csr = (
            x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        )
        return csr.public_bytes(serialization.Encoding.PEM)

    def store(self, certificate_chain: bytes, ca_certificate: bytes) -> None:
        """Keep what enrolment returned, after checking the certificate is for our key.

        The CA certificate is written first: the presence of the edge certificate means
        enrolled.
        """
        try:
            leaf = x509.load_pem_x509_certificates(certificate_chain)[0]
            ca = x509.load_pem_x509_certificates(ca_certificate)
        except ValueError as exc:
            raise IdentityError(f"enrolment returned an unreadable certificate: {exc}") from exc
        if leaf.public_key() != self.ensure_key().public_key():
            raise IdentityError("the issued certificate is not for this edge's key")
        if not ca:
            raise IdentityError("enrolment returned no CA certificate")
        write_atomic(self.ca_path, ca_certificate)
        write_atomic(self.cert_path, certificate_chain)
        logger.info(
            "stored the link certificate for site %s", _attribute(leaf, NameOID.COMMON_NAME)
        )

    def is_enrolled(self) -> bool:
        """Whether a certificate has been stored."""
        return self.cert_path.exists() and self.key_path.exists() and self.ca_path.exists()

    def load(self) -> LinkCredentials:
        """The stored key, certificate chain and CA certificate, ready for a TLS channel."""
        if not self.is_enrolled():
            raise IdentityError(f"not enrolled: no certificate in {self.directory}")
        key = self._load_key()
        chain, root = self.cert_path.read_bytes(), self.ca_path.read_bytes()
        try:
            leaf = x509.load_pem_x509_certificates(chain)[0]
        except ValueError as exc:
            raise IdentityError(f"cannot read {self.cert_path}: {exc}") from exc
        if leaf.public_key() != key.public_key():
            raise IdentityError(f"{self.cert_path} does not belong to {self.key_path}")
        return LinkCredentials(
            private_key=self.key_path.read_bytes(),
            certificate_chain=chain,
            root_certificates=root,
            site_id=_attribute(leaf, NameOID.COMMON_NAME),
            tenant_id=_attribute(leaf, NameOID.ORGANIZATION_NAME),
            not_after=leaf.not_valid_after_utc,
        )

    def forget_certificate(self) -> None:
        """Drop the issued certificate (e.g. before enrolling again); the key stays."""
        self.cert_path.unlink(missing_ok=True)
