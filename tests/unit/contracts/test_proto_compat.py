"""Wire compatibility of the link contracts: pinned field numbers, old and newer peers.

An older edge must keep talking to a newer relay (and the other way round), so field and
enum numbers, types and RPC paths never change; a removed field must be ``reserved`` (number
and name) and keep its row below. Add a row for every new field.
"""

from __future__ import annotations

import datetime as dt
import json
import typing
from collections.abc import Iterator

import pytest
from google.protobuf import descriptor_pb2

from guardian.contracts.pb.guardian.v1 import control_pb2, link_pb2

FieldProto = descriptor_pb2.FieldDescriptorProto

# (message, field, number, signature): signature as made by _signature below.
PINNED_FIELDS: tuple[tuple[str, str, int, str], ...] = (
    ("EnrollRequest", "bootstrap_token", 1, "string"),
    ("EnrollRequest", "csr_pem", 2, "string"),
    ("EnrollRequest", "edge_version", 3, "string"),
    ("EnrollRequest", "hostname", 4, "string"),
    ("EnrollResponse", "certificate_chain_pem", 1, "string"),
    ("EnrollResponse", "ca_pem", 2, "string"),
    ("EnrollResponse", "site_id", 3, "string"),
    ("EnrollResponse", "tenant_id", 4, "string"),
    ("EnrollResponse", "relay_id", 5, "string"),
    ("EnrollResponse", "not_after", 6, "google.protobuf.Timestamp"),
    ("EnrollResponse", "link_port", 7, "uint32"),
    ("EdgeMessage", "hello", 1, "guardian.v1.Hello in body"),
    ("EdgeMessage", "event_batch", 2, "guardian.v1.EventBatch in body"),
    ("EdgeMessage", "telemetry", 3, "guardian.v1.Telemetry in body"),
    ("EdgeMessage", "heartbeat", 4, "guardian.v1.Heartbeat in body"),
    ("EdgeMessage", "command_result", 5, "guardian.v1.CommandResult in body"),
    ("RelayMessage", "welcome", 1, "guardian.v1.Welcome in body"),
    ("RelayMessage", "ack", 2, "guardian.v1.Ack in body"),
    ("RelayMessage", "heartbeat", 3, "guardian.v1.Heartbeat in body"),
    ("RelayMessage", "command", 4, "guardian.v1.Command in body"),
    ("Hello", "site_id", 1, "string"),
    ("Hello", "edge_version", 2, "string"),
    ("Hello", "protocol_version", 3, "uint32"),
    ("Hello", "last_acked_batch_id", 4, "string"),
    ("Hello", "sent_at", 5, "google.protobuf.Timestamp"),
    ("Welcome", "relay_id", 1, "string"),
    ("Welcome", "server_time", 2, "google.protobuf.Timestamp"),
    ("Welcome", "heartbeat_interval_s", 3, "uint32"),
    ("Welcome", "protocol_version", 4, "uint32"),
    ("Welcome", "max_batch_items", 5, "uint32"),
    ("Heartbeat", "sent_at", 1, "google.protobuf.Timestamp"),
    ("Heartbeat", "seq", 2, "uint64"),
    ("EventBatch", "batch_id", 1, "string"),
    ("EventBatch", "items", 2, "repeated guardian.v1.OutboxItem"),
    ("OutboxItem", "outbox_id", 1, "int64"),
    ("OutboxItem", "created_at", 2, "google.protobuf.Timestamp"),
    ("OutboxItem", "event", 3, "guardian.v1.Event in payload"),
    ("Event", "id", 1, "string"),
    ("Event", "type", 2, "string"),
    ("Event", "source_kind", 3, "string"),
    ("Event", "source_id", 4, "string"),
    ("Event", "started_at", 5, "google.protobuf.Timestamp"),
    ("Event", "ended_at", 6, "google.protobuf.Timestamp"),
    ("Event", "person_count", 7, "uint32"),
    ("Event", "best_score", 8, "double"),
    ("Event", "details_json", 9, "string"),
    ("Event", "version", 10, "int32"),
    ("Event", "created_at", 11, "google.protobuf.Timestamp"),
    ("Event", "updated_at", 12, "google.protobuf.Timestamp"),
    ("Ack", "batch_id", 1, "string"),
    ("Ack", "outbox_ids", 2, "repeated int64"),
    ("Ack", "rejected", 3, "repeated guardian.v1.Rejection"),
    ("Rejection", "outbox_id", 1, "int64"),
    ("Rejection", "reason", 2, "string"),
    ("Telemetry", "sent_at", 1, "google.protobuf.Timestamp"),
    ("Telemetry", "box", 2, "guardian.v1.BoxMetrics"),
    ("Telemetry", "ingest", 3, "guardian.v1.IngestMetrics"),
    ("Telemetry", "outbox_depth", 4, "uint64"),
    ("Telemetry", "outbox_oldest_age_s", 5, "double"),
    ("Telemetry", "cameras", 6, "repeated guardian.v1.CameraTelemetry"),
    ("BoxMetrics", "cpu_percent", 1, "double"),
    ("BoxMetrics", "memory_used_bytes", 2, "uint64"),
    ("BoxMetrics", "memory_total_bytes", 3, "uint64"),
    ("BoxMetrics", "disk_used_bytes", 4, "uint64"),
    ("BoxMetrics", "disk_total_bytes", 5, "uint64"),
    ("BoxMetrics", "temperature_c", 6, "optional double"),
    ("BoxMetrics", "uptime_s", 7, "uint64"),
    ("BoxMetrics", "load_1m", 8, "double"),
    ("IngestMetrics", "devices", 1, "uint32"),
    ("IngestMetrics", "devices_online", 2, "uint32"),
    ("IngestMetrics", "captures_received", 3, "uint64"),
    ("IngestMetrics", "captures_processed", 4, "uint64"),
    ("IngestMetrics", "jobs_queued", 5, "uint64"),
    ("IngestMetrics", "jobs_dead", 6, "uint64"),
    ("CameraTelemetry", "name", 1, "string"),
    ("CameraTelemetry", "state", 2, "string"),
    ("CameraTelemetry", "decoder", 3, "string"),
    ("CameraTelemetry", "codec", 4, "string"),
    ("CameraTelemetry", "width", 5, "uint32"),
    ("CameraTelemetry", "height", 6, "uint32"),
    ("CameraTelemetry", "input_fps", 7, "optional double"),
    ("CameraTelemetry", "detect_fps", 8, "optional double"),
    ("CameraTelemetry", "skipped_by_motion", 9, "optional double"),
    ("CameraTelemetry", "detector_latency_ms", 10, "optional double"),
    ("CameraTelemetry", "last_frame_at", 11, "google.protobuf.Timestamp"),
    ("CameraTelemetry", "last_error", 12, "string"),
    ("CameraTelemetry", "reconnects", 13, "uint32"),
    ("CameraTelemetry", "recording", 14, "string"),
    ("CameraTelemetry", "storage_bytes", 15, "uint64"),
    ("Command", "command_id", 1, "string"),
    ("Command", "stream_clip", 10, "guardian.v1.StreamClip in action"),
    ("Command", "update_camera_config", 11, "guardian.v1.UpdateCameraConfig in action"),
    ("StreamClip", "event_id", 1, "string"),
    ("StreamClip", "kind", 2, "guardian.v1.MediaKind"),
    ("StreamClip", "offset", 3, "uint64"),
    ("StreamClip", "length", 4, "uint64"),
    ("UpdateCameraConfig", "camera", 1, "string"),
    ("UpdateCameraConfig", "config_json", 2, "string"),
    ("UpdateCameraConfig", "enabled", 3, "optional bool"),
    ("CommandResult", "command_id", 1, "string"),
    ("CommandResult", "ok", 2, "bool"),
    ("CommandResult", "error", 3, "string"),
    ("ClipChunk", "event_id", 1, "string"),
    ("ClipChunk", "command_id", 2, "string"),
    ("ClipChunk", "offset", 3, "uint64"),
    ("ClipChunk", "data", 4, "bytes"),
    ("ClipChunk", "last", 5, "bool"),
    ("ClipChunk", "total_size", 6, "uint64"),
    ("ClipChunk", "content_type", 7, "string"),
    ("ClipChunk", "kind", 8, "guardian.v1.MediaKind"),
    ("ClipReceipt", "event_id", 1, "string"),
    ("ClipReceipt", "command_id", 2, "string"),
    ("ClipReceipt", "received_bytes", 3, "uint64"),
    ("ClipReceipt", "sha256", 4, "string"),
    ("ClipReceipt", "complete", 5, "bool"),
    ("SummaryBatch", "batch_id", 1, "string"),
    ("SummaryBatch", "events", 2, "repeated guardian.v1.EventSummary"),
    ("EventSummary", "id", 1, "string"),
    ("EventSummary", "tenant_id", 2, "string"),
    ("EventSummary", "site_id", 3, "string"),
    ("EventSummary", "source_kind", 4, "guardian.v1.SourceKind"),
    ("EventSummary", "source_name", 5, "string"),
    ("EventSummary", "type", 6, "string"),
    ("EventSummary", "label", 7, "optional string"),
    ("EventSummary", "zone", 8, "optional string"),
    ("EventSummary", "dwell_s", 9, "optional double"),
    ("EventSummary", "person_count", 10, "uint32"),
    ("EventSummary", "confidence", 11, "guardian.v1.Confidence"),
    ("EventSummary", "state", 12, "guardian.v1.EventState"),
    ("EventSummary", "started_at", 13, "google.protobuf.Timestamp"),
    ("EventSummary", "ended_at", 14, "google.protobuf.Timestamp"),
    ("EventSummary", "version", 15, "int32"),
    ("SummaryAck", "batch_id", 1, "string"),
    ("SummaryAck", "results", 2, "repeated guardian.v1.SummaryResult"),
    ("SummaryResult", "id", 1, "string"),
    ("SummaryResult", "status", 2, "guardian.v1.SummaryStatus"),
    ("SummaryResult", "reason", 3, "string"),
    ("HealthReport", "at", 1, "google.protobuf.Timestamp"),
    ("HealthReport", "relay_version", 2, "string"),
    ("HealthReport", "sites", 3, "repeated guardian.v1.SiteHealth"),
    ("SiteHealth", "tenant_id", 1, "string"),
    ("SiteHealth", "site_id", 2, "string"),
    ("SiteHealth", "health", 3, "guardian.v1.Health"),
    ("SiteHealth", "edge_version", 4, "string"),
    ("SiteHealth", "last_seen_at", 5, "google.protobuf.Timestamp"),
    ("SiteHealth", "cameras", 6, "repeated guardian.v1.CameraHealth"),
    ("SiteHealth", "disk_free_bytes", 7, "optional uint64"),
    ("SiteHealth", "disk_total_bytes", 8, "optional uint64"),
    ("SiteHealth", "queue_depth", 9, "optional uint64"),
    ("SiteHealth", "dead_jobs", 10, "optional uint64"),
    ("SiteHealth", "outbox_depth", 11, "optional uint64"),
    ("CameraHealth", "name", 1, "string"),
    ("CameraHealth", "health", 2, "guardian.v1.Health"),
    ("CameraHealth", "state", 3, "string"),
    ("CameraHealth", "input_fps", 4, "optional double"),
    ("CameraHealth", "detect_fps", 5, "optional double"),
    ("CameraHealth", "recording", 6, "string"),
    ("HealthAck", "results", 1, "repeated guardian.v1.SiteHealthResult"),
    ("HealthAck", "revoked_site_ids", 2, "repeated string"),
    ("SiteHealthResult", "site_id", 1, "string"),
    ("SiteHealthResult", "accepted", 2, "bool"),
    ("SiteHealthResult", "reason", 3, "string"),
    ("RedeemRequest", "bootstrap_token", 1, "string"),
    ("RedeemResponse", "site_id", 1, "string"),
    ("RedeemResponse", "tenant_id", 2, "string"),
    ("RedeemResponse", "site_name", 3, "string"),
)
PINNED_ENUM_VALUES: tuple[tuple[str, str, int], ...] = (
    ("MediaKind", "MEDIA_KIND_UNSPECIFIED", 0),
    ("MediaKind", "MEDIA_KIND_CLIP", 1),
    ("MediaKind", "MEDIA_KIND_SNAPSHOT", 2),
    ("MediaKind", "MEDIA_KIND_THUMBNAIL", 3),
    ("SourceKind", "SOURCE_KIND_UNSPECIFIED", 0),
    ("SourceKind", "SOURCE_KIND_CAMERA", 1),
    ("SourceKind", "SOURCE_KIND_DEVICE", 2),
    ("Confidence", "CONFIDENCE_UNSPECIFIED", 0),
    ("Confidence", "CONFIDENCE_LOW", 1),
    ("Confidence", "CONFIDENCE_MEDIUM", 2),
    ("Confidence", "CONFIDENCE_HIGH", 3),
    ("EventState", "EVENT_STATE_UNSPECIFIED", 0),
    ("EventState", "EVENT_STATE_ACTIVE", 1),
    ("EventState", "EVENT_STATE_ENDED", 2),
    ("SummaryStatus", "SUMMARY_STATUS_UNSPECIFIED", 0),
    ("SummaryStatus", "SUMMARY_STATUS_CREATED", 1),
    ("SummaryStatus", "SUMMARY_STATUS_UPDATED", 2),
    ("SummaryStatus", "SUMMARY_STATUS_UNCHANGED", 3),
    ("SummaryStatus", "SUMMARY_STATUS_STALE", 4),
    ("SummaryStatus", "SUMMARY_STATUS_REJECTED", 5),
    ("Health", "HEALTH_UNSPECIFIED", 0),
    ("Health", "HEALTH_HEALTHY", 1),
    ("Health", "HEALTH_DEGRADED", 2),
    ("Health", "HEALTH_OFFLINE", 3),
)
PINNED_RPCS: tuple[tuple[str, str, str, bool, bool], ...] = (
    (
        "/guardian.v1.EdgeLink/Connect",
        "guardian.v1.EdgeMessage",
        "guardian.v1.RelayMessage",
        True,
        True,
    ),
    (
        "/guardian.v1.EdgeLink/UploadClip",
        "guardian.v1.ClipChunk",
        "guardian.v1.ClipReceipt",
        True,
        False,
    ),
    (
        "/guardian.v1.Enrollment/Enroll",
        "guardian.v1.EnrollRequest",
        "guardian.v1.EnrollResponse",
        False,
        False,
    ),
    (
        "/guardian.v1.ControlLink/PushSummaries",
        "guardian.v1.SummaryBatch",
        "guardian.v1.SummaryAck",
        False,
        False,
    ),
    (
        "/guardian.v1.ControlLink/PushHealth",
        "guardian.v1.HealthReport",
        "guardian.v1.HealthAck",
        False,
        False,
    ),
    (
        "/guardian.v1.ControlLink/RedeemBootstrap",
        "guardian.v1.RedeemRequest",
        "guardian.v1.RedeemResponse",
        False,
        False,
    ),
)

