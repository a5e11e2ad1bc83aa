"""The edge's figures (disk, job queue, outbox) in a site's telemetry: the schema's rules and
the conversion of a relay's wire SiteHealth (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from guardian.contracts.pb.guardian.v1 import control_pb2
from guardian.control.link_server import telemetry_in
from guardian.control.tenancy.schemas import EDGE_FIGURES, SiteTelemetry

AT = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
BIGINT_MAX = 2**63 - 1


def _site(**figures: Any) -> SiteTelemetry:
    return SiteTelemetry.model_validate({"health": "healthy", **figures})


def test_figures_are_optional_and_none_when_not_reported() -> None:
    assert _site().figures() == dict.fromkeys(EDGE_FIGURES)
    site = _site(disk_free_bytes=10, disk_total_bytes=10, queue_depth=0, outbox_depth=BIGINT_MAX)
    assert site.figures() == {
        "disk_free_bytes": 10,
        "disk_total_bytes": 10,
        "queue_depth": 0,
        "dead_jobs": None,
        "outbox_depth": BIGINT_MAX,
    }


@pytest.mark.parametrize("name", EDGE_FIGURES)
@pytest.mark.parametrize("bad", [-1, BIGINT_MAX + 1, "12", True, 1.5, 2.0])
def test_a_figure_must_be_a_json_integer_that_fits_the_column(name: str, bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        _site(**{name: bad})
    assert info.value.errors()[0]["loc"] == (name,)


def test_free_disk_cannot_exceed_the_disk() -> None:
    with pytest.raises(ValidationError, match="disk_free_bytes exceeds disk_total_bytes"):
        _site(disk_free_bytes=11, disk_total_bytes=10)
    assert _site(disk_free_bytes=11).disk_free_bytes == 11  # no total: nothing to compare


def _wire(**figures: int) -> control_pb2.SiteHealth:
    return control_pb2.SiteHealth(
        tenant_id="t-1", site_id="s-1", health=control_pb2.HEALTH_HEALTHY, **figures
    )


def test_wire_figures_that_are_set_arrive_including_zeros() -> None:
    report = telemetry_in(AT, _wire(disk_free_bytes=5, disk_total_bytes=9, dead_jobs=0))

    assert report.site.figures() == {
        "disk_free_bytes": 5,
        "disk_total_bytes": 9,
        "queue_depth": None,
        "dead_jobs": 0,
        "outbox_depth": None,
    }


def test_an_old_relays_health_has_no_figures() -> None:
    assert telemetry_in(AT, _wire()).site.figures() == dict.fromkeys(EDGE_FIGURES)


def test_a_wire_count_beyond_the_column_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        telemetry_in(AT, _wire(queue_depth=2**64 - 1))
