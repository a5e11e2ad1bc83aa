"""Build the decoder for a model family and check the model's outputs fit it."""

from __future__ import annotations

from collections.abc import Sequence

from guardian.edge.detect.decoders.base import Decoder
from guardian.edge.detect.errors import ModelValidationError
from guardian.edge.detect.models.spec import ModelSpec
from guardian.edge.detect.runtimes.base import TensorInfo


def build_decoder(spec: ModelSpec) -> Decoder:
    """A decoder configured for ``spec`` (input size, class count)."""
    w, h, nc = spec.input.width, spec.input.height, spec.num_classes or len(spec.labels)
    if spec.family == "ssd":
        from guardian.edge.detect.decoders.ssd import SsdAnchorOptions, SsdDecoder

        return SsdDecoder(SsdAnchorOptions(input_width=w, input_height=h))
    if spec.family == "nanodet":
        from guardian.edge.detect.decoders.nanodet import NanoDetDecoder

        return NanoDetDecoder(w, h, num_classes=nc)
    if spec.family == "centernet":
        from guardian.edge.detect.decoders.centernet import CenterNetDecoder

        return CenterNetDecoder(w, h, num_classes=nc)
    if spec.family == "yolov8":
        from guardian.edge.detect.decoders.yolo import YoloV8Decoder

        return YoloV8Decoder(nc)
    from guardian.edge.detect.decoders.yolo import YoloXDecoder

    return YoloXDecoder(w, h, nc)


def _last_dims(outputs: Sequence[TensorInfo]) -> list[int | None]:
    return [o.shape[-1] if o.shape else None for o in outputs]


def validate_input(spec: ModelSpec, runtime: str, tensor: TensorInfo) -> None:
    """Raise ``ModelValidationError`` unless the input is one image of the declared size."""
    inp = spec.input_for(runtime)
    want = (3, inp.height, inp.width) if inp.layout == "NCHW" else (inp.height, inp.width, 3)
    got = tensor.shape[1:]
    if len(tensor.shape) != 4 or any(g not in (w, None) for g, w in zip(got, want, strict=True)):
        raise ModelValidationError(
            f"{spec.name}: input {tensor.name}{list(tensor.shape)} does not take "
            f"{inp.layout} images of {inp.width}x{inp.height}"
        )


def validate_outputs(spec: ModelSpec, outputs: Sequence[TensorInfo]) -> None:
    """Raise ``ModelValidationError`` when output shapes disagree with the label count."""
    nc = spec.num_classes or len(spec.labels)
    w, h = spec.input.width, spec.input.height
    dims = _last_dims(outputs)
    problem: str | None = None
    if spec.family == "ssd":
        if len(outputs) != 2 or dims[0] != 4 or dims[1] not in (nc, None):
            problem = f"expected [N,4] boxes and [N,{nc}] scores"
    elif spec.family == "nanodet":
        if len(outputs) != 6 or any(d not in (nc, None) for d in dims[:3]):
            problem = f"expected 3 score outputs of {nc} classes and 3 box outputs"
    elif spec.family == "centernet":
        if len(outputs) < 2 or dims[0] not in (nc, None):
            problem = f"expected a heatmap of {nc} classes and a wh tensor"
    else:
        from guardian.edge.detect.decoders.yolo import yolo_family_from_output_shape

        if len(outputs) != 1:
            problem = "expected exactly one output"
        else:
            shape = outputs[0].shape
            # The declared family decides; autodetection is only a check that the shape
            # can be that family (a 64x64 YOLOX export has 84 rows, like 4 + 80 classes).
            if spec.family == "yolox":
                fits = len(shape) == 3 and shape[-1] in (5 + nc, None)
            else:
                found = yolo_family_from_output_shape(shape, nc, input_hw=(h, w))
                fits = found in ("yolov8", "yolov8_e2e")
            if not fits:
                problem = f"output shape does not fit a {spec.family} export with {nc} labels"
    if problem:
        shapes = ", ".join(f"{o.name}{list(o.shape)}" for o in outputs)
        raise ModelValidationError(f"{spec.name}: {problem}; the model gives {shapes}")
