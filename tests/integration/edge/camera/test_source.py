"""StreamSource on real inputs: looping files, pacing, decoding, bad data, dead or stalled peers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

import av
import pytest

from guardian.edge.camera.source import SourcePacket, StreamError, StreamSource
from tests.ports import reserve_port
from tests.video import cached_video, write_garbage

T0 = 1_700_000_000.0


@pytest.fixture
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cached_video(tmp_path_factory, fps=10, seconds=3.0, gop=10)


def take(source: StreamSource, n: int) -> list[SourcePacket]:
    return list(islice(source.packets(), n))


# -- files -------------------------------------------------------------------------------


def test_file_source_describes_its_stream(video: Path) -> None:
    with StreamSource(video.as_uri(), realtime=False, hwaccel="none") as source:
        info = source.open()
        assert source.info == info
        assert source.stream.codec_context.width == 320
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 320, 240, 10.0)
    assert info.decoder == "software" and not info.live
    assert info.url == video.as_uri()


def test_file_loops_with_steadily_increasing_timestamps(video: Path) -> None:
    with StreamSource(video.as_uri(), realtime=False, clock=lambda: T0) as source:
        source.open()
        packets = take(source, 75)  # 2.5 passes over a 3 s file
    offsets = [round(p.ts - T0, 6) for p in packets]
    assert offsets == [round(i * 0.1, 6) for i in range(75)]
    assert [i for i, p in enumerate(packets) if p.keyframe] == list(range(0, 75, 10))
    assert all(p.duration == pytest.approx(0.1) for p in packets)
    assert packets[30].packet.pts == packets[0].packet.pts  # really looped back


def test_percent_encoded_file_urls_open(video: Path, tmp_path: Path) -> None:
    odd = tmp_path / "front door #1" / "clip 100%.mp4"
    odd.parent.mkdir()
    odd.write_bytes(video.read_bytes())
    assert "%20" in odd.as_uri()
    with StreamSource(odd.as_uri(), realtime=False) as source:
        assert source.open().width == 320


def test_realtime_pacing_yields_no_packet_before_its_timestamp(video: Path) -> None:
    now = [T0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with StreamSource(video.as_uri(), clock=lambda: now[0], sleep=sleep) as source:
        source.open()
        for packet in islice(source.packets(), 40):
            assert now[0] >= packet.ts - 1e-9
    assert len(sleeps) == 39
    assert sum(sleeps) == pytest.approx(3.9)
    assert now[0] == pytest.approx(T0 + 3.9)


def test_realtime_off_never_sleeps(video: Path) -> None:
    def sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds}")

    with StreamSource(video.as_uri(), realtime=False, sleep=sleep) as source:
        source.open()
        assert len(take(source, 40)) == 40


def test_decode_gives_frames_stamped_with_their_packets_time(video: Path) -> None:
    with StreamSource(video.as_uri(), realtime=False, clock=lambda: T0) as source:
        source.open()
        packets = take(source, 35)
        frames = [frame for packet in packets for frame in source.decode(packet)]
    assert 20 <= len(frames) <= 35  # threaded decoding holds a few frames back
    stamps = {round(p.ts, 6) for p in packets}
    assert all(round(f.ts, 6) in stamps for f in frames)
    assert [f.ts for f in frames] == sorted(f.ts for f in frames)
    assert (frames[0].frame.width, frames[0].frame.height) == (320, 240)
    # the moving rectangle: the frame is dark with a bright block
    pixels = frames[5].frame.to_ndarray(format="gray")
    assert pixels.min() < 40 and pixels.max() > 200


def test_close_is_idempotent_and_reading_after_it_fails(video: Path) -> None:
    source = StreamSource(video.as_uri(), realtime=False)
    source.open()
    source.close()
    source.close()
    with pytest.raises(StreamError, match="not open"):
        take(source, 1)


def test_a_closed_file_source_reopens_and_its_time_keeps_going(video: Path) -> None:
    with StreamSource(video.as_uri(), realtime=False, clock=lambda: T0) as source:
        source.open()
        first = take(source, 5)
        source.close()
        with pytest.raises(StreamError, match="not open"):
            _ = source.info
        source.open()
        again = take(source, 5)
    assert again[0].keyframe and again[0].packet.pts == first[0].packet.pts
    assert again[0].ts == pytest.approx(first[-1].ts + 0.1)


def test_file_url_with_a_remote_host_is_refused() -> None:
    with pytest.raises(StreamError, match="remote host"):
        StreamSource("file://nas.local/videos/door.mp4").open()


def test_garbage_file_is_a_stream_error(tmp_path: Path) -> None:
    junk = write_garbage(tmp_path / "junk.mp4", size=256 * 1024)
    with pytest.raises(StreamError, match=r"junk\.mp4") as caught:
        StreamSource(junk.as_uri(), open_timeout_s=5.0).open()
    assert caught.value.invalid  # bad data: the camera is in error, not offline


def test_missing_file_is_a_stream_error(tmp_path: Path) -> None:
    with pytest.raises(StreamError, match="cannot open") as caught:
        StreamSource((tmp_path / "nope.mp4").as_uri()).open()
    assert not caught.value.invalid


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame(format="s16", layout="mono", samples=800)
        frame.planes[0].update(bytes(1600))
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(StreamError, match="no video stream"):
        StreamSource(path.as_uri()).open()


# -- network -----------------------------------------------------------------------------


def test_refused_rtsp_connection_fails_fast_without_leaking_the_password() -> None:
    url = f"rtsp://admin:s3cret@127.0.0.1:{reserve_port()}/stream1"
    started = time.monotonic()
    with pytest.raises(StreamError) as caught:
        StreamSource(url, open_timeout_s=5.0).open()
    assert time.monotonic() - started < 2.0
    assert "s3cret" not in str(caught.value)
    assert "rtsp://admin:***@127.0.0.1" in str(caught.value)


@contextmanager
def tcp_server(handle: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A loopback TCP server running ``handle`` per connection; yields its port."""
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    threads: list[threading.Thread] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=_run, args=(conn,), daemon=True)
            threads.append(thread)
            thread.start()

    def _run(conn: socket.socket) -> None:
        with conn:
            try:
                handle(conn, stop)
            except OSError:
                pass

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        acceptor.join(5)
        for thread in threads:
            thread.join(5)
        listener.close()


