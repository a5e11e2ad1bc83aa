"""Test helpers: devices, capture files in the canonical layout, capture rows and their jobs."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy.orm import Session

from guardian.common.db import utcnow
from guardian.edge.config import EdgeSettings
from guardian.edge.store.jobs import KIND_DETECT_CAPTURE, enqueue
from guardian.edge.store.tables import Capture, Device
from tests.media import load_image

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


@cache
def image_bytes(name: str, size: tuple[int, int] | None = None) -> bytes:
    """A named test photo as JPEG bytes, resized to ``size`` (w, h) when given."""
    img = Image.fromarray(np.asarray(load_image(name)))
    if size is not None:
        img = img.resize(size)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


def add_device(session: Session, device_id: str) -> None:
    """A registered device (its key is irrelevant to the worker)."""
    session.add(
        Device(id=device_id, key_sealed=b"sealed", key_fingerprint="0" * 16, created_at=utcnow())
    )
    session.flush()  # captures reference it; no ORM relationship orders the inserts


def capture_file(settings: EdgeSettings, device_id: str, capture_id: str, at: dt.datetime) -> Path:
    """The canonical path ``<media>/captures/<device>/<YYYY>/<MM>/<DD>/<id>.jpg``."""
    return (
        settings.media_dir
        / "captures"
        / device_id
        / f"{at:%Y}"
        / f"{at:%m}"
        / f"{at:%d}"
        / f"{capture_id}.jpg"
    )


@dataclass(frozen=True)
class Seeded:
    """A capture written by ``add_capture``."""

    capture_id: str
    path: Path


def add_capture(
    session: Session,
    settings: EdgeSettings,
    device_id: str,
    image: str,
    *,
    seq: int,
    seconds: float = 0.0,
    size: tuple[int, int] | None = None,
) -> Seeded:
    """Write the photo's file and add its capture row and ``detect_capture`` job."""
    data = image_bytes(image, size)
    width, height = Image.open(io.BytesIO(data)).size
    at = T0 + dt.timedelta(seconds=seconds)
    capture_id = str(uuid.uuid4())
    path = capture_file(settings, device_id, capture_id, at)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    session.add(
        Capture(
            id=capture_id,
            device_id=device_id,
            device_seq=seq,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            content_type="image/jpeg",
            width=width,
            height=height,
            captured_at=at,
            received_at=utcnow(),
            storage_uri=path.as_uri(),
            status="stored",
            file_state="present",
        )
    )
    enqueue(
        session,
        KIND_DETECT_CAPTURE,
        capture_id,
        fair_key=device_id,
        max_attempts=settings.queue.max_attempts,
    )
    return Seeded(capture_id, path)