# An edge speaking protocol 1, as it serialised a Hello and an EventBatch (never regenerate
# these: they are what edges in the field send).
OLD_EDGE_HELLO = (
    "0a3d0a2437613662356334642d336532662d346131622d396338642d376536663561346233633264"
    "1205302e342e3018012204622d34312a0608908090cd06"
)
OLD_EDGE_BATCH = (
    "12d4010a04622d343212cb0108e907120608978090cd061abd010a2435663063366135332d386138"
    "652d346334652d396430652d3366316239613763326431301214696e746572616374696f6e5f6465"
    "7465637465641a0663616d657261220566726f6e742a0608908090cd06320c08968090cd061080ca"
    "b5ee013802411f85eb51b81eed3f4a387b22626f786573223a5b5b31302c32302c35302c38305d5d"
    "2c227a6f6e65223a227368656c66222c227374617465223a22656e646564227d50035a0b08908090"
    "cd061080e59a77620608978090cd06"
)
# A newer edge: Event has a new field 13 (track_uid "t-9"), Hello a new repeated field 6.
NEWER_EDGE_BATCH = (
    "12a3010a04622d3433129a0108ea07120608978090cd061a8c010a2435663063366135332d386138"
    "652d346334652d396430652d3366316239613763326431301214696e746572616374696f6e5f6465"
    "7465637465641a0663616d657261220566726f6e742a0608908090cd06320c08968090cd061080ca"
    "b5ee013802411f85eb51b81eed3f4a027b7d50035a0b08908090cd061080e59a77620608978090cd"
    "066a03742d39"
)
NEWER_EDGE_HELLO = (
    "0a3c0a2437613662356334642d336532662d346131622d396338642d376536663561346233633264"
    "1205302e392e301801320b636c69702d726573756d65"
)
# A newer relay: a Command whose action (field 12, RestartCamera{camera: "front"}) is unknown
# here, and a StreamClip asking for a MediaKind (4) that is unknown here.
NEWER_RELAY_COMMAND = "220e0a03632d3762070a0566726f6e74"
NEWER_RELAY_STREAM_CLIP = "220e0a03632d3852070a03652d311004"

