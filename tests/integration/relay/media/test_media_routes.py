"""The relay's media routes in-process, with an edge played by a thread on the real channels.

The "edge" takes StreamClip commands from the site's registered inbox (as a link stream
would), cuts the file with the edge's own ``clip_chunks`` and feeds ``MediaUploads.receive``
(as ``UploadClip`` would), then answers with a CommandResult. The control plane's keys come
from a JWKS document through an httpx transport. Covered here (the process-level test
covers the rest): the relay's disk cache, an edge error (404), a silent edge (504), a
missing event, a token for another tenant, a disabled relay (no JWKS URL), CORS preflight.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from guardian.common.jwks import JwksCache
from guardian.contracts import playback
from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.control.auth.keys import public_jwk_of
from guardian.edge.link.media import clip_chunks
from guardian.relay.app import create_app
from guardian.relay.context import RelayContext
from guardian.relay.media.config import RelayMediaSettings
from guardian.relay.pki import CertificateAuthority, EdgeIdentity
from guardian.relay.store.cache import store_batch
from tests.relay_fixtures import RelayDb

SITE, TENANT = str(uuid.uuid4()), str(uuid.uuid4())
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = public_jwk_of(KEY.public_key())["kid"]


class _Aborted(Exception):
    pass


class _Context:
    """The part of ``grpc.ServicerContext`` the upload uses."""

    def abort(self, code: Any, details: str) -> NoReturn:
        raise _Aborted(details)


class ScriptedEdge(threading.Thread):
    """Answers StreamClip commands for ``files`` (kind -> path); ``silent`` answers nothing."""

    def __init__(self, ctx: RelayContext, files: dict[int, Path]) -> None:
        super().__init__(daemon=True)
        self.ctx, self.files = ctx, files
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.silent = False
        self.commands = 0
        ctx.commands.register(SITE, self.inbox)

    def run(self) -> None:
        identity = EdgeIdentity(SITE, TENANT, "01")
        while (command := self.inbox.get()) is not None:
            self.commands += 1
            if self.silent:
                continue
            request = command.stream_clip
            path = self.files.get(request.kind)
            if path is None:
                result = link_pb2.CommandResult(command_id=command.command_id, error="no clip")
            else:
                chunks = clip_chunks(path, command.command_id, request, "video/mp4")
                self.ctx.uploads.receive(identity, chunks, _Context())  # type: ignore[arg-type]
                result = link_pb2.CommandResult(command_id=command.command_id, ok=True)
            self.ctx.commands.result(result)

    def stop(self) -> None:
        self.ctx.commands.unregister(SITE, self.inbox)
        self.inbox.put(None)


def _jwks(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"keys": [public_jwk_of(KEY.public_key())]})


def _token(event_id: str, kind: playback.MediaKind = "clip", tenant: str = TENANT) -> str:
    claims = playback.claims(
        issuer="https://control.example", tenant_id=tenant, event_id=event_id, kind=kind,
        filename=f"door-{kind}.mp4", now=time.time(), lifetime_seconds=60,
    )  # fmt: skip
    return playback.sign(claims, KEY, KID)


@pytest.fixture
def relay(sqlite_relay_db: RelayDb) -> Iterator[tuple[RelayContext, TestClient, str]]:
    settings = sqlite_relay_db.settings.model_copy(
        update={
            "media": RelayMediaSettings(
                jwks_url="https://control.example/.well-known/jwks.json",
                cache_seconds=60,
                first_byte_seconds=0.5,
                cors_origins=["https://ui.example"],
            )
        }
    )
    ca = CertificateAuthority.load_or_create(settings.data_dir / "ca", name="relay test")
    ctx = RelayContext(settings, sqlite_relay_db.engine, ca, None)
    now = dt.datetime.now(dt.UTC)
    event_id = str(uuid.uuid4())
    event = {
        "id": event_id, "type": "interaction_detected", "source_kind": "camera",
        "source_id": "door", "started_at": now.isoformat(), "ended_at": now.isoformat(),
        "person_count": 1, "best_score": 0.9, "version": 1,
        "details": {"label": "person", "state": "ended", "best_box": [1, 2, 30, 40]},
    }  # fmt: skip
    with ctx.sessions.begin() as session:
        store_batch(session, TENANT, SITE, [event], now)
    app = create_app(ctx)
    app.state.media.keys = JwksCache(
        "https://control.example/.well-known/jwks.json",
        cache_seconds=600,
        clock=time.monotonic,
        transport=httpx.MockTransport(_jwks),
    )
    with TestClient(app) as client:
        yield ctx, client, event_id


def test_a_whole_download_fills_the_cache_and_later_ranges_skip_the_edge(
    relay: tuple[RelayContext, TestClient, str], tmp_path: Path
) -> None:
    ctx, client, event_id = relay
    clip = tmp_path / "clip.mp4"
    data = bytes(range(256)) * 4000  # 1,024,000 bytes: four 256 KiB chunks
    clip.write_bytes(data)
    edge = ScriptedEdge(ctx, {link_pb2.MEDIA_KIND_CLIP: clip})
    edge.start()
    try:
        url = f"/v1/media/{event_id}/clip?token={_token(event_id)}"
        origin = {"Origin": "https://ui.example"}
        first = client.get(url, headers=origin)
        assert first.status_code == 200 and first.content == data
        assert first.headers["access-control-allow-origin"] == "https://ui.example"
        assert first.headers["content-disposition"] == 'inline; filename="door-clip.mp4"'
        asked = edge.commands
        part = client.get(url, headers={"Range": "bytes=5-9"})
        assert (part.status_code, part.content) == (206, data[5:10])
        assert part.headers["content-range"] == f"bytes 5-9/{len(data)}"
        assert client.get(url, headers={"Range": "bytes=2000000-"}).status_code == 416
        assert client.head(url).headers["content-length"] == str(len(data))
        assert edge.commands == asked  # all of it from the relay's cache
        # Snapshot: the edge has none (404, a download error is not an attachment); boxes.
        snap = f"/v1/media/{event_id}/snapshot?token={_token(event_id, 'snapshot')}&download=1"
        missing = client.get(snap)
        assert missing.status_code == 404
        assert missing.json()["error"] == {"code": "no_media", "message": "no clip"}
        assert "content-disposition" not in missing.headers
        boxes = client.get(f"/v1/media/{event_id}/boxes?token={_token(event_id, 'snapshot')}")
        assert boxes.json()["boxes"][0]["box"] == [1.0, 2.0, 30.0, 40.0]
        # Preflight for a cross-origin Range request.
        preflight = client.options(url, headers={**origin, "Access-Control-Request-Method": "GET"})
        assert preflight.status_code == 204
        assert "Range" in preflight.headers["access-control-allow-headers"]
    finally:
        edge.stop()


def test_silent_edge_unknown_event_and_foreign_tenant(
    relay: tuple[RelayContext, TestClient, str],
) -> None:
    ctx, client, event_id = relay
    edge = ScriptedEdge(ctx, {})
    edge.silent = True
    edge.start()
    try:
        started = time.monotonic()
        stalled = client.get(f"/v1/media/{event_id}/clip?token={_token(event_id)}")
        assert stalled.status_code == 504
        assert stalled.json()["error"]["code"] == "edge_timeout"
        assert time.monotonic() - started < 5
        other = str(uuid.uuid4())
        assert client.get(f"/v1/media/{other}/clip?token={_token(other)}").status_code == 404
        foreign = client.get(f"/v1/media/{event_id}/clip?token={_token(event_id, tenant='t2')}")
        assert foreign.status_code == 403
        assert client.get(f"/v1/media/{event_id}/thumbnail?token=x").status_code == 404
    finally:
        edge.stop()
    # No link stream any more: 503 at once.
    offline = client.get(f"/v1/media/{event_id}/clip?token={_token(event_id)}")
    assert (offline.status_code, offline.json()["error"]["code"]) == (503, "edge_offline")


def test_without_a_jwks_url_playback_is_off(sqlite_relay_db: RelayDb) -> None:
    settings = sqlite_relay_db.settings
    ca = CertificateAuthority.load_or_create(settings.data_dir / "ca", name="relay test")
    client = TestClient(create_app(RelayContext(settings, sqlite_relay_db.engine, ca, None)))
    got = client.get(f"/v1/media/{uuid.uuid4()}/clip?token=x")
    assert (got.status_code, got.json()["error"]["code"]) == (503, "playback_disabled")
