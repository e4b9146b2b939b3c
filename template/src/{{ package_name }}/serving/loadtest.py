"""The load test: the real service on 127.0.0.1 under headless locust, judged against the SLA.

Two phases, each bounded in time:

1. **SLA**: 10x the pilot's expected peak (``serving.peak_rps``) for ``duration_s``.
   Passes when p95 latency <= ``serving.latency_sla_ms``, no request failed, the achieved
   rate is at least 80% of the target, and the decision log holds exactly one record per
   successful prediction of the run (request ids carry the run's prefix).
2. **Capacity**: as fast as 16 users can go for ``capacity_s``; the measured maximum
   throughput gives the cost per 1,000 predictions from ``serving.hourly_cost``.

The report goes to ``<report_dir>/loadtest.json`` and ``loadtest.md``. The capacity figure is
a lower bound: locust shares the machine with the service.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import PilotError
from ..records.decision_log import read_records
from ..settings import Settings
from .server import running, with_key

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
CAPACITY_USERS = 16


class LoadTestError(PilotError):
    """The service missed a load-test criterion (the report says which)."""


@dataclass(frozen=True)
class Phase:
    name: str
    users: int
    seconds: float
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass
class LoadReport:
    started_at: str
    target_rps: float
    sla_p95_ms: float
    sla: Phase
    capacity: Phase
    decision_records: int
    successful_predictions: int
    max_rps: float
    hourly_cost: float
    cost_per_1000: float
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"passed": self.passed}

    def to_markdown(self) -> str:
        rows = "\n".join(
            f"| {p.name} | {p.users} | {p.seconds:.0f} | {p.requests} | {p.failures} | "
            f"{p.rps:.1f} | {p.p50_ms:.0f} | {p.p95_ms:.0f} | {p.p99_ms:.0f} |"
            for p in (self.sla, self.capacity)
        )
        verdict = "PASSED" if self.passed else "FAILED: " + "; ".join(self.problems)
        return (
            f"# Load test ({self.started_at})\n\n{verdict}\n\n"
            f"Target: {self.target_rps:g} requests/s (10x peak), p95 <= {self.sla_p95_ms:g} ms.\n\n"
            "| phase | users | s | requests | failures | req/s | p50 ms | p95 ms | p99 ms |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
            f"{rows}\n\n"
            f"Decision-log records: {self.decision_records} for "
            f"{self.successful_predictions} successful predictions.\n\n"
            f"Maximum throughput {self.max_rps:.1f} requests/s at {self.hourly_cost:g} USD/hour: "
            f"**{self.cost_per_1000:.6f} USD per 1,000 predictions**.\n"
        )


def _phase(
    name: str, base: str, key: str, run: str, users: int, user_rps: float, seconds: float
) -> Phase:
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / name
        cmd = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--only-summary",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",  # users stop at the deadline; locust's own stop is only a backstop
            f"{math.ceil(seconds) + 5}s",
            "--stop-timeout",
            "10",
            "--host",
            base,
            "--csv",
            str(prefix),
            "--loglevel",
            "WARNING",
            "--exit-code-on-error",
            "0",
        ]
        env = os.environ | {
            "LOADTEST_KEY": key,
            "LOADTEST_RUN": run,
            "LOADTEST_USER_RPS": str(user_rps),
            "LOADTEST_SECONDS": str(seconds),
        }
        proc = subprocess.run(  # noqa: S603 - our interpreter running locust
            cmd, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False
        )
        stats = Path(f"{prefix}_stats.csv")
        if proc.returncode != 0 or not stats.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise LoadTestError(f"locust ({name}) exited {proc.returncode}: {tail[0][:300]}")
        with stats.open() as fh:
            total = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    return Phase(
        name=name,
        users=users,
        seconds=seconds,
        requests=int(total["Request Count"]),
        failures=int(total["Failure Count"]),
        rps=int(total["Request Count"]) / seconds,
        p50_ms=float(total["50%"]),
        p95_ms=float(total["95%"]),
        p99_ms=float(total["99%"]),
    )


def run_loadtest(
    settings: Settings, duration_s: float = 20, capacity_s: float = 10, log: Any = None
) -> LoadReport:
    """Serve with a fresh key, run both phases, check the decision log, build the report."""
    target = 10 * settings.serving.peak_rps
    users = max(2, math.ceil(target / 10))
    run = f"lt-{uuid.uuid4().hex[:8]}"
    started = datetime.now(UTC).isoformat(timespec="seconds")
    served, key = with_key(settings, "loadtest", "predict")
    with running(served, log=log) as (base, _):
        sla = _phase("sla", base, key, run, users, target / users, duration_s)
        capacity = _phase("capacity", base, key, run, CAPACITY_USERS, 0, capacity_s)
    # The server has stopped (drained): every acknowledged decision must be in the log.
    directory = settings.path(settings.serving.decision_log_dir)
    records = sum(1 for r in read_records(directory) if str(r["request_id"]).startswith(run))
    successes = sum(p.requests - p.failures for p in (sla, capacity))
    max_rps = max(sla.rps, capacity.rps)
    cost = settings.serving.hourly_cost / (max_rps * 3600) * 1000 if max_rps else math.inf
    problems = []
    if sla.p95_ms > settings.serving.latency_sla_ms:
        problems.append(f"p95 {sla.p95_ms:.0f} ms > SLA {settings.serving.latency_sla_ms:g} ms")
    if sla.failures or capacity.failures:
        problems.append(f"{sla.failures + capacity.failures} failed requests")
    if sla.rps < 0.8 * target:
        problems.append(f"achieved {sla.rps:.1f} requests/s < 80% of the {target:g} target")
    if records != successes:
        problems.append(f"{records} decision-log records for {successes} successful predictions")
    return LoadReport(
        started_at=started,
        target_rps=target,
        sla_p95_ms=settings.serving.latency_sla_ms,
        sla=sla,
        capacity=capacity,
        decision_records=records,
        successful_predictions=successes,
        max_rps=max_rps,
        hourly_cost=settings.serving.hourly_cost,
        cost_per_1000=cost,
        problems=problems,
    )


def write_report(report: LoadReport, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "loadtest.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    path = directory / "loadtest.md"
    path.write_text(report.to_markdown())
    return path
