"""Tiny hand-built ONNX detectors whose outputs are known constants, for decoder/runtime tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import openvino as ov
from onnx import helper, numpy_helper

# Opset 13 / IR 7 load in every ONNX Runtime and OpenVINO release we support; ReduceMean still
# takes its axes as an attribute here (they became an input in opset 18).
OPSET = 13
IR_VERSION = 7


def build_constant_output_model(
    path: Path,
    input_shape: Sequence[int | str],
    output: npt.NDArray[np.generic],
    input_name: str = "images",
    output_name: str = "output0",
) -> Path:
    """Write a one-input, one-output model whose output is always ``output``.

    The input looks like a real detector's (e.g. ``[1, 3, 640, 640]`` float32); the graph is
    ``input → ReduceMean → Mul 0 → Add output`` so the runtime must actually execute it, yet the
    result equals the constant exactly for any finite input.
    """
    return build_constant_outputs_model(
        path, input_shape, {output_name: output}, input_name=input_name
    )


def build_constant_outputs_model(
    path: Path,
    input_shape: Sequence[int | str],
    outputs: Mapping[str, npt.NDArray[np.generic]],
    *,
    input_name: str = "images",
    input_dtype: npt.DTypeLike = np.float32,
) -> Path:
    """Like ``build_constant_output_model`` with several named outputs, in mapping order.

    ``input_shape`` may hold names for symbolic dims (e.g. ``"batch"``). Integer inputs
    (``input_dtype=np.uint8``) are cast to float before the reduction; each output keeps its
    own dtype (float32, float16, int32, int64, ...).
    """
    if not outputs:
        raise ValueError("a model needs at least one output")
    in_type = helper.np_dtype_to_tensor_dtype(np.dtype(input_dtype))
    nodes = [
        helper.make_node("Cast", [input_name], ["as_float"], to=onnx.TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["as_float"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero_f"], ["zero"]),
    ]
    initializers = [numpy_helper.from_array(np.zeros((), np.float32), "zero_f")]
    graph_outputs = []
    for i, (name, value) in enumerate(outputs.items()):
        const = np.asarray(value)
        out_type = helper.np_dtype_to_tensor_dtype(const.dtype)
        initializers.append(numpy_helper.from_array(const, f"const_{i}"))
        nodes += [
            helper.make_node("Cast", ["zero"], [f"zero_{i}"], to=out_type),
            helper.make_node("Add", [f"zero_{i}", f"const_{i}"], [name]),
        ]
        graph_outputs.append(helper.make_tensor_value_info(name, out_type, list(const.shape)))
    graph = helper.make_graph(
        nodes,
        "constant_detector",
        [helper.make_tensor_value_info(input_name, in_type, list(input_shape))],
        graph_outputs,
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="guardian-tests",
    )
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def run_onnxruntime(
    path: Path, feeds: Mapping[str, npt.NDArray[np.generic]]
) -> list[npt.NDArray[np.generic]]:
    """Run ``path`` once on ONNX Runtime's CPU provider; outputs in model order."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in session.run(None, dict(feeds))]


def run_openvino(
    path: Path, feeds: Mapping[str, npt.NDArray[np.generic]]
) -> list[npt.NDArray[np.generic]]:
    """Run ``path`` once on OpenVINO's CPU plugin; outputs in model order.

    Precision is pinned to f32: on CPUs with AVX512-BF16/AMX the plugin's default
    ``INFERENCE_PRECISION_HINT`` is bf16, so compute nodes (MatMul, Conv) come out rounded.
    The constant graphs above happen to stay exact either way; the pin keeps it so.
    """
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled(dict(feeds))
    return [np.asarray(result[port]) for port in compiled.outputs]
