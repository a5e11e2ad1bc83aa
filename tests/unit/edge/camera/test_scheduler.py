"""Detector scheduler: freshest frame per camera, round-robin fairness, errors, clean stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from typing import cast

import numpy as np
import numpy.typing as npt
import pytest

from guardian.edge.camera.scheduler import (
    DetectionResult,
    DetectorScheduler,
    FrameDroppedError,
    SchedulerStoppedError,
)
from guardian.edge.detect.detector import Detector
from guardian.edge.detect.runtimes.base import Runtime, TensorInfo
from guardian.edge.detect.testing import FakeRuntime, ScriptedModel, fake_yolov8_spec, yolov8_rows
from guardian.edge.detect.types import FloatArray

PERSON = 0
BAD = 99
WAIT = 5.0


class Model:
    """A scripted YOLOv8 model that reads each frame's id from its pixels and logs it."""

    def __init__(self, delay: float = 0.0, gate: threading.Event | None = None) -> None:
        self.seen: list[int] = []
        self.entered = threading.Event()
        self.delay = delay
        self.gate = gate
        self.rows = yolov8_rows([[8, 8, 40, 56]], [PERSON], [0.9])

    def __call__(self, batch: FloatArray) -> list[FloatArray]:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(WAIT)
        ids = [round(float(image[0, 32, 32]) * 255) for image in batch]
        self.seen.extend(ids)
        if BAD in ids:
            raise RuntimeError("model failed on a bad frame")
        if self.delay:
            time.sleep(self.delay)
        return [np.repeat(self.rows[None], batch.shape[0], axis=0)]


def detector(fn: Callable[[FloatArray], list[FloatArray]]) -> Detector:
    spec = fake_yolov8_spec()
    model = ScriptedModel(
        TensorInfo("images", (None, 3, 64, 64)), (TensorInfo("output0", (None, 84, 84)),), fn
    )
    # FakeRuntime's ``suffixes`` infers as a 1-tuple, narrower than the protocol's tuple.
    runtime = cast(Runtime, FakeRuntime({spec.artifacts["fake"].path: model}))
    return Detector.load(spec, runtime)


def frame(k: int) -> npt.NDArray[np.uint8]:
    """A 64x64 frame whose every pixel holds its id, so the model can tell frames apart."""
    return np.full((64, 64, 3), k, np.uint8)


@pytest.fixture
def model() -> Model:
    return Model()


@pytest.fixture
def sched(model: Model) -> Iterator[DetectorScheduler]:
    scheduler = DetectorScheduler(detector(model), max_batch=1)
    yield scheduler
    scheduler.stop()


def test_a_frame_is_detected_and_timed(sched: DetectorScheduler) -> None:
    sched.start()
    result = sched.submit("front", frame(5), 12.5).result(WAIT)
    assert isinstance(result, DetectionResult)
    assert (result.camera, result.t) == ("front", 12.5)
    assert [d.label for d in result.detections] == ["person"]
    assert result.latency_s >= 0.0
    stats = sched.stats()["front"]
    assert (stats.submitted, stats.detected, stats.dropped, stats.failed) == (1, 1, 0, 0)
    assert stats.mean_latency_s == pytest.approx(result.latency_s)


def test_only_the_newest_frame_per_camera_is_detected(
    sched: DetectorScheduler, model: Model
) -> None:
    old = [sched.submit("front", frame(k), float(k)) for k in (1, 2, 3)]
    newest = sched.submit("front", frame(4), 4.0)
    assert sched.queue_length == 1
    for future in old:
        assert isinstance(future.exception(0), FrameDroppedError)
    sched.start()
    assert newest.result(WAIT).t == 4.0
    assert model.seen == [4]
    stats = sched.stats()["front"]
    assert (stats.submitted, stats.detected, stats.dropped) == (4, 1, 3)


def test_cameras_are_served_round_robin_and_keep_their_place(
    sched: DetectorScheduler, model: Model
) -> None:
    futures = [
        sched.submit("a", frame(10), 0.0),
        sched.submit("b", frame(20), 0.0),
        sched.submit("a", frame(30), 0.1),  # replaces 10 but stays ahead of b
        sched.submit("c", frame(40), 0.0),
    ]
    sched.start()
    for future in futures[1:]:
        future.result(WAIT)
    assert model.seen == [30, 20, 40]


