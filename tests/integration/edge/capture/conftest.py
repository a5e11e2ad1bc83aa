"""Fixtures for the capture worker tests: the real SSD detector and edge contexts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from guardian.edge.config import EdgeSettings
from guardian.edge.context import EdgeContext, build_context
from guardian.edge.detect.config import DetectorSettings
from guardian.edge.detect.detector import Detector
from guardian.edge.detect.errors import ModelNotFoundError
from guardian.edge.detect.loader import load_detector
from guardian.edge.detect.models.store import default_models_dir
from tests.edge_fixtures import EdgeDb
from tests.integration.edge.capture.procs import WorkerProcs

SSD = "ssd-mobilenetv2-oidv4"
MakeContext = Callable[..., EdgeContext]


@pytest.fixture(scope="session")
def ssd_settings() -> DetectorSettings:
    """Detector settings for the real SSD model; skips (fails under CI) if not fetched."""
    settings = DetectorSettings(model=SSD, models_dir=default_models_dir())
    try:
        load_detector(settings)
    except ModelNotFoundError as exc:
        pytest.skip(f"{exc} (make models, or set GUARDIAN_MODELS_DIR)")
    return settings


@pytest.fixture(scope="session")
def ssd(ssd_settings: DetectorSettings) -> Detector:
    return load_detector(ssd_settings)


def with_sections(settings: EdgeSettings, **sections: dict[str, Any]) -> EdgeSettings:
    """``settings`` with some fields of nested sections replaced, e.g. ``queue={...}``."""
    update = {name: getattr(settings, name).model_copy(update=v) for name, v in sections.items()}
    return settings.model_copy(update=update)


@pytest.fixture
def make_ctx(edge_db: EdgeDb) -> Iterator[MakeContext]:
    """Build an ``EdgeContext`` on the test database, with section overrides."""
    made: list[EdgeContext] = []

    def make(**sections: dict[str, Any]) -> EdgeContext:
        ctx = build_context(with_sections(edge_db.settings, **sections))
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.engine.dispose()


@pytest.fixture
def worker_procs() -> Iterator[WorkerProcs]:
    """Starts ``python -m guardian.edge.capture.worker`` processes; kills leftovers."""
    procs = WorkerProcs()
    yield procs
    procs.kill_all()
