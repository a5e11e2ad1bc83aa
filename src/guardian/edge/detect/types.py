"""Value types of the detection stage: detections, raw candidates, provenance."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Detection:
    """One object found in a frame.

    ``box`` is ``(x1, y1, x2, y2)`` in pixels of the frame given to ``detect``.
    """

    label: str
    source_label: str
    score: float
    box: Box

    def to_json(self) -> dict[str, object]:
        """The wire form used by ``guardian detect --json`` and the event engine."""
        return {
            "label": self.label,
            "source_label": self.source_label,
            "score": round(self.score, 4),
            "box": [round(v, 1) for v in self.box],
        }


@dataclass(frozen=True, slots=True)
class Candidates:
    """Decoder output before NMS: boxes in model-input pixels (xyxy)."""

    boxes: FloatArray
    scores: FloatArray
    class_ids: IntArray

    @staticmethod
    def empty() -> Candidates:
        return Candidates(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            class_ids=np.zeros((0,), np.int64),
        )

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def select(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Candidates:
        return Candidates(self.boxes[mask], self.scores[mask], self.class_ids[mask])


@dataclass(frozen=True, slots=True)
class Provenance:
    """Which model produced a detection: recorded with every detection batch."""

    model: str
    sha256: str
    runtime: str
    device: str

    def to_json(self) -> dict[str, str]:
        return {
            "model": self.model,
            "sha256": self.sha256,
            "runtime": self.runtime,
            "device": self.device,
        }


@dataclass(frozen=True, slots=True)
class FrameResult:
    """Detections of one frame with the model that made them and timings."""

    detections: list[Detection]
    provenance: Provenance
    ms: float
    timings: dict[str, float] = field(default_factory=dict)
