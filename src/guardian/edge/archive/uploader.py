"""The edge's client of the relay's ``Archive`` service, over its link identity (mTLS)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import grpc

from guardian.contracts.pb.guardian.v1 import archive_pb2, archive_pb2_grpc
from guardian.edge.link.enroll import LinkInfo, link_dir
from guardian.edge.link.identity import EdgeIdentityFiles, IdentityError, LinkCredentials

logger = logging.getLogger(__name__)

PIECE_BYTES = 256 * 1024


class UploadError(Exception):
    """An upload that failed; ``retry`` False when trying again as is cannot help."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class OverQuota(UploadError):
    """The relay refused the blob: the tenant's archive quota is used up."""


def link_target(data_dir: Path, relay_override: str | None) -> tuple[str, LinkCredentials]:
    """The relay address and the edge's link credentials (:class:`UploadError` if not enrolled)."""
    directory = link_dir(data_dir)
    try:
        credentials = EdgeIdentityFiles(directory).load()
        info = LinkInfo.load(directory)
    except (IdentityError, ValueError, KeyError) as exc:
        raise UploadError(f"the link identity is unusable: {exc}") from exc
    relay = relay_override or (info.relay if info else None)
    if relay is None:
        raise UploadError("not enrolled at a relay (guardian edge enroll)")
    return relay, credentials


def _requests(event_id: str, cid: str, path: Path) -> Iterator[archive_pb2.UploadRequest]:
    size = path.stat().st_size
    yield archive_pb2.UploadRequest(
        start=archive_pb2.UploadStart(event_id=event_id, cid=cid, size=size)
    )
    with path.open("rb") as handle:
        while piece := handle.read(PIECE_BYTES):
            yield archive_pb2.UploadRequest(data=piece)


def upload_blob(
    relay: str,
    credentials: LinkCredentials,
    *,
    event_id: str,
    cid: str,
    path: Path,
    timeout: float,
) -> archive_pb2.UploadReceipt:
    """Stream the sealed blob at ``path`` to the relay; its receipt.

    Raises :class:`OverQuota` when the relay refuses it for quota, :class:`UploadError`
    otherwise (``retry`` False for a refusal naming the blob itself).
    """
    channel_credentials = grpc.ssl_channel_credentials(
        root_certificates=credentials.root_certificates,
        private_key=credentials.private_key,
        certificate_chain=credentials.certificate_chain,
    )
    try:
        with grpc.secure_channel(relay, channel_credentials) as channel:
            stub = archive_pb2_grpc.ArchiveStub(channel)
            receipt: archive_pb2.UploadReceipt = stub.Upload(
                _requests(event_id, cid, path), timeout=timeout
            )
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        detail = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        message = f"the relay refused the upload ({getattr(code, 'name', code)}): {detail}"
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            raise OverQuota(message) from exc
        raise UploadError(message, retry=code != grpc.StatusCode.INVALID_ARGUMENT) from exc
    if receipt.cid != cid:
        raise UploadError(f"the relay stored {receipt.cid}, not {cid}", retry=False)
    return receipt
