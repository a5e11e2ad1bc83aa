"""The detector pipeline around a scripted model: mapping, thresholds, batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from guardian.edge.detect.detector import Detector
from guardian.edge.detect.errors import ModelValidationError, RuntimeUnavailableError
from guardian.edge.detect.models.spec import Thresholds
from guardian.edge.detect.runtimes.base import TensorInfo
from guardian.edge.detect.testing import (
    FakeRuntime,
    ScriptedModel,
    constant_yolov8_model,
    fake_yolov8_spec,
    yolov8_rows,
)

PERSON, CAR, BUS, DOG, CUP = 0, 2, 5, 16, 41


def _detector(rows: np.ndarray, thresholds: Thresholds | None = None, **kw: object) -> Detector:
    spec = fake_yolov8_spec(thresholds=thresholds)
    model = constant_yolov8_model(spec, rows, **kw)  # type: ignore[arg-type]
    return Detector.load(spec, FakeRuntime({spec.artifacts["fake"].path: model}))


def test_boxes_map_back_through_the_letterbox_to_frame_pixels() -> None:
    # A 128x64 frame letterboxes into 64x64 at scale 0.5 with 16 px of padding on top.
    rows = yolov8_rows([[8, 20, 40, 44]], [PERSON], [0.9])
    found = _detector(rows).detect(np.zeros((64, 128, 3), np.uint8))
    assert len(found) == 1
    det = found[0]
    assert (det.label, det.source_label) == ("person", "person")
    assert det.score == pytest.approx(0.9)
    assert det.box == pytest.approx((16.0, 8.0, 80.0, 56.0))


def test_source_labels_map_to_guardian_labels() -> None:
    boxes = [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10], [0, 20, 10, 30]]
    rows = yolov8_rows(boxes, [CAR, BUS, DOG, CUP], [0.8, 0.8, 0.8, 0.8])
    found = _detector(rows).detect(np.zeros((64, 64, 3), np.uint8))
    assert sorted((d.source_label, d.label) for d in found) == [
        ("bus", "vehicle"),
        ("car", "vehicle"),
        ("cup", "other"),
        ("dog", "animal"),
    ]


def test_per_label_thresholds_override_the_default() -> None:
    rows = yolov8_rows([[0, 0, 10, 10], [20, 20, 30, 30]], [PERSON, CAR], [0.3, 0.3])
    th = Thresholds(score=0.5, per_label={"person": 0.25})
    found = _detector(rows, th).detect(np.zeros((64, 64, 3), np.uint8))
    assert [d.label for d in found] == ["person"]


def test_source_label_threshold_wins_over_guardian_label_threshold() -> None:
    rows = yolov8_rows([[0, 0, 10, 10], [20, 20, 30, 30]], [CAR, BUS], [0.45, 0.45])
    th = Thresholds(score=0.2, per_label={"vehicle": 0.3, "bus": 0.5})
    found = _detector(rows, th).detect(np.zeros((64, 64, 3), np.uint8))
    assert [d.source_label for d in found] == ["car"]


def test_overlapping_boxes_of_one_class_are_suppressed_but_not_across_classes() -> None:
    boxes = [[10, 10, 40, 40], [11, 11, 41, 41], [10, 10, 40, 40]]
    rows = yolov8_rows(boxes, [PERSON, PERSON, DOG], [0.9, 0.8, 0.7])
    found = _detector(rows).detect(np.zeros((64, 64, 3), np.uint8))
    assert sorted((d.source_label, round(d.score, 2)) for d in found) == [
        ("dog", 0.7),
        ("person", 0.9),
    ]


def test_batches_are_split_to_the_model_batch_limit() -> None:
    rows = yolov8_rows([[0, 24, 10, 34]], [PERSON], [0.9])
    detector = _detector(rows, max_batch=2)
    frames = [np.zeros((32 + i, 64, 3), np.uint8) for i in range(5)]
    results = detector.detect_batch(frames)
    assert len(results) == 5 and all(len(r) == 1 for r in results)
    model = detector.model
    assert isinstance(model, ScriptedModel)
    assert [c[0] for c in model.calls] == [2, 2, 1]


def test_boxes_entirely_in_the_padding_are_dropped() -> None:
    # A 64x32 frame letterboxes with 16 px bands above and below; a box inside a band
    # clips to zero height in frame coordinates.
    rows = yolov8_rows([[0, 0, 10, 10]], [PERSON], [0.9])
    assert _detector(rows).detect(np.zeros((32, 64, 3), np.uint8)) == []


def test_empty_batch_runs_nothing() -> None:
    detector = _detector(yolov8_rows([], [], []))
    assert detector.detect_batch([]) == []


def test_grey_and_rgba_frames_are_accepted() -> None:
    rows = yolov8_rows([[0, 0, 10, 10]], [PERSON], [0.9])
    detector = _detector(rows)
    assert len(detector.detect(np.zeros((64, 64), np.uint8))) == 1
    assert len(detector.detect(np.zeros((64, 64, 4), np.uint8))) == 1
    with pytest.raises(ValueError, match="channels"):
        detector.detect(np.zeros((64, 64, 2), np.uint8))


def test_timed_detection_reports_stages_and_provenance() -> None:
    detector = _detector(yolov8_rows([[0, 0, 10, 10]], [PERSON], [0.9]))
    result = detector.detect_timed(np.zeros((64, 64, 3), np.uint8))
    assert set(result.timings) == {"pre", "infer", "post"}
    assert result.ms >= sum(result.timings.values()) * 0.99
    assert result.provenance.model == "fake-yolov8"
    assert result.provenance.runtime == "fake"


def test_a_model_whose_outputs_do_not_fit_its_labels_is_rejected() -> None:
    spec = fake_yolov8_spec()
    bad = ScriptedModel(
        TensorInfo("images", (1, 3, 64, 64)),
        (TensorInfo("output0", (1, 4 + 10, 100)),),
        lambda b: [np.zeros((1, 14, 100), np.float32)],
    )
    with pytest.raises(ModelValidationError, match="80 labels"):
        Detector.load(spec, FakeRuntime({spec.artifacts["fake"].path: bad}))


def test_a_runtime_without_an_artifact_is_a_clear_error() -> None:
    spec = fake_yolov8_spec()
    with pytest.raises(RuntimeUnavailableError, match="no file for runtime 'other'"):
        Detector.load(spec, FakeRuntime({}, type="other"))


def test_missing_output_names_are_a_validation_error() -> None:
    from dataclasses import replace

    spec = replace(fake_yolov8_spec(), outputs=("nope",))
    model = constant_yolov8_model(spec, yolov8_rows([], [], []))
    with pytest.raises(ModelValidationError, match="nope"):
        Detector.load(spec, FakeRuntime({Path("/fake/fake-yolov8.fake"): model}))


def test_a_model_whose_input_size_differs_from_its_spec_is_rejected() -> None:
    spec = fake_yolov8_spec(size=(64, 64))
    model = ScriptedModel(
        TensorInfo("images", (1, 3, 32, 32)),
        (TensorInfo("output0", (1, 84, 100)),),
        lambda b: [np.zeros((1, 84, 100), np.float32)],
    )
    with pytest.raises(ModelValidationError, match="NCHW images of 64x64"):
        Detector.load(spec, FakeRuntime({spec.artifacts["fake"].path: model}))
