"""``guardian bench camera``: CPU seconds per camera-minute of the whole camera pipeline.

Each mode runs over the same generated H.264 stream (a camera-like 25 fps, 2 s GOP clip
with people-sized moving shapes), as fast as the CPU allows, and is charged the CPU time
it used per minute of stream:

- ``decode``: PyAV decode alone (the baseline of the pipeline),
- ``remux``: a bare PyAV demux-to-mux copy into the same 10 s MP4 segments, made
  durable the same way (the baseline of recording: what any remux-only recorder does),
- ``record``: Guardian's recorder (fixed-length segments, fsync, rename) fed by the
  camera source. A camera's demux is shared with detection, so what recording adds is
  this minus ``demux`` (the source reading packets alone); the standalone figure (with
  the demux) is reported too,
- ``pipeline``: decode + motion gate + detection at 5 fps + tracking/events + recording,
  for ``--cameras`` cameras at once sharing one detector through the fair scheduler.

From these: cameras one box sustains (cores x 60 / pipeline CPU s per camera-minute) at
720p and 1080p, and the recording overhead (recorder / remux).
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from guardian.bench.stats import Goal
from guardian.edge.camera.analyzer import FrameAnalyzer
from guardian.edge.camera.config import CameraConfig
from guardian.edge.camera.motion import FrameSampler
from guardian.edge.camera.pipeline import frame_to_rgb
from guardian.edge.camera.scheduler import BatchDetector, DetectorScheduler
from guardian.edge.camera.source import StreamSource
from guardian.edge.detect.types import Detection
from guardian.edge.record.segments import SegmentRecorder
from guardian.edge.record.types import SegmentInfo

FPS = 25
GOP = 50
OVERHEAD_TARGET = 1.1
REPEATS = 7
CAMERAS_TARGET = 4
RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080)}


def make_stream(path: Path, width: int, height: int, seconds: float) -> Path:
    """A camera-like H.264 MP4: textured background, a few walking people-sized shapes."""
    rng = np.random.default_rng(7)
    background = rng.integers(40, 90, (height // 8, width // 8, 3), dtype=np.uint8)
    background = np.kron(background, np.ones((8, 8, 1), np.uint8))[:height, :width]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "g": str(GOP), "keyint_min": str(GOP), "crf": "28"}
        frames = int(seconds * FPS)
        for i in range(frames):
            img = background.copy()
            # People walk across during the middle half; still scene otherwise (motion gate).
            if frames // 4 <= i < 3 * frames // 4:
                for k in range(3):
                    w, h = width // 14, height // 3
                    x = int((i * (4 + k) * width / (FPS * 10)) + k * width / 3) % (width - w)
                    y = height // 2 - h // 3 + k * height // 12
                    img[y : y + h, x : x + w] = (180 + 20 * k, 150, 120)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _cpu(run: Callable[[], float]) -> tuple[float, float]:
    """(CPU seconds of the whole process, stream seconds processed) of ``run``."""
    start = time.process_time()
    stream_s = run()
    return time.process_time() - start, stream_s


def _per_minute(cpu_s: float, stream_s: float, cameras: int = 1) -> float:
    return cpu_s / (stream_s * cameras) * 60.0


def decode_only(path: Path, seconds: float) -> tuple[float, float]:
    """(CPU s, stream s) of decoding every frame; opening and probing are not charged."""
    source = StreamSource(path.as_uri(), realtime=False, hwaccel="none")
    source.open()
    first: float | None = None
    start = time.process_time()
    span = 0.0
    try:
        for packet in source.packets():
            first = packet.ts if first is None else first
            span = packet.ts - first
            if span >= seconds:
                break
            source.decode(packet)
    finally:
        source.close()
    return time.process_time() - start, span


def _durable(part: Path, final: Path) -> None:
    fd = os.open(part, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(part, final)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remux_only(
    path: Path, root: Path, seconds: float, segment_s: float = 10.0
) -> tuple[float, float]:
    """(CPU s, stream s) of the baseline: a bare PyAV demux-to-mux copy into the same
    fixed-length MP4 segments, each made durable the same way (fsync, rename, fsync dir).
    """
    root.mkdir(parents=True, exist_ok=True)
    with av.open(str(path)) as src:
        ins = src.streams.video[0]
        tb = float(ins.time_base) if ins.time_base else 0.0
        start = time.process_time()
        first: float | None = None
        span, seg_start, count = 0.0, 0.0, 0
        out: av.container.OutputContainer | None = None
        outs: Any = None
        part = final = root / "none"
        for packet in src.demux(ins):
            if packet.dts is None:
                continue
            t = packet.pts * tb if packet.pts is not None else 0.0
            first = t if first is None else first
            span = t - first
            if span >= seconds:
                break
            if out is None or (packet.is_keyframe and t - seg_start >= segment_s):
                if out is not None:
                    out.close()
                    _durable(part, final)
                seg_start, count = t, count + 1
                final = root / f"{count:05d}.mp4"
                part = root / f"{count:05d}.mp4.part"
                out = av.open(str(part), "w", format="mp4")
                outs = out.add_stream_from_template(ins)
            packet.stream = outs
            out.mux_one(packet)
        if out is not None:
            out.close()
            _durable(part, final)
    return time.process_time() - start, span


def demux_only(path: Path, seconds: float) -> tuple[float, float]:
    """(CPU s, stream s) of reading the source's packets and nothing else."""
    source = StreamSource(path.as_uri(), realtime=False, hwaccel="none")
    source.open()
    start = time.process_time()
    first: float | None = None
    span = 0.0
    try:
        for packet in source.packets():
            first = packet.ts if first is None else first
            span = packet.ts - first
            if span >= seconds:
                break
    finally:
        source.close()
    return time.process_time() - start, span


