"""One camera's running pipeline: stream readers, recorder, and the analysis thread.

Threads per camera: a reader per distinct stream URL (the main stream records and, unless
a separate detect stream is set, also feeds detection) and one analysis thread. Readers
never wait for the detector: sampled frames go through a one-slot mailbox where a newer
frame replaces an older one, so a slow detector costs detection frames, not recording.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from guardian.edge.camera.analyzer import FrameAnalyzer, RgbImage
from guardian.edge.camera.config import CameraConfig
from guardian.edge.camera.motion import FrameSampler
from guardian.edge.camera.scheduler import DetectorScheduler, FrameDroppedError
from guardian.edge.camera.sink import EventSink
from guardian.edge.camera.source import (
    Backoff,
    SourceFrame,
    SourcePacket,
    StreamError,
    StreamSource,
)
from guardian.edge.camera.status import LiveStatus
from guardian.edge.config import CameraSettings
from guardian.edge.detect.types import Detection
from guardian.edge.record.segments import SegmentRecorder
from guardian.edge.record.types import SegmentInfo

logger = logging.getLogger(__name__)
RETRY_RECORDING_S = 10.0


class DiskGuardLike(Protocol):
    def recording_allowed(self) -> bool: ...


@dataclass
class PipelineDeps:
    """What a pipeline needs from the edge around it."""

    scheduler: DetectorScheduler
    sink_factory: Callable[[CameraConfig, Callable[[], bool]], EventSink]
    recordings_dir: Path
    settings: CameraSettings
    on_segment: Callable[[SegmentInfo], None]
    disk: DiskGuardLike
    clock: Callable[[], float] = time.time
    source_factory: Callable[..., StreamSource] = StreamSource
    realtime: bool | None = None  # None: the source decides (files are paced)


@dataclass
class _Mailbox:
    """Frames for the analysis thread: at most one waiting frame; close marks are kept."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    items: deque[tuple[str, float, RgbImage | None]] = field(default_factory=deque)
    dropped: int = 0

    def put_frame(self, frame: RgbImage, ts: float) -> None:
        with self.cond:
            if self.items and self.items[-1][0] == "frame":
                self.items.pop()
                self.dropped += 1
            self.items.append(("frame", ts, frame))
            self.cond.notify()

    def put_close(self, ts: float) -> None:
        with self.cond:
            self.items.append(("close", ts, None))
            self.cond.notify()

    def get(self, timeout: float) -> tuple[str, float, RgbImage | None] | None:
        with self.cond:
            if not self.items:
                self.cond.wait(timeout)
            return self.items.popleft() if self.items else None


def frame_to_rgb(frame: SourceFrame, max_width: int) -> RgbImage:
    """The decoded frame as RGB, scaled down to ``max_width`` (aspect kept) if wider."""
    video = frame.frame
    width, height = video.width, video.height
    if width > max_width:
        height = max(2, round(height * max_width / width / 2) * 2)
        width = max_width
        video = video.reformat(width=width, height=height, format="rgb24")
    else:
        video = video.reformat(format="rgb24")
    array: RgbImage = np.ascontiguousarray(video.to_ndarray())
    return array


