"""ONNX Runtime plugin (CPU execution provider): loads .onnx files."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from guardian.edge.detect.errors import ModelValidationError, RuntimeUnavailableError
from guardian.edge.detect.runtimes.base import TensorInfo, order_outputs
from guardian.edge.detect.runtimes.config import OnnxRuntimeConfig
from guardian.edge.detect.types import FloatArray

logger = logging.getLogger(__name__)


def _shape(dims: Sequence[Any]) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) else None for d in dims)


class OnnxRuntimeModel:
    """An ONNX Runtime inference session."""

    runtime = "onnxruntime"
    device = "CPU"

    def __init__(self, session: Any, outputs: tuple[TensorInfo, ...]) -> None:
        self._session = session
        inp = session.get_inputs()[0]
        self.input = TensorInfo(inp.name, _shape(inp.shape))
        self.outputs = outputs
        self._names = [o.name for o in outputs]
        self.max_batch: int | None = self.input.shape[0]

    def infer(self, batch: FloatArray) -> list[FloatArray]:
        """Run one batch (ONNX Runtime releases the GIL while running)."""
        results = self._session.run(self._names, {self.input.name: batch})
        return [np.asarray(r) for r in results]


class OnnxRuntimeRuntime:
    """Loads ONNX models with ONNX Runtime on the CPU."""

    type = "onnxruntime"
    suffixes: tuple[str, ...] = (".onnx",)

    def __init__(self, config: OnnxRuntimeConfig | None = None) -> None:
        self.config = config or OnnxRuntimeConfig()
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeUnavailableError(
                "ONNX Runtime is not installed; install guardian[edge]"
            ) from exc
        self._ort = ort

    def load(self, path: Path, output_names: Sequence[str] | None = None) -> OnnxRuntimeModel:
        """Create a session; validate the single image input and the outputs."""
        opts = self._ort.SessionOptions()
        opts.log_severity_level = 3
        if self.config.threads:
            opts.intra_op_num_threads = self.config.threads
        try:
            session = self._ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelValidationError(f"ONNX Runtime cannot load {path}: {exc}") from exc
        if len(session.get_inputs()) != 1:
            raise ModelValidationError(
                f"{path.name}: expected one image input, found {len(session.get_inputs())}"
            )
        available = tuple(TensorInfo(o.name, _shape(o.shape)) for o in session.get_outputs())
        return OnnxRuntimeModel(session, order_outputs(available, output_names, path))
