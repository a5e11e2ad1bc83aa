"""deploy/systemd: generated from guardian.appliance.units, hardened, valid for systemd, and
consistent with the settings models."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guardian.appliance import units
from guardian.common.settings import ServiceSettings, settings_reference
from guardian.control.config import ControlSettings
from guardian.edge.config import EdgeSettings
from guardian.relay.config import RelaySettings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "systemd"
SERVICES = {
    "guardian-edge.service": ("edge", EdgeSettings),
    "guardian-edge-enroll.service": ("edge", EdgeSettings),
    "guardian-edge-worker.service": ("edge", EdgeSettings),
    "guardian-relay.service": ("relay", RelaySettings),
    "guardian-control.service": ("control", ControlSettings),
}
REQUIRED = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
}


def _parse(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=VALUE: {line!r}"
        current.setdefault(key, []).append(value)
    return sections


def test_committed_files_are_the_generated_ones() -> None:
    committed = {
        str(p.relative_to(DEPLOY)): p.read_text() for p in DEPLOY.rglob("*") if p.is_file()
    }
    assert committed == units.FILES, "stale: run scripts/gen-docs"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_runs_hardened_as_its_own_user_with_its_env_file(name: str) -> None:
    service, _settings = SERVICES[name]
    unit = _parse(units.FILES[name])
    svc = unit["Service"]
    for key, value in REQUIRED.items():
        assert svc.get(key) == [value], f"{name}: {key}"
    assert svc["User"] == [f"guardian-{service}"] == svc["Group"]
    assert svc["SystemCallFilter"][0] == "@system-service"
    # Inference runtimes pin threads and bind memory (@resources); the others need neither.
    inference = name in {"guardian-edge.service", "guardian-edge-worker.service"}
    denied = "~@privileged" if inference else "~@privileged @resources"
    assert svc["SystemCallFilter"] == ["@system-service", denied]
    families = set(svc["RestrictAddressFamilies"][0].split())
    assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= families <= {*families, "AF_NETLINK"}
    assert "AF_PACKET" not in families
    assert svc["StateDirectory"] == [f"guardian/{service}"]
    assert svc["ReadWritePaths"] == [f"/var/lib/guardian/{service}"]
    assert f"-/etc/guardian/{service}.env" in svc["EnvironmentFile"]
    assert svc["ExecStart"][0].startswith(f"/opt/guardian/venv/bin/guardian {service} ")
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    user = f"u guardian-{service} - "
    assert any(line.startswith(user) for line in units.SYSUSERS.splitlines())


def test_the_edge_keeps_jit_memory_and_the_relay_and_control_plane_do_not() -> None:
    # OpenVINO's CPU plugin generates code at run time; the others have no such need.
    assert "MemoryDenyWriteExecute" not in units.EDGE_UNIT
    for text in (units.RELAY_UNIT, units.CONTROL_UNIT):
        assert _parse(text)["Service"]["MemoryDenyWriteExecute"] == ["yes"]


def test_enrolment_is_a_first_boot_oneshot_that_drops_its_token() -> None:
    unit = _parse(units.EDGE_ENROLL_UNIT)
    assert unit["Service"]["Type"] == ["oneshot"]
    assert "!/var/lib/guardian/edge/link/link.json" in unit["Unit"]["ConditionPathExists"]
    assert unit["Unit"]["Before"] == ["guardian-edge.service"]
    assert "+/bin/rm -f /etc/guardian/enroll.env" in unit["Service"]["ExecStartPost"]
    assert "guardian-edge-enroll.service" in _parse(units.EDGE_UNIT)["Unit"]["After"][0]


def _known_env(model: type[ServiceSettings], prefix: str) -> set[str]:
    return {row["env"] for row in settings_reference(model, prefix)}


@pytest.mark.parametrize("name", [*sorted(SERVICES), "env/edge.env", "env/relay.env",
                                  "env/control.env"])  # fmt: skip
def test_every_guardian_variable_set_is_a_real_setting(name: str) -> None:
    service = name.removeprefix("env/").removesuffix(".env")
    models: dict[str, type[ServiceSettings]] = {
        "edge": EdgeSettings, "relay": RelaySettings, "control": ControlSettings
    }  # fmt: skip
    model = models[service if name not in SERVICES else SERVICES[name][0]]
    prefix = str(model.model_config["env_prefix"])
    known = _known_env(model, prefix)
    assigned = re.findall(rf"^(?:Environment=|# )?({prefix}[A-Z0-9_]+)=", units.FILES[name], re.M)
    assert assigned, name
    assert sorted(set(assigned) - known) == []


def _verifiable_copies(tmp_path: Path) -> list[Path]:
    """The units with the installed paths pointed at executables that exist here."""
    guardian = Path(sys.executable).with_name("guardian")
    copies = []
    for name in SERVICES:
        text = units.FILES[name].replace(units.GUARDIAN, str(guardian))
        text = text.replace(units.ENROLL_HELPER, shutil.which("true") or "/bin/true")
        path = tmp_path / name
        path.write_text(text)
        copies.append(path)
    return copies


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed (the structural checks above still ran)")
    return found


def test_systemd_analyze_verify_reports_nothing(systemd_analyze: str, tmp_path: Path) -> None:
    copies = _verifiable_copies(tmp_path)
    done = subprocess.run(
        [systemd_analyze, "verify", "--man=no", *map(str, copies)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_systemd_analyze_verify_catches_a_bad_unit(systemd_analyze: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.service"
    bad.write_text(units.RELAY_UNIT.replace("ProtectSystem=strict", "ProtectSystm=strict"))
    done = subprocess.run(
        [systemd_analyze, "verify", "--man=no", str(bad)], capture_output=True, text=True,
        check=False, timeout=60,
    )  # fmt: skip
    assert "Unknown key" in done.stderr


def test_systemd_security_rates_every_unit_well_exposed_below_2(
    systemd_analyze: str, tmp_path: Path
) -> None:
    for path in _verifiable_copies(tmp_path):
        done = subprocess.run(
            [systemd_analyze, "security", "--offline=yes", "--no-pager", str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
        assert match, done.stdout + done.stderr
        assert float(match.group(1)) < 2.0, (path.name, match.group(1))


@pytest.mark.parametrize(
    ("name", "model"),
    [("env/edge.env", EdgeSettings), ("env/relay.env", RelaySettings),
     ("env/control.env", ControlSettings)],
)  # fmt: skip
def test_example_env_files_load_as_the_service_loads_its_settings(
    tmp_path: Path, name: str, model: type[ServiceSettings]
) -> None:
    path = tmp_path / "service.env"
    path.write_text(units.FILES[name])
    settings = model(_env_file=path)
    assert settings.model_fields_set >= {"host"}
    path.write_text(units.FILES[name] + f"{model.model_config['env_prefix']}NO_SUCH_OPTION=1\n")
    with pytest.raises(ValueError, match="no_such_option"):
        model(_env_file=path)


def test_the_appliance_edge_env_loads_and_listens_on_the_lan(tmp_path: Path) -> None:
    from guardian.appliance.cloud_config import edge_env

    path = tmp_path / "edge.env"
    path.write_text(edge_env())
    assert EdgeSettings(_env_file=path).host == "0.0.0.0"
