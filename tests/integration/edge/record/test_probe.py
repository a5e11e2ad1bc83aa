"""probe() on real files: generated H.264 MP4s, a rewritten faststart copy, bad input."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from guardian.edge.record.probe import ProbeError, probe
from tests.video import cached_video, write_garbage


def test_probes_a_generated_video(tmp_path_factory: pytest.TempPathFactory) -> None:
    path = cached_video(tmp_path_factory, width=160, height=120, fps=10, seconds=2.0, gop=5)
    media = probe(path)
    assert (media.codec, media.width, media.height) == ("h264", 160, 120)
    assert media.frames == 20
    assert media.duration == pytest.approx(2.0, abs=0.01)
    assert media.first_is_keyframe
    assert not media.faststart  # the muxer writes moov last unless asked
    assert media.size_bytes == path.stat().st_size


def test_sees_faststart_after_the_moov_is_moved_first(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    source = cached_video(tmp_path_factory, width=160, height=120, fps=10, seconds=2.0, gop=5)
    out = tmp_path / "fast.mp4"
    with (
        av.open(str(source)) as src,
        av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as dst,
    ):
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(video=0):
            if packet.size:
                packet.stream = stream
                dst.mux(packet)
    assert probe(out).faststart


def test_garbage_is_a_probe_error(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="cannot open"):
        probe(write_garbage(tmp_path / "junk.mp4"))
    with pytest.raises(ProbeError, match="cannot open"):
        probe(tmp_path / "missing.mp4")


def test_audio_only_file_is_a_probe_error(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame(format="s16", layout="mono", samples=800)
        frame.planes[0].update(bytes(1600))
        frame.sample_rate = 8000
        frame.pts = 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(ProbeError, match="no video stream"):
        probe(path)
