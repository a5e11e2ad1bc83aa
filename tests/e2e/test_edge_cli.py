"""``guardian edge`` commands honour the edge's own logging settings."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.cli import run_cli


def _levels(stderr: str) -> set[str]:
    return {json.loads(line)["level"] for line in stderr.splitlines() if line.startswith("{")}


def test_edge_log_level_overrides_the_cli_wide_level(tmp_path: Path) -> None:
    args = ("edge", "db", "upgrade", "--data-dir", str(tmp_path / "edge"))
    quiet = run_cli(*args)
    assert quiet.returncode == 0, quiet.stderr
    assert "DEBUG" not in _levels(quiet.stderr)
    loud = run_cli(*args, env={"GUARDIAN_EDGE_LOG_LEVEL": "debug"})
    assert loud.returncode == 0, loud.stderr
    assert "DEBUG" in _levels(loud.stderr)
