"""Clip and snapshot playback through real processes: control plane → token, relay → edge.

One stack, one test (processes take seconds to start) walking the contract: full and
ranged downloads byte-identical to the edge's files, 416, HEAD, the download file name,
resuming a broken transfer by Range, snapshot boxes, refused tokens (tampered, expired,
another event, kind or tenant, an access token) and an offline edge (503).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import jwt
import numpy as np
import pytest

from guardian.bench.clips import make_clip
from guardian.contracts import playback
from tests.e2e.link_harness import LinkStack, open_stack, wait_for
from tests.e2e.media_stack import control_signer, enable_playback, put_media
from tests.pg import MakeDatabase


@pytest.fixture
def stack(tmp_path: Path, pg_database_factory: MakeDatabase) -> Iterator[LinkStack]:
    with open_stack(tmp_path / "stack", pg_database_factory) as running:
        running.setup()
        enable_playback(running)
        running.relay_service.start()
        enrolled = running.enroll()
        assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr
        running.edge.start()
        yield running


def _playback(stack: LinkStack, event_id: str, kind: str, **extra: str) -> httpx.Response:
    return httpx.post(
        f"{stack.control_url}/api/v1/events/{event_id}/playback",
        json={"kind": kind, **extra},
        headers=stack.admin_headers(),
        timeout=10,
    )


def _error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def test_playback_streams_edge_media_through_the_relay(stack: LinkStack, tmp_path: Path) -> None:
    clip_src = make_clip(tmp_path / "clip.mp4", seconds=4, width=320, height=240, fps=10)
    frame = np.random.default_rng(3).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    snap_src = tmp_path / "snap.jpg"
    cv2.imwrite(str(snap_src), frame)
    first, other = stack.edge_events.add(2, camera="front")
    clip = put_media(stack, first, "clip", clip_src).read_bytes()
    snapshot = put_media(stack, first, "snapshot", snap_src).read_bytes()
    assert len(clip) > 300_000  # several 256 KiB chunks
    stack.wait_delivered([first, other])

    # The control plane: a token for any role of the tenant; unknown event 404, bad kind 422.
    made = _playback(stack, first, "clip", tz="Europe/Paris")
    assert made.status_code == 200, made.text
    body = made.json()
    assert set(body) >= {"kind", "url", "download_url", "expires_at"}
    assert body["url"].startswith(f"{stack.relay_url}/v1/media/{first}/clip?token=")
    assert _playback(stack, "0" * 8 + "-0000-0000-0000-" + "0" * 12, "clip").status_code == 404
    assert _playback(stack, first, "thumbnail").status_code == 422
    url = body["url"]
    token = url.split("token=", 1)[1]

    with httpx.Client(timeout=20) as client:
        # Whole file: 200, byte-identical, ranges advertised, CORS for the UI.
        started = time.perf_counter()
        full = client.get(url)
        assert full.status_code == 200, full.text
        assert full.content == clip
        assert full.headers["accept-ranges"] == "bytes"
        assert int(full.headers["content-length"]) == len(clip)
        assert full.headers["content-type"] == "video/mp4"
        assert full.headers["access-control-allow-origin"] == "*"
        assert time.perf_counter() - started < 10

        # Ranges: 206 with Content-Range, byte-identical; suffix; past the end 416.
        part = client.get(url, headers={"Range": "bytes=1000-300999"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 1000-300999/{len(clip)}"
        assert part.content == clip[1000:301000]
        tail = client.get(url, headers={"Range": "bytes=-500"})
        assert (tail.status_code, tail.content) == (206, clip[-500:])
        beyond = client.get(url, headers={"Range": f"bytes={len(clip)}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(clip)}"
        head = client.head(url)
        assert (head.status_code, head.headers["content-length"]) == (200, str(len(clip)))

        # A transfer broken off part-way resumes by Range.
        got = b""
        with client.stream("GET", url) as response:
            for chunk in response.iter_raw(64 * 1024):
                got += chunk
                if len(got) >= 200_000:
                    break
        rest = client.get(url, headers={"Range": f"bytes={len(got)}-"})
        assert rest.status_code == 206
        assert got + rest.content == clip

        # Download: an attachment named after the camera and the local start time.
        download = client.get(body["download_url"])
        assert download.status_code == 200 and download.content == clip
        disposition = download.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="front-')
        assert disposition.endswith('-clip.mp4"')

        # Snapshot and its boxes (a snapshot token); the clip token fits neither.
        snap = _playback(stack, first, "snapshot").json()
        image = client.get(snap["url"])
        assert (image.status_code, image.headers["content-type"]) == (200, "image/jpeg")
        assert image.content == snapshot
        boxes = client.get(snap["boxes_url"])
        assert boxes.status_code == 200
        assert boxes.json()["boxes"][0]["box"] == [0.1, 0.1, 0.4, 0.9]
        assert client.get(url.replace("/clip?", "/snapshot?")).status_code == 403
        assert client.get(url.replace("/clip?", "/boxes?")).status_code == 403

        # Refused tokens: another event (403), tampered, expired, an access token (401).
        wrong_event = client.get(url.replace(first, other))
        assert (wrong_event.status_code, _error_code(wrong_event)) == (403, "forbidden")
        tampered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
        assert client.get(url.replace(token, tampered)).status_code == 401
        kid, key = control_signer(stack)()
        assert stack.deployment is not None
        claims = playback.claims(
            issuer="http://127.0.0.1:8720", tenant_id=stack.deployment.tenant_id,
            event_id=first, kind="clip", filename="x", now=time.time() - 3600,
            lifetime_seconds=60,
        )  # fmt: skip
        expired = client.get(url.replace(token, playback.sign(claims, key, kid)))
        assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]
        claims["exp"] = int(time.time()) + 60
        claims["tid"] = "another-tenant"
        other_tenant = client.get(url.replace(token, playback.sign(claims, key, kid)))
        assert other_tenant.status_code == 403
        access = stack.admin_headers()["Authorization"].removeprefix("Bearer ")
        assert client.get(url.replace(token, access)).status_code == 401
        no_token = client.get(url.split("?", 1)[0])
        assert no_token.status_code == 401
        forged = jwt.encode({"evt": first}, "an HMAC secret of 32 bytes or more", algorithm="HS256")
        assert client.get(url.replace(token, forged)).status_code == 401

        # The edge goes offline: a clear 503 at once, not a hanging request.
        stack.edge.stop()
        wait_for(lambda: client.get(url).status_code == 503, 10, "503 from the relay")
        started = time.perf_counter()
        offline = client.get(url)
        assert time.perf_counter() - started < 2
        assert offline.status_code == 503 and _error_code(offline) == "edge_offline"
        assert "offline" in offline.json()["error"]["message"]
