"""SiteHealth's edge figures on the wire: an older relay's report, zeros that still count, and
the control plane's telemetry schema that receives them."""

from __future__ import annotations

from guardian.contracts.pb.guardian.v1 import control_pb2
from guardian.control.tenancy.schemas import EDGE_FIGURES, SiteOut, SiteTelemetry

FIGURE_NUMBERS = {
    "disk_free_bytes": 7,
    "disk_total_bytes": 8,
    "queue_depth": 9,
    "dead_jobs": 10,
    "outbox_depth": 11,
}
# A relay from before the figures (fields 1-6 only), as it serialised one site's health
# (never regenerate: this is what such relays send).
OLD_RELAY_SITE_HEALTH = (
    "0a2435653061376339622d326434312d346638652d613362362d396331643765326634613830122437613662"
    "356334642d336532662d346131622d396338642d37653666356134623363326418012205302e342e3032110a"
    "0566726f6e7410011a066f6e6c696e65"
)


def test_an_old_relays_site_health_parses_with_no_figures() -> None:
    message = control_pb2.SiteHealth.FromString(bytes.fromhex(OLD_RELAY_SITE_HEALTH))

    assert (message.site_id, message.edge_version) == (
        "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
        "0.4.0",
    )
    assert [camera.name for camera in message.cameras] == ["front"]
    assert [name for name in EDGE_FIGURES if message.HasField(name)] == []


def test_a_reported_zero_is_sent_and_read_back_as_reported() -> None:
    sent = control_pb2.SiteHealth(site_id="s", queue_depth=0, outbox_depth=0)

    got = control_pb2.SiteHealth.FromString(sent.SerializeToString())

    assert got.HasField("queue_depth") and got.queue_depth == 0
    assert got.HasField("outbox_depth") and not got.HasField("dead_jobs")


def test_the_figures_are_optional_uint64_fields_numbered_7_to_11() -> None:
    fields = control_pb2.SiteHealth.DESCRIPTOR.fields_by_name
    uint64 = fields["disk_free_bytes"].TYPE_UINT64

    for name, number in FIGURE_NUMBERS.items():
        field = fields[name]
        assert (field.number, field.type, field.has_presence) == (number, uint64, True), name


def test_the_figures_mirror_the_control_plane_telemetry_and_site_schemas() -> None:
    assert set(EDGE_FIGURES) == set(FIGURE_NUMBERS)
    assert set(EDGE_FIGURES) <= set(SiteTelemetry.model_fields)
    assert set(EDGE_FIGURES) <= set(SiteOut.model_fields)
