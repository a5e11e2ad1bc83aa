"""The forwarder: queued summaries and site health pushed to the control plane over gRPC."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from guardian import __version__
from guardian.contracts.pb.guardian.v1 import control_pb2
from guardian.relay.context import ControlClient, RelayContext
from guardian.relay.store.edges import EdgeView, SiteTelemetry, latest_telemetry, list_edges
from guardian.relay.store.edges import revoke_site as store_revoke_site
from guardian.relay.store.queue import (
    QueuedSummary,
    claim_batch,
    mark_failed,
    mark_forwarded,
    queue_depth,
)

logger = logging.getLogger(__name__)

HEALTH_EVERY_S = 10.0
IDLE_WAIT_S = 1.0
#: Summary batches pushed to the control plane at once (it ingests them concurrently).
PUSHES_IN_FLIGHT = 2
#: An edge with more unacked outbox rows than this is degraded.
OUTBOX_DEGRADED_ROWS = 1000
_UINT64_MAX = 2**64 - 1
_DONE = frozenset(
    {
        control_pb2.SUMMARY_STATUS_CREATED,
        control_pb2.SUMMARY_STATUS_UPDATED,
        control_pb2.SUMMARY_STATUS_UNCHANGED,
        control_pb2.SUMMARY_STATUS_STALE,
        control_pb2.SUMMARY_STATUS_REJECTED,
    }
)
_SOURCE_KINDS = {"camera": control_pb2.SOURCE_KIND_CAMERA, "device": control_pb2.SOURCE_KIND_DEVICE}
_CONFIDENCE = {
    "low": control_pb2.CONFIDENCE_LOW,
    "medium": control_pb2.CONFIDENCE_MEDIUM,
    "high": control_pb2.CONFIDENCE_HIGH,
}
_STATES = {"active": control_pb2.EVENT_STATE_ACTIVE, "ended": control_pb2.EVENT_STATE_ENDED}


def _ts(value: dt.datetime | str) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(dt.datetime.fromisoformat(value) if isinstance(value, str) else value)
    return ts


def summary_message(summary: Mapping[str, Any]) -> control_pb2.EventSummary:
    """The ``EventSummary`` of a summariser dict (``guardian.relay.summarize``)."""
    message = control_pb2.EventSummary(
        id=summary["id"],
        tenant_id=summary["tenant_id"],
        site_id=summary["site_id"],
        source_kind=_SOURCE_KINDS[summary["source_kind"]],
        source_name=summary["source_name"],
        type=summary["type"],
        person_count=summary["person_count"],
        confidence=_CONFIDENCE[summary["confidence"]],
        state=_STATES[summary["state"]],
        started_at=_ts(summary["started_at"]),
        ended_at=_ts(summary["ended_at"]),
        version=summary["version"],
    )
    for name in ("label", "zone", "dwell_s"):
        if summary.get(name) is not None:
            setattr(message, name, summary[name])
    return message


def camera_health(camera: Mapping[str, Any]) -> control_pb2.Health.ValueType:
    """Online (or deliberately disabled) is healthy, offline is offline, the rest degraded."""
    state = camera.get("state", "")
    if state in {"online", "disabled"}:
        return control_pb2.HEALTH_HEALTHY
    if state == "offline":
        return control_pb2.HEALTH_OFFLINE
    return control_pb2.HEALTH_DEGRADED


def _count(value: Any) -> int | None:
    """A uint64 count of stored telemetry (``MessageToDict`` writes uint64 as a string);
    ``None`` when ``value`` is not one."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= _UINT64_MAX else None


def edge_figures(payload: Mapping[str, Any] | None) -> dict[str, int]:
    """The ``SiteHealth`` figures in a site's stored telemetry, only those the edge reported:
    disk free and total bytes (from ``box``), queued and dead capture jobs (``ingest``) and
    the outbox depth. ``MessageToDict`` leaves zeros out, so a count missing from a part the
    edge sent is 0; a part missing altogether was not reported. A disk total of 0 means the
    edge could not measure its disk: no disk figures then."""
    if payload is None:
        return {}
    figures: dict[str, int] = {}
    box = payload.get("box")
    if isinstance(box, Mapping):
        total = _count(box.get("disk_total_bytes", 0))
        used = _count(box.get("disk_used_bytes", 0))
        if total and used is not None:
            figures["disk_free_bytes"] = max(0, total - used)
            figures["disk_total_bytes"] = total
    ingest = payload.get("ingest")
    if isinstance(ingest, Mapping):
        for name, key in (("queue_depth", "jobs_queued"), ("dead_jobs", "jobs_dead")):
            value = _count(ingest.get(key, 0))
            if value is not None:
                figures[name] = value
    outbox = _count(payload.get("outbox_depth", 0))
    if outbox is not None:
        figures["outbox_depth"] = outbox
    return figures