def test_batches_take_one_frame_per_camera(model: Model) -> None:
    sched = DetectorScheduler(detector(model), max_batch=2)
    try:
        futures = [sched.submit(cam, frame(k), 0.0) for cam, k in [("a", 1), ("b", 2), ("c", 3)]]
        sched.start()
        assert [f.result(WAIT).camera for f in futures] == ["a", "b", "c"]
        assert model.seen == [1, 2, 3]
    finally:
        sched.stop()


def test_a_flooding_camera_cannot_starve_the_others() -> None:
    model = Model(delay=0.002)
    sched = DetectorScheduler(detector(model), max_batch=1)
    done = threading.Event()

    def flood(camera: str, k: int) -> None:
        t = 0.0
        while not done.is_set():
            sched.submit(camera, frame(k), t)
            t += 0.001

    floods = [threading.Thread(target=flood, args=(cam, k)) for cam, k in [("a", 1), ("b", 2)]]
    sched.start()
    for thread in floods:
        thread.start()
    try:
        # A polite camera sends its next frame only once the last one came back.
        for i in range(30):
            assert sched.submit("polite", frame(3), float(i)).result(WAIT).camera == "polite"
    finally:
        done.set()
        for thread in floods:
            thread.join(WAIT)
        sched.stop()
    stats = sched.stats()
    a, b, polite = stats["a"].detected, stats["b"].detected, stats["polite"].detected
    assert polite == 30
    assert stats["polite"].dropped == 0
    assert min(a, b) >= 0.7 * max(a, b), (a, b)
    assert polite >= max(a, b) / 3, (a, b, polite)
    assert stats["a"].dropped > stats["a"].detected  # the flood was real


def test_a_detector_error_reaches_the_submitter_and_the_worker_survives(
    sched: DetectorScheduler,
) -> None:
    sched.start()
    failed = sched.submit("front", frame(BAD), 1.0)
    with pytest.raises(RuntimeError, match="bad frame"):
        failed.result(WAIT)
    assert sched.submit("front", frame(5), 2.0).result(WAIT).detections
    assert sched.running
    stats = sched.stats()["front"]
    assert (stats.detected, stats.failed) == (1, 1)


def test_a_bad_frame_in_a_batch_fails_only_its_camera(model: Model) -> None:
    sched = DetectorScheduler(detector(model), max_batch=4)
    try:
        bad = sched.submit("a", frame(BAD), 0.0)
        good = sched.submit("b", frame(7), 0.0)
        sched.start()
        assert good.result(WAIT).camera == "b"
        assert isinstance(bad.exception(WAIT), RuntimeError)
    finally:
        sched.stop()


def test_a_cancelled_request_is_never_detected(sched: DetectorScheduler, model: Model) -> None:
    cancelled = sched.submit("a", frame(1), 0.0)
    assert cancelled.cancel()
    kept = sched.submit("b", frame(2), 0.0)
    sched.start()
    kept.result(WAIT)
    assert model.seen == [2]
    with pytest.raises(CancelledError):
        cancelled.result(0)
    # Replacing a cancelled request is harmless too.
    sched.submit("b", frame(3), 1.0).cancel()
    assert sched.submit("b", frame(4), 2.0).result(WAIT).t == 2.0


def test_stop_finishes_the_running_batch_and_fails_pending_frames() -> None:
    gate = threading.Event()
    model = Model(gate=gate)
    sched = DetectorScheduler(detector(model), max_batch=1)
    sched.start()
    running = sched.submit("a", frame(1), 0.0)
    assert model.entered.wait(WAIT)
    pending = sched.submit("b", frame(2), 0.0)
    stopper = threading.Thread(target=sched.stop)
    stopper.start()
    deadline = time.monotonic() + WAIT
    while not sched.stopping and time.monotonic() < deadline:
        time.sleep(0.001)
    gate.set()
    stopper.join(WAIT)
    assert not stopper.is_alive()
    assert not sched.running
    assert running.result(WAIT).camera == "a"
    assert isinstance(pending.exception(0), SchedulerStoppedError)
    assert model.seen == [1]
    late = sched.submit("a", frame(3), 1.0)
    assert isinstance(late.exception(0), SchedulerStoppedError)
    assert sched.queue_length == 0


def test_the_context_manager_starts_and_stops(model: Model) -> None:
    with DetectorScheduler(detector(model)) as sched:
        assert sched.running
        sched.submit("a", frame(1), 0.0).result(WAIT)
    assert not sched.running
    with pytest.raises(RuntimeError):
        sched.start()


def test_max_batch_must_be_positive(model: Model) -> None:
    with pytest.raises(ValueError):
        DetectorScheduler(detector(model), max_batch=0)
