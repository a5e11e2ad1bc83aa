"""``guardian bench``: benchmarks that print one JSON object with their goals."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from guardian.edge.config import EdgeSettings
from guardian.edge.detect.errors import DetectError
from guardian.edge.detect.loader import load_detector

bench_app = typer.Typer(help="Run benchmarks (see bench/RESULTS.md).", no_args_is_help=True)


@bench_app.command("detect")
def bench_detect(
    frames: Annotated[int, typer.Option("--frames", min=1, help="Frames to time.")] = 200,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    model: Annotated[str | None, typer.Option("--model", help="Model name.")] = None,
    runtime: Annotated[str | None, typer.Option("--runtime", help="Runtime type.")] = None,
    size: Annotated[str, typer.Option("--size", help="Frame size WxH.")] = "1280x720",
) -> None:
    """Median/p90 of raw runtime inference vs the full detect() on the same frames."""
    from guardian.bench.detect import bench_frames, run_detect_bench

    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError as exc:
        raise typer.BadParameter(f"--size must look like 1280x720, got {size!r}") from exc
    try:
        detector = load_detector(EdgeSettings().detector, model, runtime)
    except DetectError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(2) from exc
    report = run_detect_bench(detector, bench_frames(frames, width, height))
    if json_out:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    goal = report["goals"][0]
    sys.stdout.write(
        f"{report['model']} on {report['runtime']}/{report['device']}, {frames} frames "
        f"{size}: raw infer median {report['raw_infer_ms_median']:.2f} ms "
        f"(p90 {report['raw_infer_ms_p90']:.2f}), pipeline median "
        f"{report['pipeline_ms_median']:.2f} ms (p90 {report['pipeline_ms_p90']:.2f}); "
        f"pipeline/raw {goal['value']:.3f} (target <= {goal['target']})\n"
    )