def site_health(
    edge: EdgeView,
    telemetry: SiteTelemetry | None,
    *,
    connected: bool,
    edge_version: str,
    now: dt.datetime,
    offline_after: dt.timedelta,
) -> control_pb2.SiteHealth:
    """One site's health: offline when not heard from, degraded when a camera or the outbox is;
    with the edge's disk, job queue and outbox figures when its telemetry reported them."""
    cameras = []
    payload = telemetry.payload if telemetry is not None else {}
    figures = edge_figures(telemetry.payload if telemetry is not None else None)
    for camera in payload.get("cameras", []):
        entry = control_pb2.CameraHealth(
            name=str(camera.get("name", "")),
            health=camera_health(camera),
            state=str(camera.get("state", "")),
            recording=str(camera.get("recording", "")),
        )
        for name in ("input_fps", "detect_fps"):
            if camera.get(name) is not None:
                setattr(entry, name, float(camera[name]))
        cameras.append(entry)
    heard = edge.last_seen_at is not None and now - edge.last_seen_at <= offline_after
    if not connected and not heard:
        health = control_pb2.HEALTH_OFFLINE
    elif (
        any(c.health != control_pb2.HEALTH_HEALTHY for c in cameras)
        or figures.get("outbox_depth", 0) > OUTBOX_DEGRADED_ROWS
    ):
        health = control_pb2.HEALTH_DEGRADED
    else:
        health = control_pb2.HEALTH_HEALTHY
    message = control_pb2.SiteHealth(
        tenant_id=edge.tenant_id,
        site_id=edge.site_id,
        health=health,
        edge_version=edge_version,
        cameras=cameras,
    )
    for name, value in figures.items():
        setattr(message, name, value)
    if edge.last_seen_at is not None:
        message.last_seen_at.CopyFrom(_ts(edge.last_seen_at))
    return message