SITE_ID = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
EVENT_ID = "5f0c6a53-8a8e-4c4e-9d0e-3f1b9a7c2d10"


def _files() -> list[descriptor_pb2.FileDescriptorProto]:
    return [
        descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
        for module in (link_pb2, control_pb2)
    ]


def _messages() -> dict[str, descriptor_pb2.DescriptorProto]:
    def walk(
        prefix: str, messages: typing.Iterable[descriptor_pb2.DescriptorProto]
    ) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto]]:
        for message in messages:
            yield prefix + message.name, message
            yield from walk(f"{prefix}{message.name}.", message.nested_type)

    return {name: msg for file in _files() for name, msg in walk("", file.message_type)}


def _enums() -> dict[str, descriptor_pb2.EnumDescriptorProto]:
    enums = {enum.name: enum for file in _files() for enum in file.enum_type}
    for name, message in _messages().items():
        enums.update({f"{name}.{enum.name}": enum for enum in message.enum_type})
    return enums


def _signature(field: FieldProto, message: descriptor_pb2.DescriptorProto) -> str:
    if field.type in (FieldProto.TYPE_MESSAGE, FieldProto.TYPE_ENUM):
        kind = field.type_name.lstrip(".")
    else:
        kind = FieldProto.Type.Name(field.type).removeprefix("TYPE_").lower()
    if field.label == FieldProto.LABEL_REPEATED:
        kind = f"repeated {kind}"
    if field.proto3_optional:
        kind = f"optional {kind}"
    elif field.HasField("oneof_index"):
        kind = f"{kind} in {message.oneof_decl[field.oneof_index].name}"
    return kind


