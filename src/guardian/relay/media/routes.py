"""``GET|HEAD /v1/media/{event_id}/{clip|snapshot|boxes}?token=…``: media for the browser.

The token (signed by the control plane, verified with its published keys) names the
tenant, event and kind. The bytes come from the relay's short cache or, as they arrive,
from the site's edge over the link; ``Range`` gives 206 so a ``<video>`` can seek and a
broken download can resume. Errors are JSON ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select

from guardian.common.jwks import JwksCache
from guardian.contracts import playback
from guardian.relay.commands import EdgeOffline
from guardian.relay.context import RelayContext
from guardian.relay.media.boxes import snapshot_boxes
from guardian.relay.media.cache import CachedMedia, MediaCache
from guardian.relay.media.config import RelayMediaSettings
from guardian.relay.media.fetch import PROBE_OFFSET, MediaFetcher
from guardian.relay.media.ranges import ByteRange, content_range, parse_range, resolve
from guardian.relay.media.transfer import MediaHead, Transfer, TransferError
from guardian.relay.store.tables import CachedEvent

logger = logging.getLogger(__name__)

FILE_CHUNK = 256 * 1024
MIN_REFETCH_S = 10.0  # an unknown kid refetches the control plane's JWKS at most this often
CONTENT_TYPES = {"clip": "video/mp4", "snapshot": "image/jpeg"}
EXPOSED = "Content-Length, Content-Range, Accept-Ranges, Content-Disposition, Content-Type"


class MediaError(Exception):
    """An answer other than the media: status, stable code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _media_settings(ctx: RelayContext) -> RelayMediaSettings:
    settings = getattr(ctx.settings, "media", None)
    return settings if isinstance(settings, RelayMediaSettings) else RelayMediaSettings()


