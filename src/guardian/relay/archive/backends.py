"""Blob backends: a local content-addressed folder, or any S3-compatible store (boto3).

Both verify a write by reading the stored object back and re-hashing it against its CID,
and neither stores a blob twice: putting a CID that is present is a no-op.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from guardian.archive.cid import check_cid, cid_of_digest
from guardian.common.fsutil import fsync_dir
from guardian.relay.archive.config import RelayArchiveSettings

logger = logging.getLogger(__name__)

READ_BYTES = 1024 * 1024


class BlobStoreError(Exception):
    """The backend failed, or what it holds does not hash to the CID it is stored under."""


class BlobMissing(BlobStoreError):
    """No blob is stored under the CID."""


class BlobBackend(Protocol):
    """Where sealed blobs live, by CID."""

    name: str

    def exists(self, cid: str) -> bool:
        """Whether a blob is stored under ``cid``."""
        ...

    def put(self, cid: str, staged: Path) -> bool:
        """Store the file ``staged`` under ``cid``, verified; ``False`` if it was there already."""
        ...

    def read(self, cid: str) -> Iterator[bytes]:
        """The blob's bytes in pieces (:class:`BlobMissing` if absent)."""
        ...

    def delete(self, cid: str) -> None:
        """Remove the blob (absent: nothing to do)."""
        ...


def verify(cid: str, pieces: Iterator[bytes]) -> int:
    """Re-hash ``pieces`` against ``cid``; the size, or :class:`BlobStoreError` on mismatch."""
    digest = hashlib.sha256()
    size = 0
    for piece in pieces:
        digest.update(piece)
        size += len(piece)
    if cid_of_digest(digest.digest()) != cid:
        raise BlobStoreError(f"the stored blob does not hash to {cid}")
    return size


class LocalBlobBackend:
    """``<root>/<last two CID characters>/<cid>``, written via a temp file and renamed."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, cid: str) -> Path:
        """The file a CID is stored in."""
        check_cid(cid)
        return self.root / cid[-2:] / cid

    def exists(self, cid: str) -> bool:
        return self.path_of(cid).is_file()

    def put(self, cid: str, staged: Path) -> bool:
        final = self.path_of(cid)
        if final.is_file():
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f".{cid}.{uuid.uuid4().hex}.tmp")
        try:
            with staged.open("rb") as src, temp.open("wb") as dst:
                shutil.copyfileobj(src, dst, READ_BYTES)
                dst.flush()
                os.fsync(dst.fileno())
            verify(cid, _file_pieces(temp))
            os.replace(temp, final)
        finally:
            temp.unlink(missing_ok=True)
        fsync_dir(final.parent)
        return True

    def read(self, cid: str) -> Iterator[bytes]:
        path = self.path_of(cid)
        if not path.is_file():
            raise BlobMissing(f"no blob {cid}")
        return _file_pieces(path)

    def delete(self, cid: str) -> None:
        path = self.path_of(cid)
        path.unlink(missing_ok=True)
        if path.parent.exists():
            fsync_dir(path.parent)


def _file_pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while piece := handle.read(READ_BYTES):
            yield piece


class S3BlobBackend:
    """Objects ``<prefix><cid>`` in one bucket of an S3-compatible store."""

    name = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str = "blobs/") -> None:
        self._s3 = client
        self.bucket = bucket
        self.prefix = prefix

    def key_of(self, cid: str) -> str:
        """The object key of a CID."""
        return self.prefix + check_cid(cid)

    def exists(self, cid: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=self.key_of(cid))
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise BlobStoreError(f"S3 HEAD {cid} failed: {exc}") from exc
        return True

    def put(self, cid: str, staged: Path) -> bool:
        if self.exists(cid):
            return False
        key = self.key_of(cid)
        try:
            self._s3.upload_file(str(staged), self.bucket, key)
        except Exception as exc:
            raise BlobStoreError(f"S3 upload of {cid} failed: {exc}") from exc
        try:
            verify(cid, self.read(cid))
        except BlobStoreError:
            self.delete(cid)
            raise
        return True

    def read(self, cid: str) -> Iterator[bytes]:
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=self.key_of(cid))
        except ClientError as exc:
            if _status(exc) == 404:
                raise BlobMissing(f"no blob {cid}") from exc
            raise BlobStoreError(f"S3 GET {cid} failed: {exc}") from exc
        body = response["Body"]
        return _body_pieces(body)

    def delete(self, cid: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=self.key_of(cid))


def _body_pieces(body: Any) -> Iterator[bytes]:
    try:
        while piece := body.read(READ_BYTES):
            yield piece
    finally:
        body.close()


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) or {}
    code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code is None and response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
        return 404
    return int(code) if code is not None else None


def build_backend(settings: RelayArchiveSettings, data_dir: Path) -> BlobBackend:
    """The backend the settings name."""
    if settings.backend == "local":
        return LocalBlobBackend(settings.local_dir or data_dir / "archive" / "blobs")
    if not settings.s3_bucket:
        raise ValueError("archive backend s3 needs s3_bucket")
    import boto3  # type: ignore[import-untyped]

    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key,
    )
    return S3BlobBackend(client, settings.s3_bucket, settings.s3_prefix)