def _message_reserves(message: descriptor_pb2.DescriptorProto, name: str, number: int) -> bool:
    in_range = any(r.start <= number < r.end for r in message.reserved_range)  # end exclusive
    return in_range and name in message.reserved_name


def _enum_reserves(enum: descriptor_pb2.EnumDescriptorProto, name: str, number: int) -> bool:
    in_range = any(r.start <= number <= r.end for r in enum.reserved_range)  # end inclusive
    return in_range and name in enum.reserved_name


@pytest.mark.parametrize(
    ("message", "name", "number", "signature"),
    PINNED_FIELDS,
    ids=[f"{row[0]}.{row[1]}" for row in PINNED_FIELDS],
)
def test_pinned_field_keeps_number_and_type_or_is_reserved(
    message: str, name: str, number: int, signature: str
) -> None:
    descriptor = _messages()[message]
    fields = {field.number: field for field in descriptor.field}
    field = fields.get(number)
    if field is None:
        assert _message_reserves(descriptor, name, number), (
            f"{message}.{name} = {number} was removed without `reserved {number};` and "
            f'`reserved "{name}";`'
        )
        return
    assert (field.name, _signature(field, descriptor)) == (name, signature)


def test_every_field_is_pinned() -> None:
    pinned = {(message, name, number) for message, name, number, _ in PINNED_FIELDS}
    current = {
        (message_name, field.name, field.number)
        for message_name, message in _messages().items()
        for field in message.field
    }

    assert current - pinned == set(), "add a PINNED_FIELDS row for each new field"


