"""Write and read cloud-init NoCloud seed images (ISO 9660, volume label ``cidata``)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pycdlib

VOLUME_LABEL = "cidata"


def _iso_name(name: str) -> str:
    # ISO 9660 names: upper case [A-Z0-9_], 8.3 with a version; Rock Ridge and Joliet carry
    # the real names cloud-init looks for.
    stem, _, ext = name.upper().rpartition(".") if "." in name else (name.upper(), "", "")
    return f"{_d_chars(stem)[:8]}.{_d_chars(ext)[:3]};1"


def _d_chars(text: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", text.upper())


def write_seed(path: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` ({"user-data": …, "guardian/x.whl": …}; one folder level at most)
    into a new seed image at ``path`` (mode 0600: it carries a bootstrap token)."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=VOLUME_LABEL)
    made: set[str] = set()
    try:
        for name, data in files.items():
            folder, _, leaf = name.rpartition("/")
            if "/" in folder or not leaf:
                raise ValueError(f"seed files sit at the top or one folder down, not {name!r}")
            iso_dir = ""
            if folder:
                iso_dir = "/" + _d_chars(folder)[:8]
                if folder not in made:
                    iso.add_directory(iso_dir, rr_name=folder, joliet_path="/" + folder)
                    made.add(folder)
            iso.add_fp(
                io.BytesIO(data),
                len(data),
                f"{iso_dir}/{_iso_name(leaf)}",
                rr_name=leaf,
                joliet_path="/" + name,
            )
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                iso.write_fp(out)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    finally:
        iso.close()


def read_seed(path: Path) -> tuple[str, dict[str, bytes]]:
    """(volume label, {Joliet path without the leading slash: bytes}) of a seed image."""
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        label = iso.pvd.volume_identifier.decode().strip()
        files: dict[str, bytes] = {}
        for root, _dirs, names in iso.walk(joliet_path="/"):
            for name in names:
                full = f"{root.rstrip('/')}/{name}"
                buf = io.BytesIO()
                iso.get_file_from_iso_fp(buf, joliet_path=full)
                files[full.lstrip("/")] = buf.getvalue()
        return label, files
    finally:
        iso.close()
