"""What a demo run prepared and a later run reuses: ids, the login, secrets (file mode 0600)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

STATE_FILE = "demo.json"
DEMO_EMAIL = "admin@demo.guardian.local"


def new_password() -> str:
    """A random login password (about 128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


@dataclass
class DemoState:
    """The demo deployment; each field is filled by the step that makes it."""

    email: str = DEMO_EMAIL
    password: str = ""
    tenant_id: str | None = None
    admin_created: bool = False
    relay_id: str | None = None
    relay_token: str | None = None
    relay_assigned: bool = False
    site_id: str | None = None
    bootstrap_token: str | None = None
    enrolled: bool = False
    device_key: str | None = None
    camera_added: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DemoState:
        """Known fields of ``data`` (unknown keys from another version are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def load_state(data_dir: Path) -> DemoState:
    """The saved state, or a fresh one with a new random password."""
    path = data_dir / STATE_FILE
    if path.exists():
        try:
            return DemoState.from_json(json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path} is unreadable ({exc}); start over with --reset") from exc
    return DemoState(password=new_password())


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON readable by the owner only: temp file, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_state(data_dir: Path, state: DemoState) -> None:
    """Persist ``state`` in the data dir (after every step, so an interrupted run resumes)."""
    write_private_json(data_dir / STATE_FILE, asdict(state))
