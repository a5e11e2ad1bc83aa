"""The edge's end of the link: one mTLS stream to the relay that drains the outbox.

Per stream: Hello → Welcome; then a window of up to ``WINDOW`` EventBatches in flight, each
read after the last row already sent (so a row goes out once per stream, in outbox order),
acks matched by batch_id and their rows deleted in one transaction; heartbeats both ways;
telemetry every few seconds; commands from the relay answered with CommandResult. Any
failure drops the stream and the maintainer reconnects with capped, jittered backoff;
unacked rows are simply read again (the relay is idempotent by event id and version).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc

from guardian.common import faults
from guardian.common.heap import keep_large_buffers
from guardian.contracts.pb.guardian.v1 import link_pb2, link_pb2_grpc
from guardian.edge.camera.backoff import Backoff
from guardian.edge.context import EdgeContext
from guardian.edge.link import outbox, telemetry
from guardian.edge.link.camera_command import run_update_camera_config
from guardian.edge.link.enroll import LinkInfo, link_dir
from guardian.edge.link.identity import EdgeIdentityFiles, IdentityError, LinkCredentials
from guardian.edge.link.media import MediaUploader, Upload, upload_call

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
WELCOME_TIMEOUT_S = 10.0
DEFAULT_HEARTBEAT_S = 10
#: With nothing to send, look for new outbox rows this often (bounds the link's latency).
IDLE_POLL_S = 0.05
#: EventBatches sent before the oldest is acked: hides the round trip and the edge's own
#: reads and deletes behind the relay's work. The relay handles a stream's messages in order.
WINDOW = 4
_REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


class LinkDropped(Exception):
    """The stream is no longer usable (silence, a missing ack, the relay hung up)."""


class LinkRefused(Exception):
    """The edge cannot or may not connect (not enrolled, certificate expired or refused)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _InFlight:
    batch_id: str
    sent_ids: tuple[int, ...]
    deadline: float


class _Stream:
    """One Connect call: a queue feeding the request side and a thread reading replies."""

    def __init__(self, stub: link_pb2_grpc.EdgeLinkStub) -> None:
        self.outgoing: queue.Queue[link_pb2.EdgeMessage | None] = queue.Queue()
        self.incoming: queue.Queue[link_pb2.RelayMessage | grpc.RpcError | None] = queue.Queue()
        self._call = stub.Connect(self._requests())
        self._reader = threading.Thread(target=self._read, name="link-reader", daemon=True)
        self._reader.start()

    def _requests(self) -> Iterator[link_pb2.EdgeMessage]:
        while (message := self.outgoing.get()) is not None:
            yield message

    def _read(self) -> None:
        try:
            for message in self._call:
                self.incoming.put(message)
            self.incoming.put(None)
        except grpc.RpcError as exc:
            self.incoming.put(exc)

    def send(self, message: link_pb2.EdgeMessage) -> None:
        self.outgoing.put(message)

    def receive(self, timeout: float) -> link_pb2.RelayMessage | None:
        """The next relay message, or None after ``timeout``; raises when the stream ended."""
        try:
            item = self.incoming.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if item is None:
            raise LinkDropped("the relay closed the stream")
        if isinstance(item, grpc.RpcError):
            raise item
        return item

    def close(self) -> None:
        self.outgoing.put(None)
        self._call.cancel()
        self._reader.join(timeout=5.0)


