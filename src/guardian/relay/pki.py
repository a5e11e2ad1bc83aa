"""The relay's small certificate authority: edge client certificates and the link's server cert."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from guardian.device.durable import temp_name, write_atomic

logger = logging.getLogger(__name__)

CA_KEY_FILE = "ca.key"
CA_CERT_FILE = "ca.crt"
CA_DAYS = 3650
SITE_URN_PREFIX = "urn:guardian:site:"
# Backdating absorbs small clock differences between the relay and its edges.
CLOCK_SKEW = dt.timedelta(minutes=5)
ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1)
MIN_RSA_BITS = 2048
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

RevocationCheck = Callable[[str], bool]
"""Answers whether a certificate serial (lowercase hex) is revoked."""
#: Client certificates whose signature was checked, kept to skip parsing and verifying
#: them again on every call (validity and revocation are still checked every time).
VETTED_KEPT = 256


class PkiError(Exception):
    """The CA's files are unusable or a request to it is invalid."""


class CsrRejected(PkiError):
    """A certificate signing request the CA refuses to sign."""


class RejectReason(StrEnum):
    """Why a presented certificate does not identify an edge."""

    MALFORMED = "malformed"
    FOREIGN = "not issued by this CA"
    BAD_SIGNATURE = "bad signature"
    NOT_YET_VALID = "not yet valid"
    EXPIRED = "expired"
    NOT_CLIENT = "not a client certificate"
    NO_IDENTITY = "no edge identity"
    REVOKED = "revoked"


class CertificateRejected(PkiError):
    """A presented certificate that does not identify an edge of this relay."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(f"certificate rejected: {reason.value}")
        self.reason = reason


class IssuedCert(NamedTuple):
    """A client certificate the CA signed."""

    cert_pem: bytes
    serial: str
    not_after: dt.datetime


class CertKeyPem(NamedTuple):
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True, slots=True)
class EdgeIdentity:
    """Who a verified client certificate speaks for.

    The certificate carries it as CN = site id, O = tenant id and the URI SAN
    ``urn:guardian:site:<site id>``; ``serial`` is lowercase hex, as the relay store keeps it.
    """

    site_id: str
    tenant_id: str
    serial: str


class RevocationSet:
    """An in-memory set of revoked serials, usable wherever a :data:`RevocationCheck` is taken."""

    def __init__(self, serials: Iterable[str] = ()) -> None:
        self._serials = {s.lower() for s in serials}

    def revoke(self, serial: str) -> None:
        """Refuse ``serial`` from now on."""
        self._serials.add(serial.lower())

    def __contains__(self, serial: object) -> bool:
        return isinstance(serial, str) and serial.lower() in self._serials

    def __call__(self, serial: str) -> bool:
        return serial in self

    def __len__(self) -> int:
        return len(self._serials)


def serial_hex(cert: x509.Certificate) -> str:
    """The certificate's serial number as lowercase hex."""
    return format(cert.serial_number, "x")