def record(
    path: Path, root: Path, seconds: float, on_segment: Callable[[SegmentInfo], None]
) -> tuple[float, float]:
    """(CPU s, stream s) of the source's packets recorded into fsynced segments.

    In the pipeline the demux is shared with detection, so what recording adds to a
    camera is this minus :func:`demux_only` of the same stream.
    """
    source = StreamSource(path.as_uri(), realtime=False, hwaccel="none")
    source.open()
    start = time.process_time()
    recorder = SegmentRecorder("bench", root, source.stream, on_segment=on_segment)
    first: float | None = None
    span = 0.0
    try:
        for packet in source.packets():
            first = packet.ts if first is None else first
            span = packet.ts - first
            if span >= seconds:
                break
            recorder.write(packet)
        recorder.close()
    finally:
        source.close()
    return time.process_time() - start, span


def _camera_loop(
    name: str,
    path: Path,
    root: Path,
    seconds: float,
    scheduler: DetectorScheduler,
    results: dict[str, dict[str, Any]],
) -> None:
    config = CameraConfig(name=name, url=path.as_uri())

    def detect(frame: Any, ts: float) -> list[Detection] | None:
        return scheduler.submit(name, frame, ts).result(timeout=60).detections

    analyzer = FrameAnalyzer(config, detect, thresholds={"person": 0.5, "vehicle": 0.5})
    sampler = FrameSampler(config.detect_fps)
    source = StreamSource(path.as_uri(), realtime=False, hwaccel="none")
    source.open()
    recorder = SegmentRecorder(name, root, source.stream, on_segment=lambda s: None)
    first: float | None = None
    span = 0.0
    try:
        for packet in source.packets():
            first = packet.ts if first is None else first
            span = packet.ts - first
            if span >= seconds:
                break
            for frame in source.decode(packet):
                if sampler.keep(frame.ts):
                    analyzer.process(frame_to_rgb(frame, 1280), frame.ts)
            recorder.write(packet)
    finally:
        recorder.close()
        source.close()
    counters = analyzer.counters
    results[name] = {
        "stream_s": span,
        "frames_sampled": counters.frames,
        "frames_detected": counters.detected,
        "skipped_by_motion": round(counters.skipped_ratio, 4),
    }


