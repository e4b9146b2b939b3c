"""Intervals for the gate: a seeded, vectorised bootstrap of the task's metrics on the holdout.

The gate asks two questions a single number cannot answer on a finite holdout: is the model
*really* better than the baseline (paired: both are scored on the same resampled rows, so the
rows' shared difficulty cancels), and is a group *clearly* worse than the whole? Each resample
weights every row by a Poisson(1) count (the Poisson bootstrap: independent weights, no index
gathering), so one matrix product per chunk of resamples scores them all; 400 resamples of
100,000 rows take a fraction of a second.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import metrics

RESAMPLES = 200
SPREAD_ROWS = 20_000  # a larger holdout's spread is resampled on this many rows, scaled
CHUNK_CELLS = 4_000_000  # weights per chunk (16 MB of float32)
MAE_SKILL = "mae_skill"  # regression's lead over the baseline (``_lead``)


def _poisson_table(levels: int = 1 << 16) -> np.ndarray:
    """Poisson(1) counts by inverse CDF on 65,536 equal steps: drawing uint16 and looking the
    count up is ~10x cheaper than numpy's Poisson sampler, exact to 1/65,536 in probability."""
    from math import exp, factorial

    cdf = np.cumsum([exp(-1) / factorial(k) for k in range(12)])
    steps = (np.arange(levels) + 0.5) / levels
    return np.searchsorted(cdf, steps).astype(np.float32)


_TABLE = _poisson_table()


