"""The relay's SiteHealth of a site: the edge's disk, job queue and outbox figures taken from
its stored telemetry (``MessageToDict`` form: uint64 as strings, zeros left out)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict

from guardian.contracts.pb.guardian.v1 import control_pb2, link_pb2
from guardian.relay.forwarder import OUTBOX_DEGRADED_ROWS, edge_figures, site_health
from guardian.relay.store.edges import EdgeView, SiteTelemetry

NOW = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
SITE, TENANT = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "5e0a7c9b-2d41-4f8e-a3b6-9c1d7e2f4a80"
FIGURES = ("disk_free_bytes", "disk_total_bytes", "queue_depth", "dead_jobs", "outbox_depth")
GB = 1_000_000_000


def _stored(message: link_pb2.Telemetry) -> dict[str, Any]:
    """The payload as the relay stores it: ``MessageToDict`` then a JSON column."""
    payload: dict[str, Any] = json.loads(
        json.dumps(MessageToDict(message, preserving_proto_field_name=True))
    )
    return payload


def _health(payload: dict[str, Any] | None) -> control_pb2.SiteHealth:
    edge = EdgeView(SITE, TENANT, "ab12", NOW, None, NOW)
    telemetry = None if payload is None else SiteTelemetry(SITE, TENANT, payload, NOW)
    return site_health(
        edge,
        telemetry,
        connected=True,
        edge_version="0.9.0",
        now=NOW,
        offline_after=dt.timedelta(seconds=60),
    )


def _figures(message: control_pb2.SiteHealth) -> dict[str, int]:
    return {name: getattr(message, name) for name in FIGURES if message.HasField(name)}


def test_reported_figures_reach_the_site_health_as_numbers() -> None:
    telemetry = link_pb2.Telemetry(
        box=link_pb2.BoxMetrics(disk_used_bytes=88 * GB, disk_total_bytes=500 * GB),
        ingest=link_pb2.IngestMetrics(devices=2, jobs_queued=7, jobs_dead=1),
        outbox_depth=12,
    )
    payload = _stored(telemetry)
    assert payload["box"]["disk_total_bytes"] == str(500 * GB)  # what the store really holds

    message = _health(payload)

    assert _figures(message) == {
        "disk_free_bytes": 412 * GB,
        "disk_total_bytes": 500 * GB,
        "queue_depth": 7,
        "dead_jobs": 1,
        "outbox_depth": 12,
    }
    assert message.health == control_pb2.HEALTH_HEALTHY


def test_zeros_left_out_of_a_reported_part_are_reported_zeros() -> None:
    telemetry = link_pb2.Telemetry(
        box=link_pb2.BoxMetrics(disk_total_bytes=32 * GB),
        ingest=link_pb2.IngestMetrics(),
    )
    payload = _stored(telemetry)
    assert payload["ingest"] == {} and "outbox_depth" not in payload

    assert _figures(_health(payload)) == {
        "disk_free_bytes": 32 * GB,
        "disk_total_bytes": 32 * GB,
        "queue_depth": 0,
        "dead_jobs": 0,
        "outbox_depth": 0,
    }


def test_parts_the_edge_did_not_send_stay_absent() -> None:
    payload = _stored(link_pb2.Telemetry(outbox_depth=3, cameras=[]))

    assert _figures(_health(payload)) == {"outbox_depth": 3}


def test_no_telemetry_yet_means_no_figures() -> None:
    message = _health(None)

    assert _figures(message) == {}
    assert message.health == control_pb2.HEALTH_HEALTHY


def test_a_disk_total_of_zero_is_not_a_measurement() -> None:
    payload = {"box": {"disk_used_bytes": "5"}, "ingest": {"jobs_queued": "2"}}

    assert edge_figures(payload) == {"queue_depth": 2, "dead_jobs": 0, "outbox_depth": 0}


def test_used_above_total_reads_as_no_free_space() -> None:
    payload = {"box": {"disk_used_bytes": "120", "disk_total_bytes": "100"}}

    assert edge_figures(payload)["disk_free_bytes"] == 0


@pytest.mark.parametrize(
    "bad", ["-5", "abc", "1e3", "", "\u00b2", True, 2.5, None, {"a": 1}, [1], str(2**64)]
)
def test_a_value_that_is_no_uint64_count_is_left_out(bad: object) -> None:
    payload = {
        "box": {"disk_used_bytes": "1", "disk_total_bytes": bad},
        "ingest": {"jobs_queued": bad, "jobs_dead": "4"},
        "outbox_depth": bad,
    }

    assert edge_figures(payload) == {"dead_jobs": 4}


def test_plain_integers_count_as_well_as_strings() -> None:
    payload = {
        "box": {"disk_used_bytes": 1, "disk_total_bytes": 2**64 - 1},
        "ingest": {"jobs_queued": 3},
        "outbox_depth": 0,
    }

    assert edge_figures(payload) == {
        "disk_free_bytes": 2**64 - 2,
        "disk_total_bytes": 2**64 - 1,
        "queue_depth": 3,
        "dead_jobs": 0,
        "outbox_depth": 0,
    }


def test_a_part_that_is_not_an_object_is_ignored() -> None:
    assert edge_figures({"box": "full", "ingest": [1, 2], "outbox_depth": "1"}) == {
        "outbox_depth": 1
    }


def test_a_long_outbox_given_as_a_string_still_degrades_the_site() -> None:
    payload = _stored(link_pb2.Telemetry(outbox_depth=OUTBOX_DEGRADED_ROWS + 1))

    message = _health(payload)

    assert message.health == control_pb2.HEALTH_DEGRADED
    assert message.outbox_depth == OUTBOX_DEGRADED_ROWS + 1
