"""Settings of the relay's archive (``GUARDIAN_RELAY_ARCHIVE__…``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GIB = 1024**3


class RelayArchiveSettings(BaseModel):
    """Where sealed blobs are kept and how quotas are applied."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["local", "s3"] = Field(
        "local", description="Blob store: a content-addressed folder, or any S3-compatible store."
    )
    local_dir: Path | None = Field(
        None, description="Folder of the local blob store; default: <data_dir>/archive/blobs."
    )
    s3_bucket: str | None = Field(None, description="S3 bucket (backend s3).")
    s3_prefix: str = Field("blobs/", description="Key prefix of the blobs in the bucket.")
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint, e.g. http://127.0.0.1:9000; none: AWS."
    )
    s3_region: str | None = Field(None, description="S3 region.")
    s3_access_key_id: str | None = Field(
        None, description="S3 access key id; none: boto3's usual lookup.", repr=False
    )
    s3_secret_access_key: str | None = Field(
        None, description="S3 secret access key (never logged).", repr=False
    )
    default_quota_bytes: int | None = Field(
        GIB,
        ge=0,
        description="A tenant's quota until the control plane has answered with its plan's "
        "(none: unlimited); the free plan's 1 GiB by default.",
    )
    quota_refresh_seconds: float = Field(
        60.0, gt=0, description="How long a quota answered by the control plane is trusted."
    )
    report_seconds: float = Field(
        30.0,
        gt=0,
        description="How often archive reports the control plane has not acknowledged "
        "(it was down) are sent again, with each tenant's usage.",
    )
    max_blob_bytes: int = Field(
        8 * GIB, gt=0, description="The largest sealed blob accepted in one upload."
    )
