"""Synthetic test videos: short H.264 MP4s (a bright rectangle moving over a dark background)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest


def video_name(width: int, height: int, fps: int, seconds: float, gop: int, bframes: int) -> str:
    """The cache file name of a video with these parameters."""
    return f"moving-{width}x{height}-{fps}fps-{seconds:g}s-gop{gop}-bf{bframes}.mp4"


def frame_pixels(index: int, width: int, height: int) -> np.ndarray:
    """Frame ``index``: a dark background with a white rectangle sliding left to right."""
    frame = np.full((height, width, 3), 24, dtype=np.uint8)
    box_w, box_h = max(width // 8, 2), max(height // 4, 2)
    x = (index * 7) % max(width - box_w, 1)
    y = (height - box_h) // 2
    frame[y : y + box_h, x : x + box_w] = 235
    return frame


def make_video(
    path: Path,
    *,
    width: int = 320,
    height: int = 240,
    fps: int = 10,
    seconds: float = 3.0,
    gop: int = 10,
    bframes: int = 0,
) -> Path:
    """Encode an H.264 MP4 at ``path`` with a keyframe exactly every ``gop`` frames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".tmp")
    with av.open(str(part), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {
            "preset": "ultrafast",
            "x264-params": (
                f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}:log-level=error"
            ),
        }
        for i in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(frame_pixels(i, width, height), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    os.replace(part, path)
    return path


def cached_video(
    factory: pytest.TempPathFactory,
    *,
    width: int = 320,
    height: int = 240,
    fps: int = 10,
    seconds: float = 3.0,
    gop: int = 10,
    bframes: int = 0,
) -> Path:
    """``make_video`` once per session, under the session's pytest base temp dir."""
    path = factory.getbasetemp() / "videos" / video_name(width, height, fps, seconds, gop, bframes)
    if not path.exists():
        make_video(
            path, width=width, height=height, fps=fps, seconds=seconds, gop=gop, bframes=bframes
        )
    return path


def write_garbage(path: Path, size: int = 64 * 1024, seed: int = 1) -> Path:
    """A file of ``size`` random bytes (no container format FFmpeg can use)."""
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path