def test_pinned_rows_are_unique() -> None:
    keys = [(message, number) for message, _, number, _ in PINNED_FIELDS]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    ("enum", "name", "number"),
    PINNED_ENUM_VALUES,
    ids=[row[1] for row in PINNED_ENUM_VALUES],
)
def test_pinned_enum_value_keeps_its_number_or_is_reserved(
    enum: str, name: str, number: int
) -> None:
    descriptor = _enums()[enum]
    values = {value.name: value.number for value in descriptor.value}
    if name not in values:
        assert _enum_reserves(descriptor, name, number), f"{name} removed without reserving"
        return
    assert values[name] == number


def test_every_enum_value_is_pinned() -> None:
    pinned = {(enum, name) for enum, name, _ in PINNED_ENUM_VALUES}
    current = {(name, value.name) for name, enum in _enums().items() for value in enum.value}

    assert current - pinned == set(), "add a PINNED_ENUM_VALUES row for each new value"


def test_rpc_paths_and_types_are_pinned() -> None:
    current = {
        (
            f"/{file.package}.{service.name}/{method.name}",
            method.input_type.lstrip("."),
            method.output_type.lstrip("."),
            method.client_streaming,
            method.server_streaming,
        )
        for file in _files()
        for service in file.service
        for method in service.method
    }

    assert set(PINNED_RPCS) <= current, "an RPC changed its path, types or streaming"
    assert current - set(PINNED_RPCS) == set(), "add a PINNED_RPCS row for each new RPC"


