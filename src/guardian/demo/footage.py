"""The demo camera's footage: OpenCV's vtest.avi street scene, transcoded once to H.264 MP4.

``scripts/fetch-test-media`` (run by ``make demo``) takes vtest.avi from Debian's opencv-doc
package. Browsers play H.264, and the recorder remuxes without re-encoding, so the demo
plays an H.264 copy; it is cached next to the original under the same name as the test
suite's copy (``tests/rtsp_fixtures.py``), so either makes it once per machine.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

VTEST_NAME = "vtest.avi"
VTEST_SHA256 = "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
VTEST_FRAMES = 795
VTEST_FPS = 10
GOP = 10  # a keyframe a second: recording segments and clips cut at keyframes
TRANSCODE_VERSION = 2  # as tests/rtsp_fixtures.py: same settings, same cached file

Progress = Callable[[int], None]  # frames done since the last call


class FootageMissing(RuntimeError):
    """vtest.avi is not there (or is not the expected file)."""


def media_dir() -> Path:
    """``$GUARDIAN_TEST_MEDIA_DIR`` or ``~/.cache/guardian/test-media`` (fetch-test-media's)."""
    env = os.environ.get("GUARDIAN_TEST_MEDIA_DIR")
    return Path(env) if env else Path.home() / ".cache" / "guardian" / "test-media"


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_footage(folder: Path | None = None) -> Path:
    """The verified vtest.avi; ``FootageMissing`` saying how to get it."""
    path = (folder or media_dir()) / VTEST_NAME
    if not path.is_file():
        raise FootageMissing(
            f"the demo footage {path} is missing: run `make demo` or `scripts/fetch-test-media`"
        )
    digest = sha256_of(path)
    if digest != VTEST_SHA256:
        raise FootageMissing(f"{path} has SHA-256 {digest}, expected {VTEST_SHA256}")
    return path


def h264_path(folder: Path | None = None) -> Path:
    """Where the H.264 copy of vtest.avi is cached."""
    name = f"vtest-h264-g{GOP}-v{TRANSCODE_VERSION}-{VTEST_SHA256[:16]}.mp4"
    return (folder or media_dir()) / name


def transcode_h264(
    source: Path,
    dest: Path,
    *,
    gop: int = GOP,
    max_frames: int | None = None,
    progress: Progress | None = None,
) -> None:
    """Re-encode ``source``'s video as H.264 MP4: one slice per picture, no B-frames, a
    keyframe every ``gop`` frames; ``progress(n)`` after every 10 frames.

    Written to a temporary name in ``dest``'s folder and renamed, so readers (and a second
    demo started meanwhile) never see a partial file.
    """
    import av

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp.mp4", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with av.open(str(source)) as src, av.open(str(tmp), "w", format="mp4") as out:
            in_stream = src.streams.video[0]
            rate = Fraction(in_stream.average_rate or VTEST_FPS)
            stream = out.add_stream(
                "libx264",
                rate=rate,
                options={
                    "g": str(gop),
                    "keyint_min": str(gop),
                    "sc_threshold": "0",
                    "bf": "0",
                    "preset": "veryfast",
                    "crf": "23",
                },
            )
            stream.width = in_stream.codec_context.width
            stream.height = in_stream.codec_context.height
            stream.pix_fmt = "yuv420p"
            # PyAV defaults to slice threads, which split every picture into several slices.
            stream.codec_context.thread_type = "FRAME"
            stream.codec_context.time_base = 1 / rate
            for index, frame in enumerate(src.decode(in_stream)):
                if max_frames is not None and index >= max_frames:
                    break
                picture = frame.reformat(format="yuv420p")
                picture.pts = index
                picture.time_base = 1 / rate
                out.mux(stream.encode(picture))
                if progress is not None and index % 10 == 9:
                    progress(10)
            out.mux(stream.encode(None))
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


def demo_footage(progress: Progress | None = None, folder: Path | None = None) -> Path:
    """The H.264 street footage, transcoded on first use (``progress`` counts frames)."""
    dest = h264_path(folder)
    if dest.is_file():
        return dest
    transcode_h264(source_footage(folder), dest, progress=progress)
    return dest
