"""`guardian control user …` in subprocesses, as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PASSWORD = "correct horse battery staple"


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GUARDIAN_LOG_FORMAT": "json"}
    env.pop("GUARDIAN_CONTROL_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "guardian", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_user_create_list_disable_and_the_error_exits(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "control"))
    made = _cli("control", "tenant", "create", "Shop", *data, "--json")
    assert made.returncode == 0, made.stderr
    tenant = json.loads(made.stdout)["tenant_id"]

    create = ("control", "user", "create", "Ops@Example.com", "--tenant", tenant)
    ok = _cli(
        *create, "--role", "admin", "--password-stdin", "--json", *data, stdin=PASSWORD + "\n"
    )
    assert ok.returncode == 0, ok.stderr
    user_id = json.loads(ok.stdout)["user_id"]
    assert PASSWORD not in ok.stdout + ok.stderr

    listed = _cli("control", "user", "list", "--tenant", tenant, "--json", *data)
    assert json.loads(listed.stdout)["users"] == [
        {"id": user_id, "email": "ops@example.com", "role": "admin", "disabled": False}
    ]

    weak = _cli(
        *create[:3], "b@example.com", "--tenant", tenant, "--password-stdin", *data, stdin="short\n"
    )
    assert weak.returncode == 2 and "at least" in weak.stderr
    empty = _cli(
        *create[:3], "b@example.com", "--tenant", tenant, "--password-stdin", *data, stdin=""
    )
    assert empty.returncode == 2 and "empty" in empty.stderr
    bad_role = _cli(*create, "--role", "owner", *data)
    assert bad_role.returncode == 2
    unknown = _cli(
        "control", "user", "create", "c@example.com", "--tenant", "no-such-tenant",
        "--password-stdin", *data, stdin=PASSWORD,
    )  # fmt: skip
    assert unknown.returncode == 1 and "no such tenant" in unknown.stderr
    duplicate = _cli(*create, "--role", "viewer", *data)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr

    last_admin = _cli("control", "user", "disable", "ops@example.com", *data)
    assert last_admin.returncode == 1 and "admin" in last_admin.stderr
    viewer = _cli(
        "control", "user", "create", "v@example.com", "--tenant", tenant, "--role", "viewer",
        "--json", *data,
    )  # fmt: skip
    viewer_id = json.loads(viewer.stdout)["user_id"]
    disabled = _cli("control", "user", "disable", viewer_id, "--json", *data)
    assert json.loads(disabled.stdout) == {"user_id": viewer_id, "disabled": True}
    listed = _cli("control", "user", "list", "--tenant", tenant, "--json", *data)
    assert [u["disabled"] for u in json.loads(listed.stdout)["users"]] == [False, True]
