"""The detector: frame → pre-process → runtime → decode → NMS → Guardian detections."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from guardian.edge.detect.decoders.factory import (
    build_decoder,
    validate_input,
    validate_outputs,
)
from guardian.edge.detect.errors import RuntimeUnavailableError
from guardian.edge.detect.labels import to_guardian_label
from guardian.edge.detect.models.spec import ModelSpec, Thresholds
from guardian.edge.detect.nms import class_aware_nms
from guardian.edge.detect.preprocess import Normalizer, Transform, ensure_rgb, resize_to_input
from guardian.edge.detect.runtimes.base import LoadedModel, Runtime
from guardian.edge.detect.types import Detection, FloatArray, FrameResult, Provenance

logger = logging.getLogger(__name__)
Frame = npt.NDArray[np.generic]
MIN_BOX_PIXELS = 1.0


class Detector:
    """Finds people, vehicles and other objects in RGB frames with one loaded model."""

    def __init__(
        self, spec: ModelSpec, model: LoadedModel, thresholds: Thresholds | None = None
    ) -> None:
        validate_input(spec, model.runtime, model.input)
        validate_outputs(spec, model.outputs)
        self.spec = spec
        self.model = model
        self.thresholds = thresholds or spec.thresholds
        self.input_spec = spec.input_for(model.runtime)
        self._normalize = Normalizer(self.input_spec)
        self._decoder = build_decoder(spec)
        self._guardian = [to_guardian_label(label) for label in spec.labels]
        self.provenance = Provenance(spec.name, spec.sha256, model.runtime, model.device)

    @classmethod
    def load(
        cls, spec: ModelSpec, runtime: Runtime, thresholds: Thresholds | None = None
    ) -> Detector:
        """Load ``spec``'s artifact for ``runtime`` and validate it."""
        artifact = spec.artifacts.get(runtime.type)
        if artifact is None:
            have = ", ".join(sorted(spec.artifacts)) or "none"
            raise RuntimeUnavailableError(
                f"model {spec.name!r} has no file for runtime {runtime.type!r} (available: {have})"
            )
        return cls(spec, runtime.load(artifact.path, spec.outputs), thresholds)

    # -- public API -------------------------------------------------------------------

    def detect(self, frame: Frame) -> list[Detection]:
        """Detections in one RGB ``HxWx3`` frame, boxes in that frame's pixels."""
        return self.detect_batch([frame])[0]

    def detect_with_provenance(self, frame: Frame) -> tuple[list[Detection], Provenance]:
        """Detections of one frame and the model version that made them."""
        return self.detect(frame), self.provenance

    def detect_batch(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        """Detections for several frames, inferred in as few runtime calls as allowed."""
        if not frames:
            return []
        tensor, transforms = self.preprocess(frames)
        per_image = self.infer(tensor)
        return [self.postprocess(o, t) for o, t in zip(per_image, transforms, strict=True)]

    def detect_timed(self, frame: Frame) -> FrameResult:
        """One frame with per-stage timings in milliseconds (pre, infer, post)."""
        t0 = time.perf_counter()
        tensor, transforms = self.preprocess([frame])
        t1 = time.perf_counter()
        outputs = self.infer(tensor)
        t2 = time.perf_counter()
        detections = self.postprocess(outputs[0], transforms[0])
        t3 = time.perf_counter()
        timings = {"pre": (t1 - t0) * 1e3, "infer": (t2 - t1) * 1e3, "post": (t3 - t2) * 1e3}
        return FrameResult(detections, self.provenance, (t3 - t0) * 1e3, timings)

    # -- stages -----------------------------------------------------------------------

    def preprocess(self, frames: Sequence[Frame]) -> tuple[FloatArray, list[Transform]]:
        """Resize and normalise frames into one input batch."""
        resized: list[npt.NDArray[np.uint8]] = []
        transforms: list[Transform] = []
        for frame in frames:
            image, transform = resize_to_input(ensure_rgb(frame), self.input_spec)
            resized.append(image)
            transforms.append(transform)
        return self._normalize(resized), transforms

    def infer(self, tensor: FloatArray) -> list[list[FloatArray]]:
        """Run the runtime in chunks its batch limit allows; outputs split per image."""
        limit = self.model.max_batch or tensor.shape[0]
        per_image: list[list[FloatArray]] = []
        for start in range(0, tensor.shape[0], limit):
            chunk = tensor[start : start + limit]
            outputs = self.model.infer(chunk)
            per_image.extend([o[i] for o in outputs] for i in range(chunk.shape[0]))
        return per_image

    def postprocess(self, outputs: Sequence[FloatArray], transform: Transform) -> list[Detection]:
        """Decode, suppress overlaps per class, map labels, apply per-label thresholds."""
        th = self.thresholds
        cands = self._decoder.decode(outputs, th.minimum)
        cands = class_aware_nms(cands, th.iou, th.max_detections)
        boxes = transform.to_frame(cands.boxes)
        found: list[Detection] = []
        for box, score, cls in zip(boxes, cands.scores, cands.class_ids, strict=True):
            source = self.spec.labels[int(cls)] if int(cls) < len(self.spec.labels) else str(cls)
            label = self._guardian[int(cls)] if int(cls) < len(self._guardian) else "other"
            limit = th.per_label.get(source, th.for_label(label))
            if score < limit:
                continue
            x1, y1, x2, y2 = (float(v) for v in box)
            if x2 - x1 < MIN_BOX_PIXELS or y2 - y1 < MIN_BOX_PIXELS:
                continue
            found.append(Detection(label, source, float(score), (x1, y1, x2, y2)))
        return found
