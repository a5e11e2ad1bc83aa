"""A JSON schema for the parts of Ubuntu's autoinstall (subiquity, version 1) the seed uses.

Written from the autoinstall reference (canonical.com, "Autoinstall configuration
reference"): the top-level keys it knows, and the shape of the ones Guardian sets. Unknown
top-level keys are errors, as subiquity reports them.
"""

from __future__ import annotations

from typing import Any

_STRINGS = {"type": "array", "items": {"type": "string"}}
_COMMANDS = {
    "type": "array",
    "items": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
}

AUTOINSTALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version"],
    "anyOf": [{"required": ["identity"]}, {"required": ["user-data"]}],
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "interactive-sections": _STRINGS,
        "early-commands": _COMMANDS,
        "locale": {"type": "string"},
        "refresh-installer": {"type": "object"},
        "keyboard": {
            "type": "object",
            "required": ["layout"],
            "properties": {
                "layout": {"type": "string"},
                "variant": {"type": "string"},
                "toggle": {"type": ["string", "null"]},
            },
            "additionalProperties": False,
        },
        "source": {"type": "object"},
        "network": {"type": "object"},
        "proxy": {"type": ["string", "null"]},
        "apt": {
            "type": "object",
            "properties": {
                "sources": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["source"],
                        "properties": {"source": {"type": "string"}, "key": {"type": "string"}},
                    },
                }
            },
        },
        "storage": {
            "type": "object",
            "properties": {
                "layout": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"enum": ["lvm", "direct", "zfs"]}},
                }
            },
        },
        "identity": {"type": "object"},
        "active-directory": {"type": "object"},
        "ubuntu-pro": {"type": "object"},
        "ssh": {
            "type": "object",
            "properties": {
                "install-server": {"type": "boolean"},
                "authorized-keys": _STRINGS,
                "allow-pw": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        "codecs": {"type": "object"},
        "drivers": {"type": "object"},
        "oem": {"type": "object"},
        "snaps": {"type": "array"},
        "debconf-selections": {"type": "string"},
        "packages": _STRINGS,
        "kernel": {"type": "object"},
        "kernel-crash-dumps": {"type": "object"},
        "timezone": {"type": "string"},
        "updates": {"enum": ["security", "all"]},
        "shutdown": {"enum": ["reboot", "poweroff"]},
        "late-commands": _COMMANDS,
        "error-commands": _COMMANDS,
        "reporting": {"type": "object"},
        "user-data": {"type": "object"},
        "zdevs": {"type": "array"},
    },
}
