"""Wire compatibility of archive.proto: pinned field numbers and RPCs, an old upload parses.

Same rules and signatures as ``test_proto_compat``: never change a field's
number, type or label; a removed field is ``reserved``; add a row for every new field.
"""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2

from guardian.contracts.pb.guardian.v1 import archive_pb2

FieldProto = descriptor_pb2.FieldDescriptorProto

PINNED_FIELDS: tuple[tuple[str, str, int, str], ...] = (
    ("UploadRequest", "start", 1, "guardian.v1.UploadStart in body"),
    ("UploadRequest", "data", 2, "bytes in body"),
    ("UploadStart", "event_id", 1, "string"),
    ("UploadStart", "cid", 2, "string"),
    ("UploadStart", "size", 3, "uint64"),
    ("UploadReceipt", "cid", 1, "string"),
    ("UploadReceipt", "size", 2, "uint64"),
    ("UploadReceipt", "already_stored", 3, "bool"),
    ("UploadReceipt", "stored_at", 4, "google.protobuf.Timestamp"),
    ("UploadReceipt", "used_bytes", 5, "uint64"),
    ("UploadReceipt", "quota_bytes", 6, "optional uint64"),
    ("GetBlobRequest", "cid", 1, "string"),
    ("BlobChunk", "data", 1, "bytes"),
    ("StatRequest", "cid", 1, "string"),
    ("StatResponse", "exists", 1, "bool"),
    ("StatResponse", "cid", 2, "string"),
    ("StatResponse", "size", 3, "uint64"),
    ("StatResponse", "stored_at", 4, "google.protobuf.Timestamp"),
    ("StatResponse", "used_bytes", 5, "uint64"),
    ("StatResponse", "quota_bytes", 6, "optional uint64"),
    ("ArchiveReport", "events", 1, "repeated guardian.v1.ArchivedEvent"),
    ("ArchiveReport", "usage", 2, "repeated guardian.v1.TenantArchiveUsage"),
    ("ArchivedEvent", "event_id", 1, "string"),
    ("ArchivedEvent", "tenant_id", 2, "string"),
    ("ArchivedEvent", "cid", 3, "string"),
    ("ArchivedEvent", "size", 4, "uint64"),
    ("ArchivedEvent", "archived_at", 5, "google.protobuf.Timestamp"),
    ("ArchivedEvent", "deleted", 6, "bool"),
    ("TenantArchiveUsage", "tenant_id", 1, "string"),
    ("TenantArchiveUsage", "used_bytes", 2, "uint64"),
    ("ArchiveReportAck", "results", 1, "repeated guardian.v1.ArchivedEventResult"),
    ("ArchiveReportAck", "quotas", 2, "repeated guardian.v1.TenantArchiveQuota"),
    ("ArchivedEventResult", "event_id", 1, "string"),
    ("ArchivedEventResult", "accepted", 2, "bool"),
    ("ArchivedEventResult", "reason", 3, "string"),
    ("TenantArchiveQuota", "tenant_id", 1, "string"),
    ("TenantArchiveQuota", "limit_bytes", 2, "optional uint64"),
)
PINNED_RPCS: tuple[tuple[str, str, str, bool, bool], ...] = (
    (
        "/guardian.v1.Archive/Upload",
        "guardian.v1.UploadRequest",
        "guardian.v1.UploadReceipt",
        True,
        False,
    ),
    (
        "/guardian.v1.Archive/Get",
        "guardian.v1.GetBlobRequest",
        "guardian.v1.BlobChunk",
        False,
        True,
    ),
    (
        "/guardian.v1.Archive/Stat",
        "guardian.v1.StatRequest",
        "guardian.v1.StatResponse",
        False,
        False,
    ),
    (
        "/guardian.v1.ArchiveLedger/Report",
        "guardian.v1.ArchiveReport",
        "guardian.v1.ArchiveReportAck",
        False,
        False,
    ),
)
# An UploadStart as the first archive-speaking edges serialise it (never regenerate).
OLD_UPLOAD_START = (
    "0a670a2435663063366135332d386138652d346334652d396430652d336631623961376332643130"
    "123b6261666b726569626d366a673375783571756d68636e326233666c633374797536646d6c6234"
    "7861377535626634347965676e726a68633479657118c0c407"
)


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
    in_range = any(r.start <= number < r.end for r in message.reserved_range)
    return in_range and name in message.reserved_name


def _file() -> descriptor_pb2.FileDescriptorProto:
    return descriptor_pb2.FileDescriptorProto.FromString(archive_pb2.DESCRIPTOR.serialized_pb)


def _messages() -> dict[str, descriptor_pb2.DescriptorProto]:
    return {message.name: message for message in _file().message_type}


@pytest.mark.parametrize(
    ("message", "name", "number", "signature"),
    PINNED_FIELDS,
    ids=[f"{row[0]}.{row[1]}" for row in PINNED_FIELDS],
)
def test_pinned_field_keeps_number_and_type_or_is_reserved(
    message: str, name: str, number: int, signature: str
) -> None:
    descriptor = _messages()[message]
    field = {f.number: f for f in descriptor.field}.get(number)
    if field is None:
        assert _message_reserves(descriptor, name, number), f"{message}.{name} not reserved"
        return
    assert (field.name, _signature(field, descriptor)) == (name, signature)


def test_every_field_is_pinned() -> None:
    pinned = {(message, number) for message, _, number, _ in PINNED_FIELDS}
    current = {(m.name, f.number) for m in _file().message_type for f in m.field}
    assert current - pinned == set(), "add a PINNED_FIELDS row for each new field"


def test_rpc_paths_and_types_are_pinned() -> None:
    file = _file()
    current = {
        (
            f"/{file.package}.{service.name}/{method.name}",
            method.input_type.lstrip("."),
            method.output_type.lstrip("."),
            method.client_streaming,
            method.server_streaming,
        )
        for service in file.service
        for method in service.method
    }
    assert current == set(PINNED_RPCS)


def test_an_old_upload_start_still_parses() -> None:
    message = archive_pb2.UploadRequest.FromString(bytes.fromhex(OLD_UPLOAD_START))
    assert message.WhichOneof("body") == "start"
    assert message.start.event_id == "5f0c6a53-8a8e-4c4e-9d0e-3f1b9a7c2d10"
    assert message.start.cid == "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
    assert message.start.size == 123456
