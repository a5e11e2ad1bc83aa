"""A transfer between the upload thread and the HTTP response: order, errors, stalls."""

from __future__ import annotations

import asyncio
import threading

import pytest

from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.relay.media.transfer import Transfer, TransferError


def _chunk(offset: int, data: bytes, total: int, last: bool = False) -> link_pb2.ClipChunk:
    return link_pb2.ClipChunk(
        event_id="e1", command_id="c1", offset=offset, data=data, last=last,
        total_size=total, content_type="video/mp4",
    )  # fmt: skip


def test_chunks_arrive_in_order_while_the_edge_is_still_sending() -> None:
    transfer = Transfer("c1", "s1", "e1")
    data = bytes(range(256)) * 40
    pieces = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    started = threading.Event()

    def edge() -> None:
        started.wait(5)
        for i, piece in enumerate(pieces):
            assert transfer.offer(_chunk(i * 1000, piece, len(data), i == len(pieces) - 1), 5)

    async def response() -> bytes:
        started.set()  # the response waits before the first chunk comes
        head = await transfer.head(5)
        assert (head.total_size, head.content_type, head.offset) == (len(data), "video/mp4", 0)
        got = b""
        while (part := await transfer.next_data(5, most=3000)) is not None:
            assert len(part) <= 3000 + 1000
            got += part
        assert await transfer.next_data(5) is None
        return got

    thread = threading.Thread(target=edge)
    thread.start()
    assert asyncio.run(response()) == data
    thread.join()
    assert transfer.received == len(data)


def test_an_edge_error_is_a_404_and_silence_a_504() -> None:
    failing = Transfer("c1", "s1", "e1")
    failing.fail("no clip of event e1 on this edge")
    with pytest.raises(TransferError, match="no clip") as caught:
        asyncio.run(failing.head(5))
    assert (caught.value.status, caught.value.code) == (404, "no_media")
    silent = Transfer("c2", "s1", "e1")
    with pytest.raises(TransferError) as stalled:
        asyncio.run(silent.head(0.3))
    assert (stalled.value.status, stalled.value.code) == (504, "edge_timeout")


def test_an_error_wakes_a_waiting_response_after_the_data_that_came() -> None:
    transfer = Transfer("c1", "s1", "e1")
    assert transfer.offer(_chunk(0, b"abc", 10), 1)

    async def response() -> bytes:
        await transfer.head(5)
        first = await transfer.next_data(5)
        assert first is not None
        threading.Timer(0.1, transfer.fail, ["read error"]).start()
        await transfer.next_data(30)  # woken by fail(), long before 30 s
        return first

    with pytest.raises(TransferError, match="read error") as caught:
        asyncio.run(response())
    assert caught.value.status == 404


def test_a_gone_or_stalled_reader_ends_the_upload() -> None:
    transfer = Transfer("c1", "s1", "e1", max_bytes=300)
    for i in range(3):
        assert transfer.offer(_chunk(i * 100, b"x" * 100, 1000), 1)
    assert not transfer.offer(_chunk(300, b"x" * 100, 1000), 0.3)  # nobody reads: full
    assert asyncio.run(transfer.next_data(1, most=100)) == b"x" * 100
    assert transfer.offer(_chunk(300, b"x" * 100, 1000), 0.3)  # room again
    transfer.cancel()
    assert transfer.cancelled
    assert not transfer.offer(_chunk(400, b"x" * 100, 1000), 5)