class MediaService:
    """Token checks, the cache and edge transfers behind the media routes."""

    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx
        self.settings = _media_settings(ctx)
        ctx.uploads.stall_seconds = self.settings.stall_seconds
        self.fetcher = MediaFetcher(ctx.commands, ctx.uploads)
        self.cache = MediaCache(ctx.settings.data_dir, self.settings.cache_seconds)
        url = self.settings.jwks_url
        # The control plane's keys; an unknown kid (a rotation) refetches at most every 10 s.
        self.keys = (
            JwksCache(
                url,
                cache_seconds=self.settings.jwks_cache_seconds,
                clock=time.monotonic,
                min_refetch_seconds=MIN_REFETCH_S,
            )
            if url
            else None
        )

    def headers(self, request: Request) -> dict[str, str]:
        """Headers of every media answer: CORS for the UI's origin, no referrer leak."""
        origins = self.settings.cors_origins
        origin = request.headers.get("origin")
        allowed = "*" if "*" in origins else (origin if origin in origins else None)
        headers = {
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if allowed is not None:
            headers["Access-Control-Allow-Origin"] = allowed
            headers["Access-Control-Expose-Headers"] = EXPOSED
            if allowed != "*":
                headers["Vary"] = "Origin"
        return headers

    def authorise(self, token: str | None, event_id: str, kind: str) -> playback.PlaybackClaims:
        """The token's claims for ``event_id``/``kind`` (``MediaError`` 401/403/503)."""
        if self.keys is None:
            raise MediaError(503, "playback_disabled", "media playback is not configured")
        if not token:
            raise MediaError(401, "invalid_token", "a playback token is required (?token=)")
        try:
            claims = playback.verify(
                token, self.keys.key, now=time.time(), issuer=self.settings.issuer
            )
            claims.check(event_id, kind)
        except playback.PlaybackTokenError as exc:
            code = "invalid_token" if exc.status == 401 else "forbidden"
            raise MediaError(exc.status, code, exc.message) from exc
        return claims

    def admit(
        self, token: str | None, event_id: str, kind: str
    ) -> tuple[playback.PlaybackClaims, str, dict[str, Any]]:
        """``authorise`` then ``cached_event``, in one worker-thread hop."""
        claims = self.authorise(token, event_id, kind)
        site_id, payload = self.cached_event(claims)
        return claims, site_id, payload

    def cached_event(self, claims: playback.PlaybackClaims) -> tuple[str, dict[str, Any]]:
        """The site id and full JSON of the token's event (``MediaError`` 404/403)."""
        with self.ctx.engine.connect() as connection:  # Core: half an ORM session's cost
            row = connection.execute(
                select(CachedEvent.tenant_id, CachedEvent.site_id, CachedEvent.payload).where(
                    CachedEvent.id == claims.event_id,
                    CachedEvent.expires_at > self.ctx.clock(),
                )
            ).first()
        if row is None:
            raise MediaError(404, "not_found", f"this relay holds no event {claims.event_id}")
        if row.tenant_id != claims.tenant_id:
            raise MediaError(403, "forbidden", "the token is for another tenant")
        return str(row.site_id), dict(row.payload)


def _json_headers(headers: dict[str, str]) -> dict[str, str]:
    # An error is never a download: no Content-Disposition on it.
    return {k: v for k, v in headers.items() if k != "Content-Disposition"}


def _error(exc: MediaError, headers: dict[str, str]) -> JSONResponse:
    body = {"error": {"code": exc.code, "message": exc.message}}
    extra = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    return JSONResponse(body, status_code=exc.status, headers={**_json_headers(headers), **extra})


def _disposition(claims: playback.PlaybackClaims, download: bool) -> str:
    return f'{"attachment" if download else "inline"}; filename="{claims.filename}"'


def _media_headers(
    base: dict[str, str], content_type: str, length: int, span: tuple[int, int, int] | None
) -> dict[str, str]:
    headers = {**base, "Accept-Ranges": "bytes", "Content-Length": str(length)}
    headers["Content-Type"] = content_type
    if span is not None:
        headers["Content-Range"] = content_range(*span)
    return headers


def _unsatisfiable(total: int, headers: dict[str, str]) -> JSONResponse:
    body = {"error": {"code": "range_not_satisfiable", "message": f"the file has {total} bytes"}}
    return JSONResponse(
        body, 416, headers={**_json_headers(headers), "Content-Range": f"bytes */{total}"}
    )


async def _file_body(path_media: CachedMedia, start: int, end: int) -> AsyncIterator[bytes]:
    handle = await to_thread.run_sync(path_media.path.open, "rb")
    try:
        await to_thread.run_sync(handle.seek, start)
        left = end - start + 1
        while left > 0:
            data = await to_thread.run_sync(handle.read, min(FILE_CHUNK, left))
            if not data:
                return
            left -= len(data)
            yield data
    finally:
        handle.close()


def _serve_cached(
    request: Request, entry: CachedMedia, wanted: ByteRange | None, headers: dict[str, str]
) -> Response:
    total = entry.size
    span = resolve(wanted, total) if wanted is not None else (0, total - 1)
    if span is None:
        return _unsatisfiable(total, headers)
    start, end = span if total else (0, -1)
    media = _media_headers(
        headers,
        entry.content_type,
        end - start + 1,
        (start, end, total) if wanted is not None else None,
    )
    status = 206 if wanted is not None else 200
    if request.method == "HEAD":
        return Response(status_code=status, headers=media)
    return StreamingResponse(_file_body(entry, start, end), status_code=status, headers=media)


class EdgeStream:
    """One response's transfer from the edge, teeing a whole file into the cache."""

    def __init__(self, service: MediaService, transfer: Transfer, head: MediaHead) -> None:
        self.service = service
        self.transfer = transfer
        self.head = head

    async def body(
        self, event_id: str, kind: str, whole: bool
    ) -> AsyncIterator[bytes | memoryview]:
        service, transfer = self.service, self.transfer
        writer = (
            service.cache.writer(event_id, kind, self.head.total_size, self.head.content_type)
            if whole
            else None
        )
        try:
            while True:
                data = await transfer.next_data(service.settings.stall_seconds)
                if data is None:
                    break
                if writer is not None:
                    writer.write(data)
                yield data
            if writer is not None and writer.commit():
                logger.info("media cached", extra={"event_id": event_id, "kind": kind})
        except TransferError as exc:
            logger.warning(
                "media transfer broke off: %s", exc.message, extra={"event_id": event_id}
            )
            raise
        finally:
            if writer is not None:
                writer.abort()
            service.fetcher.finish(transfer)


async def _head_of(service: MediaService, site_id: str, event_id: str, kind: str) -> MediaHead:
    """The media's size and type: remembered, else asked of the edge (an empty probe)."""
    known = service.fetcher.known(event_id, kind)
    if known is not None:
        return known
    transfer = service.fetcher.start(site_id, event_id, kind, PROBE_OFFSET, 0)
    try:
        head = await transfer.head(service.settings.first_byte_seconds)
    finally:
        service.fetcher.finish(transfer)
    service.fetcher.remember(event_id, kind, head)
    return head


async def _serve_from_edge(
    service: MediaService,
    request: Request,
    site_id: str,
    event_id: str,
    kind: str,
    wanted: ByteRange | None,
    headers: dict[str, str],
) -> Response:
    if not service.ctx.commands.is_online(site_id):
        raise MediaError(
            503, "edge_offline", "the site's edge is offline (not linked to the relay)"
        )
    content_default = CONTENT_TYPES[kind]
    if request.method == "HEAD" or (wanted is not None and wanted.suffix is not None):
        head = await _head_of(service, site_id, event_id, kind)
        total = head.total_size
        span = resolve(wanted, total) if wanted is not None else (0, total - 1)
        if span is None:
            return _unsatisfiable(total, headers)
        start, end = span if total else (0, -1)
        media = _media_headers(
            headers,
            head.content_type or content_default,
            end - start + 1,
            (start, end, total) if wanted is not None else None,
        )
        if request.method == "HEAD":
            return Response(status_code=206 if wanted is not None else 200, headers=media)
        wanted = ByteRange(start, end)
    offset = 0 if wanted is None or wanted.first is None else wanted.first
    length = 0
    if wanted is not None and wanted.last is not None:
        length = wanted.last - offset + 1
    transfer = service.fetcher.start(site_id, event_id, kind, offset, length)
    try:
        head = await transfer.head(service.settings.first_byte_seconds)
    except BaseException:
        service.fetcher.finish(transfer)
        raise
    service.fetcher.remember(event_id, kind, head)
    total = head.total_size
    span = resolve(wanted, total) if wanted is not None else (0, total - 1)
    if span is None:
        service.fetcher.finish(transfer)
        return _unsatisfiable(total, headers)
    start, end = span if total else (0, -1)
    media = _media_headers(
        headers,
        head.content_type or content_default,
        end - start + 1,
        (start, end, total) if wanted is not None else None,
    )
    whole = start == 0 and end == total - 1
    stream = EdgeStream(service, transfer, head)
    return StreamingResponse(
        stream.body(event_id, kind, whole),
        status_code=206 if wanted is not None else 200,
        headers=media,
    )


def install(app: FastAPI, ctx: RelayContext) -> MediaService:
    """Add the media routes to ``app``; the service behind them (for the cache cleanup)."""
    service = MediaService(ctx)
    router = APIRouter(tags=["media"])

    @router.options("/v1/media/{event_id}/{what}")
    async def preflight(request: Request) -> Response:
        headers = service.headers(request)
        headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        headers["Access-Control-Allow-Headers"] = "Range"
        headers["Access-Control-Max-Age"] = "600"
        return Response(status_code=204, headers=headers)

    @router.api_route("/v1/media/{event_id}/{what}", methods=["GET", "HEAD"])
    async def media(
        request: Request,
        event_id: str,
        what: str,
        token: str | None = None,
        download: str | None = None,
    ) -> Response:
        headers = service.headers(request)
        try:
            if what not in ("clip", "snapshot", "boxes"):
                raise MediaError(404, "not_found", "media is clip, snapshot or boxes")
            kind = "snapshot" if what == "boxes" else what
            claims, site_id, payload = await to_thread.run_sync(
                service.admit, token, event_id, kind
            )
            if what == "boxes":
                body = {"event_id": event_id, "units": "pixels", "boxes": snapshot_boxes(payload)}
                return JSONResponse(body, headers=headers)
            headers["Content-Disposition"] = _disposition(claims, download == "1")
            wanted = parse_range(request.headers.get("range"))
            entry = service.cache.lookup(event_id, kind)
            if entry is not None:
                return _serve_cached(request, entry, wanted, headers)
            return await _serve_from_edge(
                service, request, site_id, event_id, kind, wanted, headers
            )
        except MediaError as exc:
            return _error(exc, headers)
        except EdgeOffline:
            return _error(MediaError(503, "edge_offline", "the site's edge went offline"), headers)
        except TransferError as exc:
            return _error(MediaError(exc.status, exc.code, exc.message), headers)

    app.include_router(router)
    return service


__all__ = ["MediaCache", "MediaService", "install"]
