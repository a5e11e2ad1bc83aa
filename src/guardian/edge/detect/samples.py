"""Sample photos that installed packages carry (used by ``make demo`` and tests)."""

from __future__ import annotations

from pathlib import Path


def sample_images() -> list[Path]:
    """Paths of sample photos bundled with scikit-image and matplotlib, when installed."""
    found: list[Path] = []
    try:
        import skimage

        data = Path(skimage.__file__).parent / "data"
        found += [data / n for n in ("astronaut.png", "coffee.png") if (data / n).is_file()]
    except ImportError:
        pass
    try:
        import matplotlib

        mpl = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        if mpl.is_file():
            found.append(mpl)
    except ImportError:
        pass
    return found
