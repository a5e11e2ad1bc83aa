"""The edge's collaborators, built once in ``main`` and handed to the app and workers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from guardian.common.db import session_factory
from guardian.common.seal import Sealer, load_or_create_master_key
from guardian.edge.config import EdgeSettings
from guardian.edge.metrics import EdgeMetrics
from guardian.edge.store.schema import open_store


@dataclass
class EdgeContext:
    """Everything a request handler or worker of the edge needs."""

    settings: EdgeSettings
    engine: Engine
    sessions: sessionmaker[Session]
    sealer: Sealer
    metrics: EdgeMetrics = field(default_factory=lambda: EdgeMetrics(CollectorRegistry()))
    clock: Callable[[], float] = time.time
    # Set by the running camera manager: the shared detector's queue length (None: no cameras).
    detector_queue: Callable[[], int | None] = lambda: None


def build_context(settings: EdgeSettings, *, migrate: bool = True) -> EdgeContext:
    """Open (and migrate) the store, load the master key, prepare the media folder."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    engine = open_store(settings.resolved_database_url(), migrate=migrate)
    sealer = Sealer(load_or_create_master_key(settings.master_key_path))
    return EdgeContext(settings, engine, session_factory(engine), sealer)
