"""The relay's ``Archive`` service on its link port: who may call, what it refuses."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from guardian.archive.cid import cid_of_bytes
from guardian.contracts.pb.guardian.v1 import archive_pb2, archive_pb2_grpc
from guardian.edge.link.identity import EdgeIdentityFiles
from guardian.relay.context import RelayContext
from guardian.relay.enroll import control_redeemer
from guardian.relay.link_server import LinkServer
from guardian.relay.pki import CertificateAuthority
from tests.archive_fixtures import enroll_edge, stop_link
from tests.relay_fixtures import RelayDb

TENANT_A, TENANT_B = str(uuid.uuid4()), str(uuid.uuid4())
TIMEOUT = 10.0


@pytest.fixture
def ctx(sqlite_relay_db: RelayDb) -> RelayContext:
    settings = sqlite_relay_db.settings.model_copy(update={"link_port": 0})
    ca = CertificateAuthority.load_or_create(settings.data_dir / "ca", name="relay test")
    return RelayContext(settings, sqlite_relay_db.engine, ca, None)


@pytest.fixture
def link(ctx: RelayContext) -> Iterator[LinkServer]:
    server = LinkServer(ctx, control_redeemer(None), workers=4)
    server.start()
    yield server
    stop_link(server)


def _edge_channel(link: LinkServer, ctx: RelayContext, home: Path, tenant: str) -> grpc.Channel:
    directory = enroll_edge(
        ctx.ca, home, f"127.0.0.1:{link.port}", site_id=str(uuid.uuid4()), tenant_id=tenant
    )
    files = EdgeIdentityFiles(directory)
    creds = grpc.ssl_channel_credentials(
        ctx.ca.cert_pem, files.key_path.read_bytes(), files.cert_path.read_bytes()
    )
    return grpc.secure_channel(f"127.0.0.1:{link.port}", creds)


def _anonymous_channel(link: LinkServer, ctx: RelayContext) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(ctx.ca.cert_pem)
    return grpc.secure_channel(f"127.0.0.1:{link.port}", creds)


def _upload(
    channel: grpc.Channel, data: bytes, *, cid: str | None = None, size: int | None = None
) -> archive_pb2.UploadReceipt:
    start = archive_pb2.UploadStart(
        event_id=str(uuid.uuid4()),
        cid=cid or cid_of_bytes(data),
        size=len(data) if size is None else size,
    )
    requests = [archive_pb2.UploadRequest(start=start)] + [
        archive_pb2.UploadRequest(data=data[i : i + 65536]) for i in range(0, len(data), 65536)
    ]
    stub = archive_pb2_grpc.ArchiveStub(channel)
    receipt: archive_pb2.UploadReceipt = stub.Upload(iter(requests), timeout=TIMEOUT)
    return receipt


def _get(channel: grpc.Channel, cid: str, metadata: tuple[tuple[str, str], ...] = ()) -> bytes:
    stub = archive_pb2_grpc.ArchiveStub(channel)
    chunks = stub.Get(archive_pb2.GetBlobRequest(cid=cid), timeout=TIMEOUT, metadata=metadata)
    return b"".join(c.data for c in chunks)


def _code(call: object) -> grpc.StatusCode:
    assert isinstance(call, grpc.RpcError) and isinstance(call, grpc.Call)
    return call.code()


def _details(call: object) -> str:
    assert isinstance(call, grpc.Call)
    return str(call.details())


def test_upload_get_stat_and_dedupe(link: LinkServer, ctx: RelayContext, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    with _edge_channel(link, ctx, tmp_path / "a", TENANT_A) as channel:
        receipt = _upload(channel, data)
        again = _upload(channel, data)
        fetched = _get(channel, receipt.cid)
        stat = archive_pb2_grpc.ArchiveStub(channel).Stat(
            archive_pb2.StatRequest(cid=receipt.cid), timeout=TIMEOUT
        )

    assert receipt.cid == cid_of_bytes(data) and receipt.size == len(data)
    assert not receipt.already_stored and again.already_stored
    assert again.used_bytes == len(data)  # stored once
    assert receipt.quota_bytes == ctx.settings.archive.default_quota_bytes
    assert hashlib.sha256(fetched).digest() == hashlib.sha256(data).digest()
    assert (stat.exists, stat.size, stat.used_bytes) == (True, len(data), len(data))


def test_bad_uploads_are_refused_and_nothing_is_kept(
    link: LinkServer, ctx: RelayContext, tmp_path: Path
) -> None:
    data = b"sealed blob bytes" * 100
    with _edge_channel(link, ctx, tmp_path / "a", TENANT_A) as channel:
        for kwargs, message in [
            ({"cid": cid_of_bytes(b"other")}, "hash to"),
            ({"size": len(data) + 1}, "received"),
            ({"size": 5}, "more bytes"),
            ({"cid": "Qmnotacid"}, "CID"),
        ]:
            with pytest.raises(grpc.RpcError) as caught:
                _upload(channel, data, **kwargs)  # type: ignore[arg-type]
            assert _code(caught.value) == grpc.StatusCode.INVALID_ARGUMENT
            assert message in _details(caught.value)
        stat = archive_pb2_grpc.ArchiveStub(channel).Stat(archive_pb2.StatRequest(), timeout=5)
    assert stat.used_bytes == 0
    assert not list((ctx.settings.data_dir / "archive" / "incoming").iterdir())


def test_over_quota_is_resource_exhausted(
    link: LinkServer, ctx: RelayContext, tmp_path: Path
) -> None:
    ctx.settings.archive.default_quota_bytes = 1000
    with _edge_channel(link, ctx, tmp_path / "a", TENANT_A) as channel:
        _upload(channel, b"a" * 600)
        with pytest.raises(grpc.RpcError) as caught:
            _upload(channel, b"b" * 600)
    assert _code(caught.value) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "archive quota exceeded" in _details(caught.value)


def test_tenants_see_only_their_blobs_and_admins_see_all(
    link: LinkServer, ctx: RelayContext, tmp_path: Path
) -> None:
    data = b"tenant a's sealed clip"
    with _edge_channel(link, ctx, tmp_path / "a", TENANT_A) as channel:
        cid = _upload(channel, data).cid
    with _edge_channel(link, ctx, tmp_path / "b", TENANT_B) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            _get(channel, cid)
        assert _code(caught.value) == grpc.StatusCode.NOT_FOUND
    with _anonymous_channel(link, ctx) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            _get(channel, cid)
        assert _code(caught.value) == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as caught:
            _get(channel, cid, (("authorization", "Bearer gra_wrong"),))
        assert _code(caught.value) == grpc.StatusCode.UNAUTHENTICATED
        token = ctx.admin_tokens.create()
        assert _get(channel, cid, (("authorization", f"Bearer {token}"),)) == data
        with pytest.raises(grpc.RpcError) as caught:  # admins restore, never upload
            stub = archive_pb2_grpc.ArchiveStub(channel)
            stub.Upload(iter([]), timeout=5, metadata=(("authorization", f"Bearer {token}"),))
        assert _code(caught.value) == grpc.StatusCode.UNAUTHENTICATED


def test_a_relay_restart_mid_upload_keeps_nothing_and_the_retry_lands(
    ctx: RelayContext, tmp_path: Path
) -> None:
    server = LinkServer(ctx, control_redeemer(None), workers=4)
    server.start()
    port = server.port
    data = os.urandom(2 * 1024 * 1024)
    cid = cid_of_bytes(data)
    half_sent, release = threading.Event(), threading.Event()

    def stalled() -> Iterator[archive_pb2.UploadRequest]:
        start = archive_pb2.UploadStart(event_id=str(uuid.uuid4()), cid=cid, size=len(data))
        yield archive_pb2.UploadRequest(start=start)
        yield archive_pb2.UploadRequest(data=data[: len(data) // 2])
        half_sent.set()
        release.wait(10)
        yield archive_pb2.UploadRequest(data=data[len(data) // 2 :])

    incoming = ctx.settings.data_dir / "archive" / "incoming"
    with _edge_channel(server, ctx, tmp_path / "a", TENANT_A) as channel:
        stub = archive_pb2_grpc.ArchiveStub(channel)
        future = stub.Upload.future(stalled(), timeout=TIMEOUT)
        assert half_sent.wait(10)
        deadline = time.monotonic() + 10
        while not list(incoming.glob("*.part")) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list(incoming.glob("*.part")), "the relay was receiving"
        # The relay's servicers die mid-upload (the TLS front then drops the connection).
        server.grpc_server.stop(0).wait()
        release.set()
        with pytest.raises(grpc.RpcError):
            future.result()
    stop_link(server)

    restarted = LinkServer(
        ctx.__class__(
            ctx.settings.model_copy(update={"link_port": port}), ctx.engine, ctx.ca, None
        ),
        control_redeemer(None),
        workers=4,
    )
    restarted.start()
    try:
        assert not list(incoming.glob("*.part"))
        with _edge_channel(restarted, ctx, tmp_path / "b", TENANT_A) as channel:
            stat = archive_pb2_grpc.ArchiveStub(channel).Stat(
                archive_pb2.StatRequest(cid=cid), timeout=TIMEOUT
            )
            assert (stat.exists, stat.used_bytes) == (False, 0)
            receipt = _upload(channel, data)
        assert (receipt.cid, receipt.already_stored) == (cid, False)
    finally:
        stop_link(restarted)