class LinkMaintainer(threading.Thread):
    """Keeps the edge's stream to its relay open and drains the outbox through it."""

    def __init__(
        self,
        ctx: EdgeContext,
        stop_event: threading.Event,
        *,
        ack_timeout_s: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(name="link", daemon=True)
        self._ctx = ctx
        self._media = MediaUploader(ctx)
        self._settings = ctx.settings.link
        self._stop_event = stop_event
        self._ack_timeout_s = ack_timeout_s
        self._backoff = backoff or Backoff(1.0, self._settings.reconnect_max_seconds)
        self._process_started = time.time()
        self._last_acked = ""
        self._read_sessions = ctx.sessions
        self.connects = 0
        self.last_error: str | None = None
        #: Index into the link targets: the direct port first, the enrolment port after a
        #: failed attempt (the direct port may be unreachable), back to the first once up.
        self._target = 0
        self.target: str | None = None

    def run(self) -> None:
        keep_large_buffers()  # clip uploads stream the file in ~1 MiB buffers
        reader = outbox.reader_engine(self._ctx.engine)
        self._read_sessions = outbox.reader_sessions(self._ctx.engine, reader)
        try:
            self._maintain()
        finally:
            if reader is not None:
                reader.dispose()

    def _maintain(self) -> None:
        while not self._stop_event.is_set():
            welcomed_before = self.connects
            try:
                self._refresh_depth()
                targets, credentials = self._identity()
                self.target = targets[self._target % len(targets)]
                self._session(self.target, credentials)
            except LinkRefused as exc:
                self._fail(logging.ERROR, str(exc))
            except grpc.RpcError as exc:
                code = exc.code() if isinstance(exc, grpc.Call) else None
                detail = exc.details() if isinstance(exc, grpc.Call) else str(exc)
                if code in _REFUSED:
                    self._fail(
                        logging.ERROR,
                        f"the relay refused this edge's certificate ({detail}); "
                        "enrol again with `guardian edge enroll --force`",
                    )
                else:
                    self._fail(
                        logging.WARNING, f"link lost ({getattr(code, 'name', code)}): {detail}"
                    )
            except LinkDropped as exc:
                self._fail(logging.WARNING, f"link dropped: {exc}")
            except Exception as exc:  # the link must outlive one bad session (DB restart, …)
                logger.exception("link session failed")
                self.last_error = str(exc)
            if self.connects > welcomed_before:
                self._backoff.reset()
                self._target = 0
            else:
                self._target += 1
            self._stop_event.wait(self._backoff.next_delay())

    def _fail(self, level: int, message: str) -> None:
        self.last_error = message
        logger.log(level, message)

    def _identity(self) -> tuple[list[str], LinkCredentials]:
        directory = link_dir(self._ctx.settings.data_dir)
        try:
            credentials = EdgeIdentityFiles(directory).load()
            info = LinkInfo.load(directory)
        except (IdentityError, ValueError, KeyError) as exc:
            raise LinkRefused(f"the link identity is unusable: {exc}") from exc
        if self._settings.relay is not None:
            targets = [self._settings.relay]
        elif info is not None:
            targets = info.link_targets()
        else:
            raise LinkRefused(f"no relay address: enrol with `guardian edge enroll` ({directory})")
        if credentials.not_after <= _now():
            raise LinkRefused(
                f"the link certificate expired at {credentials.not_after.isoformat()}; "
                "enrol again with `guardian edge enroll --force`"
            )
        return targets, credentials

    def _session(self, relay: str, credentials: LinkCredentials) -> None:
        channel_credentials = grpc.ssl_channel_credentials(
            root_certificates=credentials.root_certificates,
            private_key=credentials.private_key,
            certificate_chain=credentials.certificate_chain,
        )
        # Not a context manager: leaving it would wait for an upload still running.
        commands = _CommandPools()
        with grpc.secure_channel(relay, channel_credentials) as channel:
            stream = _Stream(link_pb2_grpc.EdgeLinkStub(channel))
            try:
                self._converse(stream, upload_call(channel), commands, credentials.site_id)
            finally:
                commands.shutdown()
                stream.close()

    def _converse(
        self,
        stream: _Stream,
        upload: Upload,
        commands: _CommandPools,
        site_id: str,
    ) -> None:
        hello = link_pb2.Hello(
            site_id=site_id,
            protocol_version=PROTOCOL_VERSION,
            last_acked_batch_id=self._last_acked,
            sent_at=outbox.timestamp(_now()),
        )
        stream.send(link_pb2.EdgeMessage(hello=hello))
        first = stream.receive(WELCOME_TIMEOUT_S)
        if first is None or first.WhichOneof("body") != "welcome":
            raise LinkDropped("the relay did not answer Hello with Welcome")
        welcome = first.welcome
        self.connects += 1
        self.last_error = None
        interval = float(welcome.heartbeat_interval_s or DEFAULT_HEARTBEAT_S)
        limit = min(self._settings.batch_size, welcome.max_batch_items or self._settings.batch_size)
        logger.info(
            "link up",
            extra={"relay_id": welcome.relay_id, "relay": self.target, "heartbeat_s": interval},
        )
        heard = next_beat = next_telemetry = time.monotonic()
        seq = 0
        in_flight: dict[str, _InFlight] = {}  # insertion order: oldest first
        sent_up_to = 0  # the highest outbox id sent on this stream
        while not self._stop_event.is_set():
            now = time.monotonic()
            if now - heard > 3 * interval:
                raise LinkDropped(f"the relay was silent for {now - heard:.1f} s")
            oldest = next(iter(in_flight.values()), None)
            if oldest is not None and now > oldest.deadline:
                raise LinkDropped(f"no ack for batch {oldest.batch_id}")
            if now >= next_beat:
                seq += 1
                beat = link_pb2.Heartbeat(sent_at=outbox.timestamp(_now()), seq=seq)
                stream.send(link_pb2.EdgeMessage(heartbeat=beat))
                next_beat = now + interval
            if now >= next_telemetry:
                stream.send(link_pb2.EdgeMessage(telemetry=self._telemetry()))
                next_telemetry = now + self._settings.telemetry_seconds
            if not in_flight:
                # SQLite hands out ids again once the table is empty: with nothing in
                # flight, read from the start (unacked leftovers are simply sent again).
                sent_up_to = 0
            sent = self._send_batch(stream, limit, sent_up_to) if len(in_flight) < WINDOW else None
            if sent is not None:
                in_flight[sent.batch_id] = sent
                sent_up_to = max(sent.sent_ids)
                continue  # fill the window before waiting
            # With the window not full, wake up now and then to look for new outbox rows.
            due = min(next_beat, next_telemetry)
            if len(in_flight) < WINDOW:
                due = min(due, time.monotonic() + IDLE_POLL_S)
            if in_flight:
                due = min(due, next(iter(in_flight.values())).deadline)
            message = stream.receive(due - time.monotonic())
            if message is None:
                continue
            # Whatever else has arrived too: their acks cost one deletion, not one each.
            messages = [message]
            while len(messages) <= WINDOW and (more := stream.receive(0)) is not None:
                messages.append(more)
            heard = time.monotonic()
            acks: list[tuple[_InFlight, link_pb2.Ack]] = []
            for message in messages:
                kind = message.WhichOneof("body")
                if kind == "ack":
                    acked = in_flight.pop(message.ack.batch_id, None)
                    if acked is not None:
                        acks.append((acked, message.ack))
                elif kind == "command":
                    pool = commands.pool_for(message.command)
                    pool.submit(self._run_command, stream, upload, message.command)
            if acks:
                self._apply_acks(acks)

    def _send_batch(self, stream: _Stream, limit: int, after_id: int) -> _InFlight | None:
        with self._read_sessions() as session:
            rows = outbox.read_batch(session, limit, after_id=after_id)
        if not rows:
            return None
        prepared = outbox.build_batch(str(uuid.uuid4()), rows)
        if prepared.unsendable:
            # A payload that never encodes would block the outbox forever; the relay could
            # only reject it, so it goes now, loudly.
            for row_id, reason in prepared.unsendable:
                logger.error(
                    "dropping an unsendable outbox row",
                    extra={"outbox_id": row_id, "reason": reason},
                )
            with self._ctx.sessions.begin() as session:
                outbox.delete_rows(session, [row_id for row_id, _ in prepared.unsendable])
        if not prepared.sent_ids:
            return None
        stream.send(link_pb2.EdgeMessage(event_batch=prepared.batch))
        faults.hit("link.edge.after_send")
        return _InFlight(
            prepared.batch.batch_id, prepared.sent_ids, time.monotonic() + self._ack_timeout_s
        )

    def _apply_acks(self, acks: list[tuple[_InFlight, link_pb2.Ack]]) -> None:
        """Delete the rows these acks settle, in one transaction."""
        faults.hit("link.edge.after_ack_before_delete")
        ids = [i for in_flight, ack in acks for i in outbox.deletable_ids(in_flight.sent_ids, ack)]
        with self._ctx.sessions.begin() as session:
            outbox.delete_rows(session, ids)
        for _, ack in acks:
            for rejection in ack.rejected:
                logger.error(
                    "the relay rejected an outbox row",
                    extra={"outbox_id": rejection.outbox_id, "reason": rejection.reason},
                )
        self._last_acked = acks[-1][0].batch_id
        self._ctx.metrics.outbox_depth.dec(len(ids))

    def _refresh_depth(self) -> outbox.OutboxDepth:
        with self._ctx.sessions() as session:
            current = outbox.depth(session)
        self._ctx.metrics.outbox_depth.set(current.rows)
        if current.rows > self._settings.outbox_warn_rows:
            logger.warning(
                "the outbox is growing",
                extra={"rows": current.rows, "warn_rows": self._settings.outbox_warn_rows},
            )
        return current

    def _telemetry(self) -> link_pb2.Telemetry:
        depth = self._refresh_depth()
        with self._ctx.sessions() as session:
            return telemetry.sample(
                session, self._ctx.settings.data_dir, self._process_started, depth, _now()
            )

    def _run_command(self, stream: _Stream, upload: Upload, command: link_pb2.Command) -> None:
        action = command.WhichOneof("action")
        try:
            if action == "stream_clip":
                error = self._media.stream_clip(upload, command.command_id, command.stream_clip)
            elif action == "update_camera_config":
                error = run_update_camera_config(self._ctx.sessions, command.update_camera_config)
            else:
                error = "unsupported"
        except (OSError, grpc.RpcError) as exc:
            error = f"upload failed: {exc}"
        result = link_pb2.CommandResult(
            command_id=command.command_id, ok=error is None, error=error or ""
        )
        stream.send(link_pb2.EdgeMessage(command_result=result))


class _CommandPools:
    """Where relay commands run: media uploads side by side (a browser asks for the clip,
    the snapshot and ranges of them at once), every other command one at a time in the
    order it came (two camera-config updates must land in order).
    """

    MEDIA_WORKERS = 4

    def __init__(self) -> None:
        self.media = ThreadPoolExecutor(self.MEDIA_WORKERS, thread_name_prefix="link-media")
        self.ordered = ThreadPoolExecutor(1, thread_name_prefix="link-command")

    def pool_for(self, command: link_pb2.Command) -> ThreadPoolExecutor:
        return self.media if command.WhichOneof("action") == "stream_clip" else self.ordered

    def shutdown(self) -> None:
        for pool in (self.media, self.ordered):
            pool.shutdown(wait=False, cancel_futures=True)
