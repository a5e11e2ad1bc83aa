"""``guardian bench camera`` end to end on a short stream: every mode runs and the report
holds the issue's goals with the raw figures behind them."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardian.bench.camera import make_stream, measure, run_camera_bench
from guardian.edge.record.probe import probe
from tests.camera_scene import BrightBoxDetector

pytestmark = pytest.mark.slow


def test_generated_stream_is_camera_like(tmp_path: Path) -> None:
    clip = make_stream(tmp_path / "s.mp4", 320, 192, 4)
    info = probe(clip)
    assert info.codec == "h264" and (info.width, info.height) == (320, 192)
    assert info.frames == 100 and info.first_is_keyframe


def test_measure_reports_every_mode(tmp_path: Path) -> None:
    clip = make_stream(tmp_path / "s.mp4", 320, 192, 6)
    detector = BrightBoxDetector()
    rows = measure(clip, tmp_path / "work", 4.0, detector, cameras=2, cores=2)
    for key in (
        "decode_cpu_s_per_camera_minute",
        "remux_cpu_s_per_camera_minute",
        "record_cpu_s_per_camera_minute",
        "pipeline_cpu_s_per_camera_minute",
    ):
        assert rows[key] > 0, key
    assert rows["pipeline_cpu_s_per_camera_minute"] > rows["decode_cpu_s_per_camera_minute"] * 0.5
    assert set(rows["camera_details"]) == {"cam0", "cam1"}
    assert all(d["frames_sampled"] >= 15 for d in rows["camera_details"].values())
    assert detector.frames > 0  # both cameras reached the shared detector
    assert rows["record_segments"] >= 1


def test_report_carries_the_goals(monkeypatch: pytest.MonkeyPatch) -> None:
    import guardian.bench.camera as bench

    monkeypatch.setattr(bench, "RESOLUTIONS", {"720p": (320, 192), "1080p": (480, 272)})
    report = run_camera_bench(BrightBoxDetector(), seconds=3.0)
    goals = {g["name"]: g for g in report["goals"]}
    assert goals["recording_overhead_ratio"]["better"] == "lower"
    assert goals["recording_overhead_ratio"]["target"] == 1.1
    assert goals["cameras_720p_at_5fps"]["better"] == "higher"
    assert goals["cameras_720p_at_5fps"]["target"] == 4
    assert goals["cameras_720p_at_5fps"]["value"] == report["720p"]["cameras_at_5fps"]
    assert report["cameras_1080p_at_5fps"] == report["1080p"]["cameras_at_5fps"]
