"""Drift and staleness: the serving window against the champion's training profile.

Per feature: PSI for categorical and binned numeric columns, plus a two-sample KS test for
numeric ones; the same for the model's output (prediction drift, on the rows the champion
scored): the positive probability or the predicted value as numbers, the predicted class as
category shares, as the contract's task says. Staleness: the champion's age against
``monitoring.max_model_age_days``.
The result is written as a JSON report and a Prometheus textfile-collector file; a breach
posts to ``monitoring.webhook_url`` when set. Thresholds come from ``settings.monitoring``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson
from scipy.stats import ks_2samp

from .. import atomic
from ..errors import PilotError
from ..model.profile import PREDICTION, bin_shares, category_shares
from ..records.window import PredictionWindow, window_files
from ..settings import MonitoringSettings, Settings
from . import textfile

LATEST = "latest.json"  # the last drift report

EPS = 1e-4  # floor for empty bins, so PSI stays finite


class DriftError(PilotError):
    """Drift could not be checked (no champion, no profile), reported as one line."""


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str
    psi: float
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    breached: bool = False


@dataclass
class DriftReport:
    model: str
    version: str
    generated_at: float
    window_rows: int
    judged: bool
    skipped_rows: int = 0
    columns: list[ColumnDrift] = field(default_factory=list)
    age_days: float = 0.0
    max_age_days: float = 0.0
    breaches: list[str] = field(default_factory=list)
    webhook: str = "not configured"

    @property
    def breached(self) -> bool:
        return bool(self.breaches)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"breached": self.breached}


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    e = np.clip(np.asarray(expected, dtype=float), EPS, None)
    a = np.clip(np.asarray(actual, dtype=float), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_drift(
    column: str, reference: dict[str, Any], values: np.ndarray, monitoring: MonitoringSettings
) -> ColumnDrift:
    m = monitoring
    value = psi(reference["shares"], bin_shares(values, reference["edges"]))
    ks = ks_2samp(np.asarray(reference["sample"], dtype=float), values)
    stat, pvalue = float(ks.statistic), float(ks.pvalue)
    breached = value > m.psi_threshold or (pvalue < m.ks_alpha and stat > m.ks_min_statistic)
    return ColumnDrift(column, "numeric", value, stat, pvalue, breached)


def categorical_drift(
    column: str, reference: dict[str, Any], values: Sequence[Any], monitoring: MonitoringSettings
) -> ColumnDrift:
    actual = category_shares(values)
    cats = sorted(set(reference["shares"]) | set(actual))
    expected = [reference["shares"].get(c, 0.0) for c in cats]
    value = psi(expected, [actual.get(c, 0.0) for c in cats])
    breached = value > monitoring.psi_threshold
    return ColumnDrift(column, "categorical", value, breached=breached)


def compare(
    profile: dict[str, Any], rows: list[dict[str, Any]], version: str, settings: Settings
) -> list[ColumnDrift]:
    """Drift per feature over all rows, and of predictions over the rows ``version`` scored."""
    out = []
    for column, reference in profile["features"].items():
        values = [r["features"][column] for r in rows]
        if reference["kind"] == "numeric":
            out.append(
                numeric_drift(column, reference, np.asarray(values, float), settings.monitoring)
            )
        else:
            out.append(categorical_drift(column, reference, values, settings.monitoring))
    scored = [r["output"] for r in rows if r["model_version"] == version]
    if len(scored) >= settings.monitoring.min_window_rows:
        reference = profile[PREDICTION]
        if reference["kind"] == "numeric":
            out.append(
                numeric_drift(PREDICTION, reference, np.asarray(scored, float), settings.monitoring)
            )
        else:
            out.append(categorical_drift(PREDICTION, reference, scored, settings.monitoring))
    return out


def load_reference(settings: Settings) -> tuple[Any, dict[str, Any]]:
    import mlflow

    from ..model.registry import configure, find_alias
    from ..model.train import PROFILE_ARTIFACT

    configure(settings)
    alias = settings.model.champion_alias
    ref = find_alias(settings, alias)
    if ref is None:
        raise DriftError(f"model '{settings.model.name}' has no '{alias}': nothing to monitor")
    try:
        profile = mlflow.artifacts.load_dict(f"runs:/{ref.run_id}/{PROFILE_ARTIFACT}")
    except Exception as exc:
        raise DriftError(
            f"version {ref.version} has no {PROFILE_ARTIFACT} ({type(exc).__name__}): retrain it"
        ) from None
    return ref, profile


def read_window(settings: Settings, columns: Sequence[str]) -> tuple[list[dict[str, Any]], int]:
    """Rows of the serving window (every replica's, for a glob), and how many were unreadable
    (e.g. a torn last line)."""
    m = settings.monitoring
    rows, skipped = [], 0
    files = window_files(settings.path(m.window_path))
    lines = [ln for f in files for ln in PredictionWindow(f, m.window_rows, 1.0).read_lines()]
    for line in lines:
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            if all(c in row["features"] for c in columns) and "output" in row:
                rows.append(row)
                continue
        except (orjson.JSONDecodeError, KeyError, TypeError):
            pass
        skipped += 1
    return rows, skipped


def check(settings: Settings, now: float | None = None) -> DriftReport:
    """Compare the serving window with the champion's profile and judge staleness."""
    ref, profile = load_reference(settings)
    m = settings.monitoring
    now = time.time() if now is None else now
    rows, skipped = read_window(settings, list(profile["features"]))
    report = DriftReport(
        model=ref.name,
        version=ref.version,
        generated_at=now,
        window_rows=len(rows),
        skipped_rows=skipped,
        judged=len(rows) >= m.min_window_rows,
        age_days=(now - ref.created_ms / 1000) / 86400,
        max_age_days=m.max_model_age_days,
    )
    if report.judged:
        report.columns = compare(profile, rows, ref.version, settings)
    for c in report.columns:
        if c.breached:
            ks = "" if c.ks_statistic is None else f", KS {c.ks_statistic:.3f} p={c.ks_pvalue:.2g}"
            report.breaches.append(f"{c.column} drifted (PSI {c.psi:.3f}{ks})")
    if report.age_days > m.max_model_age_days:
        report.breaches.append(
            f"champion version {ref.version} is stale ({report.age_days:.1f} days"
            f" > {m.max_model_age_days:g})"
        )
    return report


def write_report(settings: Settings, report: DriftReport) -> Path:
    out_dir = settings.path(settings.monitoring.report_dir)
    return textfile.write_report(out_dir, "drift", report.generated_at, report.to_dict(), LATEST)


def prometheus_text(report: DriftReport) -> str:
    model = f'model="{report.model}",version="{report.version}"'
    gauges = textfile.Gauges()
    gauge = gauges.add

    col = [(f'{model},column="{c.column}"', c) for c in report.columns]
    gauge("drift_psi", "PSI of a column, serving window vs training.", [(k, c.psi) for k, c in col])
    gauge(
        "drift_ks_statistic",
        "KS statistic of a numeric column.",
        [(k, c.ks_statistic) for k, c in col if c.ks_statistic is not None],
    )
    gauge("drift_column_breached", "1 if the column drifted.", [(k, c.breached) for k, c in col])
    gauge("drift_window_rows", "Rows in the serving window.", [(model, report.window_rows)])
    gauge("model_age_days", "Age of the champion in days.", [(model, report.age_days)])
    gauge("model_max_age_days", "Maximum age before stale.", [(model, report.max_age_days)])
    gauge("drift_breached", "1 if any drift or staleness check failed.", [(model, report.breached)])
    gauge("drift_last_run_seconds", "Unix time of the check.", [(model, report.generated_at)])
    return gauges.text()


def write_prometheus(settings: Settings, report: DriftReport) -> Path:
    path = settings.path(settings.monitoring.prom_path)
    atomic.write_text(path, prometheus_text(report))
    return path


class Breached(Protocol):
    """What a webhook message needs (drift and live-quality reports both have it)."""

    model: str
    version: str
    breaches: list[str]


def post_webhook(monitoring: MonitoringSettings, report: Breached, report_path: Path) -> str:
    url = monitoring.webhook_url
    if not url:
        return "not configured"
    import httpx

    body = {
        "text": f"{report.model} v{report.version}: " + "; ".join(report.breaches),
        "model": report.model,
        "version": report.version,
        "breaches": report.breaches,
        "report": str(report_path),
    }
    try:
        resp = httpx.post(url, json=body, timeout=10)
    except httpx.HTTPError as exc:
        return f"failed ({type(exc).__name__})"
    return f"answered {resp.status_code}"
