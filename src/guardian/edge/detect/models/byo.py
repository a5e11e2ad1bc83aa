"""Bring your own ONNX: a config entry for a YOLOv8/YOLO11- or YOLOX-style export."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from guardian.edge.detect.errors import ModelNotFoundError, ModelValidationError
from guardian.edge.detect.labels import COCO80, parse_label_file
from guardian.edge.detect.models.spec import Artifact, ModelSpec, Thresholds
from guardian.edge.detect.models.store import sha256_file
from guardian.edge.detect.preprocess import InputSpec

# How each family's official exporters expect their input (see each decoder's docs).
_FAMILY_INPUT: dict[str, dict[str, object]] = {
    "yolov8": {"color": "RGB", "resize": "letterbox", "std": (255.0, 255.0, 255.0)},
    "yolox": {"color": "BGR", "resize": "letterbox_topleft", "std": (1.0, 1.0, 1.0)},
}


class OnnxModelConfig(BaseModel):
    """A user-supplied ONNX detector, decoded by the named family's rules."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Name to select the model by (e.g. --model NAME).")
    path: Path = Field(description="Path to the .onnx file.")
    format: Literal["yolov8", "yolox"] = Field(
        description="Output format: yolov8 (Ultralytics YOLOv8/YOLO11) or yolox (Megvii YOLOX)."
    )
    labels: Literal["coco80"] | list[str] | Path = Field(
        "coco80", description="Class names: 'coco80', a list, or a file with one per line."
    )
    input_width: int | None = Field(None, gt=0, description="Input width; default: from ONNX.")
    input_height: int | None = Field(None, gt=0, description="Input height; default: from ONNX.")
    score_threshold: float = Field(0.4, ge=0.0, le=1.0, description="Default score threshold.")
    label_thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per-label score thresholds (Guardian or source label)."
    )
    iou_threshold: float = Field(0.45, ge=0.0, le=1.0, description="NMS IoU threshold.")

    def resolve_labels(self) -> tuple[str, ...]:
        """The label list this config names."""
        if self.labels == "coco80":
            return COCO80
        if isinstance(self.labels, list):
            return tuple(self.labels)
        try:
            return tuple(parse_label_file(self.labels.read_text()))
        except OSError as exc:
            raise ModelValidationError(f"{self.name}: cannot read labels {self.labels}") from exc

    def to_spec(self) -> ModelSpec:
        """Validate the file and build the spec; its SHA-256 versions the model."""
        if not self.path.is_file():
            raise ModelNotFoundError(f"{self.name}: ONNX file {self.path} does not exist")
        width, height = self.input_width, self.input_height
        if width is None or height is None:
            width, height = _onnx_input_size(self.path, width, height)
        art = Artifact(self.path, "NCHW")
        return ModelSpec(
            name=self.name,
            family=self.format,
            sha256=sha256_file(self.path),
            input=InputSpec(width, height, layout="NCHW", **_FAMILY_INPUT[self.format]),  # type: ignore[arg-type]
            labels=self.resolve_labels(),
            artifacts={"openvino": art, "onnxruntime": art},
            thresholds=Thresholds(
                score=self.score_threshold, per_label=self.label_thresholds, iou=self.iou_threshold
            ),
        )


def _onnx_input_size(path: Path, width: int | None, height: int | None) -> tuple[int, int]:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelValidationError(f"{path} is not a readable ONNX model: {exc}") from exc
    inputs = [
        i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}
    ]
    if len(inputs) != 1:
        raise ModelValidationError(f"{path.name}: expected one image input, found {len(inputs)}")
    dims = [d.dim_value or None for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[1] != 3:
        raise ModelValidationError(f"{path.name}: expected an NCHW input [N,3,H,W], got {dims}")
    h, w = height or dims[2], width or dims[3]
    if h is None or w is None:
        raise ModelValidationError(
            f"{path.name}: the input size is dynamic; set input_width and input_height"
        )
    return int(w), int(h)
