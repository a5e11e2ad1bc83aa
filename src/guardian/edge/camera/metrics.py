"""Prometheus gauges of the cameras and the box, read from the live pipelines at scrape time."""

from __future__ import annotations

import shutil
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Protocol

import psutil
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from guardian.edge.camera.status import RECORDING_STATES, STATES, StatusSnapshot
from guardian.edge.context import EdgeContext


class CamerasLike(Protocol):
    def statuses(self) -> list[StatusSnapshot]: ...
    def storage(self) -> dict[str, int]: ...


class DiskLike(Protocol):
    @property
    def paused(self) -> bool: ...


_watched: weakref.WeakSet[CollectorRegistry] = weakref.WeakSet()
_lock = threading.Lock()


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class CameraCollector(Collector):
    """Per camera: state, fps, motion skips, latency, recording, storage; per box: load."""

    def __init__(
        self,
        ctx: EdgeContext,
        cameras: Callable[[], CamerasLike | None],
        disk: DiskLike | None,
    ) -> None:
        self._ctx = ctx
        self._cameras = cameras
        self._disk = disk
        self._process = psutil.Process()

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield from self._camera_metrics()
        yield from self._box_metrics()

    def _camera_metrics(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        manager = self._cameras()
        snaps = manager.statuses() if manager else []
        storage = manager.storage() if manager else {}
        state = _gauge("guardian_camera_state", "1 for the camera's state.", ["camera", "state"])
        up = _gauge("guardian_camera_up", "1 when the camera's stream is online.", ["camera"])
        fps = _gauge("guardian_camera_input_fps", "Frames per second received.", ["camera"])
        det = _gauge("guardian_camera_detect_fps", "Frames per second detected.", ["camera"])
        skip = _gauge(
            "guardian_camera_motion_skipped_ratio",
            "Fraction of sampled frames the motion gate kept from the detector.",
            ["camera"],
        )
        lat = _gauge(
            "guardian_camera_detector_latency_seconds",
            "Latest submit-to-result time of the shared detector.",
            ["camera"],
        )
        rec = _gauge(
            "guardian_camera_recording", "1 for the camera's recording state.", ["camera", "state"]
        )
        used = _gauge(
            "guardian_camera_storage_bytes", "Recordings and event media on disk.", ["camera"]
        )
        reconnects = CounterMetricFamily(
            "guardian_camera_reconnects",
            "Stream reconnects since the edge started.",
            labels=["camera"],
        )
        dropped = CounterMetricFamily(
            "guardian_camera_frames_dropped",
            "Sampled frames replaced before analysis (analysis slower than detect fps).",
            labels=["camera"],
        )
        for snap in snaps:
            cam = [snap.name]
            for name in STATES:
                state.add_metric([snap.name, name], 1.0 if snap.state == name else 0.0)
            up.add_metric(cam, 1.0 if snap.state == "online" else 0.0)
            fps.add_metric(cam, snap.input_fps or 0.0)
            det.add_metric(cam, snap.detect_fps or 0.0)
            skip.add_metric(cam, snap.skipped_by_motion or 0.0)
            lat.add_metric(cam, (snap.detector_latency_ms or 0.0) / 1000)
            for name in RECORDING_STATES:
                rec.add_metric([snap.name, name], 1.0 if snap.recording == name else 0.0)
            used.add_metric(cam, float(storage.get(snap.name, 0)))
            reconnects.add_metric(cam, float(snap.reconnects))
            dropped.add_metric(cam, float(snap.frames_dropped))
        yield from (state, up, fps, det, skip, lat, rec, used, reconnects, dropped)

    def _box_metrics(self) -> Iterator[GaugeMetricFamily]:
        cpu = _gauge("guardian_cpu_percent", "System CPU use, percent of all cores.")
        cpu.add_metric([], psutil.cpu_percent(interval=None))
        yield cpu
        memory = psutil.virtual_memory()
        mem = _gauge("guardian_memory_used_bytes", "System memory in use.")
        mem.add_metric([], float(memory.total - memory.available))
        yield mem
        total = _gauge("guardian_memory_total_bytes", "System memory.")
        total.add_metric([], float(memory.total))
        yield total
        rss = _gauge("guardian_process_rss_bytes", "Resident memory of the edge process.")
        rss.add_metric([], float(self._process.memory_info().rss))
        yield rss
        usage = shutil.disk_usage(self._ctx.settings.media_dir)
        disk_used = _gauge("guardian_disk_used_bytes", "Used bytes on the media disk.")
        disk_used.add_metric([], float(usage.used))
        yield disk_used
        disk_total = _gauge("guardian_disk_total_bytes", "Size of the media disk.")
        disk_total.add_metric([], float(usage.total))
        yield disk_total
        queue = _gauge(
            "guardian_detector_queue_length", "Camera frames waiting for the shared detector."
        )
        queue.add_metric([], float(self._ctx.detector_queue() or 0))
        yield queue
        paused = _gauge(
            "guardian_recording_paused", "1 while recording is paused by the disk floor."
        )
        paused.add_metric([], 1.0 if self._disk is not None and self._disk.paused else 0.0)
        yield paused


def watch_cameras(
    ctx: EdgeContext, cameras: Callable[[], CamerasLike | None], disk: DiskLike | None
) -> None:
    """Register the camera and box gauges on ``ctx``'s registry, once."""
    registry = ctx.metrics.registry
    with _lock:
        if registry not in _watched:
            registry.register(CameraCollector(ctx, cameras, disk))
            _watched.add(registry)
