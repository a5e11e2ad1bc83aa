"""The relay CA: creation, issuing edge certificates, refusing CSRs, verifying identities."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from guardian.relay.pki import (
    CA_CERT_FILE,
    CA_KEY_FILE,
    CertificateAuthority,
    CertificateRejected,
    CsrRejected,
    EdgeIdentity,
    PkiError,
    RejectReason,
    RevocationSet,
)

SITE = "0b5f1c4e-3d7a-4c56-9d0e-2f8a1b6c7d90"
TENANT = "acme"


def make_csr(key: CertificateIssuerPrivateKeyTypes | None = None) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whoever")])
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, algorithm)
    return csr.public_bytes(serialization.Encoding.PEM)


def der_to_pem_csr(der: bytes) -> bytes:
    return x509.load_der_x509_csr(der).public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path / "ca", name="relay acme")


def test_ca_is_created_with_a_private_key_file_and_a_ten_year_ca_cert(tmp_path: Path) -> None:
    ca = CertificateAuthority.load_or_create(tmp_path / "ca", name="relay acme")

    key_mode = stat.S_IMODE((tmp_path / "ca" / CA_KEY_FILE).stat().st_mode)
    assert key_mode == 0o600
    constraints = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    assert ca.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "relay acme"
    lifetime = ca.cert.not_valid_after_utc - ca.cert.not_valid_before_utc
    assert dt.timedelta(days=3649) < lifetime < dt.timedelta(days=3651)
    assert not list(tmp_path.joinpath("ca").glob(".*"))  # no temp files left


def test_ca_is_loaded_again_not_recreated(tmp_path: Path) -> None:
    first = CertificateAuthority.load_or_create(tmp_path / "ca", name="relay acme")
    second = CertificateAuthority.load_or_create(tmp_path / "ca", name="another name")

    assert second.cert_pem == first.cert_pem
    issued = first.issue_client_certificate(make_csr(), site_id=SITE, tenant_id=TENANT)
    assert second.identity_of(issued.cert_pem).site_id == SITE


def test_ca_cert_lost_after_key_written_is_recreated_for_the_same_key(tmp_path: Path) -> None:
    first = CertificateAuthority.load_or_create(tmp_path / "ca", name="relay acme")
    (tmp_path / "ca" / CA_CERT_FILE).unlink()

    second = CertificateAuthority.load_or_create(tmp_path / "ca", name="relay acme")

    assert second.cert.public_key() == first.cert.public_key()


def test_ca_cert_without_its_key_is_an_error(tmp_path: Path) -> None:
    CertificateAuthority.load_or_create(tmp_path / "ca", name="relay acme")
    (tmp_path / "ca" / CA_KEY_FILE).unlink()

    with pytest.raises(PkiError, match="without its key"):
        CertificateAuthority.load_or_create(tmp_path / "ca", name="relay acme")


def test_issued_certificate_carries_the_identity_and_round_trips(
    ca: CertificateAuthority,
) -> None:
    issued = ca.issue_client_certificate(make_csr(), site_id=SITE, tenant_id=TENANT, days=30)
    cert = x509.load_pem_x509_certificate(issued.cert_pem)

    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == SITE
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == TENANT
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [f"urn:guardian:site:{SITE}"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert issued.serial == format(cert.serial_number, "x")
    assert issued.not_after == cert.not_valid_after_utc
    remaining = issued.not_after - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=29) < remaining <= dt.timedelta(days=30)

    expected = EdgeIdentity(site_id=SITE, tenant_id=TENANT, serial=issued.serial)
    assert ca.identity_of(issued.cert_pem) == expected
    assert ca.identity_of(cert.public_bytes(serialization.Encoding.DER)) == expected
    assert ca.identity_of(issued.cert_pem + ca.cert_pem) == expected  # a chain: leaf first


def test_serials_are_unique(ca: CertificateAuthority) -> None:
    csr = make_csr()
    serials = {
        ca.issue_client_certificate(csr, site_id=SITE, tenant_id=TENANT).serial for _ in "abcd"
    }
    assert len(serials) == 4


def test_csr_subject_does_not_choose_the_identity(ca: CertificateAuthority) -> None:
    issued = ca.issue_client_certificate(make_csr(), site_id="site-2", tenant_id=TENANT)
    identity = ca.identity_of(issued.cert_pem)
    assert (identity.site_id, identity.tenant_id) == ("site-2", TENANT)


def test_csr_with_a_bad_signature_is_refused(ca: CertificateAuthority) -> None:
    der = bytearray(x509.load_pem_x509_csr(make_csr()).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # last byte of the ECDSA signature

    with pytest.raises(CsrRejected, match="signature"):
        ca.issue_client_certificate(der_to_pem_csr(bytes(der)), site_id=SITE, tenant_id=TENANT)


@pytest.mark.parametrize(
    ("key", "match"),
    [
        (rsa.generate_private_key(public_exponent=65537, key_size=1024), "too weak"),
        (ec.generate_private_key(ec.SECP256K1()), "unsupported curve"),
        (ed25519.Ed25519PrivateKey.generate(), "unsupported key type"),
    ],
    ids=["rsa-1024", "secp256k1", "ed25519"],
)
def test_csr_with_a_weak_or_unsupported_key_is_refused(
    ca: CertificateAuthority, key: CertificateIssuerPrivateKeyTypes, match: str
) -> None:
    with pytest.raises(CsrRejected, match=match):
        ca.issue_client_certificate(make_csr(key), site_id=SITE, tenant_id=TENANT)


def test_csr_with_a_p384_key_is_accepted(ca: CertificateAuthority) -> None:
    csr = make_csr(ec.generate_private_key(ec.SECP384R1()))
    issued = ca.issue_client_certificate(csr, site_id=SITE, tenant_id=TENANT)
    assert ca.identity_of(issued.cert_pem).site_id == SITE


def test_garbage_instead_of_a_csr_is_refused(ca: CertificateAuthority) -> None:
    with pytest.raises(CsrRejected):
        ca.issue_client_certificate(b"hello", site_id=SITE, tenant_id=TENANT)


@pytest.mark.parametrize("site_id", ["", "a b", "x" * 65, "-leading", "site/1", "é"])
def test_unusable_site_ids_are_refused(ca: CertificateAuthority, site_id: str) -> None:
    with pytest.raises(PkiError, match="site id"):
        ca.issue_client_certificate(make_csr(), site_id=site_id, tenant_id=TENANT)


def test_certificate_with_a_flipped_signature_byte_is_rejected(ca: CertificateAuthority) -> None:
    issued = ca.issue_client_certificate(make_csr(), site_id=SITE, tenant_id=TENANT)
    der = bytearray(
        x509.load_pem_x509_certificate(issued.cert_pem).public_bytes(serialization.Encoding.DER)
    )
    der[-1] ^= 0x01

    with pytest.raises(CertificateRejected) as info:
        ca.identity_of(bytes(der))
    assert info.value.reason is RejectReason.BAD_SIGNATURE


def test_certificate_with_a_rewritten_site_id_is_rejected(ca: CertificateAuthority) -> None:
    issued = ca.issue_client_certificate(make_csr(), site_id="site-1", tenant_id=TENANT)
    der = x509.load_pem_x509_certificate(issued.cert_pem).public_bytes(serialization.Encoding.DER)
    forged = der.replace(b"site-1", b"site-2")
    assert forged != der

    with pytest.raises(CertificateRejected) as info:
        ca.identity_of(forged)
    assert info.value.reason is RejectReason.BAD_SIGNATURE


def test_certificate_of_another_ca_with_the_same_name_is_rejected(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    other = CertificateAuthority.load_or_create(tmp_path / "other", name="relay acme")
    issued = other.issue_client_certificate(make_csr(), site_id=SITE, tenant_id=TENANT)

    with pytest.raises(CertificateRejected) as info:
        ca.identity_of(issued.cert_pem)
    assert info.value.reason is RejectReason.BAD_SIGNATURE


def test_certificate_of_a_differently_named_ca_is_foreign(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    other = CertificateAuthority.load_or_create(tmp_path / "other", name="relay evil")
    issued = other.issue_client_certificate(make_csr(), site_id=SITE, tenant_id=TENANT)

    with pytest.raises(CertificateRejected) as info:
        ca.identity_of(issued.cert_pem)
    assert info.value.reason is RejectReason.FOREIGN


def test_expired_and_not_yet_valid_certificates_are_rejected(ca: CertificateAuthority) -> None:
    now = dt.datetime.now(dt.UTC)
    old = ca.issue_client_certificate(
        make_csr(), site_id=SITE, tenant_id=TENANT, days=1, now=now - dt.timedelta(days=3)
    )
    future = ca.issue_client_certificate(
        make_csr(), site_id=SITE, tenant_id=TENANT, now=now + dt.timedelta(days=3)
    )

    with pytest.raises(CertificateRejected) as expired:
        ca.identity_of(old.cert_pem)
    with pytest.raises(CertificateRejected) as early:
        ca.identity_of(future.cert_pem)
    assert expired.value.reason is RejectReason.EXPIRED
    assert early.value.reason is RejectReason.NOT_YET_VALID
    # The same certificates were valid in their own time.
    assert ca.identity_of(old.cert_pem, now=now - dt.timedelta(days=2.5)).site_id == SITE


def test_revoked_serial_is_rejected_and_others_pass(ca: CertificateAuthority) -> None:
    revoked = ca.issue_client_certificate(make_csr(), site_id=SITE, tenant_id=TENANT)
    fine = ca.issue_client_certificate(make_csr(), site_id=SITE, tenant_id=TENANT)
    revocations = RevocationSet([revoked.serial.upper()])

    with pytest.raises(CertificateRejected) as info:
        ca.identity_of(revoked.cert_pem, is_revoked=revocations)
    assert info.value.reason is RejectReason.REVOKED
    assert ca.identity_of(fine.cert_pem, is_revoked=revocations).serial == fine.serial
    asked: list[str] = []

    def never_revoked(serial: str) -> bool:
        asked.append(serial)
        return False

    ca.identity_of(fine.cert_pem, is_revoked=never_revoked)
    assert asked == [fine.serial]


def test_a_certificate_seen_before_is_still_checked_for_time_and_revocation(
    ca: CertificateAuthority,
) -> None:
    now = dt.datetime.now(dt.UTC)
    issued = ca.issue_client_certificate(make_csr(), site_id=SITE, tenant_id=TENANT, days=1)
    revocations = RevocationSet()
    assert ca.identity_of(issued.cert_pem, is_revoked=revocations).site_id == SITE

    with pytest.raises(CertificateRejected) as expired:
        ca.identity_of(issued.cert_pem, now=now + dt.timedelta(days=2))
    revocations.revoke(issued.serial)
    with pytest.raises(CertificateRejected) as revoked:
        ca.identity_of(issued.cert_pem, is_revoked=revocations)
    assert (expired.value.reason, revoked.value.reason) == (
        RejectReason.EXPIRED,
        RejectReason.REVOKED,
    )


def test_a_tampered_copy_of_a_certificate_seen_before_is_rejected(
    ca: CertificateAuthority,
) -> None:
    issued = ca.issue_client_certificate(make_csr(), site_id=SITE, tenant_id=TENANT)
    der = x509.load_pem_x509_certificate(issued.cert_pem).public_bytes(serialization.Encoding.DER)
    assert ca.identity_of(der).site_id == SITE
    tampered = bytearray(der)
    tampered[-1] ^= 0x01  # the signature's last byte

    with pytest.raises(CertificateRejected) as info:
        ca.identity_of(bytes(tampered))
    assert info.value.reason is RejectReason.BAD_SIGNATURE


def test_server_and_ca_certificates_are_not_client_identities(ca: CertificateAuthority) -> None:
    server_cert, _ = ca.server_certificate(["relay.example"], [])

    for cert in (server_cert, ca.cert_pem):
        with pytest.raises(CertificateRejected) as info:
            ca.identity_of(cert)
        assert info.value.reason is RejectReason.NOT_CLIENT


def test_garbage_certificate_is_malformed(ca: CertificateAuthority) -> None:
    for data in (b"", b"junk", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        with pytest.raises(CertificateRejected) as info:
            ca.identity_of(data)
        assert info.value.reason is RejectReason.MALFORMED


def test_server_certificate_names_the_relay_and_loopback(ca: CertificateAuthority) -> None:
    cert_pem, key_pem = ca.server_certificate(["relay.example"], ["10.77.0.1", "::1"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, password=None)

    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["relay.example", "localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [
        "10.77.0.1",
        "::1",
        "127.0.0.1",
    ]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert key.public_key() == cert.public_key()
    cert.verify_directly_issued_by(ca.cert)


def test_server_certificate_refuses_a_bad_ip(ca: CertificateAuthority) -> None:
    with pytest.raises(PkiError):
        ca.server_certificate([], ["10.0.0.300"])
