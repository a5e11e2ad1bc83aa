"""The RTSP test infrastructure against PyAV: real GStreamer server, vtest footage, garbage."""

from __future__ import annotations

import time
from pathlib import Path

import av
import av.container
import pytest

from tests.rtsp_fixtures import (
    VTEST_FPS,
    VTEST_FRAMES,
    VTEST_GOP,
    VTEST_HEIGHT,
    VTEST_WIDTH,
    RtspServer,
    RtspServerError,
    RtspServerFactory,
    require_gstreamer,
    transcode_h264,
)

TIMEOUT = (5.0, 5.0)
# A short probe keeps each open well under a second (the default probe takes ~2.7 s).
FAST = {"rtsp_transport": "tcp", "analyzeduration": "100000"}


def open_rtsp(url: str, options: dict[str, str] | None = None) -> av.container.InputContainer:
    return av.open(url, options=options or FAST, timeout=TIMEOUT)


def decode_frames(container: av.container.InputContainer, count: int) -> list[av.VideoFrame]:
    frames: list[av.VideoFrame] = []
    for frame in container.decode(video=0):
        frames.append(frame)
        if len(frames) >= count:
            break
    return frames


def drain(container: av.container.InputContainer, seconds: float) -> str:
    """Keep demuxing for up to ``seconds``; say how the stream ended ("error"/"eof"/"alive")."""
    deadline = time.monotonic() + seconds
    try:
        for _ in container.demux(video=0):
            if time.monotonic() > deadline:
                return "alive"
    except av.error.FFmpegError:
        return "error"
    return "eof"


@pytest.fixture
def short_clip(vtest_h264: Path, tmp_path: Path) -> Path:
    """The first 3 seconds of vtest (30 frames) as H.264 MP4."""
    clip = tmp_path / "short.mp4"
    transcode_h264(vtest_h264, clip, gop=VTEST_GOP, max_frames=3 * VTEST_FPS)
    return clip


def test_vtest_h264_has_a_keyframe_every_gop_frames(vtest_h264: Path) -> None:
    with av.open(str(vtest_h264)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (768, 576)
        assert stream.average_rate == VTEST_FPS
        keyframes = [
            index
            for index, packet in enumerate(p for p in container.demux(stream) if p.size)
            if packet.is_keyframe
        ]
    assert keyframes == list(range(0, VTEST_FRAMES, VTEST_GOP))


def test_pyav_reads_768x576_h264_frames_from_the_server(
    rtsp_server_factory: RtspServerFactory, vtest_h264: Path
) -> None:
    server = rtsp_server_factory(vtest_h264)
    assert server.url.startswith("rtsp://127.0.0.1:") and server.url.endswith("/cam")
    with av.open(server.url, options={"rtsp_transport": "tcp"}, timeout=TIMEOUT) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        frames = decode_frames(container, 12)
    assert len(frames) == 12
    assert {(f.width, f.height) for f in frames} == {(VTEST_WIDTH, VTEST_HEIGHT)}


def test_killed_server_fails_reads_and_restart_serves_on_the_same_port(
    rtsp_server_factory: RtspServerFactory, vtest_h264: Path
) -> None:
    server = rtsp_server_factory(vtest_h264)
    port = server.port
    with open_rtsp(server.url) as container:
        assert len(decode_frames(container, 3)) == 3
        server.kill()
        assert not server.running
        assert drain(container, seconds=15) in {"error", "eof"}
    with pytest.raises(av.error.FFmpegError):
        open_rtsp(server.url)

    server.restart()
    assert server.port == port
    with open_rtsp(server.url) as container:
        assert len(decode_frames(container, 3)) == 3


def test_stop_ends_the_server_with_sigterm_cleanly(
    rtsp_server_factory: RtspServerFactory, vtest_h264: Path
) -> None:
    server = rtsp_server_factory(vtest_h264)
    assert server.stop() == 0
    with pytest.raises(av.error.FFmpegError):
        open_rtsp(server.url)


def test_context_manager_starts_and_stops(vtest_h264: Path) -> None:
    require_gstreamer()
    with RtspServer(vtest_h264, mount="/street") as server:
        assert server.running
        with open_rtsp(server.url) as container:
            assert len(decode_frames(container, 1)) == 1
    assert not server.running


def test_start_failure_raises_with_the_server_stderr(tmp_path: Path) -> None:
    require_gstreamer()
    server = RtspServer(tmp_path / "missing.mp4")
    with pytest.raises(RtspServerError, match="does not exist"):
        server.start()
    assert not server.running


def test_looping_server_runs_past_the_end_of_the_file(
    rtsp_server_factory: RtspServerFactory, short_clip: Path
) -> None:
    server = rtsp_server_factory(short_clip, loop=True)
    with open_rtsp(server.url) as container:
        frames = decode_frames(container, 45)  # 4.5 s of a 3 s file
    assert len(frames) == 45
    times = [f.time for f in frames if f.time is not None]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_garbage_stream_makes_open_fail_within_the_timeout(garbage_stream_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(av.error.FFmpegError):
        open_rtsp(garbage_stream_url, {"rtsp_transport": "tcp"})
    assert time.monotonic() - started < sum(TIMEOUT) + 2
