"""Live quality: served decisions against the outcomes that arrived (``outcomes ingest``).

Per model version, per time window (``monitoring.live_window_hours``, by decision time) and
per slice (``gate.slices`` columns present in the logged inputs, groups of at least
``gate.min_slice_rows``, as the gate judges them): the task's metric (model/tasks.py), a
bootstrap confidence interval and the number of rows. Each version is compared with its
offline holdout figure, recorded on the registry version by the gate (``gate.value``) or by
training (the run's metric).

A version with at least ``monitoring.live_min_rows`` joined rows breaches when its live figure
is below the gate's floor, when it fell more than ``monitoring.live_max_drop`` from offline, or
when a judged slice is below the gate's slice floor; its latest time window with that many
rows is held to the same floor and margin, so a recent fall is not averaged away. The report
is written as JSON (``live-latest.json``, which `ready` reads) and a Prometheus textfile; a
breach posts the webhook and `monitor --retrain` retrains, as drift does.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import atomic
from ..model.gate import within_groups
from ..model.metrics import gate_metric
from ..model.tasks import Metric, bootstrap_interval, live_metric, metric, score_of
from ..settings import Settings
from . import textfile
from .outcomes import joined_rows

LATEST = "live-latest.json"
ALL = "all"


@dataclass(frozen=True)
class Figure:
    version: str
    window: str  # ISO start of the time window, or "all"
    rows: int
    value: float | None
    low: float | None = None
    high: float | None = None
    column: str = ""  # a slice column ("" for the whole version)
    group: str = ""
    pairs: int | None = None  # AUC: positive x negative rows, the pairs it ranks


@dataclass
class LiveReport:
    model: str
    version: str  # the version that served the latest joined decision
    metric: str
    generated_at: float
    rows: int
    judged: bool
    min_rows: int
    floor: float | None
    max_drop: float
    figures: list[Figure] = field(default_factory=list)
    offline: dict[str, float | None] = field(default_factory=dict)
    breaches: list[str] = field(default_factory=list)
    webhook: str = "not configured"

    @property
    def breached(self) -> bool:
        return bool(self.breaches)

    def overall(self, version: str) -> Figure | None:
        return next(
            (f for f in self.figures if f.version == version and f.window == ALL and not f.column),
            None,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"breached": self.breached}


def offline_figure(settings: Settings, version: str, name: str) -> float | None:
    """The version's holdout figure: the gate's (same metric) or the training run's."""
    from ..model.registry import configure, get_version

    try:
        ref = get_version(settings, version)
        if ref.tags.get("gate.metric") == name and "gate.value" in ref.tags:
            return float(ref.tags["gate.value"])
        if ref.run_id:
            value = configure(settings).get_run(ref.run_id).data.metrics.get(name)
            return None if value is None else float(value)
    except Exception:  # an unknown or deleted version has no offline figure to compare
        return None
    return None


def _window(ts: str, hours: float) -> str:
    seconds = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    start = seconds - seconds % (hours * 3600)
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _figure(rows: list[dict[str, Any]], settings: Settings, interval: bool, **where: str) -> Figure:
    labels = [r["label"] for r in rows]
    scores = [score_of(r["output"]) for r in rows]
    value = live_metric(labels, scores)
    low = high = None
    if interval and value is not None:
        low, high = bootstrap_interval(
            labels, scores, settings.monitoring.bootstrap_resamples, settings.model.seed
        )
    counts = Counter(labels).most_common()
    pairs = counts[0][1] * counts[1][1] if len(counts) == 2 else 0
    return Figure(rows=len(rows), value=value, low=low, high=high, pairs=pairs, **where)


def _below(m: Metric, value: float, bar: float) -> bool:
    return value < bar if m.higher_is_better else value > bar


def check(settings: Settings, now: float | None = None) -> LiveReport:
    """Measure live quality from the stored outcomes and judge it; see the module docstring."""
    m, mon, gate = metric(), settings.monitoring, settings.gate
    rows = joined_rows(settings)
    floor = gate.min_metric if gate_metric(gate) == m.name else None
    report = LiveReport(
        model=settings.model.name,
        version=str(rows[-1]["model_version"]) if rows else "none",
        metric=m.name,
        generated_at=time.time() if now is None else now,
        rows=len(rows),
        judged=False,
        min_rows=mon.live_min_rows,
        floor=floor,
        max_drop=mon.live_max_drop,
    )
    by_version: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_version[str(r["model_version"])].append(r)
    for version, served in sorted(by_version.items()):
        overall = _figure(served, settings, True, version=version, window=ALL)
        report.figures.append(overall)
        windows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in served:
            windows[_window(r["decision_ts"], mon.live_window_hours)].append(r)
        timed = [
            _figure(w, settings, True, version=version, window=start)
            for start, w in sorted(windows.items())
        ]
        report.figures.extend(timed)
        slices = _slice_figures(served, settings, version)
        report.figures.extend(slices)
        offline = offline_figure(settings, version, m.name)
        report.offline[version] = offline
        if len(served) < mon.live_min_rows or overall.value is None:
            continue
        report.judged = True
        report.breaches.extend(_judge(m, settings, version, overall, offline, slices))
        # The latest window with enough rows is judged too: a recent fall shows there
        # before the whole history's figure moves (older windows are history, not alerts).
        recent = [f for f in timed if f.rows >= mon.live_min_rows and f.value is not None]
        if len(timed) > 1 and recent:
            scope = f" in the window from {recent[-1].window}"
            report.breaches.extend(_judge(m, settings, version, recent[-1], offline, [], scope))
    return report


