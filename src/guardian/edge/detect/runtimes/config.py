"""Runtime configuration: a pydantic discriminated union keyed by ``type``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class OpenVinoConfig(BaseModel):
    """OpenVINO runtime (default): CPU, or the Intel iGPU when present."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["openvino"] = Field("openvino", description="Selects this runtime.")
    device: str = Field(
        "AUTO",
        description=(
            "OpenVINO device: AUTO picks GPU (Intel iGPU) when present, else CPU; "
            "or name one explicitly (CPU, GPU, GPU.0)."
        ),
    )
    precision: Literal["f32", "bf16", "f16", "default"] = Field(
        "f32",
        description=(
            "Inference precision hint. f32 by default: on CPUs with bf16 support "
            "OpenVINO otherwise picks bf16, which shifts scores and is not faster for "
            "these small models."
        ),
    )
    threads: int = Field(0, ge=0, description="Inference threads; 0 lets OpenVINO decide.")
    performance: Literal["LATENCY", "THROUGHPUT"] = Field(
        "LATENCY", description="OpenVINO performance hint."
    )


class OnnxRuntimeConfig(BaseModel):
    """ONNX Runtime (fallback), CPU execution provider."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["onnxruntime"] = Field("onnxruntime", description="Selects this runtime.")
    threads: int = Field(0, ge=0, description="Intra-op threads; 0 lets ONNX Runtime decide.")


RuntimeConfig = Annotated[OpenVinoConfig | OnnxRuntimeConfig, Field(discriminator="type")]
RUNTIME_TYPES: tuple[str, ...] = ("openvino", "onnxruntime")


def default_runtime_config(runtime_type: str) -> OpenVinoConfig | OnnxRuntimeConfig:
    """The default config for a runtime named on the command line."""
    if runtime_type == "openvino":
        return OpenVinoConfig()
    if runtime_type == "onnxruntime":
        return OnnxRuntimeConfig()
    raise ValueError(f"unknown runtime {runtime_type!r}; choose one of {', '.join(RUNTIME_TYPES)}")
