"""scripts/pip-audit-check: fails on a vulnerability, tells (and passes) when the advisory
data cannot be reached. pip-audit is replaced by small stand-ins that answer as it does in
each case, since the real one cannot be made to meet a vulnerability or a dead network here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "pip-audit-check"


def _dep(name: str, vulns: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {"name": name, "version": "1.0", "vulns": vulns or []}


def _missing(name: str) -> dict[str, object]:
    return {"name": name, "skip_reason": f"Dependency not found on PyPI and could not be "
            f"audited: {name} (1.0)"}  # fmt: skip


def _run(tmp_path: Path, body: str, timeout: str = "30") -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pip-audit"
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "VENV_BIN": str(bin_dir), "PIP_AUDIT_TIMEOUT": timeout}
    return subprocess.run(
        [str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _report(*deps: dict[str, object]) -> str:
    return "cat <<'JSON'\n" + json.dumps({"dependencies": list(deps), "fixes": []}) + "\nJSON"


def test_a_known_vulnerability_fails_and_is_named(tmp_path: Path) -> None:
    vuln: dict[str, object] = {"id": "PYSEC-2024-1", "fix_versions": ["1.1"], "aliases": []}
    done = _run(tmp_path, _report(_dep("ok"), _dep("jinja2", [vuln])) + "\nexit 1")
    assert done.returncode == 1
    assert "jinja2 1.0: PYSEC-2024-1 (fixed in: 1.1)" in done.stdout


def test_a_clean_audit_passes(tmp_path: Path) -> None:
    done = _run(tmp_path, _report(_dep("a"), _dep("b"), _missing("private-pkg")))
    assert done.returncode == 0
    assert "no known vulnerabilities in 2 audited packages" in done.stdout


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (_report(_dep("a"), _missing("b"), _missing("c")), "2 of 3 packages"),
        (
            "echo 'requests.exceptions.ConnectionError: Max retries exceeded' >&2; exit 1",
            "not reachable",
        ),
        ("exec sleep 20", "no answer"),
    ],
    ids=["index-without-advisories", "connection-error", "timeout"],
)
def test_unreachable_advisory_data_is_a_notice_not_a_failure(
    tmp_path: Path, body: str, why: str
) -> None:
    done = _run(tmp_path, body, timeout="2")
    assert done.returncode == 0, done.stderr
    assert "NOTICE" in done.stderr and why in done.stderr


def test_another_pip_audit_failure_is_reported(tmp_path: Path) -> None:
    done = _run(tmp_path, "echo 'usage: pip-audit: bad flag' >&2; exit 2")
    assert done.returncode == 2
    assert "bad flag" in done.stderr
