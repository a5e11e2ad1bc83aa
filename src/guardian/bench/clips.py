"""``guardian bench clips``: a 30 s clip from the edge through the relay to an HTTP client.

``guardian control run`` (SQLite), ``guardian relay run`` and ``guardian edge run`` run as
processes on loopback; the edge holds one event with a real H.264 MP4 (PyAV, ~2 Mbit/s).
A playback token is issued with the control plane's own code and the clip is fetched
from the relay's media URL (its cache off, so every byte comes from the edge). Baseline,
in the same run and with the same client: the same file served straight from disk over
HTTP by a separate uvicorn process (Starlette ``FileResponse``). Time to first byte is
from sending the request to the first body byte; throughput is the body's bytes over the
time from sending the request to the last byte. Medians of ``runs`` alternating runs.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from guardian.bench.inventory import control_process
from guardian.bench.stats import Goal
from guardian.common.db import session_factory, sqlite_url, utcnow
from guardian.control.config import ControlSettings
from guardian.control.context import ControlContext, build_context
from guardian.edge.launch import edge_process, free_port

THROUGHPUT_RATIO_TARGET = 0.7
TTFB_MS_TARGET = 300.0
CLIP_SECONDS = 30.0
READ_BYTES = 256 * 1024
START_S = 60.0


def make_clip(
    path: Path,
    *,
    seconds: float = CLIP_SECONDS,
    width: int = 640,
    height: int = 360,
    fps: int = 15,
    bit_rate: int = 2_000_000,
) -> Path:
    """Encode an H.264 MP4 (moov first) whose busy picture keeps the bit rate near ``bit_rate``."""
    import av
    import numpy as np

    rng = np.random.default_rng(7)
    texture = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    with av.open(str(part), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bit_rate
        stream.time_base = Fraction(1, fps)
        stream.options = {"preset": "ultrafast", "x264-params": f"keyint={2 * fps}:log-level=error"}
        for i in range(round(seconds * fps)):
            image = np.roll(texture, i * 3, axis=1)
            image[:, :, 0] ^= np.uint8(i % 256)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    os.replace(part, path)
    return path


def timed_get(url: str) -> tuple[float, float, int]:
    """GET ``url`` on a fresh connection: (seconds to first body byte, seconds in all, bytes)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        start = time.perf_counter()
        conn.request("GET", target)
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"GET {parts.path}: {response.status} {response.read()[:200]!r}")
        first = response.read1(READ_BYTES)
        ttfb = time.perf_counter() - start
        size = len(first)
        while chunk := response.read1(READ_BYTES):
            size += len(chunk)
        return ttfb, time.perf_counter() - start, size
    finally:
        conn.close()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_S
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not healthy within {START_S} s")
        time.sleep(0.2)


