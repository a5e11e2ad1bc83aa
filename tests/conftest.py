"""Suite-wide pytest wiring: PostgreSQL fixtures and the CI rule that strict tiers never skip."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.pg",
    "tests.edge_fixtures",
    "tests.control_fixtures",
    "tests.relay_fixtures",
    "tests.rtsp_fixtures",
    "pytester",
]

# Directories (relative to the rootdir) whose skips count as failures under CI.
STRICT_TIERS = (("tests", "integration"), ("tests", "e2e"))


def _in_strict_tier(path: Path, rootpath: Path) -> bool:
    try:
        parts = path.resolve().relative_to(rootpath.resolve()).parts
    except ValueError:
        return False
    return parts[:2] in STRICT_TIERS


def is_ci() -> bool:
    """Whether the CI skip-is-failure rule applies (delegates to tests.pg, the single source)."""
    # Imported late: importing tests.pg before pytest loads it via pytest_plugins would stop
    # assertion rewriting for it and raise PytestAssertRewriteWarning (an error here).
    from tests.pg import is_ci as _is_ci

    return _is_ci()


def _skip_reason(longrepr: object) -> str:
    # Skip reports carry (path, lineno, message); keep the message and where it came from.
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        path, lineno, message = longrepr
        return f"{message} ({path}:{lineno})"
    return str(longrepr)


def _ci_failure_text(longrepr: object) -> str:
    return "skipped under CI=true, but integration/e2e tests must run in CI: " + _skip_reason(
        longrepr
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under CI, turn a skipped integration/e2e test into a failure that names the reason."""
    report = yield
    if (
        report.skipped
        and not hasattr(report, "wasxfail")  # xfail is reported as skipped; it is deliberate
        and is_ci()
        and _in_strict_tier(item.path, item.config.rootpath)
    ):
        report.outcome = "failed"
        report.longrepr = _ci_failure_text(report.longrepr)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Same rule for whole modules skipped at import (``allow_module_level``/``importorskip``)."""
    report = yield
    if report.skipped and is_ci() and _in_strict_tier(collector.path, collector.config.rootpath):
        report.outcome = "failed"
        report.longrepr = _ci_failure_text(report.longrepr)
    return report
