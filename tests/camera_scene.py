"""A scripted camera scene for pipeline tests, and a detector that sees its 'person'.

The scene (10 fps, 320x240, keyframe every second): empty for 2 s, a bright person-sized
box walks in from the left, stands in the right half (the shelf) for 4 s with a slight
sway, walks back out, and the street is empty again: 14 s, looped by the file source.
The detector finds that box and calls it a person, so a test knows exactly what events
the pipeline must make without depending on a model's scores.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from guardian.edge.detect.types import Detection

W, H, FPS = 320, 240, 10
SCENE_S = 14.0
BOX_W, BOX_H = 40, 110
SHELF = [[0.5, 0.4], [1.0, 0.4], [1.0, 1.0], [0.5, 1.0]]


def box_x(t: float) -> int | None:
    """Left edge of the person at scene time ``t``, or None when nobody is there."""
    if t < 2.0 or t >= 10.0:
        return None
    if t < 4.0:  # walk in: 0 -> 220
        return int((t - 2.0) / 2.0 * 220)
    if t < 8.0:  # stand at the shelf, swaying a little
        return 220 + (int(t * FPS) % 3) * 2
    return int(220 - (t - 8.0) / 2.0 * 220)  # walk out


def scene_frame(index: int) -> npt.NDArray[np.uint8]:
    frame = np.full((H, W, 3), 30, np.uint8)
    x = box_x(index / FPS)
    if x is not None:
        frame[110 : 110 + BOX_H, x : x + BOX_W] = 230
    return frame


def make_scene_video(path: Path) -> Path:
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".tmp")
    with av.open(str(part), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {
            "preset": "ultrafast",
            "x264-params": f"keyint={FPS}:min-keyint={FPS}:scenecut=0:bframes=0:log-level=error",
        }
        for i in range(int(SCENE_S * FPS)):
            frame = av.VideoFrame.from_ndarray(scene_frame(i), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    os.replace(part, path)
    return path


class BrightBoxDetector:
    """Finds the bright box of any frame size (boxes in that frame's pixels)."""

    def __init__(self) -> None:
        self.frames = 0

    def detect_batch(self, frames: Sequence[npt.NDArray[np.generic]]) -> list[list[Detection]]:
        out = []
        for frame in frames:
            self.frames += 1
            grey = np.asarray(frame)[:, :, 0]
            ys, xs = np.nonzero(grey > 150)
            if xs.size < 50:
                out.append([])
                continue
            box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
            out.append([Detection("person", "person", 0.9, box)])
        return out
