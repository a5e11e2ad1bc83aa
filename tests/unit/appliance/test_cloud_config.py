"""The seed's cloud-config: autoinstall structure, the installed system's files, first boot."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from guardian.appliance import units
from guardian.appliance.cloud_config import (
    meta_data,
    render_meta_data,
    render_user_data,
)
from guardian.appliance.first_boot import ENROLL_CHECK
from guardian.appliance.options import SeedOptions
from tests.unit.appliance.autoinstall_schema import AUTOINSTALL_SCHEMA

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl op@x"
CA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"
OPTIONS = SeedOptions(
    tenant="3f0c1a2b-aaaa-bbbb-cccc-111122223333",
    token="gbt_Vd2xYz0123456789",
    wheel_name="guardian-0.1.0-py3-none-any.whl",
    relay="relay.example.com:8731",
    ssh_keys=(KEY,),
    ca_pem=CA,
).validated()


def _parse(options: SeedOptions = OPTIONS) -> tuple[str, dict[str, Any]]:
    text = render_user_data(options)
    return text, yaml.safe_load(text)


def _files(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in doc["autoinstall"]["user-data"]["write_files"]}


def _env(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return {key: value.strip('"') for key, value in pairs}


def test_user_data_is_a_cloud_config_with_a_valid_autoinstall_section() -> None:
    text, doc = _parse()
    assert text.startswith("#cloud-config\n")
    assert list(doc) == ["autoinstall"]
    jsonschema.Draft7Validator(AUTOINSTALL_SCHEMA).validate(doc["autoinstall"])
    assert doc["autoinstall"]["version"] == 1


def test_the_autoinstall_schema_check_catches_mistakes() -> None:
    _text, doc = _parse()
    validator = jsonschema.Draft7Validator(AUTOINSTALL_SCHEMA)
    for broken in (
        {**doc["autoinstall"], "version": 2},
        {**doc["autoinstall"], "late-commands": "echo one string"},
        {**doc["autoinstall"], "latecommands": []},
        {k: v for k, v in doc["autoinstall"].items() if k != "user-data"},
    ):
        assert list(validator.iter_errors(broken)), broken


def test_late_commands_install_the_embedded_wheel_with_the_edge_extra_into_a_venv() -> None:
    _text, doc = _parse()
    commands = doc["autoinstall"]["late-commands"]
    assert all(isinstance(c, str) for c in commands)
    wheel = f"/opt/guardian/dist/{OPTIONS.wheel_name}"
    assert f"cp /run/guardian-seed/guardian/{OPTIONS.wheel_name} /target{wheel}" in commands
    assert any(c.endswith("python3.11 -m venv /opt/guardian/venv") for c in commands)
    assert any(f"pip install --no-cache-dir '{wheel}[edge]'" in c for c in commands)
    assert commands.index(next(c for c in commands if "-m venv" in c)) < commands.index(
        next(c for c in commands if "pip install" in c)
    )
    assert {"python3.11", "python3.11-venv"} <= set(doc["autoinstall"]["packages"])


def test_the_installed_system_gets_the_units_config_and_a_first_boot_enrolment() -> None:
    _text, doc = _parse()
    files = _files(doc)
    assert files["/etc/systemd/system/guardian-edge.service"]["content"] == units.EDGE_UNIT
    enroll_unit = files["/etc/systemd/system/guardian-edge-enroll.service"]["content"]
    assert enroll_unit == units.EDGE_ENROLL_UNIT
    assert "Type=oneshot" in enroll_unit
    assert (
        "ExecStart=/opt/guardian/venv/bin/guardian edge enroll --relay ${GUARDIAN_ENROLL_RELAY} "
        "--token ${GUARDIAN_ENROLL_TOKEN} $GUARDIAN_ENROLL_CA_ARGS --json"
    ) in enroll_unit
    enroll = files["/etc/guardian/enroll.env"]
    assert enroll["permissions"] == "0600"
    assert _env(enroll["content"]) == {
        "GUARDIAN_ENROLL_TENANT": OPTIONS.tenant,
        "GUARDIAN_ENROLL_RELAY": "relay.example.com:8731",
        "GUARDIAN_ENROLL_TOKEN": OPTIONS.token,
        "GUARDIAN_ENROLL_CA_ARGS": "--ca-file /etc/guardian/relay-ca.pem",
    }
    assert files["/etc/guardian/relay-ca.pem"]["content"] == CA
    assert _env(files["/etc/guardian/edge.env"]["content"])["GUARDIAN_EDGE_HOST"] == "0.0.0.0"
    assert files[units.ENROLL_HELPER]["permissions"] == "0755"
    runcmd = doc["autoinstall"]["user-data"]["runcmd"]
    assert runcmd[0] == ["systemd-sysusers"]
    assert ["systemctl", "enable", "guardian-edge-enroll.service", "guardian-edge.service"] in (
        runcmd
    )


def test_the_token_appears_only_in_the_root_only_enrol_file() -> None:
    text, _doc = _parse()
    assert text.count(OPTIONS.token) == 1


def test_without_relay_or_ca_the_enrol_file_leaves_them_empty() -> None:
    options = dataclasses.replace(OPTIONS, relay=None, ca_pem=None, ssh_keys=())
    _text, doc = _parse(options)
    files = _files(doc)
    env = _env(files["/etc/guardian/enroll.env"]["content"])
    assert env["GUARDIAN_ENROLL_RELAY"] == "" and env["GUARDIAN_ENROLL_CA_ARGS"] == ""
    assert "/etc/guardian/relay-ca.pem" not in files
    user = doc["autoinstall"]["user-data"]["users"][0]
    assert "ssh_authorized_keys" not in user and user["lock_passwd"] is True
    assert doc["autoinstall"]["ssh"]["install-server"] is False


def test_meta_data_names_the_host_and_changes_instance_id_with_the_user_data() -> None:
    text = render_user_data(OPTIONS)
    meta = yaml.safe_load(render_meta_data(OPTIONS, text))
    assert meta["local-hostname"] == "guardian-edge-3f0c1a2b"
    other = meta_data(OPTIONS, render_user_data(dataclasses.replace(OPTIONS, relay="r:1")))
    assert other["instance-id"] != meta["instance-id"]


def _run_check(phase: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = Path(os.environ.get("TMPDIR", "/tmp")) / f"enroll-check-{os.getpid()}"
    script.write_text(ENROLL_CHECK)
    try:
        return subprocess.run(
            [sys.executable, str(script), phase],
            env={"PATH": os.environ["PATH"], **env},
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        script.unlink()


def test_first_boot_check_refuses_to_enrol_without_a_relay(tmp_path: Path) -> None:
    done = _run_check("before", {"GUARDIAN_ENROLL_RELAY": ""})
    assert done.returncode == 1 and "GUARDIAN_ENROLL_RELAY" in done.stderr
    assert _run_check("before", {"GUARDIAN_ENROLL_RELAY": "r:1"}).returncode == 0
    assert _run_check("sideways", {}).returncode == 2


@pytest.mark.parametrize(("enrolled", "code"), [("t-1", 0), ("t-2", 1)])
def test_first_boot_check_switches_the_link_off_for_another_tenant(
    tmp_path: Path, enrolled: str, code: int
) -> None:
    link = tmp_path / "link" / "link.json"
    link.parent.mkdir()
    link.write_text(json.dumps({"tenant_id": enrolled, "relay": "r:1", "site_id": "s"}))
    env = {"GUARDIAN_EDGE_DATA_DIR": str(tmp_path), "GUARDIAN_ENROLL_TENANT": "t-1"}
    done = _run_check("after", env)
    assert done.returncode == code, done.stderr
    assert link.exists() == (code == 0)
    assert (link.parent / "link.json.wrong-tenant").exists() == (code == 1)
