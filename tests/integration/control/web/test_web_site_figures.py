"""The edge's disk space and job queue in the UI: the dashboard's and the sites page's Sites
tables, from a relay's telemetry (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from guardian.control.store.tables import Site
from tests.integration.control.inventory.conftest import Inventory, Tenant
from tests.integration.control.web.conftest import sign_in

GB = 1_000_000_000


def _report(web: Inventory, tenant: Tenant, **figures: Any) -> None:
    report = {
        "tenant_id": tenant.id,
        "site_id": tenant.site,
        "at": dt.datetime.now(dt.UTC).isoformat(),
        "site": {"health": "healthy", "version": "0.9.0", **figures},
    }
    got = web.client.post("/api/v1/ingest/telemetry", json=report, headers=tenant.relay_headers)
    assert got.status_code == 200, got.text


def _row(page: str, site_name: str) -> str:
    """The Sites table row of ``site_name`` (its cells' text, tags stripped)."""
    found = re.search(rf'<th scope="row">{re.escape(site_name)}</th>(.*?)</tr>', page, re.S)
    assert found is not None, f"no row for {site_name}"
    cells = re.findall(r'<td data-label="([^"]+)"[^>]*>(.*?)</td>', found.group(1), re.S)
    return " | ".join(f"{label}: {re.sub(r'<[^>]+>', '', text).strip()}" for label, text in cells)


def _site_name(web: Inventory, tenant: Tenant) -> str:
    with web.ctx.db.system() as session:
        site = session.get(Site, tenant.site)
        assert site is not None
        return site.name


def test_dashboard_says_not_reported_until_the_relay_reports_figures(web_any: Inventory) -> None:
    web = web_any
    name = _site_name(web, web.a)
    page = sign_in(web.ctx, web, web.a.viewer).get("/").text

    row = _row(page, name)

    assert "Disk free: not reported" in row and "Queue: not reported" in row


def test_dashboard_shows_free_disk_with_its_share_and_the_queue(web_any: Inventory) -> None:
    web = web_any
    _report(
        web,
        web.a,
        disk_free_bytes=90 * GB,
        disk_total_bytes=500 * GB,
        queue_depth=7,
        dead_jobs=2,
        outbox_depth=4,
    )
    viewer = sign_in(web.ctx, web, web.a.viewer)

    row = _row(viewer.get("/").text, _site_name(web, web.a))

    assert "Disk free: 90.0 GB (18% free)" in row
    assert "Queue: 7 (2 dead)" in row
    assert "not reported" not in row
    # Tenant B's dashboard does not list tenant A's site.
    other = sign_in(web.ctx, web, web.b.viewer).get("/").text
    assert _site_name(web, web.a) not in other

    sites = _row(viewer.get("/sites").text, _site_name(web, web.a))
    assert "Disk free: 90.0 GB (18% of 500.0 GB)" in sites
    assert "Queue: 7 (2 dead)" in sites and "Outbox: 4" in sites


def test_an_empty_queue_is_zero_and_free_disk_without_a_total_has_no_share(
    web_any: Inventory,
) -> None:
    web = web_any
    _report(web, web.a, disk_free_bytes=1_500_000_000, queue_depth=0, dead_jobs=0)

    row = _row(sign_in(web.ctx, web, web.a.viewer).get("/").text, _site_name(web, web.a))

    assert "Disk free: 1.5 GB |" in row and "% free" not in row
    assert row.endswith("Queue: 0")


def test_an_older_relays_report_reads_not_reported_again(web_any: Inventory) -> None:
    web = web_any
    _report(web, web.a, disk_free_bytes=GB, disk_total_bytes=2 * GB, queue_depth=3)
    _report(web, web.a)

    row = _row(sign_in(web.ctx, web, web.a.viewer).get("/").text, _site_name(web, web.a))

    assert "Disk free: not reported" in row and "Queue: not reported" in row
