"""GraphDef rewrites that turn a TF.js-flavoured graph back into one stock TF importers accept."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
from tensorboard.compat.proto import (
    attr_value_pb2,
    graph_pb2,
    node_def_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    types_pb2,
)

from guardian.edge.detect.errors import ModelFetchError

# TF dtype enum → numpy dtype, for the dtypes a Const node may declare.
_NUMPY_OF_TF: dict[int, npt.DTypeLike] = {
    types_pb2.DT_FLOAT: np.float32,
    types_pb2.DT_DOUBLE: np.float64,
    types_pb2.DT_HALF: np.float16,
    types_pb2.DT_INT8: np.int8,
    types_pb2.DT_INT16: np.int16,
    types_pb2.DT_INT32: np.int32,
    types_pb2.DT_INT64: np.int64,
    types_pb2.DT_UINT8: np.uint8,
    types_pb2.DT_UINT16: np.uint16,
    types_pb2.DT_BOOL: np.bool_,
}

# Attributes the unfused base ops accept; everything else on a fused node is dropped.
_BASE_ATTRS: dict[str, frozenset[str]] = {
    "Conv2D": frozenset(
        {
            "T",
            "strides",
            "padding",
            "explicit_paddings",
            "data_format",
            "dilations",
            "use_cudnn_on_gpu",
        }
    ),
    "DepthwiseConv2dNative": frozenset(
        {"T", "strides", "padding", "explicit_paddings", "data_format", "dilations"}
    ),
    "MatMul": frozenset({"T", "transpose_a", "transpose_b"}),
}
_FUSED_BASE: dict[str, str] = {
    "_FusedConv2D": "Conv2D",
    "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative",
    "_FusedMatMul": "MatMul",
}
_PLAIN_ACTIVATIONS = frozenset({"Relu", "Relu6", "Elu", "Sigmoid", "Tanh"})
# Attributes that hold a node's (first) output dtype, by op family.
_DTYPE_ATTRS = ("T", "dtype", "DstT", "out_type", "Tparams")


def fill_const(node: node_def_pb2.NodeDef, values: npt.NDArray[np.generic]) -> None:
    """Put ``values`` into a weight-stripped Const node, in the dtype the node declares.

    TF.js stores int64 constants as int32 and float16/quantised weights as float32, so the
    node's own ``dtype`` attribute (not the manifest) decides the stored type. Scalars go
    into the typed ``*_val`` fields, the way TF itself writes them: some importers only
    read those for 0-d tensors (OpenVINO 2026.4 reads both).
    """
    tf_dtype = node.attr["dtype"].type if "dtype" in node.attr else node.attr["value"].tensor.dtype
    np_dtype = _NUMPY_OF_TF.get(tf_dtype)
    if np_dtype is None:
        raise ModelFetchError(
            f"Const {node.name!r} has dtype {types_pb2.DataType.Name(tf_dtype)}, "
            "which the TF.js converter cannot fill"
        )
    arr = np.asarray(values).astype(np_dtype, copy=False)
    if np.issubdtype(arr.dtype, np.integer) and values.size:
        # int32 → int64 is the expected widening; a narrowing that changes values is not.
        if not np.array_equal(arr.astype(np.int64), np.asarray(values).astype(np.int64)):
            raise ModelFetchError(f"Const {node.name!r}: values do not fit its declared dtype")
    tensor = tensor_pb2.TensorProto(dtype=tf_dtype, tensor_shape=make_shape(arr.shape))
    if arr.ndim == 0:
        _set_scalar(tensor, arr)
    else:
        tensor.tensor_content = (
            np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        )
    node.attr["value"].tensor.CopyFrom(tensor)
    node.attr["dtype"].type = tf_dtype


def _set_scalar(tensor: tensor_pb2.TensorProto, arr: npt.NDArray[np.generic]) -> None:
    item = arr.item()
    if arr.dtype == np.bool_:
        tensor.bool_val.append(bool(item))
    elif arr.dtype == np.float16:
        # TF keeps half scalars as their raw 16-bit patterns in half_val.
        tensor.half_val.append(int(arr.view(np.uint16).item()))
    elif arr.dtype == np.float64:
        tensor.double_val.append(float(item))
    elif np.issubdtype(arr.dtype, np.floating):
        tensor.float_val.append(float(item))
    elif arr.dtype == np.int64:
        tensor.int64_val.append(int(item))
    else:
        tensor.int_val.append(int(item))


def make_shape(dims: Iterable[int]) -> tensor_shape_pb2.TensorShapeProto:
    """A TensorShapeProto from a sequence of dimension sizes (-1 = unknown)."""
    return tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(d)) for d in dims]
    )


def _node(
    name: str,
    op: str,
    inputs: Sequence[str],
    attrs: Mapping[str, attr_value_pb2.AttrValue] | None = None,
) -> node_def_pb2.NodeDef:
    node = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
    for key, value in (attrs or {}).items():
        node.attr[key].CopyFrom(value)
    return node


def _prelu_nodes(
    name: str, x: str, alpha: str, t: attr_value_pb2.AttrValue
) -> list[node_def_pb2.NodeDef]:
    """PReLU as stock ops: ``relu(x) - alpha * relu(-x)`` (TF has no Prelu kernel)."""
    attrs = {"T": t}
    return [
        _node(f"{name}/_prelu_pos", "Relu", [x], attrs),
        _node(f"{name}/_prelu_negx", "Neg", [x], attrs),
        _node(f"{name}/_prelu_relu_negx", "Relu", [f"{name}/_prelu_negx"], attrs),
        _node(f"{name}/_prelu_neg", "Mul", [alpha, f"{name}/_prelu_relu_negx"], attrs),
        _node(f"{name}", "Sub", [f"{name}/_prelu_pos", f"{name}/_prelu_neg"], attrs),
    ]


def split_fused_node(node: node_def_pb2.NodeDef) -> list[node_def_pb2.NodeDef]:
    """Expand a TF.js fused conv/matmul into base op + BiasAdd + activation.

    The last node of the chain keeps the original name so consumers need no rewiring.
    """
    base_op = _FUSED_BASE[node.op]
    ops = [s.decode() for s in node.attr["fused_ops"].list.s]
    data = [i for i in node.input if not i.startswith("^")]
    control = [i for i in node.input if i.startswith("^")]
    if len(data) < 2:
        raise ModelFetchError(f"fused node {node.name!r} has fewer than two inputs")
    t = node.attr["T"] if "T" in node.attr else attr_value_pb2.AttrValue(type=types_pb2.DT_FLOAT)
    extra = data[2:]
    if not ops or ops[0] != "BiasAdd":
        raise ModelFetchError(
            f"fused node {node.name!r} has fused_ops {ops}; only BiasAdd[+activation] is supported"
        )
    if len(ops) > 2:
        raise ModelFetchError(f"fused node {node.name!r} has unsupported fused_ops {ops}")
    activation = ops[1] if len(ops) == 2 else None
    want_extra = 2 if activation == "Prelu" else 1
    if len(extra) != want_extra:
        raise ModelFetchError(
            f"fused node {node.name!r} ({ops}) needs {want_extra} extra input(s), got {len(extra)}"
        )

    base_attrs = {k: v for k, v in node.attr.items() if k in _BASE_ATTRS[base_op]}
    conv_name = f"{node.name}/_base"
    bias_name = node.name if activation is None else f"{node.name}/_bias"
    chain = [_node(conv_name, base_op, [*data[:2], *control], base_attrs)]
    bias_attrs = {"T": t}
    if "data_format" in node.attr:
        bias_attrs["data_format"] = node.attr["data_format"]
    chain.append(_node(bias_name, "BiasAdd", [conv_name, extra[0]], bias_attrs))
    if activation is None:
        return chain
    if activation in _PLAIN_ACTIVATIONS:
        chain.append(_node(node.name, activation, [bias_name], {"T": t}))
    elif activation == "LeakyRelu":
        alpha = node.attr["leakyrelu_alpha"].f if "leakyrelu_alpha" in node.attr else 0.2
        leaky = {"T": t, "alpha": attr_value_pb2.AttrValue(f=alpha)}
        chain.append(_node(node.name, "LeakyRelu", [bias_name], leaky))
    elif activation == "Prelu":
        chain.extend(_prelu_nodes(node.name, bias_name, extra[1], t))
    else:
        raise ModelFetchError(f"fused node {node.name!r} has unsupported activation {activation!r}")
    return chain


def unfuse(graph: graph_pb2.GraphDef) -> graph_pb2.GraphDef:
    """Return a copy of ``graph`` with TF.js-only ops rewritten into stock TF ops."""
    out = graph_pb2.GraphDef()
    out.CopyFrom(graph)
    del out.node[:]
    for node in graph.node:
        if node.op in _FUSED_BASE:
            out.node.extend(split_fused_node(node))
        elif node.op == "Prelu":
            data = [i for i in node.input if not i.startswith("^")]
            if len(data) != 2:
                raise ModelFetchError(f"Prelu {node.name!r} needs inputs (x, alpha)")
            t = (
                node.attr["T"]
                if "T" in node.attr
                else attr_value_pb2.AttrValue(type=types_pb2.DT_FLOAT)
            )
            out.node.extend(_prelu_nodes(node.name, data[0], data[1], t))
        else:
            out.node.append(node)
    return out


def node_name(tensor_ref: str) -> str:
    """``'^a'``, ``'a:1'`` and ``'a'`` all name node ``'a'``."""
    return tensor_ref.lstrip("^").split(":", 1)[0]


def prune(graph: graph_pb2.GraphDef, outputs: Sequence[str]) -> graph_pb2.GraphDef:
    """Keep only what the nodes ``outputs`` need, and make each of them a graph sink.

    Importers take sinks as model outputs. A requested node that feeds another requested
    node is renamed ``<name>/_cut_src`` with an ``Identity`` named ``<name>`` on top, so its
    output keeps its tensor name.
    """
    by_name = {n.name: n for n in graph.node}
    wanted = [node_name(o) for o in outputs]
    missing = [w for w in wanted if w not in by_name]
    if missing:
        raise ModelFetchError(f"cut outputs not in the graph: {missing}")
    bad = [o for o in outputs if ":" in o and not o.endswith(":0")]
    if bad:
        raise ModelFetchError(f"cut outputs must name output 0 of a node, got {bad}")
    if len(set(wanted)) != len(wanted):
        raise ModelFetchError(f"cut outputs name a node twice: {list(outputs)}")
    keep: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name in keep:
            continue
        keep.add(name)
        if name not in by_name:
            raise ModelFetchError(f"graph references missing node {name!r}")
        stack.extend(node_name(i) for i in by_name[name].input)
    out = graph_pb2.GraphDef()
    out.CopyFrom(graph)
    del out.node[:]
    out.node.extend(n for n in graph.node if n.name in keep)
    fed = {node_name(i) for n in out.node for i in n.input}
    for name in dict.fromkeys(wanted):
        if name in fed:
            _split_off_identity(out, name)
    return out


def _split_off_identity(graph: graph_pb2.GraphDef, name: str) -> None:
    src = f"{name}/_cut_src"
    dtype: attr_value_pb2.AttrValue | None = None
    for node in graph.node:
        for k, ref in enumerate(node.input):
            if node_name(ref) == name:
                node.input[k] = ref.replace(name, src, 1)
        if node.name == name:
            node.name = src
            key = next((k for k in _DTYPE_ATTRS if k in node.attr), None)
            if key is None:
                raise ModelFetchError(f"cannot tell the output dtype of {node.op} {name!r}")
            dtype = node.attr[key]
    assert dtype is not None  # prune() only calls this for nodes it kept
    graph.node.append(_node(name, "Identity", [src], {"T": dtype}))


def set_input_shape(graph: graph_pb2.GraphDef, shape: Sequence[int]) -> None:
    """Fix the shape of the graph's single Placeholder in place."""
    placeholders = [n for n in graph.node if n.op == "Placeholder"]
    if len(placeholders) != 1:
        raise ModelFetchError(
            f"input_shape needs exactly one graph input, found {len(placeholders)}"
        )
    placeholders[0].attr["shape"].shape.CopyFrom(make_shape(shape))
