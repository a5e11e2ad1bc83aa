"""Sites API: CRUD, roles, quotas, bootstrap tokens and 404 across tenants."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from guardian.control.context import ControlContext
from guardian.control.tenancy.sites import BootstrapTokenRejected, redeem_bootstrap_token
from tests.integration.control.tenancy.conftest import Tenants


def _create(client: TestClient, headers: dict[str, str], name: str = "Shop") -> dict[str, object]:
    got = client.post("/api/v1/sites", json={"name": name}, headers=headers)
    assert got.status_code == 201, got.text
    body = got.json()
    assert isinstance(body, dict)
    return body


def _redeem(ctx: ControlContext, token: str) -> str:
    with ctx.db.system() as s:
        return redeem_bootstrap_token(s, token, dt.datetime.now(dt.UTC)).id


def test_admin_creates_lists_renames_and_deletes_sites(
    control_ctx: ControlContext, client: TestClient, tenants: Tenants
) -> None:
    created = _create(client, tenants.a_admin.headers, "  Main street ")
    site = created["site"]
    assert isinstance(site, dict)
    assert site["name"] == "Main street" and site["health"] == "unknown"
    assert str(created["bootstrap_token"]).startswith("gbt_")
    expires = dt.datetime.fromisoformat(str(created["bootstrap_expires_at"]))
    assert dt.timedelta(hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=24)

    listed = client.get("/api/v1/sites", headers=tenants.a_viewer.headers).json()["sites"]
    assert [s["id"] for s in listed] == [site["id"]]
    path = f"/api/v1/sites/{site['id']}"
    assert client.get(path, headers=tenants.a_viewer.headers).json()["name"] == "Main street"

    renamed = client.patch(path, json={"name": "Corner"}, headers=tenants.a_admin.headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Corner"
    assert client.delete(path, headers=tenants.a_admin.headers).status_code == 204
    assert client.get(path, headers=tenants.a_admin.headers).status_code == 404
    assert client.get("/api/v1/sites", headers=tenants.a_admin.headers).json() == {"sites": []}


def test_viewers_cannot_write_sites(client: TestClient, tenants: Tenants) -> None:
    viewer = tenants.a_viewer.headers
    got = client.post("/api/v1/sites", json={"name": "x"}, headers=viewer)
    assert got.status_code == 403
    site_id = _create(client, tenants.a_admin.headers)["site"]["id"]  # type: ignore[index]
    path = f"/api/v1/sites/{site_id}"
    assert client.patch(path, json={"name": "y"}, headers=viewer).status_code == 403
    assert client.delete(path, headers=viewer).status_code == 403
    assert client.post(f"{path}/bootstrap-token", headers=viewer).status_code == 403
    assert client.get(path, headers=viewer).json()["name"] == "Shop"


def test_other_tenants_get_404_and_change_nothing(client: TestClient, tenants: Tenants) -> None:
    site_id = _create(client, tenants.a_admin.headers)["site"]["id"]  # type: ignore[index]
    path = f"/api/v1/sites/{site_id}"
    for intruder in (tenants.b_admin.headers, tenants.b_viewer.headers):
        for got in (
            client.get(path, headers=intruder),
            client.patch(path, json={"name": "pwned"}, headers=intruder),
            client.post(f"{path}/bootstrap-token", headers=intruder),
            client.delete(path, headers=intruder),
        ):
            assert got.status_code == 404, got.text
            assert got.json()["error"]["code"] == "not_found"
        assert client.get("/api/v1/sites", headers=intruder).json() == {"sites": []}
    assert client.get(path, headers=tenants.a_admin.headers).json()["name"] == "Shop"


def test_site_quota_answers_a_clear_403(client: TestClient, tenants: Tenants) -> None:
    _create(client, tenants.a_admin.headers, "one")
    _create(client, tenants.a_admin.headers, "two")
    got = client.post("/api/v1/sites", json={"name": "three"}, headers=tenants.a_admin.headers)
    assert got.status_code == 403
    error = got.json()["error"]
    assert error["code"] == "quota_exceeded" and error["quota"] == "sites"
    assert "free plan allows at most 2 sites" in error["message"]
    assert len(client.get("/api/v1/sites", headers=tenants.a_admin.headers).json()["sites"]) == 2


def test_new_bootstrap_token_revokes_the_old_one(
    control_ctx: ControlContext, client: TestClient, tenants: Tenants
) -> None:
    created = _create(client, tenants.a_admin.headers)
    site_id = created["site"]["id"]  # type: ignore[index]
    got = client.post(f"/api/v1/sites/{site_id}/bootstrap-token", headers=tenants.a_admin.headers)
    assert got.status_code == 201
    new_token = got.json()["bootstrap_token"]
    assert new_token != created["bootstrap_token"]
    with pytest.raises(BootstrapTokenRejected):
        _redeem(control_ctx, str(created["bootstrap_token"]))
    assert _redeem(control_ctx, new_token) == site_id
    enrolled = client.get(f"/api/v1/sites/{site_id}", headers=tenants.a_admin.headers).json()
    assert enrolled["enrolled_at"] is not None


def test_invalid_site_bodies_are_422(client: TestClient, tenants: Tenants) -> None:
    admin = tenants.a_admin.headers
    for body in ({}, {"name": ""}, {"name": "x" * 129}, {"name": "ok", "extra": 1}):
        got = client.post("/api/v1/sites", json=body, headers=admin)
        assert got.status_code == 422, body
        assert got.json()["error"]["code"] == "invalid_request"


def test_sites_need_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/sites").status_code == 401
    got = client.get("/api/v1/sites", headers={"Authorization": "Bearer nonsense"})
    assert got.status_code == 401
