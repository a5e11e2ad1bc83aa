"""TF.js graph model (model.json + weight shards) → frozen GraphDef → OpenVINO IR, without TF."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# protobuf ships no type stubs (types-protobuf may or may not be installed).
from google.protobuf import json_format  # type: ignore[import-untyped,unused-ignore]
from tensorboard.compat.proto import graph_pb2

from guardian.edge.detect.convert.graphdef_fixes import (
    fill_const,
    prune,
    set_input_shape,
    unfuse,
)
from guardian.edge.detect.errors import ModelFetchError

# Bytes per element as stored in a shard, by manifest dtype (quantisation dtype wins).
_STORED: dict[str, npt.DTypeLike] = {
    "float32": "<f4",
    "int32": "<i4",
    "bool": np.bool_,
    "uint8": np.uint8,
    "uint16": "<u2",
    "float16": "<f2",
}


def load_model_json(model_json: Path) -> dict[str, Any]:
    """Read and sanity-check a TF.js ``graph-model`` JSON file."""
    try:
        doc = json.loads(Path(model_json).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFetchError(f"cannot read TF.js model JSON {model_json}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ModelFetchError(f"{model_json}: top level is not a JSON object")
    fmt = doc.get("format", "graph-model")
    if fmt != "graph-model":
        raise ModelFetchError(f"{model_json}: format {fmt!r} is not a TF.js graph model")
    topology = doc.get("modelTopology")
    if not isinstance(topology, dict) or not isinstance(topology.get("node"), list):
        raise ModelFetchError(f"{model_json}: modelTopology.node is missing")
    if not isinstance(doc.get("weightsManifest"), list):
        raise ModelFetchError(f"{model_json}: weightsManifest is missing")
    return doc


def _dequantise(raw: bytes, spec: dict[str, Any], where: str) -> npt.NDArray[np.generic]:
    """Decode one manifest entry's bytes, undoing TF.js weight quantisation."""
    dtype = spec.get("dtype")
    quant = spec.get("quantization")
    stored = quant.get("dtype") if isinstance(quant, dict) else dtype
    if stored not in _STORED or dtype not in ("float32", "int32", "bool"):
        raise ModelFetchError(f"{where}: unsupported weight dtype {dtype!r} (stored {stored!r})")
    values = np.frombuffer(raw, dtype=_STORED[stored])
    if isinstance(quant, dict) and stored in ("uint8", "uint16"):
        try:
            scale, minimum = float(quant["scale"]), float(quant["min"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFetchError(f"{where}: quantisation lacks scale/min") from exc
        real = values.astype(np.float32) * np.float32(scale) + np.float32(minimum)
        # TF.js rounds dequantised ints the same way (Math.round).
        return np.round(real).astype(np.int32) if dtype == "int32" else real
    if stored == "float16":
        return values.astype(np.float32)
    return values.astype(_STORED[dtype])


def read_weights(model_json: Path, manifest: list[Any]) -> dict[str, npt.NDArray[np.generic]]:
    """All weights of a manifest, by name, as numpy arrays in their manifest shape."""
    base = Path(model_json).parent
    weights: dict[str, npt.NDArray[np.generic]] = {}
    for group_no, group in enumerate(manifest):
        if not isinstance(group, dict) or not isinstance(group.get("weights"), list):
            raise ModelFetchError(f"{model_json}: weightsManifest[{group_no}] is malformed")
        try:
            # Shards of a group are one byte stream split into files, in listed order.
            buf = b"".join((base / str(p)).read_bytes() for p in group.get("paths", []))
        except OSError as exc:
            raise ModelFetchError(f"{model_json}: cannot read weight shard: {exc}") from exc
        offset = 0
        for spec in group["weights"]:
            try:
                name, shape = str(spec["name"]), [int(d) for d in spec["shape"]]
            except (KeyError, TypeError, ValueError) as exc:
                raise ModelFetchError(f"{model_json}: malformed weight entry {spec!r}") from exc
            quant = spec.get("quantization")
            stored = quant.get("dtype") if isinstance(quant, dict) else spec.get("dtype")
            if stored not in _STORED:
                raise ModelFetchError(f"{model_json}: weight {name!r} has dtype {stored!r}")
            nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(_STORED[stored]).itemsize
            if offset + nbytes > len(buf):
                raise ModelFetchError(
                    f"{model_json}: weight shards end early at {name!r} "
                    f"(need {offset + nbytes} bytes, have {len(buf)})"
                )
            values = _dequantise(buf[offset : offset + nbytes], spec, f"weight {name!r}")
            weights[name] = values.reshape(shape)
            offset += nbytes
        if offset != len(buf):
            raise ModelFetchError(
                f"{model_json}: weightsManifest[{group_no}] describes {offset} bytes "
                f"but its shards hold {len(buf)}"
            )
    return weights


def tfjs_to_graphdef(
    model_json: Path, *, cut_outputs: Sequence[str] | None = None
) -> graph_pb2.GraphDef:
    """Rebuild a frozen, stock-TF GraphDef from a TF.js graph model.

    ``cut_outputs`` names nodes that become the graph's outputs; everything they do not
    depend on is dropped (used to cut CenterNet before its slow in-graph top-k).
    """
    doc = load_model_json(model_json)
    try:
        graph = json_format.ParseDict(
            doc["modelTopology"], graph_pb2.GraphDef(), ignore_unknown_fields=True
        )
    except json_format.ParseError as exc:
        raise ModelFetchError(f"{model_json}: modelTopology is not a GraphDef: {exc}") from exc
    weights = read_weights(model_json, doc["weightsManifest"])
    for node in graph.node:
        if node.name in weights:
            if node.op != "Const":
                raise ModelFetchError(f"{model_json}: weight {node.name!r} feeds a {node.op} node")
            fill_const(node, weights.pop(node.name))
        elif node.op == "Const" and not _has_inline_value(node):
            raise ModelFetchError(f"{model_json}: Const {node.name!r} has no weights")
    graph = unfuse(graph)
    if cut_outputs:
        graph = prune(graph, cut_outputs)
    return graph


def _has_inline_value(node: Any) -> bool:
    tensor = node.attr["value"].tensor
    return any(
        (
            tensor.tensor_content,
            tensor.float_val,
            tensor.int_val,
            tensor.int64_val,
            tensor.bool_val,
            tensor.double_val,
            tensor.half_val,
            tensor.string_val,
        )
    )


def convert_tfjs_to_openvino(
    model_json: Path,
    out_xml: Path,
    *,
    cut_outputs: Sequence[str] | None = None,
    input_shape: Sequence[int] | None = None,
) -> Path:
    """Convert a TF.js graph model to OpenVINO IR (``out_xml`` + ``.bin``, fp32 weights).

    The intermediate frozen ``.pb`` lives in a temporary directory next to ``out_xml``.
    Returns ``out_xml``.
    """
    import openvino as ov  # deferred: heavy import, only needed when converting

    graph = tfjs_to_graphdef(model_json, cut_outputs=cut_outputs)
    if input_shape is not None:
        set_input_shape(graph, input_shape)
    out_xml = Path(out_xml)
    out_xml.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_xml.parent, prefix=".tfjs-") as tmp:
        pb = Path(tmp) / "frozen.pb"
        pb.write_bytes(graph.SerializeToString())
        try:
            model = ov.convert_model(str(pb))
        except Exception as exc:  # OpenVINO raises several unrelated exception types
            raise ModelFetchError(f"OpenVINO could not convert {model_json}: {exc}") from exc
    if cut_outputs:
        model = _order_outputs(ov, model, [_tensor_ref(o) for o in cut_outputs])
    ov.save_model(model, str(out_xml), compress_to_fp16=False)
    return out_xml


def _tensor_ref(ref: str) -> str:
    """``'node'`` → ``'node:0'``; explicit ``'node:k'`` stays."""
    return ref if ":" in ref else f"{ref}:0"


def _order_outputs(ov: Any, model: Any, refs: Sequence[str]) -> Any:
    """``model`` with its outputs in ``refs`` order (OpenVINO keeps graph order)."""
    order: list[int] = []
    for ref in refs:
        hits = [i for i, out in enumerate(model.outputs) if ref in out.get_names()]
        if len(hits) != 1:
            raise ModelFetchError(f"converted model has no single output named {ref!r}")
        order.append(hits[0])
    if order == list(range(len(model.outputs))):
        return model
    results = model.get_results()
    return ov.Model([results[i] for i in order], model.get_parameters(), model.get_friendly_name())
