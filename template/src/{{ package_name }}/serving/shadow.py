"""The shadow challenger: a second model scores every request off the answer path.

With ``serving.shadow_alias`` set, the service also loads that alias's version. Each request's
rows and the champion's outputs are queued (bounded; a full queue drops the request and counts
it) and a background thread scores them with the shadow. The caller never waits for it, and a
shadow that raises or hangs cannot fail or slow an answer: it only stops filling its own log.

Each shadowed row becomes one JSON line in ``<decision_log_dir>/shadow-<UTC stamp>-<pid>.jsonl``
beside the decision log, joined to the champion's decision by ``request_id`` and ``row``::

    {"request_id": "4be0...", "row": 0, "ts": "2026-01-31T12:00:00.123456Z",
     "model_name": "churn_pilot", "model_version": "4", "champion_version": "3",
     "output": {"prediction": 1, "probability": 0.79}, "agree": true, "latency_ms": 0.2}

Agreement and latency are exported at ``/metrics``; ``monitoring/shadow.py`` reads the files
as the evidence ``promote --to production`` can require.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..model.tasks import agree
from .metrics import Metrics

log = logging.getLogger(__name__)

# Outputs of a scorer for a batch of feature rows, in the decision log's ``output`` format.
Score = Callable[[Sequence[Mapping[str, Any]]], list[dict[str, Any]]]


@dataclass(frozen=True)
class ShadowJob:
    request_id: str
    ts: str
    champion_version: str
    rows: Sequence[Mapping[str, Any]]
    outputs: Sequence[Mapping[str, Any]]


class Shadow:
    """A bounded queue and one daemon thread scoring it with the current shadow model."""

    def __init__(
        self,
        directory: Path,
        metrics: Metrics,
        model: Callable[[], tuple[str, str, Score] | None],
        max_queue: int,
        tolerance: float,
    ) -> None:
        self.directory = directory
        self.metrics = metrics
        self.model = model  # (name, version, score) of the shadow now, or None
        self.tolerance = tolerance
        self._queue: queue.Queue[ShadowJob | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._file: Any = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        path = self.directory / f"shadow-{stamp}-{os.getpid()}.jsonl"
        self._file = path.open("ab", buffering=0)
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self._thread.start()

    def submit(self, job: ShadowJob) -> None:
        """Queue a request for the shadow; never blocks (drops and counts when full)."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.metrics.shadow_dropped.inc()

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until what is queued has been scored (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def stop(self) -> None:
        if self._thread is not None:
            with contextlib.suppress(queue.Full):  # daemon: a hung shadow ends with the process
                self._queue.put_nowait(None)
            self._thread.join(timeout=1.0)
            self._thread = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._score(job)
            except Exception as exc:  # the shadow's failure is its own, never the request's
                self.metrics.shadow_failures.inc()
                log.warning("shadow scoring failed: %s", exc)
            finally:
                self._queue.task_done()

    def _score(self, job: ShadowJob) -> None:
        current = self.model()
        if current is None:
            return
        name, version, score = current
        started = time.perf_counter()
        outputs = score(job.rows)
        seconds = time.perf_counter() - started
        agreed = [agree(c, s, self.tolerance) for c, s in zip(job.outputs, outputs, strict=True)]
        head = {
            "request_id": job.request_id,
            "ts": job.ts,
            "model_name": name,
            "model_version": version,
            "champion_version": job.champion_version,
        }
        latency_ms = round(seconds * 1000, 3)
        self._file.write(
            b"".join(
                orjson.dumps(head | {"row": i, "output": o, "agree": a, "latency_ms": latency_ms})
                + b"\n"
                for i, (o, a) in enumerate(zip(outputs, agreed, strict=True))
            )
        )
        self.metrics.shadow_latency.observe(seconds)
        self.metrics.shadow_predictions.labels(version).inc(len(outputs))
        self.metrics.shadow_agreements.labels(version).inc(sum(agreed))
