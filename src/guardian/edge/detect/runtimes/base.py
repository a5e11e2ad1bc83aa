"""The runtime plugin interface: load a model file, run a batch, say which device ran."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from guardian.edge.detect.types import FloatArray


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """Name and shape of a model input or output (``None`` for a dynamic dimension)."""

    name: str
    shape: tuple[int | None, ...]
    aliases: frozenset[str] = frozenset()
    """Other names the runtime knows the tensor by (OpenVINO keeps several)."""


class LoadedModel(Protocol):
    """A model compiled for one runtime and device, ready to infer."""

    runtime: str
    device: str
    input: TensorInfo
    outputs: tuple[TensorInfo, ...]
    max_batch: int | None
    """Largest batch one call accepts (``None``: any)."""

    def infer(self, batch: FloatArray) -> list[FloatArray]:
        """Run one batch; returns the outputs in the order of ``outputs``."""
        ...


class Runtime(Protocol):
    """A plugin keyed by its ``type`` string (``openvino``, ``onnxruntime``)."""

    type: str
    suffixes: tuple[str, ...]
    """Model file suffixes this runtime loads, in order of preference."""

    def load(self, path: Path, output_names: Sequence[str] | None = None) -> LoadedModel:
        """Compile ``path``; order outputs as ``output_names`` when given."""
        ...


def order_outputs(
    available: Sequence[TensorInfo], wanted: Sequence[str] | None, model: Path
) -> tuple[TensorInfo, ...]:
    """Pick outputs by name in the wanted order; a missing name is a validation error."""
    from guardian.edge.detect.errors import ModelValidationError

    if not wanted:
        return tuple(available)
    by_name = {n: t for t in available for n in (t.name, *t.aliases)}
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise ModelValidationError(
            f"{model.name}: outputs {missing} not found; the model has {sorted(by_name)}"
        )
    return tuple(by_name[n] for n in wanted)
