"""The Sites tables' edge figures: free disk with its share, the queue, null as not reported."""

from __future__ import annotations

import datetime as dt
from typing import Any

from guardian.control.tenancy.schemas import SiteOut
from guardian.control.web.pages_dashboard import edge_resources

T0 = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)


def _site(**figures: Any) -> SiteOut:
    base: dict[str, Any] = dict.fromkeys(
        ("disk_free_bytes", "disk_total_bytes", "queue_depth", "dead_jobs", "outbox_depth")
    )
    return SiteOut(
        id="s-1",
        name="shop",
        health="healthy",
        last_seen_at=T0,
        enrolled_at=T0,
        created_at=T0,
        details={"version": "0.9.0", "disk_free_bytes": 1},
        **{**base, **figures},
    )


def test_nothing_reported_is_all_none_but_the_version() -> None:
    assert edge_resources(_site()) == {
        "disk_free": None,
        "disk_total": None,
        "disk_free_pct": None,
        "queue": None,
        "dead_jobs": None,
        "outbox": None,
        "version": "0.9.0",
    }


def test_free_disk_share_is_rounded_and_needs_a_positive_total() -> None:
    assert edge_resources(_site(disk_free_bytes=90, disk_total_bytes=500))["disk_free_pct"] == 18
    assert edge_resources(_site(disk_free_bytes=1, disk_total_bytes=3))["disk_free_pct"] == 33
    assert edge_resources(_site(disk_free_bytes=0, disk_total_bytes=0))["disk_free_pct"] is None
    assert edge_resources(_site(disk_free_bytes=5))["disk_free_pct"] is None


def test_zero_counts_stay_zero_not_unreported() -> None:
    got = edge_resources(_site(queue_depth=0, dead_jobs=0, outbox_depth=0))

    assert (got["queue"], got["dead_jobs"], got["outbox"]) == (0, 0, 0)


def test_details_keys_do_not_stand_in_for_the_figures() -> None:
    assert edge_resources(_site())["disk_free"] is None
