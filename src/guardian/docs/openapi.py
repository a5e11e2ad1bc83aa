"""The control plane's OpenAPI document, built from the app itself (no server needed)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any


def control_openapi() -> dict[str, Any]:
    """The OpenAPI schema ``guardian control run`` serves at ``/openapi.json``.

    The app is built over a throw-away SQLite store, so nothing of a real deployment is read.
    """
    from guardian.control.app import create_app
    from guardian.control.config import ControlSettings
    from guardian.control.context import build_context

    with tempfile.TemporaryDirectory(prefix="guardian-openapi-") as tmp:
        ctx = build_context(ControlSettings(data_dir=Path(tmp)))
        try:
            schema: dict[str, Any] = create_app(ctx).openapi()
        finally:
            ctx.db.dispose()
    return schema


def render_openapi(schema: dict[str, Any]) -> str:
    """Stable JSON text (sorted keys, two-space indent, final newline) for committing."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
