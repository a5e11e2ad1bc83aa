"""The seed's cloud-config: Ubuntu 24.04 autoinstall that installs, configures and enrols an edge.

Pure: options in, ``user-data`` / ``meta-data`` documents out. The installer (subiquity) runs
the ``autoinstall`` section; its ``user-data`` is the cloud-config of the installed system,
applied on first boot, which starts guardian-edge-enroll.service (a oneshot running
``guardian edge enroll``) and guardian-edge.service.
"""

from __future__ import annotations

import hashlib

from guardian.appliance import units
from guardian.appliance.first_boot import ENROLL_CHECK
from guardian.appliance.options import ADMIN_USER, SeedOptions
from guardian.appliance.yaml_text import dump

#: Folder of the seed image holding the embedded wheel.
WHEEL_DIR = "guardian"
#: Where the installer mounts the seed image to copy the wheel into the target.
SEED_MOUNT = "/run/guardian-seed"
DIST_DIR = "/opt/guardian/dist"
# Ubuntu 24.04 ships Python 3.12; Guardian needs 3.11 (deadsnakes builds it for noble).
PYTHON = "python3.11"
PACKAGES = ("python3.11", "python3.11-venv", "nodejs", "npm", "ca-certificates")


def enroll_env(options: SeedOptions) -> str:
    """``/etc/guardian/enroll.env``: what the first-boot oneshot redeems (root only, 0600)."""
    ca_args = f"--ca-file {units.RELAY_CA}" if options.ca_pem else ""
    return (
        "# Read by guardian-edge-enroll.service; deleted once the token is redeemed.\n"
        f"GUARDIAN_ENROLL_TENANT={options.tenant}\n"
        f"GUARDIAN_ENROLL_RELAY={options.relay or ''}\n"
        f"GUARDIAN_ENROLL_TOKEN={options.token}\n"
        f'GUARDIAN_ENROLL_CA_ARGS="{ca_args}"\n'
    )


def edge_env() -> str:
    """``/etc/guardian/edge.env`` of an appliance: the local API listens on the LAN (Pi
    capture devices push to it); everything else keeps the unit's defaults."""
    return units.EDGE_ENV.replace("GUARDIAN_EDGE_HOST=127.0.0.1", "GUARDIAN_EDGE_HOST=0.0.0.0")


def _file(path: str, content: str, permissions: str) -> dict[str, object]:
    return {"path": path, "content": content, "owner": "root:root", "permissions": permissions}


def installed_system_config(options: SeedOptions) -> dict[str, object]:
    """The cloud-config the installed system applies on first boot."""
    files = [
        _file("/etc/sysusers.d/guardian.conf", units.SYSUSERS, "0644"),
        _file("/etc/systemd/system/guardian-edge.service", units.EDGE_UNIT, "0644"),
        _file("/etc/systemd/system/guardian-edge-enroll.service", units.EDGE_ENROLL_UNIT, "0644"),
        _file(units.ENROLL_HELPER, ENROLL_CHECK, "0755"),
        _file(f"{units.CONFIG_DIR}/edge.env", edge_env(), "0640"),
        _file(units.ENROLL_ENV, enroll_env(options), "0600"),
    ]
    readable = [f"{units.CONFIG_DIR}/edge.env"]
    if options.ca_pem:
        files.append(_file(units.RELAY_CA, options.ca_pem, "0640"))
        readable.append(units.RELAY_CA)
    user: dict[str, object] = {
        "name": ADMIN_USER,
        "gecos": "Guardian administrator",
        "groups": ["adm", "sudo", "systemd-journal"],
        "shell": "/bin/bash",
        "lock_passwd": True,
        "sudo": "ALL=(ALL) NOPASSWD:ALL",
    }
    if options.ssh_keys:
        user["ssh_authorized_keys"] = list(options.ssh_keys)
    services = ["guardian-edge-enroll.service", "guardian-edge.service"]
    return {
        "hostname": options.hostname,
        "users": [user],
        "write_files": files,
        "runcmd": [
            ["systemd-sysusers"],
            ["chgrp", "guardian-edge", *readable],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", *services],
            # --no-block: cloud-final must not wait on units ordered after it.
            ["systemctl", "start", "--no-block", *services],
        ],
    }


def late_commands(options: SeedOptions) -> list[str]:
    """Installer commands: copy the wheel off the seed, make the venv, install, fetch models."""
    wheel = f"{DIST_DIR}/{options.wheel_name}"
    in_target = "curtin in-target --target=/target --"
    return [
        f"mkdir -p /target{DIST_DIR} {SEED_MOUNT}",
        f"mount -o ro /dev/disk/by-label/cidata {SEED_MOUNT}",
        f"cp {SEED_MOUNT}/{WHEEL_DIR}/{options.wheel_name} /target{wheel}",
        f"umount {SEED_MOUNT}",
        f"{in_target} {PYTHON} -m venv {units.VENV}",
        f"{in_target} {units.VENV}/bin/pip install --no-cache-dir '{wheel}[edge]'",
        f"{in_target} env GUARDIAN_MODELS_DIR={units.MODELS_DIR} {units.GUARDIAN} models fetch",
    ]


def user_data(options: SeedOptions) -> dict[str, object]:
    """The whole ``user-data`` document (a mapping with one ``autoinstall`` key)."""
    return {
        "autoinstall": {
            "version": 1,
            "locale": "en_US.UTF-8",
            "keyboard": {"layout": "us"},
            "timezone": "Etc/UTC",
            "storage": {"layout": {"name": "lvm"}},
            "ssh": {"install-server": bool(options.ssh_keys), "allow-pw": False},
            "apt": {"sources": {"deadsnakes": {"source": "ppa:deadsnakes/ppa"}}},
            "packages": list(PACKAGES),
            "late-commands": late_commands(options),
            "user-data": installed_system_config(options),
            "shutdown": "reboot",
        }
    }


def render_user_data(options: SeedOptions) -> str:
    """``user-data`` as cloud-init reads it (``#cloud-config`` header, then YAML)."""
    return "#cloud-config\n" + dump(user_data(options))


def meta_data(options: SeedOptions, user_data_text: str) -> dict[str, object]:
    """``meta-data``: an instance id that changes with the user-data, so cloud-init re-runs."""
    digest = hashlib.sha256(user_data_text.encode()).hexdigest()[:16]
    return {"instance-id": f"guardian-{digest}", "local-hostname": options.hostname}


def render_meta_data(options: SeedOptions, user_data_text: str) -> str:
    """``meta-data`` as YAML."""
    return dump(meta_data(options, user_data_text))
