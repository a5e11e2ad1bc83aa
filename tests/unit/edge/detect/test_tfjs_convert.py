"""TF.js graph model → GraphDef → OpenVINO on tiny hand-written model.json + weight shards."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import openvino as ov
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from tensorboard.compat.proto import types_pb2

from guardian.edge.detect.convert.tfjs import (
    convert_tfjs_to_openvino,
    read_weights,
    tfjs_to_graphdef,
)
from guardian.edge.detect.errors import ModelFetchError
from guardian.edge.detect.types import FloatArray

Json = dict[str, Any]

# --- a minimal TF.js graph-model writer --------------------------------------------------------


def a_type(dtype: str = "DT_FLOAT") -> Json:
    return {"type": dtype}


def a_ints(values: Sequence[int]) -> Json:
    return {"list": {"i": [str(v) for v in values]}}


def a_str(value: str) -> Json:
    return {"s": base64.b64encode(value.encode()).decode()}


def a_strs(values: Sequence[str]) -> Json:
    return {"list": {"s": [base64.b64encode(v.encode()).decode() for v in values]}}


def placeholder(name: str, shape: Sequence[int]) -> Json:
    dims = [{"size": str(d)} for d in shape]
    return {
        "name": name,
        "op": "Placeholder",
        "attr": {"dtype": a_type(), "shape": {"shape": {"dim": dims}}},
    }


def op(name: str, kind: str, inputs: Sequence[str], **attr: Json) -> Json:
    return {"name": name, "op": kind, "input": list(inputs), "attr": {"T": a_type(), **attr}}


@dataclass
class Weight:
    """A Const node's value as TF.js stores it (manifest dtype, optional quantisation)."""

    name: str
    value: npt.ArrayLike
    node_dtype: str = "DT_FLOAT"
    quant: str | None = None  # "float16", "uint8" or "uint16"


def _encode(w: Weight) -> tuple[bytes, Json]:
    arr = np.asarray(w.value)
    manifest_dtype = {"f": "float32", "i": "int32", "u": "int32", "b": "bool"}[arr.dtype.kind]
    spec: Json = {"name": w.name, "shape": list(arr.shape), "dtype": manifest_dtype}
    if w.quant == "float16":
        spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
        return arr.astype("<f2").tobytes(), spec
    if w.quant in ("uint8", "uint16"):
        levels = 255 if w.quant == "uint8" else 65535
        lo, hi = float(arr.min()), float(arr.max())
        scale = (hi - lo) / levels or 1.0
        q = np.round((arr - lo) / scale).astype("u1" if w.quant == "uint8" else "<u2")
        spec["quantization"] = {"dtype": w.quant, "min": lo, "scale": scale}
        return q.tobytes(), spec
    stored = {"float32": "<f4", "int32": "<i4", "bool": "?"}[manifest_dtype]
    return arr.astype(stored).tobytes(), spec


