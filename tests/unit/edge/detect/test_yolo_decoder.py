"""YOLOv8/YOLO11 and YOLOX decoders on hand-made tensors and on tiny ONNX graphs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest

from guardian.edge.detect.decoders.yolo import (
    YoloV8Decoder,
    YoloXDecoder,
    grid_anchor_count,
    yolo_family_from_output_shape,
)
from guardian.edge.detect.types import Candidates, FloatArray
from tests.unit.edge.detect.onnx_graphs import (
    build_constant_output_model,
    run_onnxruntime,
    run_openvino,
)

Runner = Callable[[Path, Mapping[str, npt.NDArray[np.generic]]], list[npt.NDArray[np.generic]]]
RUNNERS: dict[str, Runner] = {"onnxruntime": run_onnxruntime, "openvino": run_openvino}

NC = 3
INPUT = 64  # 64x64 input, strides 8/16/32: 64 + 16 + 4 = 84 anchors
ANCHORS = 84


def f32(values: object) -> FloatArray:
    return np.asarray(values, dtype=np.float32)


def assert_candidates(got: Candidates, boxes: object, scores: object, class_ids: list[int]) -> None:
    np.testing.assert_array_equal(got.boxes, f32(boxes).reshape(-1, 4))
    np.testing.assert_array_equal(got.scores, f32(scores))
    np.testing.assert_array_equal(got.class_ids, np.asarray(class_ids, np.int64))
    assert got.boxes.dtype == np.float32
    assert got.scores.dtype == np.float32
    assert got.class_ids.dtype == np.int64


def assert_empty(got: Candidates) -> None:
    assert len(got) == 0
    assert got.boxes.shape == (0, 4)
    assert got.scores.shape == (0,)
    assert got.class_ids.shape == (0,)


# --- YOLOv8 -----------------------------------------------------------------------------------

# Three objects among 84 anchors: (anchor, cx, cy, w, h, class scores).
V8_OBJECTS = [
    (5, 20.0, 30.0, 10.0, 20.0, [0.125, 0.875, 0.5]),
    (40, 40.0, 16.0, 32.0, 8.0, [0.75, 0.0, 0.25]),
    (83, 60.0, 60.0, 8.0, 8.0, [0.0, 0.25, 0.5]),
]
V8_BOXES = [[15, 20, 25, 40], [24, 12, 56, 20], [56, 56, 64, 64]]


def v8_tensor() -> FloatArray:
    """``[4+nc, N]`` as the ultralytics export emits it: background scores of 1/64."""
    out = np.full((4 + NC, ANCHORS), 1 / 64, np.float32)
    out[:4] = [[32.0], [32.0], [4.0], [4.0]]
    for anchor, cx, cy, w, h, scores in V8_OBJECTS:
        out[:, anchor] = [cx, cy, w, h, *scores]
    return out


def test_v8_ultralytics_layout_exact() -> None:
    got = YoloV8Decoder(NC).decode([v8_tensor()], min_score=0.25)
    assert_candidates(got, V8_BOXES, [0.875, 0.75, 0.5], [1, 0, 2])


def test_v8_transposed_layout_matches() -> None:
    got = YoloV8Decoder(NC).decode([np.ascontiguousarray(v8_tensor().T)], min_score=0.25)
    assert_candidates(got, V8_BOXES, [0.875, 0.75, 0.5], [1, 0, 2])


def test_v8_tolerates_leftover_batch_dim() -> None:
    got = YoloV8Decoder(NC).decode([v8_tensor()[None]], min_score=0.25)
    assert len(got) == 3


def test_v8_min_score_is_inclusive_and_filters() -> None:
    decoder = YoloV8Decoder(NC)
    got = decoder.decode([v8_tensor()], min_score=0.75)
    assert_candidates(got, V8_BOXES[:2], [0.875, 0.75], [1, 0])
    assert_empty(decoder.decode([v8_tensor()], min_score=0.9))


def test_v8_square_output_prefers_ultralytics_layout() -> None:
    # [7, 7]: both axes equal 4+nc; columns are anchors in the ultralytics layout.
    out = np.zeros((4 + NC, 4 + NC), np.float32)
    out[:, 2] = [10, 10, 4, 4, 0, 0, 0.5]
    got = YoloV8Decoder(NC).decode([out], min_score=0.25)
    assert_candidates(got, [8, 8, 12, 12], [0.5], [2])


@pytest.mark.parametrize("shape", [(4 + NC, 0), (0, 4 + NC), (0, 6)])
def test_v8_empty_outputs(shape: tuple[int, int]) -> None:
    assert_empty(YoloV8Decoder(NC).decode([np.zeros(shape, np.float32)], min_score=0.25))


def e2e_tensor(rows: int = 300) -> FloatArray:
    """End-to-end rows x1, y1, x2, y2, score, class, zero-padded like the exporters do."""
    out = np.zeros((rows, 6), np.float32)
    out[0] = [10, 20, 30, 40, 0.9, 2]
    out[1] = [0, 0, 64, 32, 0.5, 0]
    out[2] = [5, 5, 6, 6, 0.125, 1]
    return out


def test_v8_end_to_end_exact() -> None:
    got = YoloV8Decoder(80).decode([e2e_tensor()], min_score=0.25)
    assert_candidates(got, [[10, 20, 30, 40], [0, 0, 64, 32]], [0.9, 0.5], [2, 0])


def test_v8_end_to_end_padding_never_counts() -> None:
    got = YoloV8Decoder(80).decode([e2e_tensor()], min_score=0.0)
    assert len(got) == 3


def test_v8_two_classes_uses_row_count_for_n_by_6() -> None:
    # With nc=2 a [N, 6] output is either transposed dense or end-to-end.
    dense = np.zeros((8400, 6), np.float32)
    dense[7] = [50, 50, 20, 20, 0.25, 0.75]
    got = YoloV8Decoder(2).decode([dense], min_score=0.5)
    assert_candidates(got, [40, 40, 60, 60], [0.75], [1])

    got = YoloV8Decoder(2).decode([e2e_tensor()], min_score=0.25)
    assert_candidates(got, [[10, 20, 30, 40], [0, 0, 64, 32]], [0.9, 0.5], [2, 0])


def test_v8_explicit_end_to_end_overrides_heuristic() -> None:
    rows = e2e_tensor(rows=8400)  # 8400 rows would otherwise read as a dense head
    assert len(YoloV8Decoder(2, end_to_end=True).decode([rows], min_score=0.25)) == 2
    # Forced dense: the same rows read as cx, cy, w, h, p0, p1.
    got = YoloV8Decoder(2, end_to_end=False).decode([e2e_tensor()], min_score=0.5)
    boxes = [[-5, 0, 25, 40], [-32, -16, 32, 16], [2, 2, 8, 8]]
    assert_candidates(got, boxes, [2.0, 0.5, 1.0], [1, 0, 1])


@pytest.mark.parametrize("shape", [(10, 10), (3, 84, 8400), (84,)])
def test_v8_rejects_foreign_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="YOLOv8"):
        YoloV8Decoder(80).decode([np.zeros(shape, np.float32)], min_score=0.25)


def test_v8_rejects_missing_outputs_and_bad_class_count() -> None:
    with pytest.raises(ValueError, match="no output"):
        YoloV8Decoder(80).decode([], min_score=0.25)
    with pytest.raises(ValueError, match="num_classes"):
        YoloV8Decoder(0)
    with pytest.raises(ValueError, match="end-to-end"):
        YoloV8Decoder(80, end_to_end=True).decode([np.zeros((84, 8400), np.float32)], 0.25)


# --- YOLOX ------------------------------------------------------------------------------------

# Raw-grid objects: (row, offset x, offset y, log w, log h, objectness, class scores).
# Rows 0-63 are the 8x8 stride-8 map, 64-79 the 4x4 stride-16 map, 80-83 the 2x2 stride-32 map.
YOLOX_OBJECTS = [
    (2 * 8 + 3, 0.5, 0.25, 0.0, 0.0, 0.5, [0.25, 1.0, 0.5]),  # stride 8, cell x=3 y=2
    (64 + 3 * 4 + 1, 0.0, 0.5, 0.0, 0.0, 1.0, [0.75, 0.0, 0.0]),  # stride 16, cell x=1 y=3
    (80 + 1, 0.5, 0.5, 0.0, 0.0, 0.75, [0.0, 0.0, 1.0]),  # stride 32, cell x=1 y=0
]
YOLOX_BOXES = [[24, 14, 32, 22], [8, 48, 24, 64], [32, 0, 64, 32]]
YOLOX_SCORES = [0.5, 0.75, 0.75]
YOLOX_CLASSES = [1, 0, 2]


def yolox_raw_tensor() -> FloatArray:
    """``[N, 5+nc]`` as ``export_onnx.py`` emits it without ``--decode_in_inference``."""
    rng = np.random.default_rng(7)
    out = np.empty((ANCHORS, 5 + NC), np.float32)
    out[:, :2] = rng.uniform(-0.5, 1.5, (ANCHORS, 2))
    out[:, 2:4] = rng.uniform(-3.0, 0.5, (ANCHORS, 2))  # log sizes, mostly negative
    out[:, 4] = 0.01
    out[:, 5:] = 0.125
    for row, ox, oy, lw, lh, obj, cls in YOLOX_OBJECTS:
        out[row] = [ox, oy, lw, lh, obj, *cls]
    return out


def yolox_decode_in_inference(raw: FloatArray) -> FloatArray:
    """What ``YOLOXHead.decode_outputs`` does in the graph, written out independently."""
    grids, strides = [], []
    for s in (8, 16, 32):
        n = INPUT // s
        xv, yv = np.meshgrid(np.arange(n), np.arange(n))
        grids.append(np.stack((xv, yv), 2).reshape(-1, 2))
        strides.append(np.full((n * n, 1), s))
    grid, stride = np.concatenate(grids), np.concatenate(strides)
    out = raw.copy()
    out[:, :2] = (raw[:, :2] + grid) * stride
    out[:, 2:4] = np.exp(raw[:, 2:4]) * stride
    return out


def test_grid_anchor_count() -> None:
    assert grid_anchor_count(INPUT, INPUT) == ANCHORS
    assert grid_anchor_count(640, 640) == 8400
    assert grid_anchor_count(640, 384, (8, 16, 32, 64)) == 5100


def test_yolox_raw_grid_exact() -> None:
    decoder = YoloXDecoder(INPUT, INPUT, NC, decoded=False)
    got = decoder.decode([yolox_raw_tensor()], min_score=0.25)
    assert_candidates(got, YOLOX_BOXES, YOLOX_SCORES, YOLOX_CLASSES)


def test_yolox_decoded_exact() -> None:
    decoded = yolox_decode_in_inference(yolox_raw_tensor())
    got = YoloXDecoder(INPUT, INPUT, NC, decoded=True).decode([decoded], min_score=0.25)
    assert_candidates(got, YOLOX_BOXES, YOLOX_SCORES, YOLOX_CLASSES)


def test_yolox_autodetects_and_remembers_export_kind() -> None:
    raw_decoder = YoloXDecoder(INPUT, INPUT, NC)
    got = raw_decoder.decode([yolox_raw_tensor()], min_score=0.25)
    assert raw_decoder.decoded is False
    assert_candidates(got, YOLOX_BOXES, YOLOX_SCORES, YOLOX_CLASSES)

    decoded_decoder = YoloXDecoder(INPUT, INPUT, NC)
    got = decoded_decoder.decode([yolox_decode_in_inference(yolox_raw_tensor())], 0.25)
    assert decoded_decoder.decoded is True
    assert_candidates(got, YOLOX_BOXES, YOLOX_SCORES, YOLOX_CLASSES)


def test_yolox_non_unit_sizes() -> None:
    raw = yolox_raw_tensor()
    raw[19, 2:4] = [np.log(3.0), np.log(0.5)]
    got = YoloXDecoder(INPUT, INPUT, NC, decoded=False).decode([raw], min_score=0.25)
    # cx=28, cy=18, w=3*8, h=0.5*8 (exp in float32, hence allclose).
    np.testing.assert_allclose(got.boxes[0], [16, 16, 40, 20], rtol=0, atol=1e-4)


def test_yolox_score_is_objectness_times_class() -> None:
    raw = yolox_raw_tensor()
    raw[5, 4:] = [0.875, 0.5, 0.0, 0.0]  # 0.4375: high objectness alone must not pass
    decoder = YoloXDecoder(INPUT, INPUT, NC, decoded=False)
    got = decoder.decode([raw], min_score=0.5)
    np.testing.assert_array_equal(got.scores, f32(YOLOX_SCORES))
    got = decoder.decode([raw], min_score=0.4375)
    np.testing.assert_array_equal(got.scores, f32([0.4375, *YOLOX_SCORES]))
    np.testing.assert_array_equal(got.class_ids, [0, *YOLOX_CLASSES])
    assert_empty(decoder.decode([raw], min_score=1.0 + 1e-6))


def test_yolox_huge_raw_size_does_not_overflow() -> None:
    raw = yolox_raw_tensor()
    raw[19, 2] = 500.0  # exp would overflow float32; pytest turns the warning into an error
    got = YoloXDecoder(INPUT, INPUT, NC, decoded=False).decode([raw], min_score=0.25)
    assert np.isfinite(got.boxes).all()


def test_yolox_empty_outputs() -> None:
    decoder = YoloXDecoder(INPUT, INPUT, NC)
    assert_empty(decoder.decode([np.zeros((0, 5 + NC), np.float32)], min_score=0.25))
    low = yolox_raw_tensor()
    low[:, 4] = 0.01
    assert_empty(decoder.decode([low], min_score=0.25))


def test_yolox_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match=r"\[N, 8\]"):
        YoloXDecoder(INPUT, INPUT, NC).decode([np.zeros((84, 85), np.float32)], 0.25)
    with pytest.raises(ValueError, match="84"):
        # A raw grid for a 96x96 input fed to a 64x64 decoder.
        raw = np.zeros((grid_anchor_count(96, 96), 5 + NC), np.float32)
        raw[:, 4:] = 0.5
        YoloXDecoder(INPUT, INPUT, NC, decoded=False).decode([raw], 0.25)
    with pytest.raises(ValueError, match="smaller than stride"):
        YoloXDecoder(16, 16, NC)


# --- family detection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "nc", "family"),
    [
        ([1, 84, 8400], 80, "yolov8"),
        (["batch", 84, 8400], 80, "yolov8"),
        ([None, 84, "anchors"], 80, "yolov8"),
        ([84, 8400], 80, None),  # ONNX detector outputs always carry a batch dim
        ([1, 8400, 84], 80, "yolov8"),
        ([1, 84, 84], 80, "yolov8"),
        ([1, 300, 6], 80, "yolov8_e2e"),
        ([-1, 300, 6], 80, "yolov8_e2e"),
        ([1, 8400, 85], 80, "yolox"),
        ([1, 3549, 6], 1, "yolox"),
        ([1, 300, 6], 1, "yolov8_e2e"),
        ([1, "n", 6], 1, None),
        ([1, 8400, 6], 2, "yolov8"),
        ([1, 6, 8400], 2, "yolov8"),
        ([1, 300, 6], 2, "yolov8_e2e"),
        ([1, 10, 10], 80, None),
        ([1, 84], 80, None),
        ([8400], 80, None),
        ([1, 1, 84, 8400], 80, None),
    ],
)
def test_family_from_output_shape(
    shape: list[int | str | None], nc: int, family: str | None
) -> None:
    assert yolo_family_from_output_shape(shape, nc) == family


def test_family_uses_exact_anchor_count_when_input_known() -> None:
    # 2100 rows is a dense head at 320x320 but not at 416x416.
    assert yolo_family_from_output_shape([1, 2100, 6], 1, input_hw=(320, 320)) == "yolox"
    assert yolo_family_from_output_shape([1, 2100, 6], 1, input_hw=(416, 416)) == "yolov8_e2e"
    assert yolo_family_from_output_shape([1, 3549, 6], 1, input_hw=(416, 416)) == "yolox"


# --- through real runtimes --------------------------------------------------------------------


def run_constant_model(tmp_path: Path, runtime: str, output: FloatArray) -> FloatArray:
    """Build a [1,3,64,64] model emitting ``output``, run it, check the family at load."""
    path = build_constant_output_model(tmp_path / "model.onnx", [1, 3, INPUT, INPUT], output)
    image = np.random.default_rng(0).uniform(0, 1, (1, 3, INPUT, INPUT)).astype(np.float32)
    (result,) = RUNNERS[runtime](path, {"images": image})
    np.testing.assert_array_equal(result, output)
    assert result.dtype == np.float32
    return np.asarray(result, np.float32)


def onnx_output_shape(path: Path) -> list[int | str | None]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return list(session.get_outputs()[0].shape)


@pytest.mark.parametrize("runtime", sorted(RUNNERS))
def test_onnx_yolov8_export(tmp_path: Path, runtime: str) -> None:
    result = run_constant_model(tmp_path, runtime, v8_tensor()[None])
    assert result.shape == (1, 4 + NC, ANCHORS)
    assert yolo_family_from_output_shape(onnx_output_shape(tmp_path / "model.onnx"), NC) == (
        "yolov8"
    )
    got = YoloV8Decoder(NC).decode([result[0]], min_score=0.25)
    assert_candidates(got, V8_BOXES, [0.875, 0.75, 0.5], [1, 0, 2])


@pytest.mark.parametrize("runtime", sorted(RUNNERS))
def test_onnx_yolov8_end_to_end_export(tmp_path: Path, runtime: str) -> None:
    result = run_constant_model(tmp_path, runtime, e2e_tensor()[None])
    assert yolo_family_from_output_shape(result.shape, 80) == "yolov8_e2e"
    got = YoloV8Decoder(80).decode([result[0]], min_score=0.25)
    assert_candidates(got, [[10, 20, 30, 40], [0, 0, 64, 32]], [0.9, 0.5], [2, 0])


@pytest.mark.parametrize("runtime", sorted(RUNNERS))
def test_onnx_yolox_raw_grid_export(tmp_path: Path, runtime: str) -> None:
    result = run_constant_model(tmp_path, runtime, yolox_raw_tensor()[None])
    assert result.shape == (1, ANCHORS, 5 + NC)
    assert yolo_family_from_output_shape(onnx_output_shape(tmp_path / "model.onnx"), NC) == (
        "yolox"
    )
    decoder = YoloXDecoder(INPUT, INPUT, NC)  # autodetect must find the raw grid
    got = decoder.decode([result[0]], min_score=0.25)
    assert decoder.decoded is False
    assert_candidates(got, YOLOX_BOXES, YOLOX_SCORES, YOLOX_CLASSES)
