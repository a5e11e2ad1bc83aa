"""``guardian edge enroll`` in a subprocess against a real relay Enrollment service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardian.edge.link.enroll import LinkInfo, ca_fingerprint, link_dir
from guardian.edge.link.identity import EdgeIdentityFiles
from guardian.relay.pki import CertificateAuthority, RevocationSet
from tests.integration.edge.link.relay_double import (
    SITE,
    TENANT,
    FakeRelay,
    RelayServer,
    RelayState,
)

REPO = Path(__file__).resolve().parents[4]


def guardian(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDIAN_")}
    return subprocess.run(
        [sys.executable, "-m", "guardian", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path / "relay-ca", name="relay acme")


@pytest.fixture
def relay(ca: CertificateAuthority) -> Iterator[tuple[RelayServer, RelayState]]:
    state = RelayState(tokens={"tok-1": False, "tok-2": False})
    with RelayServer(FakeRelay(ca, state, RevocationSet())) as server:
        yield server, state


def test_enroll_pins_the_relay_ca_on_first_use_and_a_reused_token_exits_1(
    tmp_path: Path, ca: CertificateAuthority, relay: tuple[RelayServer, RelayState]
) -> None:
    server, _ = relay
    address = f"127.0.0.1:{server.enroll_port}"
    data_dir = tmp_path / "edge"

    first = guardian(
        "edge",
        "enroll",
        "--relay",
        address,
        "--token",
        "tok-1",
        "--data-dir",
        str(data_dir),
        "--json",
    )

    assert first.returncode == 0, first.stderr
    printed = json.loads(first.stdout)
    assert printed == {
        "site_id": SITE,
        "tenant_id": TENANT,
        "relay": address,
        "ca_sha256": ca_fingerprint(ca.cert_pem),
    }
    credentials = EdgeIdentityFiles(link_dir(data_dir)).load()
    assert credentials.root_certificates == ca.cert_pem
    assert ca.identity_of(credentials.certificate_chain).site_id == SITE
    stored = LinkInfo.load(link_dir(data_dir))
    assert stored == LinkInfo(address, SITE, TENANT, "relay-1", server.link_port)
    assert stored.link_targets() == [f"127.0.0.1:{server.link_port}", address]

    again = guardian(
        "edge", "enroll", "--relay", address, "--token", "tok-2", "--data-dir", str(data_dir)
    )
    assert again.returncode == 1
    assert "enrolled already" in again.stderr

    reused = guardian(
        "edge",
        "enroll",
        "--relay",
        address,
        "--token",
        "tok-1",
        "--data-dir",
        str(data_dir),
        "--force",
    )
    assert reused.returncode == 1
    assert "PERMISSION_DENIED" in reused.stderr and "already used" in reused.stderr
    assert (
        EdgeIdentityFiles(link_dir(data_dir)).load().certificate_chain
        == credentials.certificate_chain
    )


def test_enroll_with_a_ca_file_from_another_relay_fails(
    tmp_path: Path, relay: tuple[RelayServer, RelayState]
) -> None:
    server, state = relay
    other = CertificateAuthority.load_or_create(tmp_path / "other-ca", name="relay evil")
    ca_file = tmp_path / "other.crt"
    ca_file.write_bytes(other.cert_pem)

    result = guardian(
        "edge", "enroll", "--relay", f"localhost:{server.enroll_port}", "--token", "tok-1",
        "--ca-file", str(ca_file), "--data-dir", str(tmp_path / "edge"),
    )  # fmt: skip

    assert result.returncode == 1
    assert state.tokens["tok-1"] is False  # the token never reached an untrusted relay
    assert not EdgeIdentityFiles(link_dir(tmp_path / "edge")).is_enrolled()
