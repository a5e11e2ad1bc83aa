"""One-off check: TF.js (pure-JS CPU) vs our OpenVINO conversion of the human-models detectors."""

# usage (after `npm install` in tools/verify_tfjs):
#   python tools/verify_tfjs/compare.py --models-dir DIR [--input astronaut|random]
#                                       [--only nanodet|centernet] [--work DIR]
# Converts each model with convert_tfjs_to_openvino, feeds the same float32 tensor to
# run_tfjs.js and to the IR (CPU, INFERENCE_PRECISION_HINT f32) and reports max abs / max rel
# difference per output.

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import openvino as ov

from guardian.edge.detect.convert.tfjs import convert_tfjs_to_openvino
from guardian.edge.detect.decoders.centernet import CenterNetDecoder

HERE = Path(__file__).resolve().parent
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Case:
    """One model: its TF.js outputs to fetch, our cut, and how its input is made."""

    name: str
    size: int
    nchw: bool
    tfjs_outputs: tuple[str, ...]
    cut: tuple[str, ...] | None


CASES = (
    Case(
        "nanodet",
        416,
        True,
        ("Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4", "Identity_5"),
        None,
    ),
    Case(
        "centernet",
        512,
        False,
        ("tower_0/keypoints", "tower_0/wh", "tower_0/detections"),
        ("tower_0/keypoints", "tower_0/wh"),
    ),
)


def say(text: str) -> None:
    """Print a line (tools report on stdout)."""
    sys.stdout.write(text + "\n")


def make_input(case: Case, kind: str) -> F32:
    """The model's input tensor: the astronaut photo preprocessed as deployed, or noise."""
    shape = (1, 3, case.size, case.size) if case.nchw else (1, case.size, case.size, 3)
    if kind == "random":
        lo, hi = (-2.0, 2.0) if case.nchw else (0.0, 255.0)
        return np.random.default_rng(1234).uniform(lo, hi, shape).astype(np.float32)
    from skimage import data

    photo: npt.NDArray[np.uint8] = data.astronaut()  # type: ignore[no-untyped-call]
    rgb = cv2.resize(photo, (case.size, case.size), interpolation=cv2.INTER_LINEAR)
    if case.name == "nanodet":
        bgr = rgb[..., ::-1].astype(np.float32)
        mean = np.array([103.53, 116.28, 123.675], np.float32)
        std = np.array([57.375, 57.12, 58.395], np.float32)
        return np.ascontiguousarray(((bgr - mean) / std).transpose(2, 0, 1)[None])
    return np.ascontiguousarray(rgb.astype(np.float32)[None])


def run_tfjs(case: Case, model_json: Path, x: F32, work: Path) -> dict[str, F32]:
    """Outputs of the original TF.js model, by node name."""
    inp = work / f"{case.name}_input.bin"
    x.astype("<f4").tofile(inp)
    out_dir = work / f"{case.name}_tfjs"
    dims = ",".join(str(d) for d in x.shape)
    cmd = ["node", str(HERE / "run_tfjs.js"), str(model_json), str(inp), dims, str(out_dir)]
    proc = subprocess.run(
        [*cmd, *case.tfjs_outputs], cwd=HERE, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:  # e.g. node_modules missing: show node's own message
        raise SystemExit(f"run_tfjs.js failed ({proc.returncode}):\n{proc.stderr}")
    meta = json.loads((out_dir / "outputs.json").read_text())
    say(f"  tfjs {meta['tfjs']} ({meta['backend']}) ran in {meta['ms']} ms")
    return {
        o["name"]: np.fromfile(out_dir / o["file"], "<f4").reshape(o["shape"])
        for o in meta["outputs"]
    }


def run_openvino(xml: Path, x: F32) -> tuple[dict[str, F32], float]:
    """Outputs of the converted IR by node name, and mean latency in ms."""
    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled(x)
    outs = {}
    for port in compiled.outputs:
        names = [n for n in port.get_names() if n.endswith(":0")]
        for n in names:
            outs[n[:-2]] = np.asarray(result[port], np.float32)
    compiled(x)
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        compiled(x)
    return outs, (time.perf_counter() - started) / runs * 1000.0


def report_diff(name: str, ours: F32, ref: F32) -> None:
    """Max abs and max relative difference (elements above 1% of the tensor's peak)."""
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    peak = float(np.max(np.abs(ref)))
    big = np.abs(ref) >= 0.01 * peak
    rel = float(np.max(diff[big] / np.abs(ref[big]))) if big.any() else 0.0
    say(
        f"  {name:20s} shape {tuple(ref.shape)!s:18s} max|ref| {peak:9.4f}  "
        f"max abs {float(diff.max()):.3e}  max rel {rel:.3e}"
    )


def check_centernet_decode(ov_outs: dict[str, F32], tfjs_dets: F32) -> None:
    """Our numpy peak/top-k decode against the graph's own TopKV2 detections."""
    dec = CenterNetDecoder(512, 512)
    cands = dec.decode([ov_outs["tower_0/keypoints"][0], ov_outs["tower_0/wh"][0]], 0.1)
    ref = tfjs_dets[0]
    ref = ref[ref[:, 4] >= 0.1]
    say(f"  decode: ours {len(cands)} peaks >= 0.1, tfjs detections >= 0.1: {len(ref)}")
    n = min(len(cands), len(ref))
    if n:
        ref_boxes = np.clip(ref[:n, :4], 0.0, 512.0)
        say(
            f"  top-{n} box max abs {float(np.max(np.abs(cands.boxes[:n] - ref_boxes))):.3e}, "
            f"score max abs {float(np.max(np.abs(cands.scores[:n] - ref[:n, 4]))):.3e}, "
            f"classes equal: {bool(np.array_equal(cands.class_ids[:n], ref[:n, 5]))}"
        )


def main() -> None:
    """Convert, run both runtimes, print differences."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models-dir", type=Path, required=True)
    ap.add_argument("--input", choices=("astronaut", "random"), default="astronaut")
    ap.add_argument("--work", type=Path, default=HERE / "out")
    ap.add_argument("--only", choices=[c.name for c in CASES])
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        if args.only and case.name != args.only:
            continue
        model_json = args.models_dir / f"{case.name}.json"
        xml = args.work / f"{case.name}.xml"
        started = time.perf_counter()
        convert_tfjs_to_openvino(model_json, xml, cut_outputs=case.cut)
        say(f"{case.name}: converted in {time.perf_counter() - started:.2f} s -> {xml}")
        x = make_input(case, args.input)
        ours, ms = run_openvino(xml, x)
        say(f"  openvino {ov.__version__.split('-')[0]} CPU f32: {ms:.1f} ms/frame")
        ref = run_tfjs(case, model_json, x, args.work)
        for name in case.tfjs_outputs:
            if name in ours:
                report_diff(name, ours[name], ref[name])
        if case.name == "centernet":
            check_centernet_decode(ours, ref["tower_0/detections"])


if __name__ == "__main__":
    main()
