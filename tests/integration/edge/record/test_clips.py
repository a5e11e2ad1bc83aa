"""Event clips assembled from real recorded segments: span, keyframe start, faststart, tags."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from guardian.edge.record.clips import ClipError, assemble_clip
from guardian.edge.record.probe import probe
from guardian.edge.record.types import SegmentInfo
from tests.integration.edge.record.recording import T0, record
from tests.video import cached_video


@pytest.fixture
def segments(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> list[SegmentInfo]:
    """30 s in three 10 s segments, a keyframe every second (GOP 1 s at 10 fps)."""
    video = cached_video(tmp_path_factory, fps=10, seconds=5.0, gop=10)
    made = record(video, tmp_path / "rec", 30.0, segment_seconds=10.0)
    assert len(made) == 3
    return made


def test_clip_across_segment_boundaries_starts_at_a_keyframe_and_is_faststart(
    segments: list[SegmentInfo], tmp_path: Path
) -> None:
    start, end = T0 + 8.5, T0 + 21.3
    out = tmp_path / "clips" / "event.mp4"
    tags = {"title": "door: person", "comment": "event 42", "guardian_event": "42"}

    clip = assemble_clip(list(reversed(segments)), start, end, out, metadata=tags)

    assert clip.path == out.resolve() and out.is_file()
    assert not out.with_name(out.name + ".part").exists()
    assert clip.start == pytest.approx(T0 + 8.0)  # the last keyframe at or before start
    assert clip.duration == pytest.approx(end - start, abs=1.0)
    assert (clip.codec, clip.width, clip.height) == ("h264", 320, 240)
    media = probe(out)
    assert media.first_is_keyframe and media.faststart
    assert media.duration == pytest.approx(clip.duration, abs=0.05)
    assert media.frames == 133  # 8.0, 8.1, ... 21.2 (ts < end) at 10 fps
    assert media.size_bytes == clip.size_bytes
    with av.open(str(out)) as container:
        assert {k: container.metadata.get(k) for k in tags} == tags
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == media.frames


def test_standard_tags_and_creation_time_are_written(
    segments: list[SegmentInfo], tmp_path: Path
) -> None:
    out = tmp_path / "c.mp4"
    tags = {"title": "t", "creation_time": "2023-11-14T22:13:22.000000Z"}
    assemble_clip(segments, T0 + 2.0, T0 + 4.0, out, metadata=tags, fsync=False)
    with av.open(str(out)) as container:
        assert container.metadata["title"] == "t"
        assert container.metadata["creation_time"].startswith("2023-11-14T22:13:22")


def test_a_missing_segment_stays_a_gap(segments: list[SegmentInfo], tmp_path: Path) -> None:
    out = tmp_path / "gap.mp4"
    clip = assemble_clip([segments[0], segments[2]], T0 + 5.0, T0 + 25.0, out)
    media = probe(out)
    assert clip.start == pytest.approx(T0 + 5.0)
    assert media.duration == pytest.approx(20.0, abs=0.05)  # wall-clock span, gap included
    assert media.frames == 100  # 5..10 and 20..25: the gap has no frames


def test_overlapping_segments_do_not_duplicate_footage(
    segments: list[SegmentInfo], tmp_path: Path
) -> None:
    out = tmp_path / "dup.mp4"
    assemble_clip([segments[0], segments[0], segments[1]], T0 + 1.0, T0 + 15.0, out)
    media = probe(out)
    assert media.frames == 140 and media.duration == pytest.approx(14.0, abs=0.05)


def test_span_without_segments_is_a_clip_error(segments: list[SegmentInfo], tmp_path: Path) -> None:
    out = tmp_path / "none.mp4"
    with pytest.raises(ClipError, match="no recorded segment overlaps"):
        assemble_clip(segments, T0 + 40.0, T0 + 50.0, out)
    with pytest.raises(ClipError, match="no recorded segment"):
        assemble_clip([], T0, T0 + 1.0, out)
    with pytest.raises(ClipError, match="empty clip span"):
        assemble_clip(segments, T0 + 5.0, T0 + 5.0, out)
    assert list(tmp_path.glob("none.mp4*")) == []


def test_unreadable_segment_is_a_clip_error_and_leaves_no_part_file(
    segments: list[SegmentInfo], tmp_path: Path
) -> None:
    segments[1].path.unlink()
    out = tmp_path / "broken.mp4"
    with pytest.raises(ClipError, match="cannot open segment"):
        assemble_clip(segments, T0 + 5.0, T0 + 15.0, out)
    assert list(tmp_path.glob("broken.mp4*")) == []


def headless_segment(source: Path, out: Path) -> Path:
    """``source`` remuxed without its first packet: an MP4 that begins mid-GOP."""
    with av.open(str(source)) as src, av.open(str(out), "w", format="mp4") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in list(src.demux(video=0))[1:]:
            if packet.size:
                packet.stream = stream
                dst.mux(packet)
    return out


def test_no_keyframe_in_the_span_is_a_clip_error(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    long_gop = cached_video(tmp_path_factory, fps=10, seconds=4.0, gop=100)
    path = headless_segment(long_gop, tmp_path / "headless.mp4")
    segment = SegmentInfo("cam", path, T0, T0 + 3.9, path.stat().st_size, "h264", 320, 240)
    out = tmp_path / "nokey.mp4"
    with pytest.raises(ClipError, match="no keyframe"):
        assemble_clip([segment], T0 + 0.5, T0 + 2.5, out)
    assert list(tmp_path.glob("nokey.mp4*")) == []
