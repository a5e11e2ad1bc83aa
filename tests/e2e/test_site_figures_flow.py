"""The edge's disk space and job queue reach the control plane's sites API: three real
processes on loopback (``guardian control run`` on PostgreSQL, ``guardian relay run`` and
``guardian edge run`` on SQLite); the edge's link telemetry becomes the relay's health report
and the site's figures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.link_harness import LinkStack, open_stack, wait_for
from tests.pg import MakeDatabase

FIGURES = ("disk_free_bytes", "disk_total_bytes", "queue_depth", "dead_jobs", "outbox_depth")
# Edge telemetry every 2 s (the harness), relay health every 10 s: well inside this.
ARRIVAL_S = 45.0


@pytest.fixture
def stack(tmp_path: Path, pg_database_factory: MakeDatabase) -> Iterator[LinkStack]:
    with open_stack(tmp_path, pg_database_factory) as running:
        running.start_all()
        yield running


def _site(stack: LinkStack, headers: dict[str, str]) -> dict[str, Any]:
    got = httpx.get(f"{stack.control_url}/api/v1/sites", headers=headers, timeout=10)
    assert got.status_code == 200, got.text
    [site] = got.json()["sites"]
    assert isinstance(site, dict)
    return site


def test_the_edges_disk_and_queue_reach_the_sites_api(stack: LinkStack) -> None:
    headers = stack.admin_headers()

    def reported() -> bool:
        return all(_site(stack, headers)[name] is not None for name in FIGURES)

    wait_for(reported, ARRIVAL_S, "the site's figures", stack.edge, stack.relay_service)

    site = _site(stack, headers)
    total = shutil.disk_usage(stack.edge_dir).total  # the edge's data volume
    assert site["disk_total_bytes"] == total
    assert 0 < site["disk_free_bytes"] <= total
    assert (site["queue_depth"], site["dead_jobs"]) == (0, 0)  # no devices, no captures
    assert site["outbox_depth"] >= 0
