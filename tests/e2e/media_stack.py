"""Media on a running ``LinkStack``: clips and snapshots at the edge, playback configured.

``enable_playback`` (before the relay starts) points the relay at the control plane's JWKS
and sets the relay's public URL; ``put_media`` stores files for an event the way the edge's
camera pipeline does (a ``present`` ``event_media`` row with a path under the media folder);
``control_signer`` signs tokens with the control plane's own key (to forge expired ones).
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine

from guardian.common.db import session_factory
from guardian.common.seal import Sealer, load_or_create_master_key
from guardian.control.auth.keys import KeyRing
from guardian.control.db import Database
from guardian.edge.store.tables import EventMedia
from tests.e2e.link_harness import LinkStack
from tests.pg import sqlalchemy_url

CONTENT_TYPES = {"clip": "video/mp4", "snapshot": "image/jpeg"}


def enable_playback(stack: LinkStack, *, cache_seconds: float = 0.0) -> None:
    """Relay settings and public URL for playback (after ``setup()``, before the relay starts)."""
    stack.relay_service.env.update(
        {
            "GUARDIAN_RELAY_MEDIA__JWKS_URL": f"{stack.control_url}/.well-known/jwks.json",
            "GUARDIAN_RELAY_MEDIA__CACHE_SECONDS": str(cache_seconds),
            "GUARDIAN_RELAY_MEDIA__FIRST_BYTE_SECONDS": "5",
        }
    )
    with psycopg.connect(stack.control_db_url) as conn:
        conn.execute("UPDATE relays SET public_url = %s WHERE name = 'r1'", (stack.relay_url,))


def put_media(stack: LinkStack, event_id: str, kind: str, source: Path) -> Path:
    """Copy ``source`` into the edge's media folder as the event's ``kind``; the copy's path."""
    rel = Path(kind) / f"{event_id}{source.suffix}"
    target = stack.edge_dir / "media" / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    now = dt.datetime.now(dt.UTC)
    with session_factory(stack.edge_events.engine).begin() as session:
        session.merge(
            EventMedia(
                event_id=event_id, kind=kind, camera="front", state="present", path=str(rel),
                content_type=CONTENT_TYPES[kind], size_bytes=target.stat().st_size, meta={},
                attempts=0, created_at=now, updated_at=now,
                expires_at=now + dt.timedelta(days=1),
            )
        )  # fmt: skip
    return target


def control_signer(stack: LinkStack) -> Callable[[], tuple[str, rsa.RSAPrivateKey]]:
    """A function returning the control plane's active ``(kid, private key)``."""
    sealer = Sealer(load_or_create_master_key(stack.control_dir / "master.key"))
    url = sqlalchemy_url(stack.control_db_url)

    def active() -> tuple[str, rsa.RSAPrivateKey]:
        engine = create_engine(url)
        try:
            ring = KeyRing(Database(engine), sealer, grace_seconds=60, clock=time.time)
            key = ring.active()
            return key.kid, key.private_key
        finally:
            engine.dispose()

    return active
