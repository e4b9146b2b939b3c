"""Prometheus metrics of the service, served at ``/metrics``.

Each app has its own registry (tests build many apps in one process). Label children are
cached so a request costs a couple of dictionary lookups, not a label resolution.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics import Counter as CounterT
from prometheus_client.metrics import Histogram as HistogramT

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "HTTP requests by route and status code",
            ["route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from request start to the end of the response, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "predictions", "Rows scored, by model version", ["model_version"], registry=r
        )
        self.decision_batch = Histogram(
            "decision_log_requests_per_sync",
            "Requests made durable by one decision-log sync (group commit)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=r,
        )
        self.model_loaded = Gauge(
            "model_loaded", "1 when a model is loaded and serving", registry=r
        )
        self.decision_log_failures = Counter(
            "decision_log_failures",
            "Requests refused because the decision log could not be written",
            registry=r,
        )
        self._shadow_metrics(r)
        self._requests: dict[tuple[str, int], CounterT] = {}
        self._latency: dict[str, HistogramT] = {}
        self._predictions: dict[str, CounterT] = {}

    def _shadow_metrics(self, r: CollectorRegistry) -> None:
        """The shadow challenger's (serving/shadow.py): scored off the answer path."""
        self.shadow_predictions = Counter(
            "shadow_predictions",
            "Rows the shadow model scored, by shadow model version",
            ["model_version"],
            registry=r,
        )
        self.shadow_agreements = Counter(
            "shadow_agreements",
            "Rows where the shadow agreed with the champion, by shadow model version",
            ["model_version"],
            registry=r,
        )
        self.shadow_latency = Histogram(
            "shadow_duration_seconds",
            "Time the shadow model took to score a request (off the answer path)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.shadow_failures = Counter("shadow_failures", "Shadow scorings that raised", registry=r)
        self.shadow_dropped = Counter(
            "shadow_dropped", "Requests not shadowed because its queue was full", registry=r
        )
        self.shadow_loaded = Gauge("shadow_loaded", "1 when a shadow model is loaded", registry=r)

    def observe(self, route: str, status: int, seconds: float) -> None:
        counter = self._requests.get((route, status))
        if counter is None:
            counter = self._requests[(route, status)] = self.requests.labels(route, str(status))
        counter.inc()
        histogram = self._latency.get(route)
        if histogram is None:
            histogram = self._latency[route] = self.latency.labels(route)
        histogram.observe(seconds)

    def predicted(self, version: str, rows: int) -> None:
        counter = self._predictions.get(version)
        if counter is None:
            counter = self._predictions[version] = self.predictions.labels(version)
        counter.inc(rows)

    def render(self) -> bytes:
        return generate_latest(self.registry)
