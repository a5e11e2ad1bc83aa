"""docs/openapi.json is the document the control plane serves, and is not stale."""

from __future__ import annotations

import json
from pathlib import Path

from guardian.docs.openapi import control_openapi, render_openapi

DOC = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    schema = control_openapi()
    assert schema["info"]["title"] == "Guardian control plane"
    assert "/api/v1/auth/login" in schema["paths"]
    assert DOC.read_text(encoding="utf-8") == render_openapi(schema), (
        "docs/openapi.json is stale: run scripts/gen-docs"
    )
    assert json.loads(DOC.read_text()) == schema
