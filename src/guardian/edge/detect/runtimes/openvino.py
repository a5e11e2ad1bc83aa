"""OpenVINO runtime plugin: reads IR (.xml), ONNX and TFLite files."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from guardian.edge.detect.errors import ModelValidationError, RuntimeUnavailableError
from guardian.edge.detect.runtimes.base import TensorInfo, order_outputs
from guardian.edge.detect.runtimes.config import OpenVinoConfig
from guardian.edge.detect.types import FloatArray

logger = logging.getLogger(__name__)


def _shape(partial: Any) -> tuple[int | None, ...]:
    return tuple(None if d.is_dynamic else int(d.get_length()) for d in partial)


class OpenVinoModel:
    """A compiled OpenVINO model with a reusable infer request."""

    runtime = "openvino"

    def __init__(self, compiled: Any, outputs: tuple[TensorInfo, ...], device: str) -> None:
        self._compiled = compiled
        # An infer request must not run on two threads at once: each calling thread gets
        # its own (camera pipelines and capture workers call at the same time). With the
        # THROUGHPUT hint their inferences run side by side on separate CPU streams; with
        # LATENCY, OpenVINO takes them in turn.
        self._requests = threading.local()
        self._ports = [compiled.output(o.name) for o in outputs]
        inp = compiled.input(0)
        self.input = TensorInfo(inp.get_any_name(), _shape(inp.get_partial_shape()))
        self.outputs = outputs
        self.device = device
        self.max_batch: int | None = None if self.input.shape[0] is None else self.input.shape[0]

    def infer(self, batch: FloatArray) -> list[FloatArray]:
        """Run one batch synchronously (releases the GIL while inferring)."""
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._compiled.create_infer_request()
        result = request.infer({0: batch}, share_inputs=True)
        return [np.asarray(result[p]) for p in self._ports]


class OpenVinoRuntime:
    """Loads models with OpenVINO; reports the device that actually runs them."""

    type = "openvino"
    suffixes: tuple[str, ...] = (".xml", ".onnx", ".tflite")

    def __init__(self, config: OpenVinoConfig | None = None) -> None:
        self.config = config or OpenVinoConfig()
        try:
            import openvino as ov
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeUnavailableError(
                "OpenVINO is not installed; install guardian[edge] or use --runtime onnxruntime"
            ) from exc
        self._ov = ov
        self._core = ov.Core()

    def load(self, path: Path, output_names: Sequence[str] | None = None) -> OpenVinoModel:
        """Read, make the batch dimension dynamic where possible, and compile."""
        try:
            model = self._core.read_model(str(path))
        except Exception as exc:
            raise ModelValidationError(f"OpenVINO cannot read {path}: {exc}") from exc
        if len(model.inputs) != 1:
            raise ModelValidationError(
                f"{path.name}: expected one image input, found {len(model.inputs)}"
            )
        self._try_dynamic_batch(model)
        available = tuple(
            TensorInfo(o.get_any_name(), _shape(o.get_partial_shape()), frozenset(o.get_names()))
            for o in model.outputs
        )
        outputs = order_outputs(available, output_names, path)
        device = self._pick_device()
        props: dict[str, Any] = {"PERFORMANCE_HINT": self.config.performance}
        if self.config.precision != "default" and device.startswith("CPU"):
            props["INFERENCE_PRECISION_HINT"] = self.config.precision
        if self.config.threads and device.startswith("CPU"):
            props["INFERENCE_NUM_THREADS"] = self.config.threads
        compiled = self._core.compile_model(model, device, props)
        logger.debug("openvino compiled %s on %s", path.name, device)
        return OpenVinoModel(compiled, outputs, device)

    def _try_dynamic_batch(self, model: Any) -> None:
        """Allow any batch size when the graph tolerates it (TFLite/ONNX exports often do)."""
        shape = model.input(0).get_partial_shape()
        if shape.rank.is_dynamic or len(shape) != 4:
            return
        dims = [-1] + [d.get_length() if d.is_static else -1 for d in list(shape)[1:]]
        try:
            model.reshape({0: self._ov.PartialShape(dims)})
        except Exception:  # static-batch graph: keep it, batch by looping instead
            logger.debug("model keeps a static batch size", exc_info=True)
            return
        # Graphs with hard-coded reshapes (e.g. [1, 1917, 4]) accept the new input
        # shape but keep a static batch of 1 at the outputs: undo the reshape then.
        for out in model.outputs:
            first = out.get_partial_shape()[0] if out.get_partial_shape().rank.is_static else None
            if first is None or first.is_static:
                model.reshape({0: shape})
                return

    def _pick_device(self) -> str:
        wanted = self.config.device
        available = list(self._core.available_devices)
        if wanted == "AUTO":
            return next((d for d in available if d.startswith("GPU")), "CPU")
        if wanted not in available:
            raise RuntimeUnavailableError(
                f"OpenVINO device {wanted!r} is not present; available: {', '.join(available)}"
            )
        return wanted
