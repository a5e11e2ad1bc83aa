"""Real models on real photos: hand-labelled people and vehicles are found (IoU >= 0.5)."""

from __future__ import annotations

import numpy as np
import pytest

from guardian.edge.detect.nms import iou_matrix
from guardian.edge.detect.types import Detection
from tests.integration.edge.detect.conftest import get_detector, require_image
from tests.media import expectations, load_image

POSITIVES = sorted(expectations()["images"])
NEGATIVES = sorted(expectations()["negatives"])
MIN_IOU = 0.5
# The two runtimes run the same weights in float32; boxes agree to well under a pixel.
RUNTIME_BOX_TOLERANCE_PX = 2.0
RUNTIME_SCORE_TOLERANCE = 0.01

# (model, runtime) pairs under test; models without an ONNX artifact run on OpenVINO only.
COMBOS = [
    ("ssd-mobilenetv2-oidv4", "openvino"),
    ("ssd-mobilenetv2-oidv4", "onnxruntime"),
    ("nanodet-coco", "openvino"),
    ("centernet-coco", "openvino"),
]


def _best_iou(expected: list[float], found: list[Detection]) -> float:
    if not found:
        return 0.0
    boxes = np.asarray([d.box for d in found], np.float32)
    return float(iou_matrix(np.asarray([expected], np.float32), boxes).max())


@pytest.mark.parametrize(("model", "runtime"), COMBOS)
@pytest.mark.parametrize("image", POSITIVES)
def test_labelled_people_and_vehicles_are_found(model: str, runtime: str, image: str) -> None:
    require_image(image)
    detector = get_detector(model, runtime)
    found = detector.detect(load_image(image))
    wanted = expectations()["images"][image]
    for label in ("person", "vehicle"):
        of_label = [d for d in found if d.label == label]
        for box in wanted[label]:
            iou = _best_iou(box, of_label)
            assert iou >= MIN_IOU, (
                f"{model}/{runtime} on {image}: expected a {label} at {box}, best IoU "
                f"{iou:.2f}; found {[(d.label, d.source_label, round(d.score, 2)) for d in found]}"
            )


@pytest.mark.parametrize(("model", "runtime"), COMBOS)
@pytest.mark.parametrize("image", NEGATIVES)
def test_photos_without_people_yield_no_person(model: str, runtime: str, image: str) -> None:
    detector = get_detector(model, runtime)
    people = [d for d in detector.detect(load_image(image)) if d.label == "person"]
    assert people == [], f"{model}/{runtime} saw people in {image}: {people}"


@pytest.mark.parametrize("image", POSITIVES + NEGATIVES)
def test_openvino_and_onnxruntime_agree(image: str) -> None:
    if image in expectations()["images"]:
        require_image(image)
    frame = load_image(image)
    a = get_detector("ssd-mobilenetv2-oidv4", "openvino").detect(frame)
    b = get_detector("ssd-mobilenetv2-oidv4", "onnxruntime").detect(frame)
    assert [d.source_label for d in a] == [d.source_label for d in b]
    for da, db in zip(a, b, strict=True):
        assert abs(da.score - db.score) <= RUNTIME_SCORE_TOLERANCE
        assert np.allclose(da.box, db.box, atol=RUNTIME_BOX_TOLERANCE_PX), (da, db)


def test_batch_form_matches_single_frames() -> None:
    detector = get_detector("ssd-mobilenetv2-oidv4", "openvino")
    frames = [load_image("astronaut"), load_image("coffee"), load_image("chelsea")]
    batch = detector.detect_batch(frames)
    assert batch == [detector.detect(f) for f in frames]


def test_provenance_names_model_version_runtime_and_device() -> None:
    detector = get_detector("ssd-mobilenetv2-oidv4", "openvino")
    prov = detector.provenance
    assert prov.model == "ssd-mobilenetv2-oidv4"
    assert prov.sha256 == detector.spec.sha256 and len(prov.sha256) == 64
    assert prov.runtime == "openvino"
    assert prov.device.startswith(("CPU", "GPU"))


@pytest.mark.parametrize("performance", ["LATENCY", "THROUGHPUT"])
def test_callers_on_many_threads_get_what_one_caller_gets(performance: str) -> None:
    """Each thread has its own infer request: concurrent callers (camera pipelines and
    capture workers) never share one, under either performance hint."""
    from concurrent.futures import ThreadPoolExecutor

    from guardian.edge.detect.config import DetectorSettings
    from guardian.edge.detect.loader import load_detector
    from guardian.edge.detect.runtimes.config import OpenVinoConfig

    settings = DetectorSettings(runtime=OpenVinoConfig(performance=performance))
    detector = load_detector(settings)
    frames = [load_image(name) for name in ("astronaut", "coffee", "chelsea", "astronaut")]
    alone = [detector.detect(f) for f in frames]
    assert any(alone)
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(detector.detect, frames)) == alone
