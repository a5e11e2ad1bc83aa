"""Inference runtimes as plugins keyed by ``type``: ``openvino`` (default), ``onnxruntime``."""

from __future__ import annotations

from guardian.edge.detect.runtimes.base import LoadedModel, Runtime, TensorInfo
from guardian.edge.detect.runtimes.config import (
    RUNTIME_TYPES,
    OnnxRuntimeConfig,
    OpenVinoConfig,
    RuntimeConfig,
    default_runtime_config,
)


def create_runtime(config: OpenVinoConfig | OnnxRuntimeConfig) -> Runtime:
    """Instantiate the plugin named by ``config.type``."""
    if isinstance(config, OpenVinoConfig):
        from guardian.edge.detect.runtimes.openvino import OpenVinoRuntime

        return OpenVinoRuntime(config)
    from guardian.edge.detect.runtimes.onnxruntime import OnnxRuntimeRuntime

    return OnnxRuntimeRuntime(config)


__all__ = [
    "RUNTIME_TYPES",
    "LoadedModel",
    "OnnxRuntimeConfig",
    "OpenVinoConfig",
    "Runtime",
    "RuntimeConfig",
    "TensorInfo",
    "create_runtime",
    "default_runtime_config",
]
