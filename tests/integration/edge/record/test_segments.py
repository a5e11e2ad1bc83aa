"""SegmentRecorder on real H.264 from a looping file source: splits, layout, crash safety."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardian.edge.camera.source import StreamSource
from guardian.edge.record.probe import probe
from guardian.edge.record.segments import SegmentRecorder, segment_path, sweep_partials
from guardian.edge.record.types import SegmentInfo
from tests.integration.edge.record.recording import T0, record
from tests.video import cached_video


@pytest.fixture
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cached_video(tmp_path_factory, fps=10, seconds=5.0, gop=10)


def test_a_25_s_stream_becomes_10_s_segments_that_start_with_keyframes(
    video: Path, tmp_path: Path
) -> None:
    segments = record(video, tmp_path, 25.0, segment_seconds=10.0)

    assert [(s.start - T0, s.end - T0) for s in segments] == [
        pytest.approx((0.0, 10.0)),
        pytest.approx((10.0, 20.0)),
        pytest.approx((20.0, 25.0)),
    ]
    for segment in segments:
        media = probe(segment.path)
        assert media.first_is_keyframe
        assert media.duration == pytest.approx(segment.duration, abs=0.05)
        assert media.frames == round(segment.duration * 10)
        assert (media.codec, media.width, media.height) == ("h264", 320, 240)
        assert (segment.codec, segment.width, segment.height) == ("h264", 320, 240)
        assert segment.size_bytes == segment.path.stat().st_size == media.size_bytes
        assert segment.camera == "cam"
        assert segment.path == segment_path(tmp_path, "cam", segment.start).resolve()
    assert segments[0].path.relative_to(tmp_path.resolve()).parts[:4] == ("cam", "2023", "11", "14")
    assert list(tmp_path.rglob("*.part")) == []
    assert sorted(tmp_path.rglob("*.mp4")) == sorted(s.path for s in segments)


def test_on_segment_hears_of_each_segment_in_order_once_its_file_is_final(
    video: Path, tmp_path: Path
) -> None:
    seen: list[tuple[SegmentInfo, bool, list[Path]]] = []

    def on_segment(info: SegmentInfo) -> None:
        seen.append((info, info.path.is_file(), list(tmp_path.rglob("*.part"))))

    with StreamSource(video.as_uri(), realtime=False, clock=lambda: T0) as source:
        source.open()
        recorder = SegmentRecorder(
            "door", tmp_path, source.stream, segment_seconds=3.0, on_segment=on_segment
        )
        assert recorder.open_segment_start is None
        for packet in source.packets():
            if packet.ts >= T0 + 7.0:
                break
            recorder.write(packet)
            assert recorder.open_segment_start is not None
        assert len(seen) == 2  # 0-3, 3-6 finished; 6-7 still open
        assert recorder.open_segment_start == pytest.approx(T0 + 6.0)
        last = recorder.close()
        assert recorder.open_segment_start is None
        assert recorder.close() is None

    assert last is not None and seen[-1][0] == last
    starts = [info.start - T0 for info, _, _ in seen]
    assert starts == pytest.approx([0.0, 3.0, 6.0])
    for info, existed, parts in seen:
        assert existed and parts == []
        assert info.path.name.endswith(".mp4")


def test_packets_before_the_first_keyframe_are_dropped(video: Path, tmp_path: Path) -> None:
    segments = record(video, tmp_path, 6.0, segment_seconds=10.0, skip=3)
    assert len(segments) == 1
    assert segments[0].start == pytest.approx(T0 + 1.0)  # the next keyframe
    media = probe(segments[0].path)
    assert media.first_is_keyframe and media.frames == 50


def test_b_frame_streams_are_remuxed_playable(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    video = cached_video(tmp_path_factory, fps=10, seconds=4.0, gop=10, bframes=2)
    segments = record(video, tmp_path, 8.0, segment_seconds=4.0)
    assert len(segments) == 2
    for segment in segments:
        media = probe(segment.path)
        assert media.first_is_keyframe and media.frames == 40
        assert media.duration == pytest.approx(4.0, abs=0.05)
        assert segment.duration == pytest.approx(4.0, abs=1e-6)


def test_sweep_partials_deletes_only_part_files(tmp_path: Path) -> None:
    day = tmp_path / "cam" / "2024" / "01" / "02"
    day.mkdir(parents=True)
    (day / "00-00-00.000.mp4.part").write_bytes(b"half")
    (day / "00-00-10.000.mp4").write_bytes(b"whole")
    (tmp_path / "other.part").write_bytes(b"x")
    assert sweep_partials(tmp_path) == 2
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["00-00-10.000.mp4"]
    assert sweep_partials(tmp_path) == 0
    assert sweep_partials(tmp_path / "missing") == 0
