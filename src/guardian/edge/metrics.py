"""Prometheus metrics of the edge (served at ``GET /metrics``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Ingest results: accepted, duplicate, and one per rejection reason.
INGEST_RESULTS = (
    "accepted",
    "duplicate",
    "unauthorized",
    "conflict",
    "too_large",
    "unsupported_media",
    "invalid",
    "rate_limited",
    "insufficient_storage",
)
JOB_STATES = ("queued", "running", "done", "dead")


class _LiveCollector(Collector):
    """Values read at scrape time: free disk and queue depth per state."""

    def __init__(self, media_dir: Path, queue_depth: Callable[[], dict[str, int]]) -> None:
        self._media_dir = media_dir
        self._queue_depth = queue_depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        disk = GaugeMetricFamily(
            "guardian_disk_free_bytes", "Free bytes on the disk holding the edge's media."
        )
        disk.add_metric([], float(shutil.disk_usage(self._media_dir).free))
        yield disk
        depth = GaugeMetricFamily(
            "guardian_queue_depth", "Jobs in the edge queue by state.", labels=["state"]
        )
        counts = self._queue_depth()
        for state in JOB_STATES:
            depth.add_metric([state], float(counts.get(state, 0)))
        yield depth


class EdgeMetrics:
    """The edge's counters and histograms, registered on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.ingest_total = Counter(
            "guardian_ingest_total",
            "Capture uploads by result (accepted, duplicate, or the rejection reason).",
            ["result"],
            registry=registry,
        )
        for result in INGEST_RESULTS:
            self.ingest_total.labels(result=result)
        self.job_duration = Histogram(
            "guardian_job_duration_seconds",
            "Time a worker spent on one job, by kind and outcome.",
            ["kind", "outcome"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        )
        self.cleanup_files = Counter(
            "guardian_cleanup_files_total",
            "Files handled by the cleanup job, by action.",
            ["action"],
            registry=registry,
        )
        self.outbox_depth = Gauge(
            "guardian_outbox_depth",
            "Outbox rows waiting for the relay's ack (updated by the link).",
            registry=registry,
        )

    def watch(self, media_dir: Path, queue_depth: Callable[[], dict[str, int]]) -> None:
        """Register the scrape-time gauges (disk free, queue depth)."""
        self.registry.register(_LiveCollector(media_dir, queue_depth))
