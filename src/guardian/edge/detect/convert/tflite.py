"""TFLite → ONNX at fetch time (tflite2onnx), checked numerically against OpenVINO."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from guardian.edge.detect.errors import ModelFetchError

logger = logging.getLogger(__name__)

# The converted graph must reproduce the original within this absolute error on raw
# outputs (logits/box codes); fp16 weights are dequantised identically on both sides.
MAX_ABS_DIFF = 1e-2


def tflite_to_onnx(tflite_path: Path, onnx_path: Path) -> Path:
    """Convert with tflite2onnx; the ONNX graph takes NCHW input (the TFLite one NHWC)."""
    try:
        import tflite2onnx
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelFetchError("tflite2onnx is not installed; install guardian[edge]") from exc
    t2o_logger = logging.getLogger("tflite2onnx")
    previous = t2o_logger.level
    t2o_logger.setLevel(logging.ERROR)  # it warns once per fp16 tensor
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tflite2onnx.convert(str(tflite_path), str(onnx_path))
    except Exception as exc:
        raise ModelFetchError(f"converting {tflite_path.name} to ONNX failed: {exc}") from exc
    finally:
        t2o_logger.setLevel(previous)
    return onnx_path


def check_onnx_matches_tflite(tflite_path: Path, onnx_path: Path, seed: int = 0) -> float:
    """Run both files on one random input; return the max abs difference or raise."""
    import onnxruntime as ort
    import openvino as ov

    compiled = ov.Core().compile_model(str(tflite_path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    shape = [int(d) for d in compiled.input(0).get_shape()]
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape).astype(np.float32)
    ref = [np.asarray(v) for v in compiled(x).values()]
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.transpose(0, 3, 1, 2).copy()})
    if len(got) != len(ref):
        raise ModelFetchError(f"ONNX gives {len(got)} outputs, TFLite {len(ref)}")
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ref, got, strict=True))
    if diff > MAX_ABS_DIFF:
        raise ModelFetchError(
            f"ONNX conversion of {tflite_path.name} differs from the original by {diff:.4g}"
        )
    logger.info("onnx conversion check passed", extra={"max_abs_diff": diff})
    return diff
