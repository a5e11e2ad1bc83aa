"""Blob backends against the real thing: a folder, and S3 via moto's server on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import pytest
from moto.server import ThreadedMotoServer

from guardian.archive.cid import cid_of_bytes
from guardian.relay.archive.backends import (
    BlobBackend,
    BlobMissing,
    BlobStoreError,
    LocalBlobBackend,
    S3BlobBackend,
)
from tests.ports import reserve_port

BUCKET = "guardian-archive"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = reserve_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_client(endpoint: str) -> object:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> BlobBackend:
    if request.param == "local":
        return LocalBlobBackend(tmp_path / "blobs")
    client = s3_client(request.getfixturevalue("moto_endpoint"))
    bucket = f"{BUCKET}-{os.urandom(4).hex()}"
    client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    return S3BlobBackend(client, bucket)


def _staged(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / f"staged-{os.urandom(4).hex()}"
    path.write_bytes(data)
    return path


def test_put_read_and_delete(backend: BlobBackend, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    cid = cid_of_bytes(data)

    assert not backend.exists(cid)
    assert backend.put(cid, _staged(tmp_path, data)) is True
    assert backend.exists(cid)
    assert b"".join(backend.read(cid)) == data

    backend.delete(cid)
    assert not backend.exists(cid)
    with pytest.raises(BlobMissing):
        b"".join(backend.read(cid))


def test_a_blob_present_is_not_stored_twice(backend: BlobBackend, tmp_path: Path) -> None:
    data = b"sealed bytes"
    cid = cid_of_bytes(data)
    assert backend.put(cid, _staged(tmp_path, data)) is True

    assert backend.put(cid, _staged(tmp_path, data)) is False
    assert b"".join(backend.read(cid)) == data


def test_bytes_that_do_not_hash_to_the_cid_are_not_kept(
    backend: BlobBackend, tmp_path: Path
) -> None:
    cid = cid_of_bytes(b"what the CID names")

    with pytest.raises(BlobStoreError, match="does not hash"):
        backend.put(cid, _staged(tmp_path, b"something else"))

    assert not backend.exists(cid)


def test_local_layout_is_content_addressed(tmp_path: Path) -> None:
    backend = LocalBlobBackend(tmp_path / "blobs")
    data = b"abc"
    cid = cid_of_bytes(data)
    backend.put(cid, _staged(tmp_path, data))
    assert (tmp_path / "blobs" / cid[-2:] / cid).read_bytes() == data
    assert not list((tmp_path / "blobs").rglob("*.tmp"))


def test_an_invalid_cid_is_refused(backend: BlobBackend) -> None:
    with pytest.raises(ValueError):
        backend.exists("../../etc/passwd")