def load_certificate(data: bytes) -> x509.Certificate:
    """Parse a PEM (the first certificate of a chain) or DER certificate."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificates(data)[0]
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise CertificateRejected(RejectReason.MALFORMED) from exc


def check_id(value: str, what: str) -> str:
    """``value`` if it is a usable site or tenant id (letters, digits, ``.``, ``_``, ``-``)."""
    if not _ID_PATTERN.fullmatch(value):
        raise PkiError(f"invalid {what}: {value!r}")
    return value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _check_public_key(key: object) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ACCEPTED_CURVES):
            raise CsrRejected(f"unsupported curve {key.curve.name}")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CsrRejected(f"RSA key of {key.key_size} bits is too weak")
    else:
        raise CsrRejected(f"unsupported key type {type(key).__name__}")


def _create_exclusive(path: Path, data: bytes) -> bool:
    """Write a new 0600 file at ``path`` atomically; False if one already exists."""
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never replaces: a concurrent creator's key wins
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True


@dataclass(frozen=True, slots=True)
class _Vetted:
    """What never changes about a certificate this CA signed: its window, use and identity."""

    not_before: dt.datetime
    not_after: dt.datetime
    for_clients: bool
    identity: EdgeIdentity | None  # None: it names no (consistent) site


class CertificateAuthority:
    """Signs edge client certificates and the relay's server certificate; verifies edges."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        if key.public_key() != cert.public_key():
            raise PkiError("CA key does not match the CA certificate")
        self._key = key
        self.cert = cert
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self._vetted: OrderedDict[bytes, _Vetted] = OrderedDict()
        self._vetted_lock = threading.Lock()

    @classmethod
    def load_or_create(cls, directory: Path, *, name: str) -> CertificateAuthority:
        """The CA kept in ``directory``, created (P-256, 10 years, key mode 0600) on first use.

        ``name`` becomes the CA's common name when it is created; an existing CA keeps its own.
        """
        key_path, cert_path = directory / CA_KEY_FILE, directory / CA_CERT_FILE
        if not key_path.exists():
            if cert_path.exists():
                raise PkiError(f"{cert_path} exists without its key {key_path}")
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if _create_exclusive(key_path, _key_pem(_new_key())):
                logger.info("created relay CA key in %s", directory)
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{key_path} is not an EC private key")
        if cert_path.exists():
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        else:
            # Written after the key, so a crash in between only costs a fresh self-signature.
            cert = _self_signed(key, name, _now())
            write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))
            cert_path.chmod(0o644)
        if cert.not_valid_after_utc <= _now():
            raise PkiError(f"the relay CA certificate {cert_path} has expired")
        return cls(key, cert)

    def _builder(
        self, subject: x509.Name, public_key: CertificatePublicKeyTypes, now: dt.datetime, days: int
    ) -> x509.CertificateBuilder:
        if days < 1:
            raise PkiError("a certificate must be valid at least one day")
        ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public_key),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
        )

    def server_certificate(
        self, hostnames: list[str], ips: list[str], *, days: int = 365
    ) -> CertKeyPem:
        """A fresh key and certificate for the relay's gRPC endpoint.

        The SANs are ``hostnames`` and ``ips`` plus ``localhost`` and ``127.0.0.1`` always.
        """
        names = list(dict.fromkeys([*hostnames, "localhost"]))
        try:
            addresses = list(dict.fromkeys(ipaddress.ip_address(ip) for ip in [*ips, "127.0.0.1"]))
        except ValueError as exc:
            raise PkiError(str(exc)) from exc
        key = _new_key()
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        sans += [x509.IPAddress(a) for a in addresses]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        cert = (
            self._builder(subject, key.public_key(), _now(), days)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(_key_usage(signs_certificates=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return CertKeyPem(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def issue_client_certificate(
        self,
        csr_pem: bytes,
        *,
        site_id: str,
        tenant_id: str,
        days: int = 365,
        now: dt.datetime | None = None,
    ) -> IssuedCert:
        """Sign an edge's CSR for ``site_id`` of ``tenant_id``, issued as of ``now``.

        The CSR's own subject is ignored: the identity comes from the caller (the redeemed
        bootstrap token). Raises :class:`CsrRejected` for a bad signature or a weak key.
        """
        check_id(site_id, "site id")
        check_id(tenant_id, "tenant id")
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as exc:
            raise CsrRejected("not a PEM certificate signing request") from exc
        public_key = csr.public_key()
        _check_public_key(public_key)
        if not csr.is_signature_valid:
            raise CsrRejected("the CSR's signature is invalid")
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, site_id),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, tenant_id),
            ]
        )
        san = x509.SubjectAlternativeName(
            [x509.UniformResourceIdentifier(SITE_URN_PREFIX + site_id)]
        )
        cert = (
            self._builder(subject, public_key, now or _now(), days)
            .add_extension(san, critical=False)
            .add_extension(_key_usage(signs_certificates=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        serial = serial_hex(cert)
        logger.info("issued client certificate %s for site %s", serial, site_id)
        return IssuedCert(
            cert.public_bytes(serialization.Encoding.PEM), serial, cert.not_valid_after_utc
        )

    def identity_of(
        self,
        cert_data: bytes,
        *,
        is_revoked: RevocationCheck | None = None,
        now: dt.datetime | None = None,
    ) -> EdgeIdentity:
        """Verify a client certificate (PEM or DER) and return the edge it identifies.

        Checks issuer and signature against this CA, the validity window, that it is a client
        certificate carrying a consistent site identity, and ``is_revoked``; raises
        :class:`CertificateRejected` with the first failed check. The issuer and signature
        checks are remembered per certificate (the edge presents the same one on every
        call); the rest is checked every time.
        """
        vetted = self._vet(cert_data)
        moment = now or _now()
        if moment < vetted.not_before:
            raise CertificateRejected(RejectReason.NOT_YET_VALID)
        if moment > vetted.not_after:
            raise CertificateRejected(RejectReason.EXPIRED)
        if not vetted.for_clients:
            raise CertificateRejected(RejectReason.NOT_CLIENT)
        if vetted.identity is None:
            raise CertificateRejected(RejectReason.NO_IDENTITY)
        if is_revoked is not None and is_revoked(vetted.identity.serial):
            raise CertificateRejected(RejectReason.REVOKED)
        return vetted.identity

    def _vet(self, cert_data: bytes) -> _Vetted:
        """Parse ``cert_data`` and check it was issued and signed by this CA (remembered)."""
        with self._vetted_lock:
            known = self._vetted.get(cert_data)
            if known is not None:
                self._vetted.move_to_end(cert_data)
                return known
        cert = load_certificate(cert_data)
        if cert.issuer != self.cert.subject:
            raise CertificateRejected(RejectReason.FOREIGN)
        try:
            cert.verify_directly_issued_by(self.cert)
        except (InvalidSignature, ValueError, TypeError) as exc:
            raise CertificateRejected(RejectReason.BAD_SIGNATURE) from exc
        try:
            identity: EdgeIdentity | None = _identity(cert)
        except CertificateRejected:
            identity = None
        vetted = _Vetted(
            cert.not_valid_before_utc, cert.not_valid_after_utc, _is_client_cert(cert), identity
        )
        with self._vetted_lock:
            self._vetted[bytes(cert_data)] = vetted
            while len(self._vetted) > VETTED_KEPT:
                self._vetted.popitem(last=False)
        return vetted


def _self_signed(key: ec.EllipticCurvePrivateKey, name: str, now: dt.datetime) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _is_client_cert(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return not constraints.ca and ExtendedKeyUsageOID.CLIENT_AUTH in usages


def _identity(cert: x509.Certificate) -> EdgeIdentity:
    def single(oid: x509.ObjectIdentifier) -> str:
        values = cert.subject.get_attributes_for_oid(oid)
        if len(values) != 1 or not isinstance(values[0].value, str):
            raise CertificateRejected(RejectReason.NO_IDENTITY)
        return values[0].value

    site_id, tenant_id = single(NameOID.COMMON_NAME), single(NameOID.ORGANIZATION_NAME)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise CertificateRejected(RejectReason.NO_IDENTITY) from exc
    if san.get_values_for_type(x509.UniformResourceIdentifier) != [SITE_URN_PREFIX + site_id]:
        raise CertificateRejected(RejectReason.NO_IDENTITY)
    return EdgeIdentity(site_id=site_id, tenant_id=tenant_id, serial=serial_hex(cert))
