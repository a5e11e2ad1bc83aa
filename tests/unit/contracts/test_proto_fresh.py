"""The committed protobuf/gRPC stubs are exactly what scripts/gen-proto makes of proto/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "gen-proto"
COMMITTED = ROOT / "src" / "guardian" / "contracts" / "pb"


def _generate(out: Path, proto_dir: Path | None = None) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    if proto_dir is not None:
        env["PROTO_DIR"] = str(proto_dir)
    subprocess.run(
        ["bash", str(SCRIPT), str(out)], check=True, env=env, capture_output=True, timeout=60
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _stale(generated: dict[str, bytes], committed: dict[str, bytes]) -> list[str]:
    names = sorted(generated.keys() | committed.keys())
    return [name for name in names if generated.get(name) != committed.get(name)]


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    _generate(tmp_path / "pb")

    stale = _stale(_tree(tmp_path / "pb"), _tree(COMMITTED))

    assert not stale, f"stale stubs {stale}: run scripts/gen-proto and commit the result"


def test_generation_is_deterministic(tmp_path: Path) -> None:
    _generate(tmp_path / "a")
    _generate(tmp_path / "b")

    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_an_edited_proto_without_regeneration_is_detected(tmp_path: Path) -> None:
    protos = tmp_path / "proto"
    shutil.copytree(ROOT / "proto", protos)
    link = protos / "guardian" / "v1" / "link.proto"
    link.write_text(
        link.read_text().replace(
            "  string hostname = 4;\n", "  string hostname = 4;\n  string serial = 5;\n"
        )
    )

    _generate(tmp_path / "pb", proto_dir=protos)

    stale = _stale(_tree(tmp_path / "pb"), _tree(COMMITTED))
    assert "guardian/v1/link_pb2.py" in stale
    assert "guardian/v1/link_pb2.pyi" in stale
    assert "guardian/v1/control_pb2.py" not in stale


def test_generated_modules_import_from_the_package_path(tmp_path: Path) -> None:
    for name, data in _tree(COMMITTED).items():
        text = data.decode()
        assert "from guardian.v1 import" not in text, name
        assert "import guardian.v1." not in text, name
