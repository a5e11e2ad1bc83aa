"""The demo footage: vtest.avi found and verified, transcoded to H.264 with progress."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest

from guardian.demo.footage import (
    FootageMissing,
    demo_footage,
    media_dir,
    source_footage,
    transcode_h264,
)


def test_missing_or_altered_footage_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(FootageMissing, match="make demo"):
        source_footage(tmp_path)
    (tmp_path / "vtest.avi").write_bytes(b"not the video")
    with pytest.raises(FootageMissing, match="SHA-256"):
        demo_footage(folder=tmp_path)


def test_transcode_makes_h264_with_a_keyframe_every_gop_and_reports_progress(
    tmp_path: Path,
) -> None:
    source = media_dir() / "vtest.avi"
    if not source.is_file():
        pytest.skip(f"{source} is missing; run scripts/fetch-test-media")
    done: list[int] = []
    out = tmp_path / "clip.mp4"
    transcode_h264(source_footage(), out, gop=5, max_frames=30, progress=done.append)
    assert sum(done) == 30
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (768, 576)
        keys = [p.is_keyframe for p in container.demux(stream) if p.size]
    assert len(keys) == 30
    assert [i for i, k in enumerate(keys) if k] == [0, 5, 10, 15, 20, 25]
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def test_demo_footage_is_made_once_and_then_reused(tmp_path: Path) -> None:
    source = media_dir() / "vtest.avi"
    if not source.is_file():
        pytest.skip(f"{source} is missing; run scripts/fetch-test-media")
    shutil.copy(source, tmp_path / "vtest.avi")
    cached = tmp_path / "vtest-h264-g10-v2-45cddc9490be6934.mp4"
    cached.write_bytes(b"already made")  # a cached copy is trusted, not made again
    assert demo_footage(folder=tmp_path) == cached
    assert cached.read_bytes() == b"already made"