class Forwarder:
    """Pushes queued summaries (with backoff on failure) and periodic health reports."""

    def __init__(
        self,
        ctx: RelayContext,
        client: ControlClient,
        *,
        health_every_s: float = HEALTH_EVERY_S,
        idle_wait_s: float = IDLE_WAIT_S,
    ) -> None:
        self._ctx, self._client = ctx, client
        self._health_every_s, self._idle_wait_s = health_every_s, idle_wait_s

    def _call(self, method: Callable[..., Any], request: Any) -> Any:
        return method(request, metadata=self._client.metadata, timeout=self._client.timeout)

    def forward_once(self) -> int:
        """Send one batch of due summaries; how many left the queue."""
        claimed = self._claim()
        if not claimed:
            self._update_depth()
            return 0
        return self._push(claimed)

    def _claim(self) -> list[QueuedSummary]:
        ctx = self._ctx
        with ctx.sessions.begin() as session:
            return claim_batch(session, ctx.settings.forward_batch, ctx.clock())

    def _push(self, claimed: Sequence[QueuedSummary]) -> int:
        """Push leased rows and settle them by the control plane's answer; how many left."""
        ctx = self._ctx
        request = control_pb2.SummaryBatch(
            batch_id=str(uuid.uuid4()), events=[summary_message(q.summary) for q in claimed]
        )
        try:
            ack = self._call(self._client.stub.PushSummaries, request)
        except grpc.RpcError as exc:
            ctx.metrics.control_push_errors.inc()
            error = _describe(exc)
            logger.warning("pushing summaries failed: %s", error)
            self._fail(claimed, error)
            return 0
        results = {r.id: r for r in ack.results}
        done: list[QueuedSummary] = []
        missing: list[QueuedSummary] = []
        for item in claimed:
            result = results.get(item.event_id)
            if result is None or result.status not in _DONE:
                missing.append(item)
                continue
            if result.status == control_pb2.SUMMARY_STATUS_REJECTED:
                logger.warning("control plane rejected event %s: %s", item.event_id, result.reason)
            done.append(item)
        with ctx.sessions.begin() as session:
            mark_forwarded(session, done)
        if missing:
            self._fail(missing, "no result from the control plane")
        self._update_depth()
        return len(done)

    def _fail(self, claimed: Sequence[QueuedSummary], error: str) -> None:
        with self._ctx.sessions.begin() as session:
            mark_failed(
                session,
                claimed,
                error,
                self._ctx.clock(),
                cap=self._ctx.settings.forward_retry_max_seconds,
            )

    def _update_depth(self) -> None:
        with self._ctx.sessions() as session:
            self._ctx.metrics.forward_queue_depth.set(queue_depth(session).count)

    def health_report(self) -> control_pb2.HealthReport:
        """The current health of every enrolled, unrevoked edge's site."""
        ctx = self._ctx
        now = ctx.clock()
        with ctx.sessions() as session:
            edges = [e for e in list_edges(session) if e.revoked_at is None]
            telemetry = latest_telemetry(session)
        offline_after = dt.timedelta(seconds=ctx.settings.dead_link_seconds)
        sites = [
            site_health(
                edge,
                telemetry.get(edge.site_id),
                connected=ctx.connected.is_connected(edge.site_id),
                edge_version=ctx.connected.version(edge.site_id),
                now=now,
                offline_after=offline_after,
            )
            for edge in edges
        ]
        return control_pb2.HealthReport(at=_ts(now), relay_version=__version__, sites=sites)

    def push_health_once(self) -> list[str]:
        """Push a health report and revoke the edges of deleted sites; the sites revoked."""
        try:
            ack = self._call(self._client.stub.PushHealth, self.health_report())
        except grpc.RpcError as exc:
            self._ctx.metrics.control_push_errors.inc()
            logger.warning("pushing health failed: %s", _describe(exc))
            return []
        revoked = []
        with self._ctx.sessions.begin() as session:
            for site_id in ack.revoked_site_ids:
                reason = "site deleted at the control plane"
                if store_revoke_site(session, site_id, self._ctx.clock(), reason):
                    revoked.append(site_id)
        for site_id in revoked:
            logger.warning("revoked the edge of deleted site %s", site_id)
        return revoked

    def run(self, stop: threading.Event) -> None:
        """Forward until ``stop`` is set; health every ``health_every_s``.

        Up to ``PUSHES_IN_FLIGHT`` batches are pushed at once (their rows are leased, so
        no two pushes carry the same row; the control plane is idempotent by id and
        version, so their order does not matter). With nothing due it sleeps until the
        link queues something (``ctx.forward_wake``) or ``idle_wait_s`` passes, when
        retries may have come due.
        """
        next_health = 0.0
        wake = self._ctx.forward_wake
        with ThreadPoolExecutor(PUSHES_IN_FLIGHT, thread_name_prefix="relay-push") as pool:
            pushes: set[Future[int]] = set()
            while not stop.is_set():
                try:
                    if self._ctx.clock().timestamp() >= next_health:
                        self.push_health_once()
                        next_health = self._ctx.clock().timestamp() + self._health_every_s
                    wake.clear()
                    while len(pushes) < PUSHES_IN_FLIGHT and (claimed := self._claim()):
                        pushes.add(pool.submit(self._push, claimed))
                    if pushes:
                        finished, pushes = wait(pushes, return_when=FIRST_COMPLETED)
                        for push in finished:
                            push.result()
                    else:
                        self._update_depth()
                        wake.wait(self._idle_wait_s)
                except Exception:  # a store hiccup must not end forwarding for good
                    logger.exception("forwarder iteration failed")
                    stop.wait(self._idle_wait_s)
            for push in pushes:
                push.exception()  # waits; a failed push's rows come due when their lease ends


def _describe(exc: grpc.RpcError) -> str:
    if isinstance(exc, grpc.Call):
        return f"{exc.code().name}: {exc.details()}"
    return type(exc).__name__
