"""Fixtures for tests that run the real, fetched models on real photos."""

from __future__ import annotations

import pytest

from guardian.edge.detect.config import DetectorSettings
from guardian.edge.detect.detector import Detector
from guardian.edge.detect.errors import ModelNotFoundError
from guardian.edge.detect.loader import load_detector
from guardian.edge.detect.models.store import ModelStore, default_models_dir
from tests.media import image_path

_cache: dict[tuple[str, str], Detector] = {}


@pytest.fixture(scope="session")
def models_store() -> ModelStore:
    return ModelStore(default_models_dir())


def get_detector(model: str, runtime: str) -> Detector:
    """A loaded detector, shared across tests; skip (a failure under CI) if not fetched."""
    key = (model, runtime)
    if key not in _cache:
        try:
            _cache[key] = load_detector(DetectorSettings(), model, runtime)
        except ModelNotFoundError as exc:
            pytest.skip(f"{exc} (make models)")
    return _cache[key]


def require_image(name: str) -> None:
    if not image_path(name).is_file():
        pytest.skip(f"test photo {image_path(name)} is missing; run scripts/fetch-test-media")
