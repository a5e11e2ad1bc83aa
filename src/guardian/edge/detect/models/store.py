"""The models directory: one folder per model with a manifest; loads ``ModelSpec``s."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

from guardian.edge.detect.errors import ModelNotFoundError, ModelValidationError
from guardian.edge.detect.models.catalog import CATALOG
from guardian.edge.detect.models.spec import FAMILIES, Artifact, Family, ModelSpec, Thresholds
from guardian.edge.detect.preprocess import InputSpec

MANIFEST = "manifest.json"
MODELS_DIR_ENV = "GUARDIAN_MODELS_DIR"


def default_models_dir() -> Path:
    """``$GUARDIAN_MODELS_DIR`` or ``~/.cache/guardian/models``."""
    env = os.environ.get(MODELS_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "guardian" / "models"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def input_to_json(spec: InputSpec) -> dict[str, Any]:
    return asdict(spec)


def input_from_json(data: dict[str, Any]) -> InputSpec:
    fields = dict(data)
    for key in ("mean", "std"):
        if key in fields:
            fields[key] = tuple(fields[key])
    return InputSpec(**fields)


def thresholds_to_json(t: Thresholds) -> dict[str, Any]:
    return asdict(t)


def thresholds_from_json(data: dict[str, Any]) -> Thresholds:
    return Thresholds(**data)


class ModelStore:
    """Reads fetched models from ``root`` (see ``guardian models fetch``)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_models_dir()).expanduser()

    def model_dir(self, name: str) -> Path:
        return self.root / name

    def names(self) -> list[str]:
        """Names of the models present (with a manifest)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / MANIFEST).is_file())

    def manifest(self, name: str) -> dict[str, Any]:
        """The raw manifest of model ``name``; a clear error when it was never fetched."""
        path = self.model_dir(name) / MANIFEST
        if not path.is_file():
            raise ModelNotFoundError(
                f"model {name!r} is not in {self.root}; run `guardian models fetch` "
                f"(or set {MODELS_DIR_ENV} to where the models are)"
            )
        try:
            return cast(dict[str, Any], json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelValidationError(f"{path} is unreadable: {exc}") from exc

    def spec(self, name: str, *, verify: bool = True) -> ModelSpec:
        """Load the spec of ``name``; with ``verify``, check each artifact's SHA-256."""
        data = self.manifest(name)
        folder = self.model_dir(name)
        family = data.get("family")
        if family not in FAMILIES:
            raise ModelValidationError(f"{name}: unknown model family {family!r}")
        artifacts: dict[str, Artifact] = {}
        for runtime, art in data["artifacts"].items():
            path = folder / art["file"]
            if verify:
                for rel, digest in art.get("sha256", {}).items():
                    if sha256_file(folder / rel) != digest:
                        raise ModelValidationError(
                            f"{name}: {rel} does not match its recorded SHA-256; "
                            "run `guardian models fetch --force`"
                        )
            artifacts[runtime] = Artifact(path, art["layout"])
        outputs = data.get("outputs")
        # Pre/post-processing of a built-in model is code, not fetched data: take it from
        # the catalog so a fix there applies without fetching again.
        entry = CATALOG.get(name)
        if entry is not None and entry.family != family:
            entry = None
        return ModelSpec(
            name=data["name"],
            family=cast(Family, family),
            sha256=data["sha256"],
            input=entry.input if entry else input_from_json(data["input"]),
            labels=tuple(data["labels"]),
            artifacts=artifacts,
            outputs=tuple(outputs) if outputs else None,
            thresholds=entry.thresholds if entry else thresholds_from_json(data["thresholds"]),
        )
