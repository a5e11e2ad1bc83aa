"""Hot model swap: replace the running detector without a restart, or keep the old one.

A new model is loaded and self-tested off to the side; only when that succeeds is it
swapped in (one reference assignment, so in-flight calls finish on the old model).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from guardian.edge.detect.detector import Detector, Frame
from guardian.edge.detect.preprocess import InputSpec
from guardian.edge.detect.types import Detection, Provenance

logger = logging.getLogger(__name__)
Loader = Callable[[], Detector]


@dataclass(frozen=True, slots=True)
class SwapResult:
    """What a reload attempt did."""

    swapped: bool
    active: Provenance
    error: str | None = None


def self_test(detector: Detector) -> None:
    """Run the whole pipeline once on a synthetic frame; raises if anything is off."""
    spec = detector.input_spec
    frame = np.random.default_rng(0).integers(0, 255, (spec.height, spec.width, 3), np.uint8)
    detector.detect_batch([frame, frame[: spec.height // 2]])


class HotSwapDetector:
    """A detector facade whose model can be replaced while frames flow through it."""

    def __init__(self, initial: Detector) -> None:
        self._active = initial
        self._lock = threading.Lock()  # serialises swaps, never detection calls

    @property
    def active(self) -> Detector:
        return self._active

    @property
    def provenance(self) -> Provenance:
        return self._active.provenance

    @property
    def input_spec(self) -> InputSpec:
        return self._active.input_spec

    def detect(self, frame: Frame) -> list[Detection]:
        return self._active.detect(frame)

    def detect_with_provenance(self, frame: Frame) -> tuple[list[Detection], Provenance]:
        """Detections and the provenance of the model that made them (one model, atomically)."""
        return self._active.detect_with_provenance(frame)

    def detect_batch(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        return self._active.detect_batch(frames)

    def swap(self, loader: Loader) -> SwapResult:
        """Load, validate and self-test a new detector; on any failure keep the current one."""
        with self._lock:
            previous = self._active.provenance
            try:
                candidate = loader()
                self_test(candidate)
            except Exception as exc:
                logger.warning(
                    "model reload failed; keeping the previous model",
                    extra={"model": previous.model, "sha256": previous.sha256, "error": str(exc)},
                )
                return SwapResult(False, previous, str(exc))
            self._active = candidate
            logger.info(
                "model swapped",
                extra={
                    "from_model": previous.model,
                    "from_sha256": previous.sha256,
                    "to_model": candidate.provenance.model,
                    "to_sha256": candidate.provenance.sha256,
                },
            )
            return SwapResult(True, candidate.provenance)


class ModelReloadMaintainer(threading.Thread):
    """Polls a fingerprint of the model files; when it changes, swaps the model in."""

    def __init__(
        self,
        target: HotSwapDetector,
        loader: Loader,
        fingerprint: Callable[[], str],
        stop_event: threading.Event,
        interval: float = 5.0,
    ) -> None:
        super().__init__(name="model-reload", daemon=True)
        self._target = target
        self._loader = loader
        self._fingerprint = fingerprint
        self._stop_event = stop_event
        self._interval = interval
        self._seen = fingerprint()
        self.results: list[SwapResult] = []

    def check_once(self) -> SwapResult | None:
        """Swap if the files changed since the last look; returns what happened."""
        current = self._fingerprint()
        if current == self._seen:
            return None
        self._seen = current
        result = self._target.swap(self._loader)
        self.results.append(result)
        return result

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            try:
                self.check_once()
            except Exception:  # the maintainer must outlive one bad poll
                logger.exception("model reload check failed")
