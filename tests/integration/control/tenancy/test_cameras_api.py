"""Cameras API: list with site filter, rename and label (admin), 404 across tenants."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from guardian.common.db import utcnow
from guardian.control.context import ControlContext
from guardian.control.tenancy.cameras import create_or_touch_camera
from tests.control_helpers import make_site
from tests.integration.control.tenancy.conftest import Tenants


def _camera(ctx: ControlContext, tenant: str, site_id: str, name: str) -> str:
    with ctx.db.tenant(tenant) as s:
        return create_or_touch_camera(s, tenant, site_id, name, utcnow()).id


@pytest.fixture
def cams(control_ctx: ControlContext, tenants: Tenants) -> dict[str, str]:
    tenant = tenants.a_admin.tenant_id
    one, two = make_site(control_ctx, tenant, "one"), make_site(control_ctx, tenant, "two")
    return {
        "site_one": one,
        "site_two": two,
        "front": _camera(control_ctx, tenant, one, "front"),
        "back": _camera(control_ctx, tenant, two, "back"),
    }


def test_list_and_filter_by_site(
    client: TestClient, tenants: Tenants, cams: dict[str, str]
) -> None:
    viewer = tenants.a_viewer.headers
    every = client.get("/api/v1/cameras", headers=viewer).json()["cameras"]
    assert {c["id"] for c in every} == {cams["front"], cams["back"]}
    one = client.get("/api/v1/cameras", params={"site": cams["site_one"]}, headers=viewer)
    assert [c["edge_name"] for c in one.json()["cameras"]] == ["front"]
    got = client.get(f"/api/v1/cameras/{cams['back']}", headers=viewer).json()
    assert (got["name"], got["site_id"], got["labels"]) == ("back", cams["site_two"], [])


def test_admin_renames_and_labels(
    client: TestClient, tenants: Tenants, cams: dict[str, str]
) -> None:
    path = f"/api/v1/cameras/{cams['front']}"
    admin = tenants.a_admin.headers
    got = client.patch(
        path,
        json={"display_name": "Front door", "labels": [" entrance ", "Entrance", "till"]},
        headers=admin,
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["name"], body["display_name"], body["labels"]) == (
        "Front door",
        "Front door",
        ["entrance", "till"],
    )
    # Omitted fields stay; null clears the display name.
    cleared = client.patch(path, json={"display_name": None}, headers=admin).json()
    assert (cleared["name"], cleared["labels"]) == ("front", ["entrance", "till"])
    for bad in (
        {"labels": ["x" * 33]},
        {"labels": [""]},
        {"display_name": ""},
        {"labels": [f"l{i}" for i in range(17)]},
        {"health": "healthy"},
    ):
        assert client.patch(path, json=bad, headers=admin).status_code == 422, bad


def test_viewers_cannot_patch_and_other_tenants_get_404(
    client: TestClient, tenants: Tenants, cams: dict[str, str]
) -> None:
    path = f"/api/v1/cameras/{cams['front']}"
    got = client.patch(path, json={"display_name": "x"}, headers=tenants.a_viewer.headers)
    assert got.status_code == 403
    for intruder in (tenants.b_admin.headers, tenants.b_viewer.headers):
        assert client.get(path, headers=intruder).status_code == 404
        assert client.patch(path, json={"display_name": "x"}, headers=intruder).status_code == 404
        assert client.get("/api/v1/cameras", headers=intruder).json() == {"cameras": []}
        filtered = client.get(
            "/api/v1/cameras", params={"site": cams["site_one"]}, headers=intruder
        )
        assert filtered.json() == {"cameras": []}
    assert client.get(path, headers=tenants.a_admin.headers).json()["display_name"] is None
