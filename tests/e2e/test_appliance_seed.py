"""``guardian appliance seed`` as an operator runs it: the ISO read back and validated."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from guardian.appliance.iso import read_seed
from tests.cloud_init_schema import load_schema
from tests.e2e.cli import run_cli
from tests.unit.appliance.autoinstall_schema import AUTOINSTALL_SCHEMA

TENANT = "3f0c1a2b-aaaa-bbbb-cccc-111122223333"
TOKEN = "gbt_Vd2xYz0123456789"


@pytest.fixture(scope="module")
def minimal_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The command exactly as the issue names it (the wheel is built from this checkout)."""
    out = tmp_path_factory.mktemp("seed") / "seed.iso"
    done = run_cli("appliance", "seed", "--tenant", TENANT, "--token", TOKEN, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "keep it private" in done.stdout and TOKEN not in done.stdout
    assert "no --relay" in done.stderr
    return out


@pytest.fixture(scope="module")
def cloud_init_schema() -> dict[str, Any]:
    schema, where = load_schema()
    if schema is None:
        pytest.skip(f"cloud-init's schema is not available: {where}")
    return schema


def _docs(iso: Path) -> tuple[str, dict[str, bytes], dict[str, Any], dict[str, Any]]:
    label, files = read_seed(iso)
    return label, files, yaml.safe_load(files["user-data"]), yaml.safe_load(files["meta-data"])


def test_minimal_seed_is_a_nocloud_image_with_a_valid_cloud_config(
    minimal_seed: Path, cloud_init_schema: dict[str, Any]
) -> None:
    assert minimal_seed.stat().st_mode & 0o077 == 0, "the seed holds a token: owner only"
    label, files, user_data, meta = _docs(minimal_seed)
    assert label == "cidata"
    wheel = next(name for name in files if name.startswith("guardian/"))
    assert sorted(files) == ["guardian/" + wheel.split("/")[1], "meta-data", "user-data"]
    with zipfile.ZipFile(io.BytesIO(files[wheel])) as archive:
        assert "guardian/appliance/seed.py" in archive.namelist()
    assert files["user-data"].startswith(b"#cloud-config\n")
    validator = jsonschema.Draft4Validator(cloud_init_schema)
    # The document the installer's cloud-init reads, and the one the installed system applies.
    assert [e.message for e in validator.iter_errors(user_data)] == []
    installed = user_data["autoinstall"]["user-data"]
    assert [e.message for e in validator.iter_errors(installed)] == []
    assert list(validator.iter_errors({**installed, "runcmd": "not a list"}))
    jsonschema.Draft7Validator(AUTOINSTALL_SCHEMA).validate(user_data["autoinstall"])
    assert meta["local-hostname"] == "guardian-edge-3f0c1a2b"
    assert meta["instance-id"].startswith("guardian-")


def test_full_seed_carries_relay_hostname_keys_ca_and_the_given_wheel(
    minimal_seed: Path, tmp_path: Path
) -> None:
    _label, files, _u, _m = _docs(minimal_seed)
    wheel_name = next(n for n in files if n.startswith("guardian/")).split("/")[1]
    wheel = tmp_path / wheel_name
    wheel.write_bytes(files[f"guardian/{wheel_name}"])
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl op@x"
    (tmp_path / "keys").write_text(f"# ops\n{key}\n")
    ca = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"
    (tmp_path / "ca.pem").write_text(ca)
    out = tmp_path / "out" / "seed.iso"
    done = run_cli(
        "appliance", "seed", "--tenant", TENANT, "--token", TOKEN, "--out", str(out),
        "--relay", "relay.example.com:8731", "--hostname", "shop-1", "--ssh-key",
        str(tmp_path / "keys"), "--ca-file", str(tmp_path / "ca.pem"), "--wheel", str(wheel),
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["hostname"] == "shop-1" and summary["relay"] == "relay.example.com:8731"
    _label, files, user_data, meta = _docs(out)
    assert files[f"guardian/{wheel_name}"] == wheel.read_bytes()
    installed = user_data["autoinstall"]["user-data"]
    written = {f["path"]: f["content"] for f in installed["write_files"]}
    assert written["/etc/guardian/relay-ca.pem"] == ca
    assert "GUARDIAN_ENROLL_RELAY=relay.example.com:8731\n" in written["/etc/guardian/enroll.env"]
    assert installed["users"][0]["ssh_authorized_keys"] == [key]
    assert user_data["autoinstall"]["ssh"]["install-server"] is True
    assert meta["local-hostname"] == "shop-1" == installed["hostname"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--relay", "no-port"], "--relay must be HOST:PORT"),
        (["--hostname", "Bad_Name"], "--hostname must be a DNS name"),
        (["--token", "x y"], "--token must be"),
        (["--wheel", "/etc/hostname"], "--wheel must be a guardian-*.whl"),
        (["--ca-file", "/etc/hostname"], "--ca-file must hold a PEM"),
        (["--ssh-key", "/nonexistent/keys"], "cannot read --ssh-key"),
    ],
)
def test_bad_input_is_refused_and_leaves_an_existing_image_alone(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "seed.iso"
    out.write_bytes(b"previous image")
    base = ["appliance", "seed", "--tenant", TENANT, "--token", TOKEN, "--out", str(out)]
    if "--wheel" not in args:
        base += ["--wheel", str(tmp_path / "guardian-0.1.0-py3-none-any.whl")]
        _tiny_wheel(tmp_path / "guardian-0.1.0-py3-none-any.whl")
    done = run_cli(*base, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert out.read_bytes() == b"previous image"


def _tiny_wheel(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("guardian/__init__.py", "")
