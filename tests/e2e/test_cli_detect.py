"""``guardian detect``, ``guardian models`` and ``guardian bench detect`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardian.edge.detect.models.store import ModelStore, default_models_dir
from tests.e2e.cli import run_cli
from tests.media import image_path

DEFAULT = "ssd-mobilenetv2-oidv4"


@pytest.fixture(scope="module", autouse=True)
def _default_model_fetched() -> None:
    if DEFAULT not in ModelStore(default_models_dir()).names():
        pytest.skip(f"{DEFAULT} is not fetched (make models)")


def test_detect_json_prints_one_object_per_image() -> None:
    images = [image_path("astronaut"), image_path("coffee")]
    proc = run_cli("detect", "--json", *map(str, images))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["image"] for r in lines] == [str(p) for p in images]
    first = lines[0]
    assert set(first) >= {"image", "width", "height", "model", "runtime", "device", "ms"}
    assert (first["width"], first["height"], first["model"]) == (512, 512, DEFAULT)
    assert first["runtime"] == "openvino" and first["ms"] > 0
    people = [d for d in first["detections"] if d["label"] == "person"]
    assert people and people[0]["source_label"] == "Person"
    assert len(people[0]["box"]) == 4 and 0 < people[0]["score"] <= 1
    assert not [d for d in lines[1]["detections"] if d["label"] == "person"]


def test_bad_inputs_exit_2_and_the_rest_are_still_processed(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(image_path("grace_hopper").read_bytes()[:200])
    good = image_path("astronaut")
    proc = run_cli(
        "detect", "--json", str(text), str(good), str(tmp_path / "missing.png"), str(truncated)
    )
    assert proc.returncode == 2
    assert [json.loads(line)["image"] for line in proc.stdout.splitlines()] == [str(good)]
    assert f"{text}: not an image" in proc.stderr
    assert "missing.png: no such file" in proc.stderr
    assert f"{truncated}:" in proc.stderr


def test_onnxruntime_and_annotate(tmp_path: Path) -> None:
    out = tmp_path / "annotated"
    proc = run_cli(
        "detect", "--runtime", "onnxruntime", "--annotate", str(out), str(image_path("astronaut"))
    )
    assert proc.returncode == 0, proc.stderr
    assert "person (Person)" in proc.stdout and "onnxruntime" in proc.stdout
    assert (out / "astronaut.jpg").stat().st_size > 10_000


def test_unknown_runtime_and_missing_model_are_clear_errors(tmp_path: Path) -> None:
    proc = run_cli("detect", "--runtime", "tensorflow", str(image_path("astronaut")))
    assert proc.returncode == 2 and "unknown runtime 'tensorflow'" in proc.stderr
    proc = run_cli(
        "detect", str(image_path("astronaut")), env={"GUARDIAN_MODELS_DIR": str(tmp_path)}
    )
    assert proc.returncode == 2
    assert "guardian models fetch" in proc.stderr


def test_models_list_shows_the_fetched_default() -> None:
    proc = run_cli("models", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows[DEFAULT]["fetched"] is True and len(rows[DEFAULT]["sha256"]) == 64


def test_bench_detect_json_reports_the_goal() -> None:
    proc = run_cli("bench", "detect", "--frames", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    for key in ("raw_infer_ms_median", "pipeline_ms_median", "model", "runtime"):
        assert key in report
    goal = report["goals"][0]
    assert goal["name"] == "pipeline_raw_ratio" and goal["target"] == 1.25
    assert goal["better"] == "lower" and goal["value"] == report["pipeline_raw_ratio"]
    assert report["pipeline_ms_median"] > 0 and report["raw_infer_ms_median"] > 0
