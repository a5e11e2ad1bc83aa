"""How each TF.js model family is cut, laid out and wired to its decoder."""

from __future__ import annotations

from dataclasses import dataclass

from guardian.edge.detect.preprocess import Layout


@dataclass(frozen=True, slots=True)
class TfjsFamily:
    """Conversion and output-order facts for one TF.js graph model."""

    outputs: tuple[str, ...]
    """OpenVINO output tensor names in the order the family's decoder reads them."""
    layout: Layout
    cut_outputs: tuple[str, ...] | None = None
    """Graph nodes to expose as outputs (pruning what follows), or None to keep the graph."""


TFJS_FAMILIES: dict[str, TfjsFamily] = {
    # Scores per stride 8/16/32, then box distributions per stride (see NanoDetDecoder).
    "nanodet": TfjsFamily(
        outputs=(
            "Identity:0",
            "Identity_1:0",
            "Identity_2:0",
            "Identity_3:0",
            "Identity_4:0",
            "Identity_5:0",
        ),
        layout="NCHW",
    ),
    # Cut before TopKV2, which OpenVINO runs very slowly; peaks are found in numpy.
    "centernet": TfjsFamily(
        outputs=("tower_0/keypoints:0", "tower_0/wh:0"),
        layout="NHWC",
        cut_outputs=("tower_0/keypoints", "tower_0/wh"),
    ),
}
