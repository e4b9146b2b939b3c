"""`data check`: prove every configured source works under real conditions before any model.

For each enabled source: reachability and authentication (timed probes through the same
client, token and rate limit as ingestion), p50/p95 latency, rows, schema conformance (share
of rows the contract accepts) and freshness lag (now minus the newest event), each compared
with ``data.quality`` thresholds. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..settings import DataSettings, Settings
from .errors import DataError
from .ingest import read_batch
from .schema import TIME
from .sources import open_sources


@dataclass
class SourceReport:
    name: str
    label: str
    reachable: bool = False
    auth: str = "-"
    p50_ms: float | None = None
    p95_ms: float | None = None
    rows: int = 0
    conformance: float | None = None
    freshness_lag_h: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _lag_hours(frame: pd.DataFrame) -> float | None:
    if frame.empty or TIME is None:
        return None  # no event time in the contract: freshness is not judged
    newest = pd.Timestamp(pd.to_datetime(frame[TIME]).max())
    if newest.tzinfo is None:
        newest = newest.tz_localize("UTC")  # event times are stored in UTC
    return float((pd.Timestamp.now(tz="UTC") - newest) / pd.Timedelta(hours=1))


def apply_thresholds(report: SourceReport, data: DataSettings) -> None:
    """Fill the report's threshold verdicts (kept apart so every limit reads the same way)."""
    q = data.quality
    if report.p95_ms is not None and report.p95_ms > q.max_p95_latency_ms:
        report.problems.append(f"p95 latency {report.p95_ms:.0f} ms > {q.max_p95_latency_ms:g} ms")
    if report.rows < q.min_rows:
        report.problems.append(f"{report.rows} rows < min_rows {q.min_rows}")
    if report.conformance is not None and 1 - report.conformance > q.max_quarantine_share:
        report.problems.append(
            f"{1 - report.conformance:.1%} of rows fail the contract "
            f"> max_quarantine_share {q.max_quarantine_share:.1%}"
        )
    lag = report.freshness_lag_h
    if TIME is None:
        return  # no event time in the contract: there is no freshness to judge
    if lag is None or lag > q.max_freshness_lag_hours:
        shown = "no valid rows" if lag is None else f"{lag:.1f} h"
        report.problems.append(f"freshness lag {shown} > {q.max_freshness_lag_hours:g} h")


def run_check(settings: Settings) -> list[SourceReport]:
    reports: list[SourceReport] = []
    try:
        with open_sources(settings) as sources:
            for source in sources:
                label = getattr(source, "label", source.name)
                report = SourceReport(source.name, label)
                reports.append(report)
                try:
                    latencies = [
                        source.probe() for _ in range(settings.data.quality.probe_requests)
                    ]
                    report.reachable, report.auth = True, "ok"
                    ms = np.asarray(latencies) * 1000
                    report.p50_ms = float(np.percentile(ms, 50))
                    report.p95_ms = float(np.percentile(ms, 95))
                    batch = read_batch(source, settings.data)
                except DataError as exc:
                    if exc.kind == "auth":
                        report.reachable, report.auth = True, "failed"
                    report.problems.append(str(exc))
                    continue
                report.rows = batch.split.rows_read
                # Unlabeled rows passed the scoring contract: rows to score, not bad rows.
                conforming = len(batch.split.accepted) + batch.split.rows_unlabeled
                report.conformance = conforming / max(report.rows, 1)
                report.freshness_lag_h = _lag_hours(batch.split.accepted)
                apply_thresholds(report, settings.data)
    except DataError as exc:  # a source that cannot even be opened (e.g. no vendor URL)
        failed = SourceReport("?", "?")
        failed.problems.append(str(exc))
        reports.append(failed)
    return reports


def format_report(reports: list[SourceReport], settings: Settings) -> str:
    q = settings.data.quality

    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    head = (
        f"{'source':<7} {'reach':<5} {'auth':<6} {'p50 ms':>8} {'p95 ms':>8} {'rows':>7} "
        f"{'conform':>8} {'lag h':>7}  result"
    )
    lines = [
        f"data check ({settings.env}): p95 <= {q.max_p95_latency_ms:g} ms, "
        f"rows >= {q.min_rows}, quarantine <= {q.max_quarantine_share:.1%}, "
        f"lag <= {q.max_freshness_lag_hours:g} h",
        head,
    ]
    for r in reports:
        conform = "-" if r.conformance is None else f"{r.conformance:.1%}"
        lines.append(
            f"{r.name:<7} {'yes' if r.reachable else 'no':<5} {r.auth:<6} "
            f"{num(r.p50_ms, '.1f'):>8} {num(r.p95_ms, '.1f'):>8} {r.rows:>7} "
            f"{conform:>8} {num(r.freshness_lag_h, '.1f'):>7}  {'ok' if r.ok else 'FAIL'}"
        )
    for r in reports:
        lines.extend(f"  {r.name}: {p}" for p in r.problems)
    failed = [r.name for r in reports if not r.ok]
    lines.append(f"FAILED: {', '.join(failed)}" if failed else f"all {len(reports)} sources ok")
    return "\n".join(lines)
