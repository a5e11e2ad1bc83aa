"""The Guardian wheel a seed image carries: one given, or one built from this checkout."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from guardian.appliance.options import SeedError

logger = logging.getLogger(__name__)


def check_wheel(path: Path) -> None:
    """Raise :class:`SeedError` unless ``path`` is a Guardian wheel (a zip with the package)."""
    if not path.name.startswith("guardian-") or path.suffix != ".whl":
        raise SeedError(f"--wheel must be a guardian-*.whl file, got {path.name!r}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise SeedError(f"--wheel {path}: not a readable wheel ({exc})") from exc
    if "guardian/__init__.py" not in names:
        raise SeedError(f"--wheel {path}: the wheel holds no guardian package")


def source_tree() -> Path | None:
    """The checkout this Guardian runs from (editable install), or None for an installed one."""
    import guardian

    root = Path(guardian.__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "guardian"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def build_wheel(root: Path, out_dir: Path) -> Path:
    """Build the wheel of the checkout at ``root`` into ``out_dir`` (a copy is built, so the
    checkout's build/ folder is left alone)."""
    with tempfile.TemporaryDirectory(prefix="guardian-wheel-") as tmp:
        work = Path(tmp) / "src-copy"
        work.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(root / name, work / name)
        shutil.copytree(
            root / "src",
            work / "src",
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
        )
        command = [
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
            "--no-build-isolation", "--wheel-dir", str(out_dir), str(work),
        ]  # fmt: skip
        logger.info("building the Guardian wheel", extra={"source": str(root)})
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SeedError(f"building the Guardian wheel failed:\n{done.stderr.strip()}")
    wheels = sorted(out_dir.glob("guardian-*.whl"))
    if not wheels:
        raise SeedError("building the Guardian wheel produced no guardian-*.whl")
    return wheels[-1]
