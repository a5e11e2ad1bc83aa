"""``guardian bench link`` end to end on a small load: the CLI starts the three services,
prints one JSON report with the issue's two goals, and leaves no database behind."""

from __future__ import annotations

import json
import subprocess
import sys

import psycopg
import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def bench_databases(server: str) -> set[str]:
    with psycopg.connect(server, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'guardian_bench_%'")
        return {str(r[0]) for r in rows}


def test_small_run_reports_goals_and_figures(pg_server: str) -> None:
    before = bench_databases(pg_server)
    cmd = [sys.executable, "-m", "guardian", "bench", "link", "--events", "300"]
    cmd += ["--steady-seconds", "2", "--json", "--pg-url", pg_server]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    report = json.loads(lines[0])

    assert report["bench"] == "link" and report["events"] == 300
    assert report["steady_rate_per_s"] == 100 and report["steady_events"] == 200
    assert report["events_per_s"] > 0 and report["baseline_events_per_s"] > 0
    assert report["concurrent_events_per_s"] > 0 and report["edge_commit_events_per_s"] > 0
    assert 0 < report["latency_ms_p50"] <= report["latency_ms_p99"]
    assert report["link_baseline_ratio"] == pytest.approx(
        report["events_per_s"] / report["baseline_events_per_s"], rel=0.01
    )
    goals = {g["name"]: g for g in report["goals"]}
    assert goals["events_per_s"] == {
        "name": "events_per_s", "value": report["events_per_s"], "target": 2000.0,
        "better": "higher",
    }  # fmt: skip
    assert goals["p99_latency_ms"]["value"] == report["latency_ms_p99"]
    assert goals["p99_latency_ms"]["target"] == 1000.0
    assert goals["p99_latency_ms"]["better"] == "lower"
    assert bench_databases(pg_server) == before
