"""Outbox rows to EventBatches and acks to deletions (pure)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.edge.link.media import CHUNK_BYTES, clip_chunks
from guardian.edge.link.outbox import (
    EVENT_TOPIC,
    OutboxDepth,
    OutboxRow,
    PayloadError,
    build_batch,
    deletable_ids,
    event_from_payload,
    payload_from_event,
)

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=dt.UTC)


def payload(event_id: str = "e-1", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": event_id,
        "type": "interaction_detected",
        "source_kind": "camera",
        "source_id": "shop-door",
        "started_at": T0.isoformat(),
        "ended_at": (T0 + dt.timedelta(seconds=12)).isoformat(),
        "person_count": 2,
        "best_score": 0.8125,
        "details": {
            "zone": "shelf",
            "boxes": [[0.1, 0.2, 0.3, 0.4]],
            "scores": [0.8125],
            "nested": {"ünïcode": "✓", "n": None},
        },
        "created_at": T0.isoformat(),
        "updated_at": (T0 + dt.timedelta(seconds=13)).isoformat(),
        "version": 3,
    }
    return base | overrides


def row(row_id: int, data: dict[str, Any] | None = None, topic: str = EVENT_TOPIC) -> OutboxRow:
    return OutboxRow(row_id, topic, f"e-{row_id}", data or payload(f"e-{row_id}"), T0)


def test_event_round_trip_keeps_every_field_and_details_json_intact() -> None:
    original = payload()

    event = event_from_payload(original)
    wire = link_pb2.Event.FromString(event.SerializeToString())

    assert json.loads(wire.details_json) == original["details"]
    assert payload_from_event(wire) == original


def test_naive_times_are_read_as_utc() -> None:
    naive = payload(started_at="2026-03-01T12:00:00")

    event = event_from_payload(naive)

    assert event.started_at.ToDatetime(tzinfo=dt.UTC) == dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", None), ("started_at", "yesterday"), ("person_count", "many")],
)
def test_malformed_payloads_raise_payload_error(field: str, value: object) -> None:
    bad = payload()
    if value is None:
        del bad[field]
    else:
        bad[field] = value

    with pytest.raises(PayloadError):
        event_from_payload(bad)


def test_batch_is_in_outbox_id_order_whatever_the_input_order() -> None:
    rows = [row(7), row(3), row(5), row(4)]

    prepared = build_batch("b-1", rows)

    assert prepared.batch.batch_id == "b-1"
    assert prepared.sent_ids == (3, 4, 5, 7)
    assert [i.outbox_id for i in prepared.batch.items] == [3, 4, 5, 7]
    assert [i.event.id for i in prepared.batch.items] == ["e-3", "e-4", "e-5", "e-7"]
    assert prepared.unsendable == ()


def test_rows_that_do_not_encode_are_set_apart_not_sent() -> None:
    rows = [row(1), row(2, topic="camera.config"), row(3, {"id": "x"})]

    prepared = build_batch("b", rows)

    assert prepared.sent_ids == (1,)
    assert [row_id for row_id, _ in prepared.unsendable] == [2, 3]
    assert "unknown outbox topic" in prepared.unsendable[0][1]


def test_only_sent_rows_that_were_acked_or_rejected_may_be_deleted() -> None:
    ack = link_pb2.Ack(
        batch_id="b",
        outbox_ids=[1, 2, 99],  # 99 was never sent in this batch: never delete it
        rejected=[link_pb2.Rejection(outbox_id=4, reason="malformed")],
    )

    assert deletable_ids([1, 2, 3, 4], ack) == [1, 2, 4]
    assert deletable_ids([1, 2], link_pb2.Ack(batch_id="b")) == []


def test_outbox_depth_age() -> None:
    now = T0 + dt.timedelta(seconds=90)

    assert OutboxDepth(0, None).oldest_age_s(now) == 0.0
    assert OutboxDepth(3, T0).oldest_age_s(now) == pytest.approx(90.0)


@pytest.mark.parametrize(
    ("size", "offset", "length"),
    [(0, 0, 0), (10, 0, 0), (CHUNK_BYTES * 2 + 5, 0, 0), (CHUNK_BYTES + 9, 100, 0), (5000, 10, 7)],
)
def test_clip_chunks_cover_the_requested_range_exactly_once(
    tmp_path: Path, size: int, offset: int, length: int
) -> None:
    data = bytes(i % 251 for i in range(size))
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    request = link_pb2.StreamClip(event_id="e", kind=link_pb2.MEDIA_KIND_CLIP, offset=offset)
    request.length = length

    chunks = list(clip_chunks(path, "c-1", request, "video/mp4"))

    end = size if length == 0 else min(size, offset + length)
    assert b"".join(c.data for c in chunks) == data[offset:end]
    assert [c.last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert all(len(c.data) <= CHUNK_BYTES for c in chunks)
    assert all(c.total_size == size and c.command_id == "c-1" for c in chunks)
    assert chunks[0].offset == min(offset, size)
