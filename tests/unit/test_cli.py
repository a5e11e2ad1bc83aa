"""The ``guardian`` entry point imports only the command group it runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
sys.argv = ["guardian", *sys.argv[1:]]
from guardian.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted(m for m in sys.modules if m.endswith(".cli") and m.startswith("guardian."))
sys.stderr.write(json.dumps({"code": code, "loaded": loaded}) + "\\n")
"""


def _run(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    result: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("args", "module"),
    [
        (("control", "--help"), "guardian.control.cli"),
        (("relay", "--help"), "guardian.relay.cli"),
        (("demo", "--help"), "guardian.demo.cli"),
    ],
)
def test_a_command_imports_only_its_group(args: tuple[str, ...], module: str) -> None:
    result = _run(*args)
    assert result["code"] == 0
    loaded = result["loaded"]
    assert isinstance(loaded, list)
    assert module in loaded
    assert "guardian.edge.cli" not in loaded or module == "guardian.edge.cli"


def test_help_and_unknown_commands_see_every_group() -> None:
    result = _run("--help")
    assert result["code"] == 0
    assert {"guardian.edge.cli", "guardian.control.cli", "guardian.relay.cli"} <= set(
        result["loaded"]  # type: ignore[call-overload]
    )
    assert _run("no-such-command")["code"] == 2


def test_the_module_attribute_is_the_whole_tree() -> None:
    from guardian.cli import app

    names = {group.name for group in app.registered_groups}
    names |= {command.name for command in app.registered_commands}
    assert {"edge", "control", "relay", "device", "demo", "archive", "bench"} <= names
