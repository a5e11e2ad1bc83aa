"""Hot model swap: new models go live only after passing validation and a self-test."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from guardian.edge.detect.detector import Detector
from guardian.edge.detect.errors import ModelValidationError
from guardian.edge.detect.reload import HotSwapDetector, ModelReloadMaintainer
from guardian.edge.detect.runtimes.base import TensorInfo
from guardian.edge.detect.testing import (
    FakeRuntime,
    ScriptedModel,
    constant_yolov8_model,
    fake_yolov8_spec,
    yolov8_rows,
)

FRAME = np.zeros((64, 64, 3), np.uint8)


def _detector(name: str, cls: int) -> Detector:
    spec = fake_yolov8_spec(name=name, sha256=name[0] * 64)
    model = constant_yolov8_model(spec, yolov8_rows([[0, 0, 20, 20]], [cls], [0.9]))
    return Detector.load(spec, FakeRuntime({spec.artifacts["fake"].path: model}))


def _broken_at_inference() -> Detector:
    spec = fake_yolov8_spec(name="broken")

    def boom(_batch: np.ndarray) -> list[np.ndarray]:
        raise RuntimeError("kernel crashed")

    model = ScriptedModel(
        TensorInfo("images", (None, 3, 64, 64)), (TensorInfo("output0", (None, 84, 84)),), boom
    )
    return Detector.load(spec, FakeRuntime({spec.artifacts["fake"].path: model}))


def test_a_valid_model_is_swapped_in() -> None:
    hot = HotSwapDetector(_detector("alpha", 0))
    assert hot.detect(FRAME)[0].label == "person"
    result = hot.swap(lambda: _detector("bravo", 2))
    assert result.swapped and result.active.model == "bravo"
    assert hot.provenance.sha256 == "b" * 64
    assert hot.detect(FRAME)[0].label == "vehicle"


def test_a_model_failing_validation_keeps_the_previous_one() -> None:
    hot = HotSwapDetector(_detector("alpha", 0))

    def bad() -> Detector:
        raise ModelValidationError("outputs do not fit")

    result = hot.swap(bad)
    assert not result.swapped and result.active.model == "alpha"
    assert result.error == "outputs do not fit"
    assert hot.detect(FRAME)[0].label == "person"


def test_a_model_failing_its_self_test_keeps_the_previous_one() -> None:
    hot = HotSwapDetector(_detector("alpha", 0))
    result = hot.swap(_broken_at_inference)
    assert not result.swapped and "kernel crashed" in (result.error or "")
    assert hot.provenance.model == "alpha"


def test_detection_keeps_working_while_a_swap_loads() -> None:
    hot = HotSwapDetector(_detector("alpha", 0))
    loading, release = threading.Event(), threading.Event()

    def slow() -> Detector:
        loading.set()
        release.wait(5)
        return _detector("bravo", 2)

    t = threading.Thread(target=hot.swap, args=(slow,))
    t.start()
    assert loading.wait(5)
    assert hot.detect(FRAME)[0].label == "person"  # old model serves during the load
    release.set()
    t.join(5)
    assert hot.detect(FRAME)[0].label == "vehicle"


def test_maintainer_swaps_only_when_the_fingerprint_changes() -> None:
    hot = HotSwapDetector(_detector("alpha", 0))
    prints = iter(["v1", "v1", "v2", "v2"])
    maintainer = ModelReloadMaintainer(
        hot, lambda: _detector("bravo", 2), lambda: next(prints), threading.Event()
    )
    assert maintainer.check_once() is None
    result = maintainer.check_once()
    assert result is not None and result.swapped
    assert maintainer.check_once() is None
    assert hot.provenance.model == "bravo"


def test_maintainer_thread_stops_on_its_event() -> None:
    stop = threading.Event()
    hot = HotSwapDetector(_detector("alpha", 0))
    maintainer = ModelReloadMaintainer(hot, lambda: _detector("b", 2), lambda: "same", stop, 0.01)
    maintainer.start()
    stop.set()
    maintainer.join(2)
    assert not maintainer.is_alive()


@pytest.mark.parametrize("size", [(64, 64), (96, 64)])
def test_self_test_runs_on_mixed_frame_sizes(size: tuple[int, int]) -> None:
    from guardian.edge.detect.reload import self_test

    spec = fake_yolov8_spec(size=size)
    model = constant_yolov8_model(spec, yolov8_rows([], [], []))
    self_test(Detector.load(spec, FakeRuntime({spec.artifacts["fake"].path: model})))
    assert len(model.calls) == 1 and model.calls[0][0] == 2
