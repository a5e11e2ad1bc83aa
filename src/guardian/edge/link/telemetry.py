"""Telemetry samples for the link: the box (psutil), its cameras, capture ingest, the outbox."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import psutil
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.edge.link.outbox import OutboxDepth, timestamp
from guardian.edge.store import queue
from guardian.edge.store.tables import CameraStatus, Capture, Device

#: A device heard from within this many seconds counts as online.
DEVICE_ONLINE_S = 300.0


def camera_telemetry(row: CameraStatus) -> link_pb2.CameraTelemetry:
    """One camera's status row as the CameraTelemetry message (unknowns left unset)."""
    message = link_pb2.CameraTelemetry(
        name=row.name,
        state=row.state,
        decoder=row.decoder or "",
        codec=row.codec or "",
        width=row.width or 0,
        height=row.height or 0,
        last_error=row.last_error or "",
        reconnects=row.reconnects or 0,
        recording=row.recording or "",
        storage_bytes=row.storage_bytes or 0,
    )
    for name in ("input_fps", "detect_fps", "skipped_by_motion", "detector_latency_ms"):
        value = getattr(row, name)
        if value is not None:
            setattr(message, name, float(value))
    if row.last_frame_at is not None:
        message.last_frame_at.CopyFrom(timestamp(row.last_frame_at))
    return message


def cameras(session: Session) -> list[link_pb2.CameraTelemetry]:
    """Every camera's latest status, by name."""
    rows = session.scalars(select(CameraStatus).order_by(CameraStatus.name)).all()
    return [camera_telemetry(r) for r in rows]


def ingest_metrics(
    session: Session, since: dt.datetime, now: dt.datetime
) -> link_pb2.IngestMetrics:
    """Capture-ingest counters from the edge's store; captures counted from ``since``."""
    online_after = now - dt.timedelta(seconds=DEVICE_ONLINE_S)
    devices, online = session.execute(
        select(
            func.count(Device.id),
            func.count(Device.id).filter(Device.last_seen_at >= online_after),
        ).where(Device.revoked_at.is_(None))
    ).one()
    received, processed = session.execute(
        select(
            func.count(Capture.id),
            func.count(Capture.id).filter(Capture.status == "processed"),
        ).where(Capture.received_at >= since)
    ).one()
    jobs = queue.depth(session)
    return link_pb2.IngestMetrics(
        devices=int(devices or 0),
        devices_online=int(online or 0),
        captures_received=int(received or 0),
        captures_processed=int(processed or 0),
        jobs_queued=jobs.get("queued", 0),
        jobs_dead=jobs.get("dead", 0),
    )


def _temperature() -> float | None:
    reader = getattr(psutil, "sensors_temperatures", None)
    if reader is None:
        return None
    try:
        sensors = reader()
    except (OSError, RuntimeError):
        return None
    readings = [t.current for entries in sensors.values() for t in entries if t.current]
    return max(readings) if readings else None


def box_metrics(data_dir: Path, process_started: float) -> link_pb2.BoxMetrics:
    """CPU, memory, disk of the data volume, temperature, uptime and load of this box."""
    memory = psutil.virtual_memory()
    disk = shutil.disk_usage(data_dir)
    metrics = link_pb2.BoxMetrics(
        cpu_percent=psutil.cpu_percent(interval=None),
        memory_used_bytes=int(memory.total - memory.available),
        memory_total_bytes=int(memory.total),
        disk_used_bytes=int(disk.used),
        disk_total_bytes=int(disk.total),
        uptime_s=max(0, int(time.time() - process_started)),
        load_1m=os.getloadavg()[0],
    )
    temperature = _temperature()
    if temperature is not None:
        metrics.temperature_c = temperature
    return metrics


def sample(
    session: Session,
    data_dir: Path,
    process_started: float,
    outbox: OutboxDepth,
    now: dt.datetime,
) -> link_pb2.Telemetry:
    """One Telemetry message taken at ``now``."""
    started = dt.datetime.fromtimestamp(process_started, dt.UTC)
    return link_pb2.Telemetry(
        sent_at=timestamp(now),
        box=box_metrics(data_dir, process_started),
        ingest=ingest_metrics(session, started, now),
        outbox_depth=outbox.rows,
        outbox_oldest_age_s=outbox.oldest_age_s(now),
        cameras=cameras(session),
    )
