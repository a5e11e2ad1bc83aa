"""The generated gRPC stubs carry the link over a real server on loopback (no TLS here)."""

from __future__ import annotations

import hashlib
import queue
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from guardian.contracts.pb.guardian.v1 import (
    control_pb2,
    control_pb2_grpc,
    link_pb2,
    link_pb2_grpc,
)

EVENT_ID = "5f0c6a53-8a8e-4c4e-9d0e-3f1b9a7c2d10"
SITE_ID = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
CHUNK = 64 * 1024
TIMEOUT_S = 10.0


class FakeRelay(link_pb2_grpc.EdgeLinkServicer, link_pb2_grpc.EnrollmentServicer):
    """A relay that acks everything, asks for one clip and honours each token once."""

    def __init__(self) -> None:
        self.events: dict[str, link_pb2.Event] = {}
        self.results: list[link_pb2.CommandResult] = []
        self.clips: dict[str, bytes] = {}
        self.tokens = {"boot-1"}

    def Connect(
        self, request_iterator: Iterator[link_pb2.EdgeMessage], context: grpc.ServicerContext
    ) -> Iterator[link_pb2.RelayMessage]:
        for message in request_iterator:
            body = message.WhichOneof("body")
            if body == "hello":
                yield link_pb2.RelayMessage(
                    welcome=link_pb2.Welcome(
                        relay_id="relay-1", heartbeat_interval_s=5, protocol_version=1
                    )
                )
                clip = link_pb2.StreamClip(event_id=EVENT_ID, kind=link_pb2.MEDIA_KIND_CLIP)
                yield link_pb2.RelayMessage(
                    command=link_pb2.Command(command_id="c-1", stream_clip=clip)
                )
            elif body == "event_batch":
                batch = message.event_batch
                for item in batch.items:
                    self.events[item.event.id] = item.event
                ack = link_pb2.Ack(
                    batch_id=batch.batch_id, outbox_ids=[item.outbox_id for item in batch.items]
                )
                yield link_pb2.RelayMessage(ack=ack)
            elif body == "heartbeat":
                yield link_pb2.RelayMessage(heartbeat=link_pb2.Heartbeat(seq=message.heartbeat.seq))
            elif body == "command_result":
                self.results.append(message.command_result)

    def UploadClip(
        self, request_iterator: Iterator[link_pb2.ClipChunk], context: grpc.ServicerContext
    ) -> link_pb2.ClipReceipt:
        data = bytearray()
        last = link_pb2.ClipChunk()
        for chunk in request_iterator:
            if chunk.offset != len(data):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "chunks out of order")
            data += chunk.data
            last = chunk
        self.clips[last.event_id] = bytes(data)
        return link_pb2.ClipReceipt(
            event_id=last.event_id,
            command_id=last.command_id,
            received_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            complete=last.last and len(data) == last.total_size,
        )

    def Enroll(
        self, request: link_pb2.EnrollRequest, context: grpc.ServicerContext
    ) -> link_pb2.EnrollResponse:
        if request.bootstrap_token not in self.tokens:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "unknown or used token")
        self.tokens.discard(request.bootstrap_token)
        return link_pb2.EnrollResponse(
            certificate_chain_pem="CERT", ca_pem="CA", site_id=SITE_ID, relay_id="relay-1"
        )


class FakeControl(control_pb2_grpc.ControlLinkServicer):
    """A control plane that creates each new id and rejects summaries without a tenant."""

    def __init__(self) -> None:
        self.summaries: dict[str, control_pb2.EventSummary] = {}

    def PushSummaries(
        self, request: control_pb2.SummaryBatch, context: grpc.ServicerContext
    ) -> control_pb2.SummaryAck:
        results = []
        for summary in request.events:
            if not summary.tenant_id:
                status, reason = control_pb2.SUMMARY_STATUS_REJECTED, "no tenant"
            elif summary.id in self.summaries:
                status, reason = control_pb2.SUMMARY_STATUS_UNCHANGED, ""
            else:
                self.summaries[summary.id] = summary
                status, reason = control_pb2.SUMMARY_STATUS_CREATED, ""
            results.append(control_pb2.SummaryResult(id=summary.id, status=status, reason=reason))
        return control_pb2.SummaryAck(batch_id=request.batch_id, results=results)

    def PushHealth(
        self, request: control_pb2.HealthReport, context: grpc.ServicerContext
    ) -> control_pb2.HealthAck:
        return control_pb2.HealthAck(
            results=[
                control_pb2.SiteHealthResult(site_id=site.site_id, accepted=True)
                for site in request.sites
            ]
        )


