"""The relay's TLS front for the edge link: one port, client certificates optional.

grpcio cannot ask for an optional client certificate, yet ``Enrollment.Enroll`` must work
without one while ``EdgeLink`` calls are identified by theirs. So this front terminates
TLS itself (a certificate, when offered, must be valid and from the relay CA, or the
handshake fails), forwards the bytes to the gRPC server on a loopback port, and records
which certificate came in on which connection for the servicers to look up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_S = 10.0
CHUNK = 1 << 20  # 1 MiB reads: clip uploads are bytes-bound here


class PeerCertificates:
    """Client certificates (DER) of relayed connections, keyed by the relay's local port."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_port: dict[int, bytes] = {}

    def add(self, port: int, der: bytes) -> None:
        with self._lock:
            self._by_port[port] = der

    def remove(self, port: int) -> None:
        with self._lock:
            self._by_port.pop(port, None)

    def of_peer(self, peer: str) -> bytes | None:
        """The certificate of a gRPC peer such as ``ipv4:127.0.0.1:40112``; None if none."""
        head, _, port = peer.rpartition(":")
        if not head.startswith("ipv4:127.0.0.1") or not port.isdigit():
            return None
        with self._lock:
            return self._by_port.get(int(port))


def server_tls_context(cert_path: Path, key_path: Path, ca_pem: bytes) -> ssl.SSLContext:
    """TLS ≥ 1.2, HTTP/2 by ALPN, client certificates requested and verified if presented."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    context.load_verify_locations(cadata=ca_pem.decode())
    context.verify_mode = ssl.CERT_OPTIONAL
    context.set_alpn_protocols(["h2"])
    return context


class TlsFront:
    """Accepts TLS on ``host:port`` and relays each connection to ``127.0.0.1:inner_port``."""

    def __init__(
        self,
        context: ssl.SSLContext,
        host: str,
        port: int,
        inner_port: int,
        peers: PeerCertificates,
    ) -> None:
        self._context, self._host, self._inner_port, self._peers = context, host, inner_port, peers
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="relay-tls-front", daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Listen; returns once the port is bound (``port`` then holds the real port)."""
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Close the listener and every relayed connection."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(
            self._connection,
            self._host,
            self.port,
            ssl=self._context,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S,
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stopping.wait()
        server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        port = None
        inner_writer: asyncio.StreamWriter | None = None
        try:
            tls = writer.get_extra_info("ssl_object")
            der = tls.getpeercert(binary_form=True) if tls is not None else None
            inner_reader, inner_writer = await asyncio.open_connection(
                "127.0.0.1", self._inner_port
            )
            port = int(inner_writer.get_extra_info("sockname")[1])
            if der:
                self._peers.add(port, der)
            await asyncio.gather(_pump(reader, inner_writer), _pump(inner_reader, writer))
        except OSError:
            _close(writer)
        except asyncio.CancelledError:
            # Stopping: drop both sockets now. A TLS close would wait for the peer's
            # close_notify after this loop has ended, leaving the socket open.
            for open_writer in (writer, inner_writer):
                if open_writer is not None:
                    open_writer.transport.abort()
        finally:
            if port is not None:
                self._peers.remove(port)
            self._tasks.discard(task)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        _close(writer)
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        writer.close()
