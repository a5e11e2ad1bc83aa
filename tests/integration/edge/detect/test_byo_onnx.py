"""Bring-your-own ONNX through both real runtimes: exact boxes back in frame pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from guardian.edge.detect.config import DetectorSettings
from guardian.edge.detect.errors import ModelNotFoundError, ModelValidationError
from guardian.edge.detect.loader import load_detector
from guardian.edge.detect.models.byo import OnnxModelConfig
from guardian.edge.detect.testing import yolov8_rows
from tests.unit.edge.detect.onnx_graphs import build_constant_output_model

RUNTIMES = ["openvino", "onnxruntime"]


def _settings(cfg: OnnxModelConfig) -> DetectorSettings:
    return DetectorSettings(model=cfg.name, custom_models=[cfg])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_yolov8_export_is_decoded_in_frame_pixels(tmp_path: Path, runtime: str) -> None:
    # Person at input px (8, 20)-(40, 44); bus at (40, 16)-(64, 48). A 128x64 frame
    # letterboxes into 64x64 with scale 0.5 and 16 px bands above and below.
    rows = yolov8_rows([[8, 20, 40, 44], [40, 16, 64, 48]], [0, 5], [0.9, 0.6])
    path = build_constant_output_model(tmp_path / "y8.onnx", [1, 3, 64, 64], rows[None])
    cfg = OnnxModelConfig(name="my-yolo", path=path, format="yolov8")
    detector = load_detector(_settings(cfg), runtime=runtime)
    found = sorted(detector.detect(np.zeros((64, 128, 3), np.uint8)), key=lambda d: -d.score)
    assert [(d.label, d.source_label) for d in found] == [("person", "person"), ("vehicle", "bus")]
    np.testing.assert_allclose(found[0].box, (16, 8, 80, 56), atol=1e-3)
    np.testing.assert_allclose(found[1].box, (80, 0, 128, 64), atol=1e-3)
    assert found[0].score == pytest.approx(0.9, abs=1e-6)
    assert detector.provenance.runtime == runtime
    assert len(detector.provenance.sha256) == 64


def _yolox_raw(objects: list[tuple[int, int, float, float, int, float]]) -> np.ndarray:
    """Raw-grid YOLOX rows for a 64x64 input: (level, cell, w_px, h_px, class, score)."""
    strides, rows = (8, 16, 32), []
    for s in strides:
        n = 64 // s
        for cy in range(n):
            for cx in range(n):
                rows.append((s, cx, cy))
    out = np.zeros((len(rows), 5 + 80), np.float32)
    out[:, 2:4] = -5.0
    offsets = {8: 0, 16: 64, 32: 80}
    for level, cell, w, h, cls, score in objects:
        i = offsets[level] + cell
        out[i, 0:2] = 0.5  # centre in the middle of the cell
        out[i, 2:4] = (np.log(w / level), np.log(h / level))
        out[i, 4] = 1.0
        out[i, 5 + cls] = score
    return out


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_yolox_raw_grid_export_is_decoded(tmp_path: Path, runtime: str) -> None:
    # Stride-16 cell 5 is (col 1, row 1): centre (24, 24); a 16x32 car there.
    rows = _yolox_raw([(16, 5, 16.0, 32.0, 2, 0.8)])
    path = build_constant_output_model(tmp_path / "yx.onnx", [1, 3, 64, 64], rows[None])
    cfg = OnnxModelConfig(name="my-yolox", path=path, format="yolox")
    detector = load_detector(_settings(cfg), runtime=runtime)
    # YOLOX pads right/bottom only: a 64x64 frame maps 1:1.
    found = detector.detect(np.zeros((64, 64, 3), np.uint8))
    assert [(d.label, d.source_label) for d in found] == [("vehicle", "car")]
    np.testing.assert_allclose(found[0].box, (16, 8, 32, 40), atol=1e-3)
    assert found[0].score == pytest.approx(0.8, abs=1e-5)


def test_label_count_that_does_not_fit_the_export_is_rejected(tmp_path: Path) -> None:
    rows = yolov8_rows([[0, 0, 8, 8]], [0], [0.9])
    path = build_constant_output_model(tmp_path / "y8.onnx", [1, 3, 64, 64], rows[None])
    cfg = OnnxModelConfig(name="m", path=path, format="yolov8", labels=["person", "car"])
    with pytest.raises(ModelValidationError, match="2 labels"):
        load_detector(_settings(cfg), runtime="onnxruntime")


def test_dynamic_input_size_needs_explicit_size(tmp_path: Path) -> None:
    rows = yolov8_rows([], [], [])
    path = build_constant_output_model(
        tmp_path / "dyn.onnx", ["batch", 3, "height", "width"], rows[None]
    )
    cfg = OnnxModelConfig(name="m", path=path, format="yolov8")
    with pytest.raises(ModelValidationError, match="set input_width and input_height"):
        load_detector(_settings(cfg), runtime="onnxruntime")
    sized = cfg.model_copy(update={"input_width": 64, "input_height": 64})
    detector = load_detector(_settings(sized), runtime="onnxruntime")
    assert detector.detect(np.zeros((64, 64, 3), np.uint8)) == []


def test_missing_or_garbage_onnx_file_is_a_clear_error(tmp_path: Path) -> None:
    cfg = OnnxModelConfig(name="m", path=tmp_path / "none.onnx", format="yolov8")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_detector(_settings(cfg))
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    junk = cfg.model_copy(update={"path": tmp_path / "junk.onnx"})
    with pytest.raises(ModelValidationError, match="not a readable ONNX model"):
        load_detector(_settings(junk))
