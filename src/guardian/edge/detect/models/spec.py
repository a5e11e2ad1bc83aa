"""What Guardian knows about a model: files per runtime, input, labels, decoding."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from guardian.edge.detect.preprocess import InputSpec, Layout

Family = Literal["ssd", "nanodet", "centernet", "yolov8", "yolox"]
FAMILIES: tuple[Family, ...] = ("ssd", "nanodet", "centernet", "yolov8", "yolox")


@dataclass(frozen=True, slots=True)
class Artifact:
    """One runnable file of a model and the tensor layout that file expects."""

    path: Path
    layout: Layout


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Score thresholds: one default, optional overrides per Guardian label; NMS IoU."""

    score: float = 0.4
    per_label: dict[str, float] = field(default_factory=dict)
    iou: float = 0.45
    max_detections: int = 100

    def for_label(self, label: str) -> float:
        return self.per_label.get(label, self.score)

    @property
    def minimum(self) -> float:
        return min([self.score, *self.per_label.values()])


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model ready to load: ``sha256`` identifies its version in every provenance."""

    name: str
    family: Family
    sha256: str
    input: InputSpec
    labels: tuple[str, ...]
    artifacts: dict[str, Artifact]
    outputs: tuple[str, ...] | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    num_classes: int | None = None
    """Classes the network predicts when it differs from ``len(labels)`` (else None)."""

    def input_for(self, runtime: str) -> InputSpec:
        """The input spec with the layout of the artifact this runtime loads."""
        return replace(self.input, layout=self.artifacts[runtime].layout)
