"""Model quality beyond one number: slices and protected-group gaps on the holdout.

Used by the tests that back the ML Test Score and by `governance render` (model card), so the
figures a reviewer reads are computed by the same code the tests hold to a threshold. The
metric per slice is the task's (``model/metrics.py``: ROC AUC, macro-F1 or R²); fairness
compares per protected group what the task decides:

- binary: the share of positive decisions (selection rate, the four-fifths rule);
- multiclass: the share of each predicted class, the worst class per group reported;
- regression: the mean predicted value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import ttest_ind

from ..data.schema import CATEGORICAL_FEATURES, PROTECTED_COLUMNS, TASK
from ..model import metrics
from ..model.holdout import SliceMetric, group_labels
from ..model.holdout import slice_metrics as _slice_metrics
from ..settings import ModelSettings, Settings

OUTCOME = {
    "binary": "positive decision rate",
    "multiclass": "predicted class share",
    "regression": "mean prediction",
}[TASK]


@dataclass(frozen=True)
class GroupRate:
    column: str
    group: str
    rows: int
    selection_rate: float  # the task's outcome (OUTCOME) for this group
    impact_ratio: float | None  # outcome / highest group's outcome; None if too small
    p_value: float | None  # significance of the gap to the highest group
    outcome: str = ""  # the class judged (multiclass), else empty
    # one-sided 95% upper bound of the impact ratio (log-ratio normal approximation):
    # a group is clearly under the four-fifths rule only when even this is under it
    ratio_high: float | None = None


def slice_metrics(
    settings: Settings,
    frame: pd.DataFrame,
    out: np.ndarray,
    columns: list[str] | None = None,
) -> list[SliceMetric]:
    """Quality per value of each categorical feature (default) or of the given columns,
    judged from the gate's minimum slice size."""
    metric, threshold = metrics.gate_metric(settings.gate), settings.model.decision_threshold
    columns = columns or list(CATEGORICAL_FEATURES)
    return _slice_metrics(frame, out, columns, metric, threshold, settings.gate.min_slice_rows)


def _ratio_high(v: np.ndarray, best: np.ndarray, ratio: float, z: float = 1.645) -> float | None:
    """One-sided 95% upper bound of mean(v) / mean(best): the log ratio's standard error is
    sqrt(var1 / (n1 m1^2) + var2 / (n2 m2^2)) (for rates, Katz's (1 - p) / (n p))."""
    m1, m2 = float(v.mean()), float(best.mean())
    if ratio <= 0 or m1 <= 0 or m2 <= 0 or len(v) < 2 or len(best) < 2:
        return None
    se = math.sqrt(float(v.var(ddof=1)) / (len(v) * m1 * m1)
                   + float(best.var(ddof=1)) / (len(best) * m2 * m2))  # fmt: skip
    return ratio * math.exp(z * se)


def _two_proportion_p(n1: int, r1: float, n2: int, r2: float) -> float:
    pooled = (n1 * r1 + n2 * r2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return 1.0 if se == 0 else math.erfc(abs(r1 - r2) / se / math.sqrt(2))


def _outcomes(out: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    """Per judged outcome, the value per row whose group means are compared."""
    decided = metrics.decide(out, threshold)
    if metrics.CLASSES is None:
        return {"": np.asarray(out, dtype=float)}
    if TASK == "binary":
        return {"": (decided == metrics.CLASSES[1]).astype(float)}
    return {str(c): (decided == c).astype(float) for c in metrics.CLASSES}


def _groups(
    column: str, frame: pd.DataFrame, values: np.ndarray, outcome: str, min_rows: int
) -> list[GroupRate]:
    labels = group_labels(frame[column])  # missing values: their own group, never a crash
    rows: dict[str, np.ndarray] = {g: values[labels == g] for g in sorted(set(labels))}
    judged = {g: v for g, v in rows.items() if len(v) >= min_rows}
    top = max(judged, key=lambda g: float(judged[g].mean()), default=None)
    out = []
    for group, v in rows.items():
        rate = float(v.mean())
        if top is None or group not in judged or judged[top].mean() <= 0:
            out.append(GroupRate(column, group, len(v), rate, None, None, outcome))
            continue
        best = judged[top]
        if TASK == "regression":
            p = 1.0 if group == top else float(ttest_ind(v, best, equal_var=False).pvalue)
        else:
            p = _two_proportion_p(len(v), rate, len(best), float(best.mean()))
        ratio = rate / float(best.mean())
        high = _ratio_high(v, best, ratio)
        out.append(GroupRate(column, group, len(v), rate, ratio, p, outcome, high))
    return out


def group_rates(
    model: ModelSettings, frame: pd.DataFrame, out: np.ndarray, min_rows: int
) -> list[GroupRate]:
    """The task's outcome per protected group, its ratio to the highest group's and the
    significance of the gap (small samples make the ratio alone noisy)."""
    result = []
    for outcome, values in _outcomes(out, model.decision_threshold).items():
        for column in PROTECTED_COLUMNS:
            result.extend(_groups(column, frame, values, outcome, min_rows))
    return result


def weak_slices(slices: list[SliceMetric], floor: float) -> list[SliceMetric]:
    """Judged slices (large enough for a metric) below the floor."""
    return [s for s in slices if s.metric is not None and s.metric < floor]


def adverse_impact(
    groups: list[GroupRate], min_ratio: float, alpha: float = 0.05
) -> list[GroupRate]:
    """Groups clearly below the ratio: below it, the gap statistically significant (EEOC
    practice), and even the ratio's one-sided 95% upper bound below it, so that a small
    group's chance gap on one holdout is reported without failing the model."""
    return [
        g
        for g in groups
        if g.impact_ratio is not None
        and g.impact_ratio < min_ratio
        and g.p_value is not None
        and g.p_value < alpha
        and (g.ratio_high is None or g.ratio_high < min_ratio)
    ]
