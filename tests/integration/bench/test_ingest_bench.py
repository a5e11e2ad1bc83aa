"""``guardian bench ingest`` on a small load: the CLI's JSON report carries the issue's two
goals, every upload of its asyncio clients is accepted, and the figures are consistent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from guardian.edge.config import EdgeSettings
from guardian.edge.detect.errors import ModelNotFoundError
from guardian.edge.detect.loader import load_detector

pytestmark = [pytest.mark.slow]


def test_small_sqlite_run_reports_goals_and_accepts_every_upload() -> None:
    try:
        load_detector(EdgeSettings().detector)
    except ModelNotFoundError as exc:
        pytest.skip(f"{exc} (make models)")
    cmd = [sys.executable, "-m", "guardian", "bench", "ingest", "--db", "sqlite", "--json"]
    cmd += ["--captures", "48", "--concurrency", "4", "--workers", "1", "--detector-frames", "8"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    report = json.loads(lines[0])

    assert report["bench"] == "ingest" and report["db"] == "sqlite"
    assert report["captures"] == report["accepted"] == 48
    assert report["http_statuses"] == {"201": 48}
    assert len(report["baseline_runs_files_per_s"]) == 2
    assert report["baseline_files_per_s"] == pytest.approx(
        sum(report["baseline_runs_files_per_s"]) / 2, rel=0.01
    )
    assert report["ingest_baseline_ratio"] == pytest.approx(
        report["ingest_captures_per_s"] / report["baseline_files_per_s"], rel=0.01
    )
    assert report["worker_detector_ratio"] == pytest.approx(
        report["worker_captures_per_s"] / report["detector_frames_per_s"], rel=0.01
    )
    # The baseline is the detector's better rate, alone or beside itself.
    assert report["detector_frames_per_s"] == max(
        report["detector_frames_per_s_by_callers"].values()
    )
    # The bounds: the ingest without HTTP, and what inference leaves to the workers.
    assert report["direct_ingest_baseline_ratio"] == pytest.approx(
        report["direct_ingest_captures_per_s"] / report["baseline_files_per_s"], rel=0.01
    )
    beside, detector_cpu = (
        report["worker_cpu_beside_inference_ms_per_capture"],
        report["detector_cpu_ms_per_frame"],
    )
    assert beside > 0
    assert report["worker_detector_cpu_bound"] == pytest.approx(
        detector_cpu / (detector_cpu + beside), rel=0.02
    )
    goals = {g["name"]: g for g in report["goals"]}
    assert goals["ingest_baseline_ratio"]["target"] == 0.5
    assert goals["worker_detector_ratio"]["target"] == 0.9
    assert all(g["better"] == "higher" and g["value"] > 0 for g in goals.values())
