"""``/healthz`` and ``/metrics`` over real HTTP (uvicorn) on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from guardian.common.db import create_db_engine, session_factory, sqlite_url, utcnow
from guardian.common.seal import Sealer
from guardian.edge.api.ops import ensure_watching
from guardian.edge.app import create_app
from guardian.edge.config import EdgeSettings
from guardian.edge.context import EdgeContext
from guardian.edge.store.jobs import KIND_DETECT_CAPTURE, enqueue
from tests.capture_helpers import serve_app
from tests.edge_fixtures import EdgeDb

JOBS = {"queued": 3, "running": 1, "done": 2}


def make_ctx(db: EdgeDb) -> EdgeContext:
    db.settings.media_dir.mkdir(parents=True, exist_ok=True)
    return EdgeContext(db.settings, db.engine, session_factory(db.engine), Sealer(os.urandom(32)))


def unreachable_ctx(tmp_path: Path) -> EdgeContext:
    """A context whose SQLite file lives in a folder that does not exist: every query fails."""
    settings = EdgeSettings(data_dir=tmp_path / "edge")
    settings.media_dir.mkdir(parents=True)
    engine = create_db_engine(sqlite_url(tmp_path / "no-such-dir" / "edge.db"))
    return EdgeContext(settings, engine, session_factory(engine), Sealer(os.urandom(32)))


def get(ctx: EdgeContext, path: str, times: int = 1) -> list[httpx.Response]:
    """``GET path`` ``times`` times from the real app on uvicorn."""
    with serve_app(create_app(ctx)) as url, httpx.Client(base_url=url) as client:
        return [client.get(path) for _ in range(times)]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_healthz_checks_the_database(edge_db: EdgeDb) -> None:
    (response,) = get(make_ctx(edge_db), "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    ctx = unreachable_ctx(tmp_path)
    try:
        (response,) = get(ctx, "/healthz")
    finally:
        ctx.engine.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


def test_metrics_expose_ingest_queue_jobs_and_disk(edge_db: EdgeDb) -> None:
    ctx = make_ctx(edge_db)
    with ctx.sessions.begin() as session:
        n = 0
        for state, count in JOBS.items():
            for _ in range(count):
                n += 1
                job = enqueue(session, KIND_DETECT_CAPTURE, f"capture-{n}", fair_key="pi-1")
                job.state = state
                if state == "done":
                    job.finished_at = utcnow()
    ctx.metrics.ingest_total.labels(result="accepted").inc(2)
    ctx.metrics.job_duration.labels(kind=KIND_DETECT_CAPTURE, outcome="done").observe(0.2)
    (response,) = get(ctx, "/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert found[("guardian_disk_free_bytes", ())] > 0
    assert found[("guardian_ingest_total", (("result", "accepted"),))] == 2
    assert found[("guardian_ingest_total", (("result", "unsupported_media"),))] == 0
    for state in ("queued", "running", "done", "dead"):
        assert found[("guardian_queue_depth", (("state", state),))] == JOBS.get(state, 0)
    labels = (("kind", KIND_DETECT_CAPTURE), ("outcome", "done"))
    assert found[("guardian_job_duration_seconds_count", labels)] == 1
    assert 'guardian_queue_depth{state="queued"} 3.0' in response.text


def test_gauges_are_registered_once_per_context(edge_db: EdgeDb) -> None:
    ctx = make_ctx(edge_db)
    for _ in range(3):
        ensure_watching(ctx)  # startup, then every scrape: a duplicate would raise
    for response in get(ctx, "/metrics", times=2):
        text = response.text
        assert text.count("# TYPE guardian_disk_free_bytes gauge") == 1
        assert text.count('guardian_queue_depth{state="queued"}') == 1
    # Another context has its own registry, so it gets its own gauges.
    other = make_ctx(edge_db)
    assert "guardian_disk_free_bytes" in get(other, "/metrics")[0].text


def test_metrics_are_503_when_the_queue_cannot_be_read(tmp_path: Path) -> None:
    ctx = unreachable_ctx(tmp_path)
    try:
        (response,) = get(ctx, "/metrics")
    finally:
        ctx.engine.dispose()
    assert response.status_code == 503
    assert "database" in response.text
