"""In-memory fakes of the runtime interface, for unit tests here and in later stages.

``ScriptedModel`` answers ``infer`` with tensors computed by a function, so pipeline code
(detector, hot reload, event engine) can be tested without a real model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from guardian.edge.detect.labels import COCO80
from guardian.edge.detect.models.spec import Artifact, ModelSpec, Thresholds
from guardian.edge.detect.preprocess import InputSpec
from guardian.edge.detect.runtimes.base import TensorInfo, order_outputs
from guardian.edge.detect.types import FloatArray

InferFn = Callable[[FloatArray], list[FloatArray]]


class ScriptedModel:
    """A ``LoadedModel`` whose outputs come from ``fn(batch)``; records each call's shape."""

    def __init__(
        self,
        input: TensorInfo,
        outputs: tuple[TensorInfo, ...],
        fn: InferFn,
        *,
        runtime: str = "fake",
        device: str = "CPU",
        max_batch: int | None = None,
    ) -> None:
        self.input = input
        self.outputs = outputs
        self.runtime = runtime
        self.device = device
        self.max_batch = max_batch
        self._fn = fn
        self.calls: list[tuple[int, ...]] = []

    def infer(self, batch: FloatArray) -> list[FloatArray]:
        self.calls.append(tuple(batch.shape))
        return self._fn(batch)


class FakeRuntime:
    """A ``Runtime`` that hands out pre-built models by path."""

    suffixes: tuple[str, ...] = (".fake",)

    def __init__(self, models: dict[Path, ScriptedModel], type: str = "fake") -> None:
        self.type = type
        self._models = models

    def load(self, path: Path, output_names: Sequence[str] | None = None) -> ScriptedModel:
        model = self._models[path]
        order_outputs(model.outputs, output_names, path)
        return model


def yolov8_rows(
    boxes_xyxy: Sequence[Sequence[float]],
    class_ids: Sequence[int],
    scores: Sequence[float],
    num_classes: int = len(COCO80),
    rows: int = 84,
) -> FloatArray:
    """One image's YOLOv8 output ``[4+nc, rows]`` holding the given boxes (input pixels)."""
    out = np.zeros((4 + num_classes, rows), np.float32)
    for i, (box, cls, score) in enumerate(zip(boxes_xyxy, class_ids, scores, strict=True)):
        x1, y1, x2, y2 = box
        out[0:4, i] = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
        out[4 + cls, i] = score
    return out


def fake_yolov8_spec(
    name: str = "fake-yolov8",
    size: tuple[int, int] = (64, 64),
    thresholds: Thresholds | None = None,
    sha256: str = "0" * 64,
    runtime: str = "fake",
) -> ModelSpec:
    """A COCO YOLOv8-family spec whose artifact is served by a :class:`FakeRuntime`."""
    width, height = size
    return ModelSpec(
        name=name,
        family="yolov8",
        sha256=sha256,
        input=InputSpec(width, height, layout="NCHW", resize="letterbox", std=(255.0,) * 3),
        labels=COCO80,
        artifacts={runtime: Artifact(Path(f"/fake/{name}.fake"), "NCHW")},
        thresholds=thresholds or Thresholds(),
    )


def constant_yolov8_model(
    spec: ModelSpec, rows: FloatArray, max_batch: int | None = None, runtime: str = "fake"
) -> ScriptedModel:
    """A model that answers every image with the same YOLOv8 ``rows``."""
    w, h = spec.input.width, spec.input.height
    return ScriptedModel(
        TensorInfo("images", (max_batch, 3, h, w)),
        (TensorInfo("output0", (max_batch, *rows.shape)),),
        lambda batch: [np.repeat(rows[None], batch.shape[0], axis=0)],
        runtime=runtime,
        max_batch=max_batch,
    )
