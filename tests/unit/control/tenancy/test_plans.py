"""Plans and quota arithmetic (no database)."""

from __future__ import annotations

import pytest

from guardian.control.tenancy.plans import (
    GIB,
    PLANS,
    QuotaExceeded,
    resolve_plan,
    would_exceed,
)


def test_free_plan_has_the_documented_quotas() -> None:
    quotas = PLANS["free"].quotas
    assert (quotas.cameras, quotas.sites) == (8, 2)
    assert quotas.event_retention_days is None
    assert quotas.archive_bytes == GIB == 1024**3


@pytest.mark.parametrize(
    ("limit", "used", "adding", "expected"),
    [
        (2, 0, 1, False),
        (2, 1, 1, False),
        (2, 2, 1, True),
        (2, 1, 2, True),
        (0, 0, 1, True),
        (None, 10**9, 1, False),
    ],
)
def test_would_exceed(limit: int | None, used: int, adding: int, expected: bool) -> None:
    assert would_exceed(limit, used, adding) is expected


def test_unknown_plan_names_fall_back_to_free() -> None:
    assert resolve_plan("platinum-deluxe") is PLANS["free"]
    assert resolve_plan(None) is PLANS["free"]
    assert resolve_plan("free").name == "free"


def test_quota_exceeded_is_a_403_naming_the_quota_and_limit() -> None:
    exc = QuotaExceeded("free", "sites", 2)
    assert exc.status == 403
    body = exc.body()["error"]
    assert body["code"] == "quota_exceeded"
    assert body["quota"] == "sites" and body["limit"] == 2
    assert "free plan allows at most 2 sites" in body["message"]


def test_plan_limit_reads_the_quota() -> None:
    plan = PLANS["free"]
    assert plan.limit("cameras") == 8
    assert plan.as_dict()["quotas"]["sites"] == 2