def write_model(
    tmp: Path,
    nodes: Sequence[Json],
    weights: Sequence[Weight],
    *,
    shards: int = 1,
    name: str = "model",
) -> Path:
    """Write ``<name>.json`` + shard files; Const nodes for ``weights`` are added first."""
    consts = [
        {
            "name": w.name,
            "op": "Const",
            "attr": {
                "dtype": a_type(w.node_dtype),
                "value": {"tensor": {"dtype": w.node_dtype, "tensorShape": {}}},
            },
        }
        for w in weights
    ]
    encoded = [_encode(w) for w in weights]
    blob = b"".join(b for b, _ in encoded)
    cut = [len(blob) * k // shards for k in range(shards + 1)]
    paths = []
    for k in range(shards):
        path = f"{name}.bin" if shards == 1 else f"{name}-shard{k + 1}of{shards}.bin"
        (tmp / path).write_bytes(blob[cut[k] : cut[k + 1]])
        paths.append(path)
    doc = {
        "format": "graph-model",
        "generatedBy": "test",
        "convertedBy": "test",
        "modelTopology": {"node": [*consts, *nodes], "library": {}, "versions": {}},
        "weightsManifest": [{"paths": paths, "weights": [s for _, s in encoded]}],
    }
    model_json = tmp / f"{name}.json"
    model_json.write_text(json.dumps(doc))
    return model_json


def run_ir(xml: Path, *inputs: FloatArray) -> list[FloatArray]:
    """Run an IR on CPU in full fp32 (the CPU plugin may default to bf16)."""
    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled(list(inputs))
    return [np.asarray(result[o]) for o in compiled.outputs]


def conv_same(x: FloatArray, w: FloatArray) -> FloatArray:
    """NHWC conv, stride 1, SAME padding, odd kernel (numpy reference)."""
    kh, kw = w.shape[:2]
    padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    patches = sliding_window_view(padded, (kh, kw), axis=(1, 2))  # n h w c kh kw
    out: FloatArray = np.einsum("nhwcij,ijco->nhwo", patches, w).astype(np.float32)
    return out


def depthwise_same(x: FloatArray, w: FloatArray) -> FloatArray:
    """NHWC depthwise conv (channel multiplier 1), stride 1, SAME padding."""
    kh, kw = w.shape[:2]
    padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    patches = sliding_window_view(padded, (kh, kw), axis=(1, 2))
    out: FloatArray = np.einsum("nhwcij,ijc->nhwc", patches, w[..., 0]).astype(np.float32)
    return out


CONV_ATTRS: Mapping[str, Json] = {
    "strides": a_ints([1, 1, 1, 1]),
    "padding": a_str("SAME"),
    "data_format": a_str("NHWC"),
    "dilations": a_ints([1, 1, 1, 1]),
    "explicit_paddings": {"list": {}},
}

RNG = np.random.default_rng(42)
X = RNG.uniform(-1, 1, (1, 6, 6, 2)).astype(np.float32)
W = RNG.uniform(-2, 2, (3, 3, 2, 4)).astype(np.float32)
B = np.array([0.5, -0.5, 1.0, -3.0], np.float32)
ALPHA = np.array([0.1, 0.2, 0.3, 0.4], np.float32)

# --- fix 3: fused conv / depthwise / matmul split back into stock ops -------------------------

ACTIVATIONS: dict[str, Any] = {
    "none": lambda y: y,
    "Relu": lambda y: np.maximum(y, 0),
    "Relu6": lambda y: np.clip(y, 0, 6),
    "LeakyRelu": lambda y: np.where(y > 0, y, 0.3 * y),
    "Elu": lambda y: np.where(y > 0, y, np.expm1(np.minimum(y, 0))),
    "Sigmoid": lambda y: 1 / (1 + np.exp(-y)),
    "Prelu": lambda y: np.where(y > 0, y, ALPHA * y),
}


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_fused_conv2d_matches_numpy(tmp_path: Path, activation: str) -> None:
    fused = ["BiasAdd"] if activation == "none" else ["BiasAdd", activation]
    weights = [Weight("w", W), Weight("b", B)]
    inputs = ["x", "w", "b"]
    attrs = {**CONV_ATTRS, "fused_ops": a_strs(fused), "num_args": {"i": "1"}}
    if activation == "LeakyRelu":
        attrs["leakyrelu_alpha"] = {"f": 0.3}
    if activation == "Prelu":
        weights.append(Weight("alpha", ALPHA))
        inputs.append("alpha")
        attrs["num_args"] = {"i": "2"}
    model = write_model(
        tmp_path, [placeholder("x", X.shape), op("y", "_FusedConv2D", inputs, **attrs)], weights
    )
    xml = convert_tfjs_to_openvino(model, tmp_path / "m.xml")

    (got,) = run_ir(xml, X)

    want = ACTIVATIONS[activation](conv_same(X, W) + B)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    if activation in ("Relu6", "Relu"):
        assert (want == 0).any()  # the activation really clips something
    if activation == "Relu6":
        assert (want == 6).any()


def test_fused_depthwise_then_fused_conv_chain(tmp_path: Path) -> None:
    dw = RNG.uniform(-2, 2, (3, 3, 2, 1)).astype(np.float32)
    dwb = np.array([0.25, -0.25], np.float32)
    nodes = [
        placeholder("x", X.shape),
        op(
            "dw",
            "FusedDepthwiseConv2dNative",
            ["x", "dw_w", "dw_b"],
            **CONV_ATTRS,
            fused_ops=a_strs(["BiasAdd", "Relu"]),
            num_args={"i": "1"},
        ),
        op(
            "pw",
            "_FusedConv2D",
            ["dw", "w", "b"],
            **CONV_ATTRS,
            fused_ops=a_strs(["BiasAdd"]),
            num_args={"i": "1"},
        ),
    ]
    weights = [Weight("dw_w", dw), Weight("dw_b", dwb), Weight("w", W), Weight("b", B)]
    xml = convert_tfjs_to_openvino(write_model(tmp_path, nodes, weights), tmp_path / "m.xml")

    (got,) = run_ir(xml, X)

    hidden = np.maximum(depthwise_same(X, dw) + dwb, 0)
    np.testing.assert_allclose(got, conv_same(hidden, W) + B, rtol=1e-5, atol=1e-5)


def test_fused_matmul_and_standalone_prelu(tmp_path: Path) -> None:
    x = RNG.uniform(-1, 1, (2, 3)).astype(np.float32)
    w = RNG.uniform(-1, 1, (3, 4)).astype(np.float32)
    nodes = [
        placeholder("x", x.shape),
        op(
            "mm",
            "_FusedMatMul",
            ["x", "w", "b"],
            fused_ops=a_strs(["BiasAdd"]),
            transpose_a={"b": False},
            transpose_b={"b": False},
            num_args={"i": "1"},
        ),
        op("y", "Prelu", ["mm", "alpha"]),
    ]
    weights = [Weight("w", w), Weight("b", B), Weight("alpha", ALPHA)]
    xml = convert_tfjs_to_openvino(write_model(tmp_path, nodes, weights), tmp_path / "m.xml")

    (got,) = run_ir(xml, x)

    y = x @ w + B
    np.testing.assert_allclose(got, np.where(y > 0, y, ALPHA * y), rtol=1e-5, atol=1e-6)


def test_split_keeps_the_fused_name_on_the_last_op(tmp_path: Path) -> None:
    attrs = {**CONV_ATTRS, "fused_ops": a_strs(["BiasAdd", "Relu6"]), "num_args": {"i": "1"}}
    nodes = [
        placeholder("x", X.shape),
        op("y", "_FusedConv2D", ["x", "w", "b"], **attrs),
        op("z", "Neg", ["y"]),
    ]
    graph = tfjs_to_graphdef(write_model(tmp_path, nodes, [Weight("w", W), Weight("b", B)]))
    ops = {n.name: n for n in graph.node}
    assert ops["y"].op == "Relu6"
    assert ops["y/_base"].op == "Conv2D"
    assert "fused_ops" not in ops["y/_base"].attr
    assert ops["y/_bias"].op == "BiasAdd" and list(ops["y/_bias"].input) == ["y/_base", "b"]
    assert list(ops["z"].input) == ["y"]


@pytest.mark.parametrize(
    ("fused", "message"),
    [(["FusedBatchNorm"], "only BiasAdd"), (["BiasAdd", "Swish"], "unsupported activation")],
)
def test_unsupported_fusions_raise(tmp_path: Path, fused: list[str], message: str) -> None:
    attrs = {**CONV_ATTRS, "fused_ops": a_strs(fused), "num_args": {"i": "1"}}
    nodes = [placeholder("x", X.shape), op("y", "_FusedConv2D", ["x", "w", "b"], **attrs)]
    model = write_model(tmp_path, nodes, [Weight("w", W), Weight("b", B)])
    with pytest.raises(ModelFetchError, match=message):
        tfjs_to_graphdef(model)


# --- fix 1: int64 constants that TF.js stored as int32 ----------------------------------------


def test_int64_const_stored_as_int32_is_restored(tmp_path: Path) -> None:
    x = RNG.uniform(-1, 1, (1, 2, 3, 4)).astype(np.float32)
    nodes = [
        placeholder("x", x.shape),
        op("y", "Reshape", ["x", "shape"], Tshape=a_type("DT_INT64")),
    ]
    shape = Weight("shape", np.array([1, 6, -1], np.int32), node_dtype="DT_INT64")
    model = write_model(tmp_path, nodes, [shape])

    const = next(n for n in tfjs_to_graphdef(model).node if n.name == "shape")
    assert const.attr["value"].tensor.dtype == types_pb2.DT_INT64
    assert np.frombuffer(const.attr["value"].tensor.tensor_content, "<i8").tolist() == [1, 6, -1]

    (got,) = run_ir(convert_tfjs_to_openvino(model, tmp_path / "m.xml"), x)
    np.testing.assert_array_equal(got, x.reshape(1, 6, 4))


# --- fix 2: scalars in typed fields -----------------------------------------------------------


def test_scalar_consts_use_typed_fields(tmp_path: Path) -> None:
    x = RNG.uniform(-1, 1, (1, 3)).astype(np.float32)
    nodes = [
        placeholder("x", x.shape),
        op("m", "Mul", ["x", "k"]),
        op("c", "ConcatV2", ["m", "x", "axis"], N={"i": "2"}, Tidx=a_type("DT_INT32")),
        op("s", "Sum", ["c", "ax64"], Tidx=a_type("DT_INT64"), keep_dims={"b": False}),
    ]
    weights = [
        Weight("k", np.float32(2.5)),
        Weight("axis", np.int32(1), node_dtype="DT_INT32"),
        Weight("ax64", np.int32(1), node_dtype="DT_INT64"),
    ]
    model = write_model(tmp_path, nodes, weights)

    tensors = {n.name: n.attr["value"].tensor for n in tfjs_to_graphdef(model).node}
    assert list(tensors["k"].float_val) == [2.5] and not tensors["k"].tensor_content
    assert list(tensors["axis"].int_val) == [1] and not tensors["axis"].tensor_content
    assert list(tensors["ax64"].int64_val) == [1] and tensors["ax64"].dtype == types_pb2.DT_INT64
    assert not tensors["k"].tensor_shape.dim

    (got,) = run_ir(convert_tfjs_to_openvino(model, tmp_path / "m.xml"), x)
    np.testing.assert_allclose(got, (2.5 * x).sum(axis=1) + x.sum(axis=1), rtol=1e-6)


# --- fix 4: cutting the graph -----------------------------------------------------------------


def test_cut_outputs_prune_and_order(tmp_path: Path) -> None:
    x = RNG.uniform(-3, 3, (1, 4, 4, 2)).astype(np.float32)
    pool = {
        "ksize": a_ints([1, 3, 3, 1]),
        "strides": a_ints([1, 1, 1, 1]),
        "padding": a_str("SAME"),
        "data_format": a_str("NHWC"),
    }
    nodes = [
        placeholder("x", x.shape),
        op("sig", "Sigmoid", ["x"]),
        op("keypoints", "Identity", ["sig"]),
        op("pool", "MaxPool", ["keypoints"], **pool),
        op("flat", "Reshape", ["pool", "flat_shape"], Tshape=a_type("DT_INT32")),
        op("topk", "TopKV2", ["flat", "k"]),
    ]
    weights = [
        Weight("flat_shape", np.array([1, -1], np.int32), "DT_INT32"),
        Weight("k", np.int32(3), "DT_INT32"),
    ]
    model = write_model(tmp_path, nodes, weights)

    graph = tfjs_to_graphdef(model, cut_outputs=["pool", "keypoints:0"])
    kinds = {n.name: n.op for n in graph.node}
    assert "topk" not in kinds and "flat" not in kinds and "k" not in kinds
    # keypoints feeds pool, so it gets an Identity on top to become a sink of its own.
    assert kinds["keypoints"] == "Identity" and "keypoints/_cut_src" in kinds

    xml = convert_tfjs_to_openvino(model, tmp_path / "m.xml", cut_outputs=["pool", "keypoints"])
    outs = ov.Core().read_model(str(xml)).outputs
    assert "pool:0" in outs[0].get_names() and "keypoints:0" in outs[1].get_names()
    pool_out, kp = run_ir(xml, x)
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(kp, sig, rtol=1e-6)
    padded = np.pad(sig, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    want = sliding_window_view(padded, (3, 3), axis=(1, 2)).max(axis=(-2, -1))
    np.testing.assert_allclose(pool_out, want, rtol=1e-6)


def test_cut_output_must_exist(tmp_path: Path) -> None:
    model = write_model(tmp_path, [placeholder("x", [1, 2]), op("y", "Relu", ["x"])], [])
    with pytest.raises(ModelFetchError, match="not in the graph"):
        tfjs_to_graphdef(model, cut_outputs=["nope"])
    with pytest.raises(ModelFetchError, match="twice"):
        tfjs_to_graphdef(model, cut_outputs=["y", "y:0"])
    with pytest.raises(ModelFetchError, match="output 0"):
        tfjs_to_graphdef(model, cut_outputs=["y:1"])


def test_input_shape_fixes_dynamic_placeholder(tmp_path: Path) -> None:
    model = write_model(tmp_path, [placeholder("x", [-1, -1, 3]), op("y", "Relu", ["x"])], [])
    xml = convert_tfjs_to_openvino(model, tmp_path / "m.xml", input_shape=[1, 5, 3])
    assert ov.Core().read_model(str(xml)).inputs[0].get_partial_shape().to_shape() == [1, 5, 3]


# --- weights manifest ---------------------------------------------------------------------------


def test_weights_dequantise_and_span_shards(tmp_path: Path) -> None:
    values = np.linspace(-1, 1, 7, dtype=np.float32)
    weights = [
        Weight("f16", values, quant="float16"),
        Weight("u8", values, quant="uint8"),
        Weight("u16", values, quant="uint16"),
        Weight("i", np.array([1, -2, 3], np.int32), "DT_INT32"),
        Weight("flag", np.array([True, False], np.bool_), "DT_BOOL"),
    ]
    model = write_model(tmp_path, [], weights, shards=3)
    doc = json.loads(model.read_text())
    assert len(doc["weightsManifest"][0]["paths"]) == 3

    got = read_weights(model, doc["weightsManifest"])

    np.testing.assert_allclose(got["f16"].astype(np.float32), values, atol=1e-3)
    np.testing.assert_allclose(got["u8"].astype(np.float32), values, atol=2 / 255)
    np.testing.assert_allclose(got["u16"].astype(np.float32), values, atol=2 / 65535)
    assert got["i"].tolist() == [1, -2, 3] and got["flag"].tolist() == [True, False]
    assert all(got[k].dtype == np.float32 for k in ("f16", "u8", "u16"))


# --- malformed input ----------------------------------------------------------------------------


def _good(tmp_path: Path) -> Path:
    nodes = [placeholder("x", [1, 3]), op("y", "Mul", ["x", "k"])]
    return write_model(tmp_path, nodes, [Weight("k", np.array([1, 2, 3], np.float32))])


def _no_weights(model: Path) -> Path:
    model.with_name("model.bin").write_bytes(b"")
    return _edit(model, lambda d: d["weightsManifest"][0]["weights"].clear())


def _edit(model: Path, change: Any) -> Path:
    doc = json.loads(model.read_text())
    change(doc)
    model.write_text(json.dumps(doc))
    return model


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda p: p.with_name("missing.json"), "cannot read"),
        (lambda p: (p.write_text("{not json"), p)[1], "cannot read"),
        (lambda p: (p.write_text("[]"), p)[1], "not a JSON object"),
        (lambda p: _edit(p, lambda d: d.update(format="layers-model")), "not a TF.js graph"),
        (lambda p: _edit(p, lambda d: d.pop("weightsManifest")), "weightsManifest is missing"),
        (lambda p: _edit(p, lambda d: d["modelTopology"].pop("node")), "node is missing"),
        (lambda p: (p.with_name("model.bin").write_bytes(b"\0" * 4), p)[1], "end early"),
        (lambda p: (p.with_name("model.bin").write_bytes(b"\0" * 16), p)[1], "shards hold 16"),
        (lambda p: (p.with_name("model.bin").unlink(), p)[1], "cannot read weight shard"),
        (
            lambda p: _edit(p, lambda d: d["weightsManifest"][0]["weights"][0].update(dtype="x")),
            "dtype",
        ),
        (lambda p: _no_weights(p), "has no weights"),
    ],
)
def test_malformed_models_raise_model_fetch_error(
    tmp_path: Path, breakage: Any, message: str
) -> None:
    broken = breakage(_good(tmp_path))
    with pytest.raises(ModelFetchError, match=message):
        tfjs_to_graphdef(broken)
