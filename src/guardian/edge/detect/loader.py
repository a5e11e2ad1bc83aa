"""Resolve a model name to a spec (custom ONNX or fetched) and load a detector for it."""

from __future__ import annotations

from guardian.edge.detect.config import DetectorSettings
from guardian.edge.detect.detector import Detector
from guardian.edge.detect.models.spec import ModelSpec
from guardian.edge.detect.models.store import MANIFEST, ModelStore
from guardian.edge.detect.runtimes import create_runtime, default_runtime_config
from guardian.edge.detect.runtimes.config import OnnxRuntimeConfig, OpenVinoConfig


def resolve_spec(settings: DetectorSettings, model: str | None = None) -> ModelSpec:
    """The spec for ``model`` (default: the configured one); custom models win on name."""
    name = model or settings.model
    for custom in settings.custom_models:
        if custom.name == name:
            return custom.to_spec()
    return ModelStore(settings.models_dir).spec(name)


def runtime_config(
    settings: DetectorSettings, runtime: str | None = None
) -> OpenVinoConfig | OnnxRuntimeConfig:
    """The configured runtime, or the default config of the one named."""
    if runtime is None or runtime == settings.runtime.type:
        return settings.runtime
    return default_runtime_config(runtime)


def load_detector(
    settings: DetectorSettings, model: str | None = None, runtime: str | None = None
) -> Detector:
    """A ready detector for the named (or configured) model and runtime."""
    spec = resolve_spec(settings, model)
    return Detector.load(spec, create_runtime(runtime_config(settings, runtime)))


def model_fingerprint(settings: DetectorSettings, model: str | None = None) -> str:
    """A cheap token that changes whenever the model's files are replaced."""
    name = model or settings.model
    for custom in settings.custom_models:
        if custom.name == name:
            path = custom.path
            break
    else:
        path = ModelStore(settings.models_dir).model_dir(name) / MANIFEST
    try:
        st = path.stat()
    except OSError:
        return "missing"
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