def _slice_figures(served: list[dict[str, Any]], settings: Settings, version: str) -> list[Figure]:
    """Per ``gate.slices`` column and group: the figure, or just the rows when too few."""
    gate, out = settings.gate, []
    for column in gate.slices:
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in served:
            if column in r["inputs"]:
                groups[str(r["inputs"][column])].append(r)
        for group, g in sorted(groups.items()):
            where = {"version": version, "window": ALL, "column": column, "group": group}
            if len(g) >= gate.min_slice_rows:
                out.append(_figure(g, settings, False, **where))
            else:
                out.append(Figure(version, ALL, len(g), None, column=column, group=group))
    return out


def _judge(
    m: Metric,
    settings: Settings,
    version: str,
    overall: Figure,
    offline: float | None,
    slices: list[Figure],
    scope: str = "",
) -> list[str]:
    gate, mon = settings.gate, settings.monitoring
    out: list[str] = []
    value = overall.value
    if value is None:
        return out
    where = f"version {version} live {m.name}{scope} {value:.3f}"
    if (
        gate_metric(gate) == m.name
        and gate.min_metric is not None
        and _below(m, value, gate.min_metric)
    ):
        out.append(f"{where} below the gate's floor {gate.min_metric:.3f}")
    if offline is not None:
        bar = (
            offline - mon.live_max_drop if m.higher_is_better else offline * (1 + mon.live_max_drop)
        )
        # A drop counts when even the interval's most favourable end is past the bar, so
        # sampling noise on a few hundred outcomes does not page anyone.
        favourable = overall.high if m.higher_is_better else overall.low
        if _below(m, value, bar) and (favourable is None or _below(m, favourable, bar)):
            out.append(
                f"{where} fell from offline {offline:.3f} by more than {mon.live_max_drop:g}"
            )
    if gate_metric(gate) == m.name:
        # as the gate judges slices: a group clearly below the overall figure minus the gap
        # (AUC: below the AUC within the column's groups, ``model/gate.py`` says why)
        ranked = m.name == "roc_auc"
        for column in dict.fromkeys(f.column for f in slices):
            groups = [f for f in slices if f.column == column]
            within = within_groups((f.value, f.pairs) for f in groups) if ranked else None
            reference, named = (value, "overall") if within is None else (within, "within groups")
            slice_bar = reference - gate.max_slice_gap
            for f in groups:
                clear = f.high if f.high is not None else f.value
                if f.value is not None and clear is not None and _below(m, clear, slice_bar):
                    out.append(
                        f"version {version} slice {f.column}={f.group} live {m.name}"
                        f" {f.value:.3f} clearly below {named} {reference:.3f}"
                        f" - gap {gate.max_slice_gap:g} ({f.rows} rows)"
                    )
    return out


def write_report(settings: Settings, report: LiveReport) -> Path:
    out_dir = settings.path(settings.monitoring.report_dir)
    return textfile.write_report(out_dir, "live", report.generated_at, report.to_dict(), LATEST)


def read_latest(settings: Settings) -> dict[str, Any] | None:
    """The last `monitor` report, or None before the first one."""
    path = settings.path(settings.monitoring.report_dir) / LATEST
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def prometheus_text(report: LiveReport) -> str:
    gauges = textfile.Gauges()
    gauge = gauges.add

    def labels(f: Figure) -> str:
        return f'model="{report.model}",version="{f.version}",metric="{report.metric}"'

    overall = [f for f in report.figures if f.window == ALL and not f.column]
    gauge(
        "live_quality",
        "Live metric of a version on served decisions with outcomes.",
        [(labels(f), f.value) for f in overall if f.value is not None],
    )
    gauge(
        "live_quality_low",
        "Lower bound of the live metric's 95% bootstrap interval.",
        [(labels(f), f.low) for f in overall if f.low is not None],
    )
    gauge(
        "live_quality_high",
        "Upper bound of the live metric's 95% bootstrap interval.",
        [(labels(f), f.high) for f in overall if f.high is not None],
    )
    gauge(
        "live_rows",
        "Served decisions joined to an outcome.",
        [(labels(f), f.rows) for f in overall],
    )
    gauge(
        "live_offline_quality",
        "The version's offline holdout figure.",
        [
            (f'model="{report.model}",version="{v}",metric="{report.metric}"', value)
            for v, value in sorted(report.offline.items())
            if value is not None
        ],
    )
    gauge(
        "live_slice_quality",
        "Live metric of a judged slice group.",
        [
            (labels(f) + f',column="{f.column}",group="{f.group}"', f.value)
            for f in report.figures
            if f.column and f.value is not None
        ],
    )
    model = f'model="{report.model}"'
    gauge("live_judged", "1 if some version had enough rows to judge.", [(model, report.judged)])
    gauge("live_breached", "1 if live quality breached.", [(model, report.breached)])
    gauge("live_last_run_seconds", "Unix time of the check.", [(model, report.generated_at)])
    return gauges.text()


def write_prometheus(settings: Settings, report: LiveReport) -> Path:
    path = settings.path(settings.monitoring.live_prom_path)
    atomic.write_text(path, prometheus_text(report))
    return path
