"""Telemetry from relays: site and camera health, staleness, relays and cameras API, plan."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guardian.control.context import ControlContext
from tests.control_helpers import assign_relay, make_relay, make_site
from tests.integration.control.tenancy.conftest import Tenants


def _report(tenant_id: str, site_id: str, **extra: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "tenant_id": tenant_id,
        "site_id": site_id,
        "at": dt.datetime.now(dt.UTC).isoformat(),
        "site": {"health": "healthy", "version": "0.4.0", "uptime_s": 12, "junk": {"a": 1}},
        "cameras": [
            {
                "name": "front",
                "state": "online",
                "input_fps": 25.0,
                "detect_fps": 5.0,
                "recording": "recording",
                "url": "rtsp://user:pw@cam",
            },
            {"name": "back", "state": "error"},
            {"name": "side", "state": "offline"},
        ],
    }
    report.update(extra)
    return report


@pytest.fixture
def relay(control_ctx: ControlContext, tenants: Tenants) -> dict[str, str]:
    relay_id, token = make_relay(control_ctx, "eu-1")
    assign_relay(control_ctx, tenants.a_admin.tenant_id, relay_id)
    return {"Authorization": f"Bearer {token}"}


def test_telemetry_sets_site_and_camera_health(
    control_ctx: ControlContext, client: TestClient, tenants: Tenants, relay: dict[str, str]
) -> None:
    tenant = tenants.a_admin.tenant_id
    site_id = make_site(control_ctx, tenant)
    got = client.post("/api/v1/ingest/telemetry", json=_report(tenant, site_id), headers=relay)
    assert got.status_code == 200, got.text
    assert got.json() == {"site": "healthy", "cameras": 3}

    site = client.get(f"/api/v1/sites/{site_id}", headers=tenants.a_viewer.headers).json()
    assert site["health"] == "healthy" and site["last_seen_at"] is not None
    assert site["details"] == {"version": "0.4.0", "uptime_s": 12}
    cameras = client.get("/api/v1/cameras", headers=tenants.a_viewer.headers).json()["cameras"]
    health = {c["edge_name"]: c["health"] for c in cameras}
    assert health == {"front": "healthy", "back": "degraded", "side": "offline"}
    front = next(c for c in cameras if c["edge_name"] == "front")
    assert front["details"] == {
        "state": "online",
        "input_fps": 25.0,
        "detect_fps": 5.0,
        "recording": "recording",
    }

    # Not heard from for 5 minutes: everything reads offline, whatever it said.
    control_ctx.clock = lambda: time.time() + 301
    site = client.get(f"/api/v1/sites/{site_id}", headers=tenants.a_viewer.headers).json()
    assert site["health"] == "offline"
    cameras = client.get("/api/v1/cameras", headers=tenants.a_viewer.headers).json()["cameras"]
    assert {c["health"] for c in cameras} == {"offline"}
    relays = client.get("/api/v1/relays", headers=tenants.a_viewer.headers).json()["relays"]
    assert [r["health"] for r in relays] == ["offline"]


def test_a_late_report_does_not_overwrite_a_newer_one(
    control_ctx: ControlContext, client: TestClient, tenants: Tenants, relay: dict[str, str]
) -> None:
    tenant = tenants.a_admin.tenant_id
    site_id = make_site(control_ctx, tenant)
    client.post("/api/v1/ingest/telemetry", json=_report(tenant, site_id), headers=relay)
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    late = _report(tenant, site_id, at=old, site={"health": "degraded"})
    got = client.post("/api/v1/ingest/telemetry", json=late, headers=relay)
    assert got.json() == {"site": "healthy", "cameras": 0}


def test_telemetry_is_confined_to_the_relays_tenants_and_their_sites(
    control_ctx: ControlContext, client: TestClient, tenants: Tenants, relay: dict[str, str]
) -> None:
    a, b = tenants.a_admin.tenant_id, tenants.b_admin.tenant_id
    a_site, b_site = make_site(control_ctx, a), make_site(control_ctx, b)
    for report in (_report(b, b_site), _report(a, b_site), _report(a, "no-such-site")):
        got = client.post("/api/v1/ingest/telemetry", json=report, headers=relay)
        assert got.status_code == 404, report
    other_id, other_token = make_relay(control_ctx, "us-1")
    assign_relay(control_ctx, b, other_id)
    got = client.post(
        "/api/v1/ingest/telemetry",
        json=_report(a, a_site),
        headers={"Authorization": f"Bearer {other_token}"},
    )
    assert got.status_code == 404
    bad = {"Authorization": "Bearer grl_unknown"}
    assert (
        client.post("/api/v1/ingest/telemetry", json=_report(a, a_site), headers=bad).status_code
        == 401
    )
    user = tenants.a_admin.headers
    assert (
        client.post("/api/v1/ingest/telemetry", json=_report(a, a_site), headers=user).status_code
        == 401
    )
    for site_id, headers in ((a_site, tenants.a_admin.headers), (b_site, tenants.b_admin.headers)):
        assert client.get(f"/api/v1/sites/{site_id}", headers=headers).json()["health"] == "unknown"
    assert client.get("/api/v1/cameras", headers=tenants.a_admin.headers).json() == {"cameras": []}


def test_telemetry_over_the_camera_quota_keeps_the_first_cameras(
    control_ctx: ControlContext, client: TestClient, tenants: Tenants, relay: dict[str, str]
) -> None:
    tenant = tenants.a_admin.tenant_id
    site_id = make_site(control_ctx, tenant)
    cams = [{"name": f"cam{i}", "state": "online"} for i in range(10)]
    got = client.post(
        "/api/v1/ingest/telemetry", json=_report(tenant, site_id, cameras=cams), headers=relay
    )
    assert got.json() == {"site": "healthy", "cameras": 8}
    plan = client.get("/api/v1/plan", headers=tenants.a_viewer.headers).json()
    assert plan == {
        "name": "free",
        "quotas": {
            "cameras": 8,
            "sites": 2,
            "event_retention_days": None,
            "archive_bytes": 1024**3,
        },
        "usage": {"cameras": 8, "sites": 1, "archive_bytes": 0},
    }


def test_relays_api_shows_only_the_callers_relay(
    control_ctx: ControlContext, client: TestClient, tenants: Tenants, relay: dict[str, str]
) -> None:
    tenant = tenants.a_admin.tenant_id
    site_id = make_site(control_ctx, tenant)
    client.post("/api/v1/ingest/telemetry", json=_report(tenant, site_id), headers=relay)
    for headers in (tenants.a_admin.headers, tenants.a_viewer.headers):
        relays = client.get("/api/v1/relays", headers=headers).json()["relays"]
        assert [(r["name"], r["url"], r["health"]) for r in relays] == [
            ("eu-1", "https://relay.example", "healthy")
        ]
        assert relays[0]["last_seen_at"] is not None
    assert client.get("/api/v1/relays", headers=tenants.b_viewer.headers).json() == {"relays": []}


FIGURES = ("disk_free_bytes", "disk_total_bytes", "queue_depth", "dead_jobs", "outbox_depth")


def _figures(client: TestClient, site_id: str, headers: dict[str, str]) -> dict[str, Any]:
    site = client.get(f"/api/v1/sites/{site_id}", headers=headers).json()
    return {name: site[name] for name in FIGURES}


def test_the_edges_figures_are_stored_on_the_site_and_listed(
    control_ctx: ControlContext, client: TestClient, tenants: Tenants, relay: dict[str, str]
) -> None:
    tenant = tenants.a_admin.tenant_id
    site_id = make_site(control_ctx, tenant)
    figures = {
        "disk_free_bytes": 2**40,
        "disk_total_bytes": 2**42,
        "queue_depth": 0,
        "dead_jobs": 1,
        "outbox_depth": 12,
    }
    site = {"health": "healthy", "version": "0.9.0", **figures}
    got = client.post(
        "/api/v1/ingest/telemetry", json=_report(tenant, site_id, site=site), headers=relay
    )
    assert got.status_code == 200, got.text

    viewer = tenants.a_viewer.headers
    assert _figures(client, site_id, viewer) == figures
    [listed] = client.get("/api/v1/sites", headers=viewer).json()["sites"]
    assert {name: listed[name] for name in FIGURES} == figures
    assert listed["details"] == {"version": "0.9.0"}
    # Tenant B sees none of it.
    assert client.get("/api/v1/sites", headers=tenants.b_viewer.headers).json() == {"sites": []}

    # A report without them (an older relay) leaves them null, not stale.
    got = client.post("/api/v1/ingest/telemetry", json=_report(tenant, site_id), headers=relay)
    assert got.status_code == 200, got.text
    assert _figures(client, site_id, viewer) == dict.fromkeys(FIGURES)


@pytest.mark.parametrize(
    "figures",
    [
        {"queue_depth": -1},
        {"outbox_depth": "12"},
        {"dead_jobs": 2**63},
        {"disk_free_bytes": 11, "disk_total_bytes": 10},
    ],
    ids=["negative", "string", "beyond-bigint", "free-above-total"],
)
def test_invalid_figures_are_refused_and_change_nothing(
    control_ctx: ControlContext,
    client: TestClient,
    tenants: Tenants,
    relay: dict[str, str],
    figures: dict[str, Any],
) -> None:
    tenant = tenants.a_admin.tenant_id
    site_id = make_site(control_ctx, tenant)
    report = _report(tenant, site_id, site={"health": "healthy", **figures})

    got = client.post("/api/v1/ingest/telemetry", json=report, headers=relay)

    assert got.status_code == 422, got.text
    site = client.get(f"/api/v1/sites/{site_id}", headers=tenants.a_viewer.headers).json()
    assert site["health"] == "unknown"
    assert {name: site[name] for name in FIGURES} == dict.fromkeys(FIGURES)
