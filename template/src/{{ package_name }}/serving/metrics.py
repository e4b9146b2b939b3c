"""Prometheus metrics of the service, served at ``/metrics``.

Each app has its own registry (tests build many apps in one process). Label children are
cached so a request costs a couple of dictionary lookups, not a label resolution.

The monitors' textfiles (``drift``, ``monitor``) are served here too, read at each scrape:
where the service shares the monitors' volume (the staging overlay), the one scrape of the
service carries the drift and live-quality gauges their alerts read, no textfile exporter
needed. Every replica serves the same file, so the alert rules take ``max by (model)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics import Counter as CounterT
from prometheus_client.metrics import Histogram as HistogramT
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Textfiles(Collector):
    """The gauges in these Prometheus textfiles, as they are at collection time."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)

    def collect(self) -> Iterator[Metric]:
        for path in self.paths:
            try:
                families = list(text_string_to_metric_families(path.read_text()))
            except FileNotFoundError:
                continue  # that monitor has not run yet
            except (OSError, ValueError) as exc:  # written atomically: a bad file is a bug
                log.warning("metrics: skipping %s: %s", path, exc)
                continue
            yield from families


class Metrics:
    def __init__(self, textfiles: Sequence[Path] = ()) -> None:
        self.registry = r = CollectorRegistry()
        r.register(Textfiles(textfiles))
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
