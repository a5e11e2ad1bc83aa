"""``guardian bench detect``: raw runtime inference vs the full ``detect()`` pipeline.

Both are measured in one run on the same frames, interleaved frame by frame so that
machine noise hits both alike; the goal is their ratio, not an absolute time.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt

from guardian.bench.stats import Goal, summary
from guardian.edge.detect.detector import Detector
from guardian.edge.detect.images import read_image
from guardian.edge.detect.samples import sample_images

PIPELINE_RAW_TARGET = 1.25


def bench_frames(count: int, width: int, height: int) -> list[npt.NDArray[np.uint8]]:
    """``count`` camera-sized frames cut from the installed sample photos."""
    import cv2

    photos = [read_image(p) for p in sample_images()]
    if not photos:
        rng = np.random.default_rng(0)
        photos = [rng.integers(0, 255, (height, width, 3), np.uint8)]
    frames = [
        np.asarray(cv2.resize(p, (width, height), interpolation=cv2.INTER_AREA), np.uint8)
        for p in photos
    ]
    return [frames[i % len(frames)] for i in range(count)]


def run_detect_bench(
    detector: Detector, frames: list[npt.NDArray[np.uint8]], warmup: int = 10
) -> dict[str, Any]:
    """Time the raw ``infer`` call and the whole ``detect`` on each frame."""
    tensors = [detector.preprocess([f])[0] for f in frames]
    for i in range(min(warmup, len(frames))):
        detector.model.infer(tensors[i])
        detector.detect(frames[i])
    raw: list[float] = []
    pipeline: list[float] = []
    stages: dict[str, list[float]] = {"pre": [], "infer": [], "post": []}
    for frame, tensor in zip(frames, tensors, strict=True):
        t0 = time.perf_counter()
        detector.model.infer(tensor)
        raw.append((time.perf_counter() - t0) * 1e3)
        t1 = time.perf_counter()
        detector.detect(frame)
        pipeline.append((time.perf_counter() - t1) * 1e3)
        for key, value in detector.detect_timed(frame).timings.items():
            stages[key].append(value)
    raw_s, pipe_s = summary(raw), summary(pipeline)
    ratio = pipe_s["median"] / raw_s["median"]
    prov = detector.provenance
    goals: list[Goal] = [
        {
            "name": "pipeline_raw_ratio",
            "value": round(ratio, 4),
            "target": PIPELINE_RAW_TARGET,
            "better": "lower",
        }
    ]
    return {
        "bench": "detect",
        "model": prov.model,
        "model_sha256": prov.sha256,
        "runtime": prov.runtime,
        "device": prov.device,
        "frames": len(frames),
        "frame_size": [int(frames[0].shape[1]), int(frames[0].shape[0])],
        "raw_infer_ms_median": round(raw_s["median"], 3),
        "raw_infer_ms_p90": round(raw_s["p90"], 3),
        "pipeline_ms_median": round(pipe_s["median"], 3),
        "pipeline_ms_p90": round(pipe_s["p90"], 3),
        "stage_ms_median": {k: round(summary(v)["median"], 3) for k, v in stages.items()},
        "pipeline_raw_ratio": round(ratio, 4),
        "goals": goals,
    }