@contextmanager
def direct_server(path: Path) -> Iterator[str]:
    """A separate uvicorn process serving ``path`` from disk (with Range); yields its URL."""
    port = free_port()
    code = (
        "import sys, uvicorn\n"
        "from starlette.applications import Starlette\n"
        "from starlette.responses import FileResponse, PlainTextResponse\n"
        "from starlette.routing import Route\n"
        "path = sys.argv[1]\n"
        "app = Starlette(routes=[\n"
        "    Route('/clip.mp4', lambda r: FileResponse(path, media_type='video/mp4')),\n"
        "    Route('/healthz', lambda r: PlainTextResponse('ok')),\n"
        "])\n"
        "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path), str(port)], stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url + "/healthz", proc, "the direct file server")
        yield url + "/clip.mp4"
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def relay_process(relay_dir: Path, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """``guardian relay run`` with media playback on; yields (HTTP URL, link port)."""
    http_port, link_port = free_port(), free_port()
    full_env = {
        **os.environ,
        **env,
        "GUARDIAN_RELAY_DATA_DIR": str(relay_dir),
        "GUARDIAN_RELAY_HTTP_PORT": str(http_port),
        "GUARDIAN_RELAY_LINK_PORT": str(link_port),
    }
    cmd = [sys.executable, "-m", "guardian", "relay", "run"]
    proc = subprocess.Popen(cmd, env=full_env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{http_port}"
    try:
        _wait_healthy(url + "/healthz", proc, "guardian relay run")
        yield url, link_port
    finally:
        proc.terminate()
        proc.wait(30)


def _deployment(ctx: ControlContext) -> tuple[str, str, str, str]:
    """Tenant, site, relay: (tenant id, site id, bootstrap token, relay token)."""
    from guardian.control.store.tables import Tenant
    from guardian.control.tenancy.relays import assign_relay, create_relay
    from guardian.control.tenancy.sites import create_site

    with ctx.db.system() as session:
        tenant = Tenant(id=str(uuid.uuid4()), name="bench", plan="free", created_at=utcnow())
        session.add(tenant)
        session.flush()
        site, bootstrap = create_site(session, tenant_id=tenant.id, name="shop", now=utcnow())
        relay, relay_token = create_relay(session, name="bench", url="https://127.0.0.1")
        assign_relay(session, tenant_id=tenant.id, relay_id=relay.id)
        return tenant.id, site.id, bootstrap, relay_token


def _set_public_url(ctx: ControlContext, url: str) -> None:
    from guardian.control.store.tables import Relay

    with ctx.db.system() as session:
        for relay in session.query(Relay).all():
            relay.public_url = url


def edge_clip_event(edge_dir: Path, clip: Path) -> str:
    """One finished camera event on the edge with ``clip`` as its present clip; its id."""
    from guardian.edge.events.camera_store import apply_action
    from guardian.edge.store.schema import open_store
    from guardian.edge.store.tables import EventMedia
    from guardian.edge.track.lifecycle import INTERACTION, EventAction

    rel = Path("clips") / "bench" / clip.name
    (edge_dir / "media" / rel).parent.mkdir(parents=True, exist_ok=True)
    os.replace(clip, edge_dir / "media" / rel)
    engine = open_store(sqlite_url(edge_dir / "edge.db"), migrate=False)
    ts = time.time()
    box = (10.0, 10.0, 200.0, 300.0)
    action = EventAction(
        kind="end", key=f"bench:{uuid.uuid4()}", event_type=INTERACTION, camera="bench",
        track_id=1, label="person", ts=ts, start_ts=ts - CLIP_SECONDS, end_ts=ts, box=box,
        best_score=0.8, best_ts=ts - 1.0, best_box=box, zones=("shelf",), zone="shelf",
        dwell_s=2.0, person_count=1, peak_person_count=1,
    )  # fmt: skip
    try:
        with session_factory(engine).begin() as session:
            now = dt.datetime.now(dt.UTC)
            event = apply_action(session, action, now=now, events_days=1)
            session.add(
                EventMedia(
                    event_id=event.id, kind="clip", camera="bench", state="present",
                    path=str(rel), content_type="video/mp4",
                    size_bytes=(edge_dir / "media" / rel).stat().st_size, meta={}, attempts=0,
                    created_at=now, updated_at=now, expires_at=now + dt.timedelta(days=1),
                )
            )  # fmt: skip
            return event.id
    finally:
        engine.dispose()


def _playback_url(ctx: ControlContext, tenant_id: str, event_id: str) -> str:
    from guardian.common.api_errors import NotFound
    from guardian.control.auth.keys import KeyRing
    from guardian.control.playback import issue_playback
    from guardian.control.playback.issue import KEYRING

    ctx.services[KEYRING] = KeyRing(ctx.db, ctx.sealer, grace_seconds=60, clock=time.time)
    deadline = time.monotonic() + START_S
    while True:  # the event reaches the control plane through the link
        try:
            return issue_playback(ctx, tenant_id, event_id, "clip").url
        except NotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _wait_servable(url: str) -> None:
    deadline = time.monotonic() + START_S
    while True:
        status = httpx.head(url, timeout=10).status_code
        if status == 200:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the relay does not serve the clip ({status})")
        time.sleep(0.2)


def run_clips_bench(
    *, runs: int = 7, seconds: float = CLIP_SECONDS, relay_cache_seconds: float = 0.0
) -> dict[str, Any]:
    """Start the services, time ``runs`` direct and relay downloads; the report.

    ``relay_cache_seconds`` 0 (the default) makes every relay download come from the edge;
    above 0 only the first does and the rest measure the relay's disk cache.
    """
    with tempfile.TemporaryDirectory(prefix="guardian-bench-clips-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        clip = make_clip(root / "clip.mp4", seconds=seconds)
        direct_copy = root / "direct.mp4"
        direct_copy.write_bytes(clip.read_bytes())
        settings = ControlSettings(data_dir=root / "control")
        ctx = build_context(settings)
        stack.callback(ctx.db.engine.dispose)
        tenant_id, _, bootstrap, relay_token = _deployment(ctx)
        grpc_port = free_port()
        control_url = stack.enter_context(
            control_process(settings, {"GUARDIAN_CONTROL_GRPC_PORT": str(grpc_port)})
        )
        relay_env = {
            "GUARDIAN_RELAY_CONTROL_URL": f"http://127.0.0.1:{grpc_port}",
            "GUARDIAN_RELAY_CONTROL_TOKEN": relay_token,
            "GUARDIAN_RELAY_MEDIA__JWKS_URL": f"{control_url}/.well-known/jwks.json",
            "GUARDIAN_RELAY_MEDIA__CACHE_SECONDS": str(relay_cache_seconds),
        }
        relay_url, link_port = stack.enter_context(relay_process(root / "relay", relay_env))
        _set_public_url(ctx, relay_url)
        edge_dir = root / "edge"
        enroll = [sys.executable, "-m", "guardian", "edge", "enroll", "--data-dir", str(edge_dir)]
        enroll += ["--relay", f"127.0.0.1:{link_port}", "--token", bootstrap]
        subprocess.run(enroll, check=True, capture_output=True, timeout=60)
        stack.enter_context(edge_process(edge_dir))
        event_id = edge_clip_event(edge_dir, clip)
        media_url = _playback_url(ctx, tenant_id, event_id)
        _wait_servable(media_url)
        direct_url = stack.enter_context(direct_server(direct_copy))
        size = direct_copy.stat().st_size

        direct: list[tuple[float, float, int]] = []
        relayed: list[tuple[float, float, int]] = []
        timed_get(direct_url), timed_get(media_url)  # warm both paths
        for _ in range(runs):
            direct.append(timed_get(direct_url))
            relayed.append(timed_get(media_url))
    if any(r[2] != size for r in direct + relayed):
        raise RuntimeError("a download was short")
    return {**report(direct, relayed, size, seconds), "relay_cache_seconds": relay_cache_seconds}


def report(
    direct: list[tuple[float, float, int]],
    relayed: list[tuple[float, float, int]],
    size: int,
    seconds: float,
) -> dict[str, Any]:
    """The bench's JSON object from the timed runs."""

    def mb_per_s(runs: list[tuple[float, float, int]]) -> float:
        return statistics.median(n / t for _, t, n in runs) / 1e6

    def ttfb_ms(runs: list[tuple[float, float, int]]) -> float:
        return statistics.median(f for f, _, _ in runs) * 1000

    relay_mbps, direct_mbps = mb_per_s(relayed), mb_per_s(direct)
    ratio = relay_mbps / direct_mbps
    goals: list[Goal] = [
        {"name": "throughput_ratio", "value": round(ratio, 3),
         "target": THROUGHPUT_RATIO_TARGET, "better": "higher"},
        {"name": "ttfb_ms", "value": round(ttfb_ms(relayed), 1), "target": TTFB_MS_TARGET,
         "better": "lower"},
    ]  # fmt: skip
    return {
        "bench": "clips",
        "clip_seconds": seconds,
        "clip_bytes": size,
        "runs": len(relayed),
        "relay_mb_per_s": round(relay_mbps, 1),
        "direct_mb_per_s": round(direct_mbps, 1),
        "relay_ttfb_ms": round(ttfb_ms(relayed), 1),
        "direct_ttfb_ms": round(ttfb_ms(direct), 1),
        "relay_total_ms": round(statistics.median(t for _, t, _ in relayed) * 1000, 1),
        "direct_total_ms": round(statistics.median(t for _, t, _ in direct) * 1000, 1),
        "cores": os.cpu_count(),
        "goals": goals,
    }
