"""The `drift` and `monitor` stages: check, write the reports, post a breach, retrain on one.

Each returns what it did for the CLI to print. A retrain a breach triggered (``retrain=True``)
never hides the breach: its error, if any, is returned beside the report, not raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..settings import Settings
from . import drift, live
from .retrain import RetrainResult
from .retrain import retrain as retrain_challenger

REASON_CHARS = 500  # a registry tag value stays short


@dataclass(frozen=True)
class Retrained:
    """The retrain a breach triggered: its result, or the error that stopped it."""

    result: RetrainResult | None
    error: Exception | None = None


@dataclass(frozen=True)
class DriftRun:
    report: drift.DriftReport
    report_path: Path
    prom_path: Path
    retrained: Retrained | None = None


@dataclass(frozen=True)
class LiveRun:
    report: live.LiveReport
    report_path: Path
    prom_path: Path
    retrained: Retrained | None = None


def _retrain(settings: Settings, reason: str) -> Retrained:
    try:
        return Retrained(retrain_challenger(settings, reason[:REASON_CHARS]))
    except Exception as exc:  # reported after the breach, as the command's error
        return Retrained(None, exc)


def check_drift(settings: Settings, retrain: bool = False) -> DriftRun:
    """Drift and staleness of the champion; on a breach the webhook, then (``retrain``) a
    retrain that stops at staging. The JSON report is rewritten with the webhook's answer."""
    report = drift.check(settings)
    path = drift.write_report(settings, report)
    prom = drift.write_prometheus(settings, report)
    if not report.breached:
        return DriftRun(report, path, prom)
    report.webhook = drift.post_webhook(settings.monitoring, report, path)
    drift.write_report(settings, report)
    retrained = _retrain(settings, f"drift: {'; '.join(report.breaches)}") if retrain else None
    return DriftRun(report, path, prom, retrained)


def check_live_quality(settings: Settings, retrain: bool = False) -> LiveRun:
    """Live quality from the outcomes; on a breach the webhook, then (``retrain``) a retrain."""
    report = live.check(settings)
    path = live.write_report(settings, report)
    prom = live.write_prometheus(settings, report)
    if not report.breached:
        return LiveRun(report, path, prom)
    report.webhook = drift.post_webhook(settings.monitoring, report, path)
    live.write_report(settings, report)
    reason = f"live quality: {'; '.join(report.breaches)}"
    return LiveRun(report, path, prom, _retrain(settings, reason) if retrain else None)
