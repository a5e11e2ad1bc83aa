"""``guardian bench inventory`` end to end on a small load: the CLI prints one JSON report
with the issue's two goals and the figures behind them."""

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
    cmd = [sys.executable, "-m", "guardian", "bench", "inventory", "--events", "5000"]
    cmd += ["--requests", "40", "--ingest-events", "1000", "--json", "--pg-url", pg_server]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    report = json.loads(lines[0])

    assert report["bench"] == "inventory" and report["db"] == "postgres"
    assert report["events"] == 5000 and report["tenants"] == 10
    assert report["timeline_requests"] == 40 and report["page"] == 50
    assert 0 < report["timeline_rows_mean"] <= 50  # the filters matched something
    figures = ("api_ms", "direct_ms", "direct_txn_ms")
    for key in [f"{name}_p{q}" for name in figures for q in (50, 99)] + ["healthz_ms_p50"]:
        assert report[key] > 0, key
    assert report["api_ms_p50"] <= report["api_ms_p99"]
    assert report["direct_ms_p50"] < report["direct_txn_ms_p50"]  # the SELECT is part of it
    assert report["ingest_statuses"] == {"created": 1000}
    assert report["ingest_events_per_s"] > 0

    goals = {g["name"]: g for g in report["goals"]}
    assert set(goals) == {"timeline_p99_ms", "timeline_p99_ratio"}
    assert goals["timeline_p99_ms"] == {
        "name": "timeline_p99_ms",
        "value": report["api_ms_p99"],
        "target": 50.0,
        "better": "lower",
    }
    ratio = goals["timeline_p99_ratio"]
    assert ratio["target"] == 3.0 and ratio["better"] == "lower"
    assert ratio["value"] == pytest.approx(report["api_ms_p99"] / report["direct_ms_p99"], rel=0.01)
    assert not bench_databases(pg_server) - before  # its temporary database is gone