def pipeline(
    path: Path, root: Path, seconds: float, detector: BatchDetector, cameras: int
) -> tuple[float, dict[str, dict[str, Any]]]:
    """Run ``cameras`` full pipelines on threads at once; returns (stream s each, details)."""
    results: dict[str, dict[str, Any]] = {}
    with DetectorScheduler(detector) as scheduler:
        threads = [
            threading.Thread(
                target=_camera_loop,
                args=(f"cam{i}", path, root / f"cam{i}", seconds, scheduler, results),
            )
            for i in range(cameras)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if len(results) != cameras:
        raise RuntimeError("a benchmark camera failed; see the log")
    return min(r["stream_s"] for r in results.values()), results


def measure(
    clip: Path, work: Path, seconds: float, detector: BatchDetector, cameras: int, cores: int
) -> dict[str, Any]:
    """Every mode over one stream file; CPU seconds per camera-minute of each."""
    rows: dict[str, Any] = {}
    work.mkdir(parents=True, exist_ok=True)
    cpu, span = decode_only(clip, seconds)
    rows["decode_cpu_s_per_camera_minute"] = round(_per_minute(cpu, span), 3)
    # Remux and recording cost little CPU: alternate the modes REPEATS times, take medians.
    remuxes, standalone, demuxes = [], [], []
    segments: list[SegmentInfo] = []
    for i in range(REPEATS):
        cpu, span = remux_only(clip, work / f"remux-{i}", seconds)
        remuxes.append(_per_minute(cpu, span))
        cpu, span = demux_only(clip, seconds)
        demuxes.append(_per_minute(cpu, span))
        segments.clear()
        cpu, span = record(clip, work / f"recorder-{i}", seconds, segments.append)
        standalone.append(_per_minute(cpu, span))
    remux = statistics.median(remuxes)
    alone, demux = statistics.median(standalone), statistics.median(demuxes)
    recorded = max(alone - demux, 0.0)
    rows["remux_cpu_s_per_camera_minute"] = round(remux, 4)
    rows["source_demux_cpu_s_per_camera_minute"] = round(demux, 4)
    rows["record_standalone_cpu_s_per_camera_minute"] = round(alone, 4)
    rows["record_cpu_s_per_camera_minute"] = round(recorded, 4)
    rows["record_segments"] = len(segments)
    rows["recording_overhead_ratio"] = round(recorded / remux, 4)
    rows["recording_standalone_ratio"] = round(alone / remux, 4)
    details: dict[str, dict[str, Any]] = {}

    def full() -> float:
        span, found = pipeline(clip, work / "pipeline", seconds, detector, cameras)
        details.update(found)
        return span

    cpu, span = _cpu(full)
    per_min = _per_minute(cpu, span, cameras)
    rows["pipeline_cpu_s_per_camera_minute"] = round(per_min, 3)
    rows["pipeline_over_decode"] = round(per_min / rows["decode_cpu_s_per_camera_minute"], 3)
    rows["cameras_at_5fps"] = math.floor(cores * 60.0 / per_min)
    rows["camera_details"] = details
    return rows


def run_camera_bench(
    detector: BatchDetector, *, cameras: int = 1, seconds: float = 20.0
) -> dict[str, Any]:
    """All modes at 720p and 1080p; the JSON report with the issue's two goals."""
    cores = os.cpu_count() or 1
    report: dict[str, Any] = {"bench": "camera", "cores": cores, "cameras": cameras}
    with tempfile.TemporaryDirectory(prefix="guardian-bench-camera-") as tmp:
        root = Path(tmp)
        for label, (width, height) in RESOLUTIONS.items():
            clip = make_stream(root / f"{label}.mp4", width, height, seconds + 2)
            report[label] = measure(clip, root / label, seconds, detector, cameras, cores)
    overhead = max(report[r]["recording_overhead_ratio"] for r in RESOLUTIONS)
    goals: list[Goal] = [
        {"name": "recording_overhead_ratio", "value": overhead,
         "target": OVERHEAD_TARGET, "better": "lower"},
        {"name": "cameras_720p_at_5fps", "value": report["720p"]["cameras_at_5fps"],
         "target": CAMERAS_TARGET, "better": "higher"},
    ]  # fmt: skip
    report["stream_seconds"] = seconds
    report["cameras_1080p_at_5fps"] = report["1080p"]["cameras_at_5fps"]
    report["goals"] = goals
    return report
