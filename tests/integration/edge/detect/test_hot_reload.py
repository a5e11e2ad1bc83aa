"""Swapping real models while detecting: a new version goes live, a broken one does not."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from guardian.edge.detect.config import DetectorSettings
from guardian.edge.detect.loader import load_detector, model_fingerprint
from guardian.edge.detect.models.byo import OnnxModelConfig
from guardian.edge.detect.models.store import MANIFEST, ModelStore
from guardian.edge.detect.reload import HotSwapDetector, ModelReloadMaintainer
from guardian.edge.detect.testing import yolov8_rows
from tests.media import load_image
from tests.unit.edge.detect.onnx_graphs import build_constant_output_model

MODEL = "ssd-mobilenetv2-oidv4"


@pytest.fixture
def settings(tmp_path: Path) -> DetectorSettings:
    """A private models dir holding copies of the fetched SSD and NanoDet models."""
    store = ModelStore()
    for name in (MODEL, "nanodet-coco"):
        if name not in store.names():
            pytest.skip(f"{name} is not fetched in {store.root} (make models)")
        shutil.copytree(store.model_dir(name), tmp_path / name)
    return DetectorSettings(models_dir=tmp_path, model=MODEL)


def test_switching_the_configured_model_swaps_it_in(settings: DetectorSettings) -> None:
    current = {"settings": settings}
    hot = HotSwapDetector(load_detector(current["settings"]))
    assert hot.provenance.model == MODEL
    current["settings"] = settings.model_copy(update={"model": "nanodet-coco"})
    result = hot.swap(lambda: load_detector(current["settings"]))
    assert result.swapped and hot.provenance.model == "nanodet-coco"
    people = [d for d in hot.detect(load_image("astronaut")) if d.label == "person"]
    assert people and people[0].source_label == "person"  # COCO's lower-case class name


def test_a_replaced_onnx_file_is_picked_up_without_restart(tmp_path: Path) -> None:
    path = tmp_path / "mine.onnx"
    frame = np.zeros((64, 64, 3), np.uint8)

    def export(cls: int) -> None:
        rows = yolov8_rows([[8, 8, 40, 40]], [cls], [0.9])
        build_constant_output_model(tmp_path / "export.onnx", [1, 3, 64, 64], rows[None])
        (tmp_path / "export.onnx").replace(path)  # a new export lands atomically

    export(0)
    cfg = OnnxModelConfig(name="mine", path=path, format="yolov8")
    settings = DetectorSettings(model="mine", custom_models=[cfg])
    hot = HotSwapDetector(load_detector(settings, runtime="onnxruntime"))
    maintainer = ModelReloadMaintainer(
        hot,
        lambda: load_detector(settings, runtime="onnxruntime"),
        lambda: model_fingerprint(settings),
        threading.Event(),
    )
    before = hot.provenance
    assert [d.source_label for d in hot.detect(frame)] == ["person"]
    assert maintainer.check_once() is None
    export(2)
    result = maintainer.check_once()
    assert result is not None and result.swapped
    assert hot.provenance.sha256 != before.sha256
    assert [d.source_label for d in hot.detect(frame)] == ["car"]


def test_broken_new_version_keeps_the_running_model(settings: DetectorSettings) -> None:
    hot = HotSwapDetector(load_detector(settings))
    before = hot.provenance
    maintainer = ModelReloadMaintainer(
        hot,
        lambda: load_detector(settings),
        lambda: model_fingerprint(settings),
        threading.Event(),
    )
    # A new version arrives whose weights are corrupt (hash no longer matches).
    weights = settings.models_dir / MODEL / "model.tflite"
    weights.write_bytes(weights.read_bytes()[:1000])
    (settings.models_dir / MODEL / MANIFEST).write_text(
        (settings.models_dir / MODEL / MANIFEST).read_text() + "\n"
    )
    result = maintainer.check_once()
    assert result is not None and not result.swapped
    assert "SHA-256" in (result.error or "")
    assert hot.provenance == before
    assert [d.label for d in hot.detect(load_image("astronaut"))] == ["person"]