class CameraPipeline:
    """Runs one camera until ``stop()``; its status is readable at any time."""

    def __init__(self, config: CameraConfig, deps: PipelineDeps, session: str = "") -> None:
        self.config = config
        self.deps = deps
        self.status = LiveStatus(config.name)
        self._stop = threading.Event()
        self._mailbox = _Mailbox()
        self._sources: set[StreamSource] = set()
        self._sources_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._recording_state = "off" if not config.record else "idle"
        self.status.update(recording=self._recording_state)
        self.sink = deps.sink_factory(config, lambda: self._recording_state == "recording")
        thresholds = {
            "person": deps.settings.person_threshold,
            "vehicle": deps.settings.vehicle_threshold,
        }
        self.analyzer = FrameAnalyzer(
            config,
            self._detect,
            thresholds=thresholds,
            min_track_seconds=deps.settings.min_track_seconds,
            session=session or f"{int(deps.clock() * 1000):x}",
        )

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        name = self.config.name
        detect_url, record_url = self.config.detect_source, self.config.record_source
        if detect_url == record_url:
            self._spawn(f"cam-{name}-main", detect_url, record=self.config.record, detect=True)
        else:
            self._spawn(f"cam-{name}-record", record_url, record=self.config.record, detect=False)
            self._spawn(f"cam-{name}-detect", detect_url, record=False, detect=True)
        thread = threading.Thread(target=self._analyse, name=f"cam-{name}-analyse", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _spawn(self, name: str, url: str, *, record: bool, detect: bool) -> None:
        thread = threading.Thread(
            target=self._read_loop, args=(url, record, detect), name=name, daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop reading, finish the open segment, end open events."""
        self._stop.set()
        with self._sources_lock:
            for source in list(self._sources):
                source.interrupt()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))

    @property
    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    # -- readers -----------------------------------------------------------------------

    def _read_loop(self, url: str, record: bool, detect: bool) -> None:
        backoff = Backoff(1.0, self.deps.settings.reconnect_max_seconds)
        first = True
        while not self._stop.is_set():
            if not first:
                self.status.add_reconnect()
            first = False
            got_packets = self._read_once(url, record, detect)
            if got_packets:
                backoff.reset()
            if self._stop.is_set():
                break
            self._stop.wait(backoff.next_delay())

    def _read_once(self, url: str, record: bool, detect: bool) -> bool:
        settings = self.deps.settings
        source = self.deps.source_factory(
            url,
            open_timeout_s=settings.open_timeout_seconds,
            read_timeout_s=settings.read_timeout_seconds,
            realtime=self.deps.realtime,
        )
        with self._sources_lock:
            self._sources.add(source)
        recorder: SegmentRecorder | None = None
        got = False
        try:
            info = source.open()
            if detect or not self.config.detect_url:
                self.status.update(
                    decoder=info.decoder, codec=info.codec, width=info.width, height=info.height
                )
            sampler = FrameSampler(self.config.detect_fps)
            for packet in source.packets():
                if self._stop.is_set():
                    break
                if not got:
                    got = True
                    self.status.update(state="online", last_error=None)
                self.status.packet(packet.ts)
                if detect:  # before recording: the recorder takes the packet over
                    for frame in source.decode(packet):
                        if sampler.keep(frame.ts):
                            rgb = frame_to_rgb(frame, settings.detect_max_width)
                            self._mailbox.put_frame(rgb, frame.ts)
                if record:
                    recorder = self._record(recorder, source, packet)
        except StreamError as exc:
            self._lost(str(exc), invalid=getattr(exc, "invalid", False))
        except Exception as exc:  # a pipeline must outlive any one bad stream
            logger.exception("camera reader failed", extra={"camera": self.config.name})
            self._lost(f"{type(exc).__name__}: {exc}", invalid=True)
        else:
            if not self._stop.is_set():
                self._lost("stream ended", invalid=False)
        finally:
            if recorder is not None:
                self._close_recorder(recorder)
            source.close()
            with self._sources_lock:
                self._sources.discard(source)
            if detect:
                self._mailbox.put_close(self.deps.clock())
        return got

    def _lost(self, message: str, *, invalid: bool) -> None:
        if self._stop.is_set():
            return
        state = "error" if invalid else "offline"
        logger.warning(
            "camera stream lost: %s",
            message,
            extra={"camera": self.config.name, "state": state},
        )
        self.status.update(state=state, last_error=message)

    # -- recording ---------------------------------------------------------------------

    def _set_recording(self, state: str) -> None:
        if state != self._recording_state:
            self._recording_state = state
            self.status.update(recording=state)
            logger.info("recording %s", state, extra={"camera": self.config.name})

    def _record(
        self, recorder: SegmentRecorder | None, source: StreamSource, packet: SourcePacket
    ) -> SegmentRecorder | None:
        if not self.deps.disk.recording_allowed():
            if recorder is not None:
                self._close_recorder(recorder)
            self._set_recording("paused_disk")
            return None
        if recorder is None:
            if (
                self._recording_state == "error"
                and self.deps.clock() - self._recording_error_at < RETRY_RECORDING_S
            ):
                return None
            recorder = SegmentRecorder(
                self.config.name,
                self.deps.recordings_dir,
                source.stream,
                segment_seconds=self.config.segment_seconds,
                on_segment=self.deps.on_segment,
            )
        try:
            recorder.write(packet)
        except OSError as exc:  # e.g. ENOSPC: detection and events go on without footage
            logger.warning("recording failed: %s", exc, extra={"camera": self.config.name})
            self._recording_error_at = self.deps.clock()
            self._set_recording("error")
            self.status.update(last_error=f"recording: {exc}")
            self._close_recorder(recorder)
            return None
        self._set_recording("recording")
        return recorder

    _recording_error_at = 0.0

    def _close_recorder(self, recorder: SegmentRecorder) -> None:
        try:
            recorder.close()
        except Exception as exc:
            logger.warning("closing a segment failed: %s", exc, extra={"camera": self.config.name})
        if self._recording_state == "recording":
            self._set_recording("idle")

    # -- analysis ----------------------------------------------------------------------

    def _detect(self, frame: RgbImage, ts: float) -> list[Detection] | None:
        future = self.deps.scheduler.submit(self.config.name, frame, ts)
        try:
            result = future.result(timeout=30.0)
        except FrameDroppedError:
            return None
        except Exception as exc:
            logger.warning("detection failed: %s", exc, extra={"camera": self.config.name})
            return None
        self.status.detect_meter.tick()
        self.status.update(detector_latency_ms=round(result.latency_s * 1000, 2))
        return result.detections

    def _analyse(self) -> None:
        while True:
            item = self._mailbox.get(0.5)
            if item is None:
                if self._stop.is_set() and not any(
                    t.is_alive() for t in self._threads if t is not threading.current_thread()
                ):
                    break
                continue
            kind, ts, frame = item
            try:
                if kind == "close":
                    actions = self.analyzer.close(ts)
                else:
                    assert frame is not None
                    actions = self.analyzer.process(frame, ts).actions
                self.sink.handle(actions, self.analyzer.frame_at)
            except Exception:
                logger.exception("camera analysis failed", extra={"camera": self.config.name})
            counters = self.analyzer.counters
            self.status.update(
                skipped_by_motion=round(counters.skipped_ratio, 4),
                frames_dropped=self._mailbox.dropped,
                events_written=self.sink.events_written,
            )