@pytest.fixture
def relay() -> FakeRelay:
    return FakeRelay()


@pytest.fixture
def control() -> FakeControl:
    return FakeControl()


@pytest.fixture
def channel(relay: FakeRelay, control: FakeControl) -> Iterator[grpc.Channel]:
    with futures.ThreadPoolExecutor(max_workers=4) as pool:
        server = grpc.server(pool)
        link_pb2_grpc.add_EdgeLinkServicer_to_server(relay, server)
        link_pb2_grpc.add_EnrollmentServicer_to_server(relay, server)
        control_pb2_grpc.add_ControlLinkServicer_to_server(control, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
                grpc.channel_ready_future(chan).result(timeout=TIMEOUT_S)
                yield chan
        finally:
            server.stop(grace=None).wait(TIMEOUT_S)


def _event(version: int) -> link_pb2.Event:
    event = link_pb2.Event(
        id=EVENT_ID,
        type="interaction_detected",
        source_kind="camera",
        source_id="front",
        person_count=2,
        best_score=0.91,
        details_json='{"boxes": [[10, 20, 50, 80]]}',
        version=version,
    )
    event.started_at.FromJsonString("2026-03-01T09:00:00Z")
    event.ended_at.FromJsonString("2026-03-01T09:00:06.500Z")
    return event


def test_connect_welcomes_sends_a_command_and_acks_a_batch(
    channel: grpc.Channel, relay: FakeRelay
) -> None:
    outgoing: queue.Queue[link_pb2.EdgeMessage | None] = queue.Queue()

    def requests() -> Iterator[link_pb2.EdgeMessage]:
        while (message := outgoing.get(timeout=TIMEOUT_S)) is not None:
            yield message

    stub = link_pb2_grpc.EdgeLinkStub(channel)
    responses = stub.Connect(requests(), timeout=TIMEOUT_S)
    outgoing.put(
        link_pb2.EdgeMessage(
            hello=link_pb2.Hello(site_id=SITE_ID, edge_version="0.4.0", protocol_version=1)
        )
    )
    welcome = next(responses)
    command = next(responses)
    items = [link_pb2.OutboxItem(outbox_id=7, event=_event(1))]
    items.append(link_pb2.OutboxItem(outbox_id=8, event=_event(2)))
    outgoing.put(link_pb2.EdgeMessage(event_batch=link_pb2.EventBatch(batch_id="b-1", items=items)))
    ack = next(responses)
    result = link_pb2.CommandResult(command_id=command.command.command_id, ok=True)
    outgoing.put(link_pb2.EdgeMessage(command_result=result))
    outgoing.put(link_pb2.EdgeMessage(heartbeat=link_pb2.Heartbeat(seq=3)))
    heartbeat = next(responses)
    outgoing.put(None)
    rest = list(responses)

    assert welcome.WhichOneof("body") == "welcome"
    assert (welcome.welcome.relay_id, welcome.welcome.heartbeat_interval_s) == ("relay-1", 5)
    assert command.command.WhichOneof("action") == "stream_clip"
    assert command.command.stream_clip.kind == link_pb2.MEDIA_KIND_CLIP
    assert (ack.ack.batch_id, list(ack.ack.outbox_ids)) == ("b-1", [7, 8])
    assert heartbeat.heartbeat.seq == 3
    assert rest == []
    stored = relay.events[EVENT_ID]
    assert stored.version == 2
    assert stored.details_json == '{"boxes": [[10, 20, 50, 80]]}'
    assert stored.ended_at.ToJsonString() == "2026-03-01T09:00:06.500Z"
    assert [(r.command_id, r.ok) for r in relay.results] == [("c-1", True)]


def test_upload_clip_streams_chunks_and_gets_a_receipt(
    channel: grpc.Channel, relay: FakeRelay
) -> None:
    clip = bytes(range(256)) * 1200  # 300 KiB: five chunks
    total = len(clip)

    def chunks() -> Iterator[link_pb2.ClipChunk]:
        for offset in range(0, total, CHUNK):
            yield link_pb2.ClipChunk(
                event_id=EVENT_ID,
                command_id="c-1",
                offset=offset,
                data=clip[offset : offset + CHUNK],
                last=offset + CHUNK >= total,
                total_size=total,
                content_type="video/mp4",
                kind=link_pb2.MEDIA_KIND_CLIP,
            )

    receipt = link_pb2_grpc.EdgeLinkStub(channel).UploadClip(chunks(), timeout=TIMEOUT_S)

    assert (receipt.event_id, receipt.command_id) == (EVENT_ID, "c-1")
    assert receipt.received_bytes == total
    assert receipt.complete
    assert receipt.sha256 == hashlib.sha256(clip).hexdigest()
    assert relay.clips[EVENT_ID] == clip


def test_upload_clip_with_a_gap_is_refused(channel: grpc.Channel) -> None:
    chunks = [
        link_pb2.ClipChunk(event_id=EVENT_ID, offset=0, data=b"abc", total_size=9),
        link_pb2.ClipChunk(event_id=EVENT_ID, offset=6, data=b"ghi", last=True, total_size=9),
    ]

    with pytest.raises(grpc.RpcError) as caught:
        link_pb2_grpc.EdgeLinkStub(channel).UploadClip(iter(chunks), timeout=TIMEOUT_S)

    assert isinstance(caught.value, grpc.Call)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_enroll_redeems_a_token_once(channel: grpc.Channel) -> None:
    stub = link_pb2_grpc.EnrollmentStub(channel)
    request = link_pb2.EnrollRequest(bootstrap_token="boot-1", csr_pem="CSR")

    response = stub.Enroll(request, timeout=TIMEOUT_S)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Enroll(request, timeout=TIMEOUT_S)

    assert (response.site_id, response.certificate_chain_pem) == (SITE_ID, "CERT")
    assert isinstance(caught.value, grpc.Call)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_push_summaries_answers_per_id_and_keeps_optional_presence(
    channel: grpc.Channel, control: FakeControl
) -> None:
    with_zone = control_pb2.EventSummary(
        id="e-1",
        tenant_id="t-1",
        site_id=SITE_ID,
        source_kind=control_pb2.SOURCE_KIND_CAMERA,
        source_name="front",
        type="interaction_detected",
        zone="shelf",
        dwell_s=0.0,
        confidence=control_pb2.CONFIDENCE_HIGH,
        state=control_pb2.EVENT_STATE_ENDED,
        version=1,
    )
    without_zone = control_pb2.EventSummary(id="e-2", tenant_id="t-1", version=1)
    orphan = control_pb2.EventSummary(id="e-3", version=1)
    stub = control_pb2_grpc.ControlLinkStub(channel)
    batch = control_pb2.SummaryBatch(batch_id="s-1", events=[with_zone, without_zone, orphan])

    first = stub.PushSummaries(batch, timeout=TIMEOUT_S)
    again = stub.PushSummaries(batch, timeout=TIMEOUT_S)

    assert first.batch_id == "s-1"
    assert [(r.id, r.status) for r in first.results] == [
        ("e-1", control_pb2.SUMMARY_STATUS_CREATED),
        ("e-2", control_pb2.SUMMARY_STATUS_CREATED),
        ("e-3", control_pb2.SUMMARY_STATUS_REJECTED),
    ]
    assert [r.status for r in again.results[:2]] == [control_pb2.SUMMARY_STATUS_UNCHANGED] * 2
    stored, bare = control.summaries["e-1"], control.summaries["e-2"]
    assert stored.HasField("dwell_s") and stored.dwell_s == 0.0
    assert stored.HasField("zone") and not stored.HasField("label")
    assert not bare.HasField("zone") and not bare.HasField("dwell_s")


def test_push_health_answers_per_site(channel: grpc.Channel) -> None:
    site = control_pb2.SiteHealth(
        tenant_id="t-1",
        site_id=SITE_ID,
        health=control_pb2.HEALTH_DEGRADED,
        cameras=[control_pb2.CameraHealth(name="front", health=control_pb2.HEALTH_OFFLINE)],
    )

    ack = control_pb2_grpc.ControlLinkStub(channel).PushHealth(
        control_pb2.HealthReport(relay_version="0.4.0", sites=[site]), timeout=TIMEOUT_S
    )

    assert [(r.site_id, r.accepted) for r in ack.results] == [(SITE_ID, True)]
