"""The fetched NanoDet and CenterNet IRs (converted from TF.js at fetch) find the astronaut."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import openvino as ov
import pytest
from skimage import data

from guardian.edge.detect.decoders.base import Decoder
from guardian.edge.detect.decoders.centernet import CenterNetDecoder
from guardian.edge.detect.decoders.nanodet import NanoDetDecoder
from guardian.edge.detect.labels import COCO80
from guardian.edge.detect.models.store import ModelStore
from guardian.edge.detect.nms import class_aware_nms, iou_matrix
from guardian.edge.detect.preprocess import InputSpec, Normalizer, resize_to_input
from guardian.edge.detect.types import FloatArray

NANODET_SPEC = InputSpec(
    416, 416, "NCHW", "BGR", "stretch", (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)
)
CENTERNET_SPEC = InputSpec(512, 512, "NHWC", "RGB", "letterbox", pad_value=0)
NANODET_OUTPUTS = [
    ("Identity:0", [1, 2704, 80]),
    ("Identity_1:0", [1, 676, 80]),
    ("Identity_2:0", [1, 169, 80]),
    ("Identity_3:0", [1, 2704, 44]),
    ("Identity_4:0", [1, 676, 44]),
    ("Identity_5:0", [1, 169, 44]),
]
CENTERNET_OUTPUTS = [("tower_0/keypoints:0", [1, 128, 128, 80]), ("tower_0/wh:0", [1, 128, 128, 4])]
# skimage.data.astronaut() is 512x512; she fills the left ~70% of the frame, top to bottom.
ASTRONAUT_BOX = np.array([[0.0, 0.0, 370.0, 512.0]], np.float32)


def fetched_ir(name: str) -> Path:
    """The IR that ``guardian models fetch`` converted (skip, a failure under CI, if absent)."""
    store = ModelStore()
    if name not in store.names():
        pytest.skip(f"{name} is not fetched in {store.root} (make models)")
    return store.model_dir(name) / "model.xml"


def compile_ir(xml: Path) -> ov.CompiledModel:
    # The CPU plugin may default to bf16; these checks are about the fp32 conversion.
    return ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})


def assert_outputs(compiled: ov.CompiledModel, expected: list[tuple[str, list[int]]]) -> None:
    got = [(sorted(o.get_names()), list(o.get_shape())) for o in compiled.outputs]
    assert len(got) == len(expected), got
    for (names, shape), (name, want_shape) in zip(got, expected, strict=True):
        assert name in names and shape == want_shape, (got, expected)


def best_person(
    compiled: ov.CompiledModel, spec: InputSpec, decoder: Decoder, min_score: float
) -> tuple[float, float]:
    """Run the astronaut photo; the best person's score and IoU with her hand-drawn box."""
    photo: npt.NDArray[np.uint8] = data.astronaut()  # type: ignore[no-untyped-call]
    resized, transform = resize_to_input(photo, spec)
    result = compiled(Normalizer(spec)([resized]))
    outs: list[FloatArray] = [np.asarray(result[o], np.float32)[0] for o in compiled.outputs]
    kept = class_aware_nms(decoder.decode(outs, min_score), 0.5)
    people = kept.select(kept.class_ids == COCO80.index("person"))
    assert len(people), f"no person found; classes {kept.class_ids.tolist()}"
    boxes = transform.to_frame(people.boxes[:1])
    return float(people.scores[0]), float(iou_matrix(boxes, ASTRONAUT_BOX)[0, 0])


def test_nanodet_ir_has_decoder_ordered_outputs_and_finds_the_astronaut() -> None:
    compiled = compile_ir(fetched_ir("nanodet-coco"))
    assert_outputs(compiled, NANODET_OUTPUTS)

    score, iou = best_person(compiled, NANODET_SPEC, NanoDetDecoder(416, 416), 0.3)

    assert score > 0.5
    assert iou > 0.8


def test_centernet_ir_is_cut_before_top_k_and_finds_the_astronaut() -> None:
    compiled = compile_ir(fetched_ir("centernet-coco"))
    assert_outputs(compiled, CENTERNET_OUTPUTS)
    ops = {op.get_type_name() for op in compiled.get_runtime_model().get_ops()}
    assert "TopK" not in ops  # the slow in-graph top-k is cut away

    score, iou = best_person(compiled, CENTERNET_SPEC, CenterNetDecoder(512, 512), 0.3)

    assert score > 0.5
    assert iou > 0.8
