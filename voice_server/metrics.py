"""Prometheus metrics, one registry per app so that tests and several apps never share counters.

Packages add their own instruments through :meth:`Metrics.histogram` / :meth:`Metrics.counter`
(the voice pipeline adds its per-stage turn latencies there).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    # Litestar appends "; charset=utf-8" to every text/* type itself; leaving prometheus_client's
    # own charset in would send it twice.
    content_type = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "parley_http_requests_total",
            "HTTP requests served, by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "parley_http_request_duration_seconds",
            "Time to the response's first byte, by method and route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.db_up = Gauge(
            "parley_database_up",
            "1 when the last readiness probe reached the database.",
            registry=self.registry,
        )

        # What an autoscaler scales on (deploy/kubernetes/hpa.yaml); summed over live workers.
        self.voice_active = Gauge(
            "parley_voice_active_sessions",
            "Voice calls in progress on this server.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def counter(self, name: str, doc: str, labels: list[str] | None = None) -> Counter:
        return Counter(name, doc, labels or [], registry=self.registry)

    def histogram(
        self,
        name: str,
        doc: str,
        labels: list[str] | None = None,
        buckets: tuple[float, ...] = LATENCY_BUCKETS_S,
    ) -> Histogram:
        return Histogram(name, doc, labels or [], buckets=buckets, registry=self.registry)

    def render(self) -> bytes:
        # `parley serve --workers N` (voice_server.workers): every worker writes its values to
        # the shared directory, so whichever worker answers reports all of them, summed.
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)