def send_junk(conn: socket.socket, stop: threading.Event) -> None:
    conn.settimeout(0.5)
    try:
        conn.recv(4096)
    except TimeoutError:
        pass
    conn.sendall(b"RTSP/1.0 200 OK\r\nCSeq: garbage\r\n\r\n" + bytes(range(256)) * 64)
    stop.wait(3)


def stay_silent(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(10)


def test_server_sending_junk_is_a_stream_error_within_the_timeout() -> None:
    with tcp_server(send_junk) as port:
        started = time.monotonic()
        with pytest.raises(StreamError):
            StreamSource(
                f"rtsp://127.0.0.1:{port}/x", open_timeout_s=2.0, read_timeout_s=2.0
            ).open()
        assert time.monotonic() - started < 4.0


def test_silent_server_times_out_opening() -> None:
    with tcp_server(stay_silent) as port:
        started = time.monotonic()
        with pytest.raises(StreamError, match="cannot open"):
            StreamSource(
                f"rtsp://127.0.0.1:{port}/x", open_timeout_s=1.0, read_timeout_s=1.0
            ).open()
        assert time.monotonic() - started < 3.0


def test_interrupt_ends_a_blocked_open_at_once() -> None:
    with tcp_server(stay_silent) as port:
        source = StreamSource(f"rtsp://127.0.0.1:{port}/x", open_timeout_s=8.0, read_timeout_s=8.0)
        timer = threading.Timer(0.3, source.interrupt)
        started = time.monotonic()
        timer.start()
        with pytest.raises(StreamError, match="interrupted"):
            source.open()
        timer.join()
        assert time.monotonic() - started < 2.0
        with pytest.raises(StreamError, match="interrupted"):
            source.open()  # stays interrupted


def mpegts_bytes(video: Path) -> bytes:
    """``video`` remuxed to MPEG-TS, the format of a live HTTP camera stream."""
    import io

    buffer = io.BytesIO()
    with av.open(str(video)) as src, av.open(buffer, "w", format="mpegts") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(video=0):
            if packet.size:
                packet.stream = stream
                dst.mux(packet)
    return buffer.getvalue()


def http_stream(
    data: bytes, *, then_stall: bool
) -> Callable[[socket.socket, threading.Event], None]:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(4096)
        conn.sendall(
            b"HTTP/1.0 200 OK\r\nContent-Type: video/mp2t\r\nConnection: close\r\n\r\n" + data
        )
        if then_stall:
            stop.wait(10)

    return handle


def test_live_stream_that_ends_is_a_stream_error_after_its_packets(video: Path) -> None:
    with tcp_server(http_stream(mpegts_bytes(video), then_stall=False)) as port:
        with StreamSource(f"http://127.0.0.1:{port}/live.ts", read_timeout_s=2.0) as source:
            info = source.open()
            assert info.live and info.codec == "h264"
            seen = 0
            # FFmpeg reports the closed connection as EOF or as an I/O error
            with pytest.raises(StreamError, match=r"stream ended|cannot read"):
                for _ in source.packets():
                    seen += 1
    assert seen >= 25


def test_live_stream_that_stalls_fails_after_the_read_timeout(video: Path) -> None:
    with tcp_server(http_stream(mpegts_bytes(video), then_stall=True)) as port:
        with StreamSource(
            f"http://127.0.0.1:{port}/live.ts", open_timeout_s=3.0, read_timeout_s=1.0
        ) as source:
            source.open()
            packets = source.packets()
            next(packets)
            started = time.monotonic()
            with pytest.raises(StreamError):
                for _ in packets:
                    pass
            assert time.monotonic() - started < 3.5


def test_interrupt_ends_a_stalled_read_at_once(video: Path) -> None:
    with tcp_server(http_stream(mpegts_bytes(video), then_stall=True)) as port:
        with StreamSource(
            f"http://127.0.0.1:{port}/live.ts", open_timeout_s=3.0, read_timeout_s=8.0
        ) as source:
            source.open()
            timer = threading.Timer(0.5, source.interrupt)
            timer.start()
            started = time.monotonic()
            with pytest.raises(StreamError, match="interrupted"):
                for _ in source.packets():
                    pass
            timer.join()
            assert time.monotonic() - started < 2.0


def test_vaapi_request_uses_the_gpu_only_where_one_works(video: Path) -> None:
    from guardian.edge.camera.source import vaapi_available

    with StreamSource(video.as_uri(), realtime=False, hwaccel="vaapi") as source:
        info = source.open()
        frames = [f for p in take(source, 12) for f in source.decode(p)]
    assert info.decoder == ("vaapi" if vaapi_available() else "software")
    assert frames and frames[0].frame.width == 320
