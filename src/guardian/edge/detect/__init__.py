"""Person/vehicle detection on the CPU: models, runtimes, pre/post-processing."""

from guardian.edge.detect.detector import Detector
from guardian.edge.detect.errors import (
    DetectError,
    ImageReadError,
    ModelFetchError,
    ModelNotFoundError,
    ModelValidationError,
    RuntimeUnavailableError,
)
from guardian.edge.detect.types import Detection, FrameResult, Provenance

__all__ = [
    "DetectError",
    "Detection",
    "Detector",
    "FrameResult",
    "ImageReadError",
    "ModelFetchError",
    "ModelNotFoundError",
    "ModelValidationError",
    "Provenance",
    "RuntimeUnavailableError",
]
