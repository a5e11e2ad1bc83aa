"""deploy/grafana: every metric the dashboard queries is one the services really expose."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "guardian.json"
# PromQL words the dashboard may use besides metric names.
PROMQL = {
    "sum", "min", "max", "avg", "count", "rate", "increase", "histogram_quantile", "vector",
    "by", "without", "or", "and", "unless", "on", "ignoring",
}  # fmt: skip


def _sample_names(registries: Iterable[CollectorRegistry]) -> set[str]:
    """The series names a scrape can show, from each family's name and type (also families
    that have no samples yet, such as per-camera gauges without cameras)."""
    names: set[str] = set()
    for registry in registries:
        for family in registry.collect():
            if family.type == "counter":
                names |= {f"{family.name}_total", f"{family.name}_created"}
            elif family.type == "histogram":
                names |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count", "created")}
            else:
                names.add(family.name)
    return names


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    from guardian.control.app import create_app
    from guardian.control.config import ControlSettings
    from guardian.control.context import build_context as build_control
    from guardian.edge.api.ops import ensure_watching
    from guardian.edge.camera.metrics import watch_cameras
    from guardian.edge.config import EdgeSettings
    from guardian.edge.context import build_context as build_edge
    from guardian.relay.context import RelayMetrics

    root = tmp_path_factory.mktemp("metrics")
    edge = build_edge(EdgeSettings(data_dir=root / "edge"))
    edge.settings.media_dir.mkdir(parents=True, exist_ok=True)
    ensure_watching(edge)
    watch_cameras(edge, lambda: None, None)
    control = build_control(ControlSettings(data_dir=root / "control"))
    create_app(control)
    try:
        return _sample_names([edge.metrics.registry, RelayMetrics().registry, control.registry])
    finally:
        edge.engine.dispose()
        control.db.dispose()


def _metric_names(expr: str) -> set[str]:
    stripped = re.sub(r'"[^"]*"', "", expr)  # label values
    stripped = re.sub(r"\{[^}]*\}", "", stripped)  # label matchers
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)  # ranges
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", stripped)  # grouping
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", stripped))
    return words - PROMQL


def _targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for p in dashboard["panels"] for t in p.get("targets", [])]


def test_every_queried_metric_exists_in_the_services_registries(exposed: set[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    used = {name for t in _targets(dashboard) for name in _metric_names(t["expr"])}
    assert used, "the dashboard queries nothing"
    assert sorted(used - exposed) == []
    # The subjects: disk, ingest, queue depth, cameras, link health (edge and relay).
    for needed in (
        "guardian_disk_free_bytes", "guardian_ingest_total", "guardian_queue_depth",
        "guardian_camera_up", "guardian_outbox_depth", "guardian_relay_edges_connected",
    ):  # fmt: skip
        assert needed in used, needed


def test_the_check_would_catch_a_misspelt_metric(exposed: set[str]) -> None:
    assert _metric_names('rate(guardian_ingest_totals{result="x"}[5m])') - exposed == {
        "guardian_ingest_totals"
    }
    assert _metric_names("sum by (state) (guardian_queue_depth)") <= exposed


def test_dashboard_is_well_formed_and_uses_the_provisioned_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    sources = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/guardian.yaml").read_text()
    )
    uid = sources["datasources"][0]["uid"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid and panel["targets"]
    assert {t["datasource"]["uid"] for t in _targets(dashboard)} == {uid}
    providers = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/guardian.yaml").read_text()
    )
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/guardian"
