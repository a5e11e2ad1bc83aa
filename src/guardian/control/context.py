"""The control plane's collaborators, built once and handed to the app and the CLI."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from guardian.common.seal import Sealer, load_or_create_master_key
from guardian.control.config import ControlSettings
from guardian.control.db import Database
from guardian.control.store.schema import open_store


@dataclass
class ControlContext:
    """Everything a request handler of the control plane needs.

    ``services`` holds long-lived helpers the feature modules attach at app start (token
    verifier, key ring, live-update hub, rate limiters), keyed by name.
    """

    settings: ControlSettings
    db: Database
    sealer: Sealer
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    clock: Callable[[], float] = time.time
    services: dict[str, Any] = field(default_factory=dict)


def build_context(settings: ControlSettings, *, migrate: bool = True) -> ControlContext:
    """Open (and migrate) the store and load the master key."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = open_store(
        settings.resolved_database_url(), migrate=migrate, app_role=settings.app_role
    )
    sealer = Sealer(load_or_create_master_key(settings.master_key_path))
    return ControlContext(settings, Database(engine, settings.app_role), sealer)
