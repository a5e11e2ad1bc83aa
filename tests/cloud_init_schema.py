"""cloud-init's own cloud-config JSON schema, from Debian's cloud-init package (not installed).

Looked up in this order: ``$GUARDIAN_CLOUD_INIT_SCHEMA``; an installed cloud-init; a copy
cached under ``~/.cache/guardian/cloud-init/``; else the package is fetched with
``apt-get download`` and only the schema file is extracted into that cache (no service is
installed). Returns None, with the reason, when none of that works.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

_IN_PACKAGE = "usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json"
CACHE = Path.home() / ".cache" / "guardian" / "cloud-init" / "schema-cloud-config-v1.json"


def _fetch(target: Path) -> str | None:
    """Extract the schema from the Debian package into ``target``; the failure, if any."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            return f"{tool} is not available"
    with tempfile.TemporaryDirectory(prefix="cloud-init-deb-") as tmp:
        done = subprocess.run(
            ["apt-get", "download", "-q", "cloud-init"],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        debs = list(Path(tmp).glob("cloud-init_*.deb"))
        if done.returncode != 0 or not debs:
            return f"apt-get download cloud-init failed: {done.stderr.strip()[-300:]}"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), f"{tmp}/x"], check=True, timeout=60)
        source = Path(tmp) / "x" / _IN_PACKAGE
        if not source.is_file():
            return f"the cloud-init package has no {_IN_PACKAGE}"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copyfile(source, partial)
        partial.replace(target)
    return None


def load_schema() -> tuple[dict[str, Any] | None, str]:
    """(schema, where it came from) or (None, why there is none)."""
    candidates = [os.environ.get("GUARDIAN_CLOUD_INIT_SCHEMA"), f"/{_IN_PACKAGE}", str(CACHE)]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return json.loads(Path(candidate).read_text()), candidate
    failure = _fetch(CACHE)
    if failure is not None:
        return None, failure
    return json.loads(CACHE.read_text()), f"{CACHE} (fetched from Debian's cloud-init package)"