def weight_chunks(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Poisson(1) row weights, (chunk, n) float32, ``resamples`` rows in all; seeded. The
    weights are whole numbers, so float32 sums of them are exact (below 2**24)."""
    rng = np.random.default_rng(seed)
    per = max(1, min(resamples, CHUNK_CELLS // max(n, 1)))
    done = 0
    while done < resamples:
        k = min(per, resamples - done)
        yield _TABLE[rng.integers(0, len(_TABLE), size=(k, n), dtype=np.uint16)]
        done += k


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _f1(w: np.ndarray, truth: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted F1 of one class per resample, and whether it is defined (present at all)."""
    hit = (truth & predicted).astype(np.float32)
    tp = w @ hit
    fp = w @ (~truth & predicted).astype(np.float32)
    fn = w @ (truth & ~predicted).astype(np.float32)
    den = 2 * tp + fp + fn
    return np.nan_to_num(_safe_div(2 * tp, den)), den > 0


def _auc(w: np.ndarray, positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Weighted ROC AUC (ties count half) per resample: each positive's weight times the
    negative weight ranked below it, over all positive x negative weight."""
    if len(score) and np.ptp(score) == 0:  # one score for all rows (the prior): 0.5 exactly
        has_both = ((w * positive).sum(axis=1) > 0) & ((w * ~positive).sum(axis=1) > 0)
        return np.where(has_both, 0.5, np.nan)
    order = np.argsort(score, kind="stable")
    s, pos = score[order], positive[order]
    ws = w[:, order]
    neg_w = ws * (~pos)
    cum = np.cumsum(neg_w, axis=1)  # whole numbers: exact in float32
    total_neg = cum[:, -1].astype(np.float64)
    pos_w = ws * pos
    new = np.r_[True, s[1:] != s[:-1]]
    if new.all():  # no ties: each positive outranks the negative weight below it
        num = (pos_w * (cum - neg_w)).sum(axis=1, dtype=np.float64)
    else:  # ties count half: the negative weight below the tie group, half of the group's
        starts = np.flatnonzero(new)
        ends = np.r_[starts[1:], len(s)] - 1
        group = np.cumsum(new) - 1
        at_start = cum[:, starts] - neg_w[:, starts]
        below = at_start[:, group]
        tied = cum[:, ends][:, group] - below
        num = (pos_w * (below + 0.5 * tied)).sum(axis=1, dtype=np.float64)
    return _safe_div(num, pos_w.sum(axis=1, dtype=np.float64) * total_neg)


def weighted_metric(
    metric: str, y: np.ndarray, out: np.ndarray, threshold: float, w: np.ndarray
) -> np.ndarray:
    """The gate metric per resample (rows of ``w``); NaN where it is undefined."""
    total = w.sum(axis=1, dtype=np.float64)
    if metrics.CLASSES is None:
        y_f, out_f = np.asarray(y, dtype=float), np.asarray(out, dtype=float)
        w64 = w.astype(np.float64)
        if metric == "mae":
            return _safe_div(w64 @ np.abs(y_f - out_f), total)
        if metric != "r2":
            raise ValueError(f"metric '{metric}' has no bootstrap here")
        sse = w64 @ (y_f - out_f) ** 2
        sy, syy = w64 @ y_f, w64 @ y_f**2
        sst = syy - _safe_div(sy**2, total)
        return 1 - _safe_div(sse, np.where(sst > 1e-12 * np.maximum(syy, 1), sst, 0))
    truth = metrics.class_array(y)
    decided = metrics.decide(out, threshold)
    if metric == "accuracy":
        return _safe_div(w @ (truth == decided).astype(np.float32), total)
    if metric == "roc_auc":
        return _auc(w, truth == metrics.CLASSES[1], np.asarray(out, dtype=float))
    if metric == "f1":
        positive = metrics.CLASSES[1]
        return _f1(w, truth == positive, decided == positive)[0]
    if metric == "macro_f1":
        scores, present = [], []
        for c in metrics.class_array(metrics.CLASSES):
            f1, defined = _f1(w, truth == c, decided == c)
            scores.append(np.where(defined, f1, 0.0))
            present.append(defined)
        count = np.sum(present, axis=0)
        return _safe_div(np.sum(scores, axis=0), count)
    raise ValueError(f"metric '{metric}' is not a classification metric")


def _spread_rows(n: int, seed: int) -> np.ndarray | None:
    """Rows the spread is resampled on: all, or a seeded ``SPREAD_ROWS`` of a larger holdout
    (a figure's standard error shrinks as 1/sqrt(rows), so it is scaled back to n)."""
    if n <= SPREAD_ROWS:
        return None
    return np.sort(np.random.default_rng(seed + 1).choice(n, SPREAD_ROWS, replace=False))


def _bound(point: float, values: np.ndarray, q: float, scale: float) -> float | None:
    """The one-sided ``q`` bound: the point figure plus the normal quantile times the
    bootstrap standard error (steadier in the far tail than the empirical quantile of a few
    hundred resamples)."""
    from statistics import NormalDist

    values = values[np.isfinite(values)]
    if len(values) < 2:
        return None
    return float(point + NormalDist().inv_cdf(q) * values.std(ddof=1) * scale)


def _resampled(
    metric: str, y: Any, outs: list[np.ndarray], threshold: float, resamples: int, seed: int
) -> tuple[list[np.ndarray], float]:
    """Per output, its metric per resample (on the spread rows), and the SE scale to n rows."""
    y = np.asarray(y)
    rows = _spread_rows(len(y), seed)
    scale = 1.0
    if rows is not None:
        scale = float(np.sqrt(len(rows) / len(y)))
        y, outs = y[rows], [o[rows] for o in outs]
    per: list[list[np.ndarray]] = [[] for _ in outs]
    for w in weight_chunks(len(y), resamples, seed):
        for i, o in enumerate(outs):
            per[i].append(weighted_metric(metric, y, o, threshold, w))
    return [np.concatenate(p) for p in per], scale


def _figure(metric: str) -> str:
    """What each output is scored by for a lead in ``metric``: its MAE for the MAE skill."""
    return "mae" if metric == MAE_SKILL else metric


def _lead(metric: str, model: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """The model's lead over the baseline from each one's figure (per resample, or the point):
    the difference, or for ``MAE_SKILL`` 1 - MAE(model) / MAE(baseline), the share of the
    baseline's absolute error the model removes (0: none, 1: all; NaN: the baseline has none).

    Regression's baseline check reads the MAE skill rather than the lead in R²: squared errors
    let a few extreme labels (salaries, prices) swing R² on a small holdout so far that a model
    which halves the typical error cannot show it; absolute errors are paired row by row and
    far steadier, while a model with no signal still removes none of the baseline's error.
    """
    if metric == MAE_SKILL:
        return 1 - _safe_div(model, baseline)
    difference: np.ndarray = model - baseline
    return difference


def lead(
    metric: str, y: np.ndarray, model_out: np.ndarray, baseline_out: np.ndarray, threshold: float
) -> float | None:
    """The model's lead over the baseline on these rows (``_lead``); None where undefined."""
    a = metrics.metric_value(_figure(metric), y, model_out, threshold)
    b = metrics.metric_value(_figure(metric), y, baseline_out, threshold)
    if a is None or b is None:
        return None
    value = float(_lead(metric, np.asarray(a), np.asarray(b)))
    return value if math.isfinite(value) else None


def lead_lower_bound(
    metric: str,
    y: np.ndarray,
    model_out: np.ndarray,
    baseline_out: np.ndarray,
    threshold: float,
    level: float,
    seed: int,
    resamples: int = RESAMPLES,
) -> float | None:
    """One-sided ``level`` lower bound of the model's lead over the baseline (``_lead``: the
    difference in ``metric``, or the MAE skill), both scored on the same resampled rows."""
    point = lead(metric, y, model_out, baseline_out, threshold)
    if point is None:
        return None
    outs = [model_out, baseline_out]
    (ma, mb), scale = _resampled(_figure(metric), y, outs, threshold, resamples, seed)
    return _bound(point, _lead(metric, ma, mb), 1 - level, scale)


@dataclass(frozen=True)
class GroupFigure:
    """One group's figure with its bootstrap bounds (one-sided ``level`` each way)."""

    value: float | None
    low: float | None
    high: float | None


def metric_figure(
    metric: str,
    y: Any,
    out: np.ndarray,
    threshold: float,
    level: float,
    seed: int,
    resamples: int = RESAMPLES,
) -> GroupFigure:
    """A group's gate metric and its bootstrap bounds."""
    value = metrics.metric_value(metric, y, out, threshold)
    if value is None:
        return GroupFigure(None, None, None)
    (per,), scale = _resampled(metric, y, [out], threshold, resamples, seed)
    low, high = _bound(value, per, 1 - level, scale), _bound(value, per, level, scale)
    return GroupFigure(value, low, high)


def mean_figure(values: np.ndarray, level: float) -> GroupFigure:
    """The mean of per-row values (absolute errors, residuals) and its one-sided bounds."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return GroupFigure(None, None, None)
    # the mean's bootstrap standard error is the sample's: sd / sqrt(n), no resampling needed
    mean = float(v.mean())
    if len(v) < 2:
        return GroupFigure(mean, None, None)
    from statistics import NormalDist

    half = NormalDist().inv_cdf(level) * float(v.std(ddof=1)) / float(np.sqrt(len(v)))
    return GroupFigure(mean, mean - half, mean + half)


@dataclass(frozen=True)
class ExpectedBar:
    """What a first model must beat on a table, before any model exists (printed by adopt)."""

    task: str
    metric: str
    baseline: float
    lead: float  # about how far above the baseline a model must be for the interval to clear
    holdout_rows: int
    confidence: float

    def line(self) -> str:
        return (
            f"gate: baseline {self.metric} {self.baseline:.3f} (class priors / mean) on an"
            f" expected {self.holdout_rows}-row holdout; a model passes the baseline check when"
            f" its {self.confidence:.0%} lower bound of the lead is above 0, about"
            f" {self.metric} >= {self.baseline + self.lead:.3f} (lead {self.lead:+.3f})"
        )


def expected_bar(
    task: str, label_shares: dict[str, float] | None, rows: int, test_size: float,
    confidence: float, metric: str = "auto",
) -> ExpectedBar:  # fmt: skip
    """The baseline of a table's task and, for its expected holdout size, about the lead a
    model needs for the baseline check's interval to clear 0. Read from the label's class
    shares and the row count alone (adopt's profile), so it needs no model and no contract:
    the null spread of the metric times the one-sided normal quantile of ``confidence``.
    A rough guide (the gate measures the real interval), right in scale: r2 needs about
    4 z^2 / n (a weak signal's r2 has a standard error of about 2 sqrt(r2 / n))."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(confidence)
    n = max(1, math.ceil(rows * test_size))
    default = {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "r2"}[task]
    valid = {"binary": ("roc_auc", "accuracy", "f1"), "multiclass": ("macro_f1", "accuracy")}
    metric = metric if metric in valid.get(task, ()) else default
    shares = sorted((label_shares or {}).values(), reverse=True)
    top = shares[0] if shares else 0.5
    if metric == "r2":
        return ExpectedBar(task, metric, 0.0, 4 * z * z / n, n, confidence)
    if metric == "roc_auc":
        n1 = max(1.0, n * (shares[-1] if shares else 0.5))
        n0 = max(1.0, n - n1)
        return ExpectedBar(task, metric, 0.5, z * math.sqrt((n1 + n0 + 1) / (12 * n1 * n0)), n,
                           confidence)  # fmt: skip
    if metric == "accuracy":
        return ExpectedBar(task, metric, top, z * math.sqrt(top * (1 - top) / n), n, confidence)
    if metric == "f1":  # the prior predicts the majority class: F1 of the positive is 0
        return ExpectedBar(task, metric, 0.0, z * math.sqrt(0.25 / n), n, confidence)
    k = max(1, len(shares))  # macro-F1: the majority class's F1 over the classes present
    base = 2 * top / (1 + top) / k
    return ExpectedBar(task, metric, base, z * math.sqrt(top * (1 - top) / n), n, confidence)