def _ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def test_an_old_edge_hello_still_parses() -> None:
    message = link_pb2.EdgeMessage.FromString(bytes.fromhex(OLD_EDGE_HELLO))

    assert message.WhichOneof("body") == "hello"
    hello = message.hello
    assert (hello.site_id, hello.edge_version, hello.protocol_version) == (SITE_ID, "0.4.0", 1)
    assert hello.last_acked_batch_id == "b-41"
    assert hello.sent_at.ToDatetime(dt.UTC) == _ts("2026-03-01T09:00:00+00:00")


def test_an_old_edge_event_batch_still_parses_with_full_detail() -> None:
    message = link_pb2.EdgeMessage.FromString(bytes.fromhex(OLD_EDGE_BATCH))

    assert message.WhichOneof("body") == "event_batch"
    batch = message.event_batch
    assert batch.batch_id == "b-42"
    [item] = batch.items
    assert item.outbox_id == 1001
    assert item.WhichOneof("payload") == "event"
    event = item.event
    assert (event.id, event.type, event.source_kind, event.source_id) == (
        EVENT_ID,
        "interaction_detected",
        "camera",
        "front",
    )
    assert event.started_at.ToDatetime(dt.UTC) == _ts("2026-03-01T09:00:00+00:00")
    assert event.ended_at.ToDatetime(dt.UTC) == _ts("2026-03-01T09:00:06.5+00:00")
    assert event.created_at.ToDatetime(dt.UTC) == _ts("2026-03-01T09:00:00.25+00:00")
    assert event.updated_at.ToDatetime(dt.UTC) == _ts("2026-03-01T09:00:07+00:00")
    assert (event.person_count, event.best_score, event.version) == (2, 0.91, 3)
    assert json.loads(event.details_json) == {
        "boxes": [[10, 20, 50, 80]],
        "zone": "shelf",
        "state": "ended",
    }


