"""Seed images: what is written is read back byte for byte, under the names cloud-init wants."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pycdlib
import pytest
from typer.testing import CliRunner

from guardian.appliance import units
from guardian.appliance.iso import VOLUME_LABEL, read_seed, write_seed
from guardian.appliance.options import SeedError
from guardian.appliance.wheel import check_wheel
from guardian.cli import app


def test_files_round_trip_with_their_real_names_and_the_cidata_label(tmp_path: Path) -> None:
    files = {
        "user-data": b"#cloud-config\n{}\n",
        "meta-data": b"instance-id: x\n",
        "guardian/guardian-0.1.0-py3-none-any.whl": bytes(range(256)) * 1000,
    }
    out = tmp_path / "seed.iso"
    write_seed(out, files)
    assert out.stat().st_mode & 0o777 == 0o600
    label, read = read_seed(out)
    assert label == VOLUME_LABEL == "cidata"
    assert read == files
    # Rock Ridge names too (what Linux shows when it mounts the image).
    iso = pycdlib.PyCdlib()
    iso.open(str(out))
    try:
        names = {
            iso.get_record(iso_path=f"/{r.file_identifier().decode()}").rock_ridge.name().decode()
            for r in iso.list_children(iso_path="/")
            if r.file_identifier() not in (b"\x00", b"\x01") and not r.is_dir()
        }
    finally:
        iso.close()
    assert names == {"user-data", "meta-data"}


def test_a_failed_write_leaves_the_previous_image(tmp_path: Path) -> None:
    out = tmp_path / "seed.iso"
    out.write_bytes(b"previous")
    with pytest.raises(ValueError, match="one folder down"):
        write_seed(out, {"user-data": b"x", "a/b/c": b"too deep"})
    assert out.read_bytes() == b"previous"


def test_check_wheel_wants_a_zip_with_the_guardian_package(tmp_path: Path) -> None:
    good = tmp_path / "guardian-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("guardian/__init__.py", "")
    check_wheel(good)
    other = tmp_path / "guardian-0.2.0-py3-none-any.whl"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("something/__init__.py", "")
    with pytest.raises(SeedError, match="no guardian package"):
        check_wheel(other)
    broken = tmp_path / "guardian-0.3.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(SeedError, match="not a readable wheel"):
        check_wheel(broken)


def test_units_command_writes_every_file(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["appliance", "units", "--out-dir", str(tmp_path)])
    assert done.exit_code == 0, done.output
    written = {
        str(p.relative_to(tmp_path)): p.read_text() for p in tmp_path.rglob("*") if p.is_file()
    }
    assert written == units.FILES
