"""Detector settings: which model, which runtime, where models live, user ONNX models."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from guardian.edge.detect.models.byo import OnnxModelConfig
from guardian.edge.detect.models.catalog import DEFAULT_MODEL
from guardian.edge.detect.models.store import default_models_dir
from guardian.edge.detect.runtimes.config import OpenVinoConfig, RuntimeConfig


class DetectorSettings(BaseModel):
    """How the edge detects objects."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        DEFAULT_MODEL,
        description=(
            "Model name: a fetched built-in model (ssd-mobilenetv2-oidv4, nanodet-coco, "
            "centernet-coco) or the name of an entry in custom_models."
        ),
    )
    runtime: RuntimeConfig = Field(
        default_factory=OpenVinoConfig,
        description=(
            'Inference runtime, keyed by type: {"type": "openvino"} or {"type": "onnxruntime"}.'
        ),
    )
    models_dir: Path = Field(
        default_factory=default_models_dir,
        description=(
            "Folder of fetched models (default: $GUARDIAN_MODELS_DIR or ~/.cache/guardian/models)."
        ),
    )
    custom_models: list[OnnxModelConfig] = Field(
        default_factory=list, description="Bring-your-own ONNX models (YOLOv8/YOLO11 or YOLOX)."
    )
    reload_poll_seconds: float = Field(
        5.0,
        ge=0.0,
        description=(
            "How often the running edge checks the model files for a new version (0: never)."
        ),
    )
