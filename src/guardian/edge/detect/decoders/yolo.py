"""Decoders for user-supplied Ultralytics YOLOv8/YOLO11 and Megvii YOLOX ONNX exports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from guardian.edge.detect.types import Candidates, FloatArray

YoloFamily = Literal["yolov8", "yolov8_e2e", "yolox"]

DEFAULT_STRIDES: tuple[int, ...] = (8, 16, 32)
P6_STRIDES: tuple[int, ...] = (8, 16, 32, 64)

# End-to-end rows are x1, y1, x2, y2, score, class.
E2E_COLUMNS = 6

# exp() of a raw YOLOX size above this is already far larger than any input; clipping keeps a
# garbage logit from overflowing to inf (and from raising numpy's overflow warning per frame).
_MAX_LOG_SIZE = 15.0

_V8Layout = Literal["channels_first", "channels_last", "e2e"]


def grid_anchor_count(
    input_width: int, input_height: int, strides: Sequence[int] = DEFAULT_STRIDES
) -> int:
    """Rows a dense anchor-free head emits: one per cell of every stride's feature map."""
    return sum((input_height // s) * (input_width // s) for s in strides)


def _looks_like_dense_grid(rows: int, input_hw: tuple[int, int] | None = None) -> bool:
    """Whether ``rows`` is the anchor count of a dense head rather than an end-to-end ``max_det``.

    With the input size known the count must match exactly (strides 8/16/32, or 8..64 for P6
    models). Without it: inputs are multiples of 32 (64 for P6), so a dense head has
    ``21 * k`` (``85 * k``) rows, e.g. 8400 = 21 * 400, while the usual ``max_det`` values
    (100, 300, 1000) are neither.
    """
    if rows <= 0:
        return False
    if input_hw is not None:
        height, width = input_hw
        return rows in {grid_anchor_count(width, height, s) for s in (DEFAULT_STRIDES, P6_STRIDES)}
    return rows % 21 == 0 or rows % 85 == 0


def _single_image(outputs: Sequence[FloatArray], family: str) -> FloatArray:
    """The first output as a float32 matrix; a leftover batch dimension of 1 is tolerated."""
    if len(outputs) == 0:
        raise ValueError(f"{family} decoder got no output tensors")
    out = np.asarray(outputs[0], dtype=np.float32)
    if out.ndim == 3 and out.shape[0] == 1:
        out = out[0]
    if out.ndim != 2:
        raise ValueError(f"{family} output must be 2-D per image, got shape {out.shape}")
    return out


def _cxcywh_to_xyxy(cx: FloatArray, cy: FloatArray, w: FloatArray, h: FloatArray) -> FloatArray:
    half_w, half_h = w * 0.5, h * 0.5
    boxes: FloatArray = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
    return boxes.astype(np.float32, copy=False)


class YoloV8Decoder:
    """Ultralytics YOLOv8/YOLO11 detect exports (plain and end-to-end).

    Accepted per-image layouts (``nc = num_classes``):

    * ``[4+nc, N]`` — the plain ultralytics export (``[1, 84, 8400]`` for COCO at 640): rows
      cx, cy, w, h in input pixels, then one sigmoided score per class; no objectness.
    * ``[N, 4+nc]`` — the same, transposed (third-party re-exports). When both axes equal
      ``4+nc`` the ultralytics layout wins.
    * ``[N, 6]`` — end-to-end exports (YOLOv10, YOLO26, ``nms=True``): x1, y1, x2, y2, score,
      class id, zero-padded to ``max_det`` rows.

    Only with ``num_classes == 2`` can ``[N, 6]`` be either the transposed plain layout or an
    end-to-end one; then ``N`` decides (see ``_looks_like_dense_grid``: a dense-head count such
    as 8400 means plain, anything else end-to-end). Pass ``end_to_end`` to skip all guessing.
    """

    def __init__(self, num_classes: int, *, end_to_end: bool | None = None) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.end_to_end = end_to_end

    def decode(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates:
        """Candidates (xyxy in input pixels) of one image scoring at least ``min_score``."""
        out = _single_image(outputs, "YOLOv8")
        layout = self._layout(out.shape[0], out.shape[1])
        if layout == "e2e":
            return _decode_end_to_end(out, min_score)
        # Both dense layouts are decoded as [4+nc, N]; the transpose is a view, not a copy.
        return _decode_dense(out if layout == "channels_first" else out.T, min_score)

    def _layout(self, rows: int, cols: int) -> _V8Layout:
        width = 4 + self.num_classes
        if self.end_to_end:
            if cols == E2E_COLUMNS:
                return "e2e"
            raise ValueError(f"end-to-end YOLO output must be [N, 6], got [{rows}, {cols}]")
        if rows == width:
            return "channels_first"
        if cols == width and (
            self.end_to_end is False or width != E2E_COLUMNS or _looks_like_dense_grid(rows)
        ):
            return "channels_last"
        if cols == E2E_COLUMNS and self.end_to_end is None:
            return "e2e"
        raise ValueError(
            f"YOLOv8 output [{rows}, {cols}] fits neither [{width}, N], [N, {width}] "
            f"(num_classes={self.num_classes}) nor an end-to-end [N, 6]"
        )


def _decode_dense(preds: FloatArray, min_score: float) -> Candidates:
    """Decode a ``[4+nc, N]`` matrix of cx, cy, w, h and per-class scores."""
    if preds.shape[1] == 0:
        return Candidates.empty()
    cls = preds[4:]
    best = cls.max(axis=0)
    keep = np.flatnonzero(best >= min_score)
    if keep.size == 0:
        return Candidates.empty()
    # argmax only over survivors: with a sane threshold that is a few dozen of 8400 columns.
    class_ids = cls[:, keep].argmax(axis=0).astype(np.int64)
    cx, cy, w, h = preds[:4, keep]
    return Candidates(_cxcywh_to_xyxy(cx, cy, w, h), best[keep].astype(np.float32), class_ids)


def _decode_end_to_end(out: FloatArray, min_score: float) -> Candidates:
    """Decode ``[N, 6]`` rows of x1, y1, x2, y2, score, class."""
    scores = out[:, 4]
    # Exports zero-pad to max_det rows; a zero score is padding even when min_score is 0.
    keep = np.flatnonzero((scores >= min_score) & (scores > 0.0))
    if keep.size == 0:
        return Candidates.empty()
    boxes = np.ascontiguousarray(out[keep, :4], dtype=np.float32)
    class_ids = np.rint(out[keep, 5]).astype(np.int64)
    return Candidates(boxes, scores[keep].astype(np.float32), class_ids)


class YoloXDecoder:
    """Megvii YOLOX exports: ``[N, 5+nc]`` rows of cx, cy, w, h, objectness, class scores.

    Score is objectness times the best class score; both are already sigmoided inside the
    YOLOX head, whichever way the model was exported. The box columns depend on the export:

    * decoded (``tools/export_onnx.py --decode_in_inference``): cx, cy, w, h in input pixels;
    * raw grid (the ``export_onnx.py`` default, also the official release ONNX files): per cell
      offsets, ``cx = (x + grid_x) * stride`` and ``w = exp(w) * stride``. Rows run stride by
      stride (8, 16, 32), row-major over each ``(input_h // s, input_w // s)`` map.

    ``decoded=None`` decides on the first image and keeps that answer: the output is taken as
    decoded when every w/h value is non-negative and some |cx| or |cy| exceeds a quarter of the
    smaller input side. Decoded centres sweep the whole input and sizes are exp() * stride > 0;
    raw offsets stay within a few cells and raw sizes are logs, mostly negative. Prefer setting
    ``decoded`` explicitly in the model config.
    """

    def __init__(
        self,
        input_width: int,
        input_height: int,
        num_classes: int,
        strides: Sequence[int] = DEFAULT_STRIDES,
        decoded: bool | None = None,
    ) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if not strides or min(strides) < 1:
            raise ValueError(f"strides must be positive, got {tuple(strides)}")
        if min(input_width, input_height) < max(strides):
            raise ValueError(
                f"input {input_width}x{input_height} is smaller than stride {max(strides)}"
            )
        self.input_width = input_width
        self.input_height = input_height
        self.num_classes = num_classes
        self.strides = tuple(strides)
        self.decoded = decoded
        self._grid_x, self._grid_y, self._stride = _yolox_grid(
            input_width, input_height, self.strides
        )

    def decode(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates:
        """Candidates (xyxy in input pixels) of one image scoring at least ``min_score``."""
        out = _single_image(outputs, "YOLOX")
        rows, cols = out.shape
        if cols != 5 + self.num_classes:
            raise ValueError(
                f"YOLOX output must be [N, {5 + self.num_classes}] for "
                f"num_classes={self.num_classes}, got [{rows}, {cols}]"
            )
        if rows == 0:
            return Candidates.empty()
        if self.decoded is None:
            self.decoded = self._looks_decoded(out)
        if not self.decoded and rows != self._stride.size:
            raise ValueError(
                f"raw-grid YOLOX output has {rows} rows but a {self.input_width}x"
                f"{self.input_height} input with strides {self.strides} gives "
                f"{self._stride.size}; check the input size and strides"
            )
        obj = out[:, 4]
        # obj * cls <= obj because both are probabilities, so objectness alone discards most
        # rows before the per-class argmax.
        cand = np.flatnonzero(obj >= min_score)
        cls = out[cand, 5:]
        best = cls.argmax(axis=1)
        scores = obj[cand] * np.take_along_axis(cls, best[:, None], axis=1)[:, 0]
        ok = scores >= min_score
        keep, best, scores = cand[ok], best[ok], scores[ok]
        if keep.size == 0:
            return Candidates.empty()
        cx, cy, w, h = out[keep, :4].T
        if not self.decoded:
            stride = self._stride[keep]
            cx = (cx + self._grid_x[keep]) * stride
            cy = (cy + self._grid_y[keep]) * stride
            w = np.exp(np.minimum(w, _MAX_LOG_SIZE)) * stride
            h = np.exp(np.minimum(h, _MAX_LOG_SIZE)) * stride
        return Candidates(
            _cxcywh_to_xyxy(cx, cy, w, h), scores.astype(np.float32), best.astype(np.int64)
        )

    def _looks_decoded(self, out: FloatArray) -> bool:
        sizes_positive = float(out[:, 2:4].min()) >= 0.0
        centre_reach = float(np.abs(out[:, :2]).max())
        return sizes_positive and centre_reach > min(self.input_width, self.input_height) / 4


def _yolox_grid(
    width: int, height: int, strides: Sequence[int]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-row cell x, cell y and stride, in the order YOLOX concatenates its feature maps."""
    xs: list[npt.NDArray[np.float32]] = []
    ys: list[npt.NDArray[np.float32]] = []
    ss: list[npt.NDArray[np.float32]] = []
    for s in strides:
        h_cells, w_cells = height // s, width // s
        gy, gx = np.divmod(np.arange(h_cells * w_cells, dtype=np.int64), w_cells)
        xs.append(gx.astype(np.float32))
        ys.append(gy.astype(np.float32))
        ss.append(np.full(h_cells * w_cells, s, dtype=np.float32))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ss)


def _static_dim(dim: int | str | None) -> int | None:
    # ONNX Runtime reports symbolic dims as names or None, OpenVINO dynamic dims as -1.
    return dim if isinstance(dim, int) and dim > 0 else None


def yolo_family_from_output_shape(
    shape: Sequence[int | str | None],
    num_classes: int,
    *,
    input_hw: tuple[int, int] | None = None,
) -> YoloFamily | None:
    """Guess which YOLO decoder fits an ONNX output shape; ``None`` if none or ambiguous.

    ``shape`` is the model's first output as the runtime reports it, ``[B, a, b]``; symbolic
    dims may be names, ``None`` or -1. Any other rank gives ``None``: both exporters always
    emit a batch dim, and a 2-D ``[1, 84]`` is a classifier, not a 1-anchor detector. Rules for
    ``a`` and ``b``, first match wins:

    1. ``a == 4+nc`` → ``"yolov8"`` (the ultralytics layout, preferred on ties);
    2. ``b == 5+nc`` → ``"yolox"``;
    3. ``b == 4+nc`` → ``"yolov8"`` (transposed);
    4. ``b == 6`` → ``"yolov8_e2e"``.

    Rules 2 and 3 clash with rule 4 for ``nc == 1`` (YOLOX) and ``nc == 2`` (transposed
    YOLOv8); then the row count ``a`` decides: a dense-head anchor count (exact for
    ``input_hw = (height, width)`` when given) keeps rule 2/3, any other count is
    end-to-end, and an unknown count returns ``None``.
    """
    if len(shape) != 3:
        return None
    rows, cols = _static_dim(shape[1]), _static_dim(shape[2])
    if rows == 4 + num_classes:
        return "yolov8"
    dense = None if rows is None else _looks_like_dense_grid(rows, input_hw)
    rules: tuple[tuple[int, YoloFamily], ...] = (
        (5 + num_classes, "yolox"),
        (4 + num_classes, "yolov8"),
    )
    for width, family in rules:
        if cols != width:
            continue
        if width != E2E_COLUMNS or dense:
            return family
        return None if dense is None else "yolov8_e2e"
    if cols == E2E_COLUMNS:
        return "yolov8_e2e"
    return None