def test_fields_of_a_newer_edge_are_ignored_but_kept() -> None:
    raw = bytes.fromhex(NEWER_EDGE_BATCH)
    message = link_pb2.EdgeMessage.FromString(raw)

    event = message.event_batch.items[0].event
    assert (event.id, event.version, event.person_count) == (EVENT_ID, 3, 2)
    assert message.event_batch.items[0].outbox_id == 1002
    # A relay that re-serialises the message passes the unknown field on untouched.
    assert message.SerializeToString(deterministic=True) == raw

    hello = link_pb2.EdgeMessage.FromString(bytes.fromhex(NEWER_EDGE_HELLO)).hello
    assert (hello.site_id, hello.edge_version, hello.protocol_version) == (SITE_ID, "0.9.0", 1)


def test_a_command_unknown_to_an_old_edge_has_no_action() -> None:
    message = link_pb2.RelayMessage.FromString(bytes.fromhex(NEWER_RELAY_COMMAND))

    assert message.WhichOneof("body") == "command"
    assert message.command.command_id == "c-7"
    assert message.command.WhichOneof("action") is None


def test_a_media_kind_unknown_to_an_old_edge_is_kept_as_its_number() -> None:
    message = link_pb2.RelayMessage.FromString(bytes.fromhex(NEWER_RELAY_STREAM_CLIP))

    clip = message.command.stream_clip
    assert clip.event_id == "e-1"
    assert clip.kind == 4
    assert clip.kind not in link_pb2.MediaKind.values()


def test_link_event_mirrors_the_edge_outbox_payload() -> None:
    from guardian.edge.events.store import event_json
    from guardian.edge.store.tables import Event

    now = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    row = Event(
        id=EVENT_ID,
        type="interaction_detected",
        source_kind="camera",
        source_id="front",
        started_at=now,
        ended_at=now,
        person_count=1,
        best_score=0.5,
        details={},
        created_at=now,
        updated_at=now,
        version=1,
    )
    payload_keys = set(event_json(row)) - {"details"} | {"details_json"}

    assert {field.name for field in link_pb2.Event.DESCRIPTOR.fields} == payload_keys


def _literal_values(annotation: object) -> set[str]:
    return {str(value) for value in typing.get_args(annotation)}


def _enum_words(enum: typing.Any, prefix: str) -> set[str]:
    return {
        name.removeprefix(prefix).lower()
        for name in enum.keys()
        if not name.endswith("UNSPECIFIED")
    }


def test_event_summary_mirrors_the_control_plane_ingest_json() -> None:
    from guardian.control.inventory.schemas import EventSummaryIn, IngestStatus

    fields = EventSummaryIn.model_fields
    assert {field.name for field in control_pb2.EventSummary.DESCRIPTOR.fields} == set(fields)
    assert _enum_words(control_pb2.Confidence, "CONFIDENCE_") == _literal_values(
        fields["confidence"].annotation
    )
    assert _enum_words(control_pb2.EventState, "EVENT_STATE_") == _literal_values(
        fields["state"].annotation
    )
    assert _enum_words(control_pb2.SourceKind, "SOURCE_KIND_") == _literal_values(
        fields["source_kind"].annotation
    )
    assert _enum_words(control_pb2.SummaryStatus, "SUMMARY_STATUS_") == _literal_values(
        IngestStatus
    )
