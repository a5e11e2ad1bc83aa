"""Real test photos from installed packages (scikit-image, matplotlib, Debian darknet)."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FIXTURES = Path(__file__).parent / "fixtures"
Image = npt.NDArray[np.uint8]


def test_media_dir() -> Path:
    """Where ``scripts/fetch-test-media`` puts the darknet photos."""
    env = os.environ.get("GUARDIAN_TEST_MEDIA_DIR")
    return Path(env) if env else Path.home() / ".cache" / "guardian" / "test-media"


def image_path(name: str) -> Path:
    """The file of a named test photo (it may be missing for darknet photos)."""
    import matplotlib
    import skimage

    skdata = Path(skimage.__file__).parent / "data"
    paths = {
        "astronaut": skdata / "astronaut.png",
        "camera": skdata / "camera.png",
        "coffee": skdata / "coffee.png",
        "chelsea": skdata / "chelsea.png",
        "grace_hopper": Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg",
        "darknet_person": test_media_dir() / "person.jpg",
        "darknet_dog": test_media_dir() / "dog.jpg",
    }
    return paths[name]


@cache
def load_image(name: str) -> Image:
    """RGB uint8 pixels of a named test photo."""
    from guardian.edge.detect.images import read_image

    return read_image(image_path(name))


@cache
def expectations() -> dict[str, Any]:
    """The hand-labelled boxes in ``tests/fixtures/detect_expectations.json``."""
    data: dict[str, Any] = json.loads((FIXTURES / "detect_expectations.json").read_text())
    return data


def vtest_path() -> Path:
    """Where ``scripts/fetch-test-media`` puts OpenCV's vtest.avi (768x576 street scene)."""
    return test_media_dir() / "vtest.avi"
