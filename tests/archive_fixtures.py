"""Archive test helpers: an edge enrolled at an in-process relay, events with clips."""

from __future__ import annotations

import datetime as dt
import gc
import uuid
import warnings
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from guardian.edge.link.enroll import LinkInfo, link_dir
from guardian.edge.link.identity import EdgeIdentityFiles
from guardian.edge.store.tables import Event, EventMedia
from guardian.relay.link_server import LinkServer
from guardian.relay.pki import CertificateAuthority


def enroll_edge(
    ca: CertificateAuthority, data_dir: Path, relay: str, *, site_id: str, tenant_id: str
) -> Path:
    """Give the edge in ``data_dir`` a link identity issued by ``ca``; its link folder."""
    directory = link_dir(data_dir)
    files = EdgeIdentityFiles(directory)
    issued = ca.issue_client_certificate(files.create_csr(), site_id=site_id, tenant_id=tenant_id)
    files.store(issued.cert_pem, ca.cert_pem)
    LinkInfo(relay, site_id, tenant_id, "relay-test").save(directory)
    return directory


def add_clip_event(
    sessions: sessionmaker[Session],
    media_dir: Path,
    clip: bytes,
    *,
    camera: str = "door",
    event_type: str = "interaction_detected",
    zones: tuple[str, ...] = ("shelf",),
    state: str = "present",
) -> str:
    """An ended camera event with a clip file of ``clip``; its id."""
    event_id = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    rel = f"clips/{camera}/{event_id}.mp4"
    path = media_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(clip)
    with sessions.begin() as session:
        session.add(
            Event(
                id=event_id,
                type=event_type,
                source_kind="camera",
                source_id=camera,
                started_at=now - dt.timedelta(seconds=10),
                ended_at=now,
                person_count=1,
                best_score=0.8,
                details={
                    "camera": camera,
                    "zones": list(zones),
                    "zone": zones[0] if zones else None,
                },
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
        session.add(
            EventMedia(
                event_id=event_id,
                kind="clip",
                camera=camera,
                state=state,
                path=rel,
                content_type="video/mp4",
                size_bytes=len(clip),
                created_at=now,
                updated_at=now,
            )
        )
    return event_id


def stop_link(server: LinkServer) -> None:
    """Stop a relay link server, collecting the sockets its TLS front leaves behind.

    ``TlsFront.stop`` cancels the relays of connections still open and ends its event loop
    before their transports have closed; the sockets are then garbage whose
    ResourceWarning would fail whichever test runs when they are collected. (Reported to
    the link's owner; the archive's behaviour does not depend on it.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        server.stop(grace=0)
        gc.collect()
