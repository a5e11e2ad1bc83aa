"""Compare the built-in models on the hand-labelled test photos (accuracy) and latency.

Usage: .venv/bin/python tools/compare_models.py   (after `make models test-media`)
Prints a Markdown table: labelled person/vehicle boxes found (IoU >= 0.5), mean IoU of
those found, false people on the negative photos, and median detect() latency per photo.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guardian.edge.detect.config import DetectorSettings  # noqa: E402
from guardian.edge.detect.loader import load_detector  # noqa: E402
from guardian.edge.detect.nms import iou_matrix  # noqa: E402
from tests.media import expectations, load_image  # noqa: E402

COMBOS = [
    ("ssd-mobilenetv2-oidv4", "openvino"),
    ("ssd-mobilenetv2-oidv4", "onnxruntime"),
    ("nanodet-coco", "openvino"),
    ("centernet-coco", "openvino"),
]


def main() -> None:
    exp = expectations()
    out = sys.stdout
    out.write(
        "| model | runtime | labelled boxes found | mean IoU | false people (negatives) "
        "| detect() median ms |\n|---|---|---|---|---|---|\n"
    )
    for model, runtime in COMBOS:
        det = load_detector(DetectorSettings(), model, runtime)
        found = total = 0
        ious: list[float] = []
        times: list[float] = []
        for name, want in exp["images"].items():
            frame = load_image(name)
            for _ in range(3):
                det.detect(frame)
            for _ in range(10):
                t0 = time.perf_counter()
                dets = det.detect(frame)
                times.append((time.perf_counter() - t0) * 1e3)
            for label in ("person", "vehicle"):
                boxes = np.asarray([d.box for d in dets if d.label == label], np.float32)
                for box in want[label]:
                    total += 1
                    best = (
                        float(iou_matrix(np.asarray([box], np.float32), boxes).max())
                        if len(boxes)
                        else 0.0
                    )
                    if best >= 0.5:
                        found += 1
                        ious.append(best)
        false_people = sum(
            len([d for d in det.detect(load_image(n)) if d.label == "person"])
            for n in exp["negatives"]
        )
        out.write(
            f"| {model} | {runtime} | {found}/{total} | {statistics.mean(ious):.2f} | "
            f"{false_people} | {statistics.median(times):.1f} |\n"
        )


if __name__ == "__main__":
    main()
