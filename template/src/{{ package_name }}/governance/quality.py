"""Model quality beyond one number: the holdout split, slices and protected-group gaps.

Used by the tests that back the ML Test Score and by `governance render` (model card), so the
figures a reviewer reads are computed by the same code the tests hold to a threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from ..data.schema import CATEGORICAL_FEATURES, LABEL, PROTECTED_COLUMNS
from ..settings import Settings

DECISION_THRESHOLD = 0.5  # the same cut-off serving uses for `prediction`


@dataclass(frozen=True)
class SliceMetric:
    column: str
    value: str
    rows: int
    positive_rate: float
    roc_auc: float | None  # None when the slice holds one class only


@dataclass(frozen=True)
class GroupRate:
    column: str
    group: str
    rows: int
    selection_rate: float
    impact_ratio: float | None  # selection rate / highest group's rate; None if too small
    p_value: float | None  # two-proportion z-test against the highest group


def holdout(settings: Settings, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows training held out: same seed, size and stratification as `model/train.py`."""
    parts: list[pd.DataFrame] = train_test_split(
        frame,
        test_size=settings.model.test_size,
        random_state=settings.model.seed,
        stratify=frame[LABEL],
    )
    return parts[1]


def _auc(y: pd.Series, proba: np.ndarray) -> float | None:
    return float(roc_auc_score(y, proba)) if y.nunique() == 2 else None


def slice_metrics(
    frame: pd.DataFrame, proba: np.ndarray, columns: list[str] | None = None
) -> list[SliceMetric]:
    """Quality per value of each categorical feature (default) or of the given columns."""
    out = []
    for column in columns or CATEGORICAL_FEATURES:
        for value in sorted(frame[column].astype(str).unique()):
            mask = (frame[column].astype(str) == value).to_numpy()
            y = frame.loc[mask, LABEL]
            out.append(
                SliceMetric(column, value, int(mask.sum()), float(y.mean()), _auc(y, proba[mask]))
            )
    return out


def _two_proportion_p(n1: int, r1: float, n2: int, r2: float) -> float:
    pooled = (n1 * r1 + n2 * r2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return 1.0 if se == 0 else math.erfc(abs(r1 - r2) / se / math.sqrt(2))


def group_rates(frame: pd.DataFrame, proba: np.ndarray, min_rows: int) -> list[GroupRate]:
    """Positive-decision rate per protected group, its ratio to the highest group's rate and
    the significance of the gap (small samples make the ratio alone noisy)."""
    out = []
    decided = proba >= DECISION_THRESHOLD
    for column in PROTECTED_COLUMNS:
        rates: dict[str, tuple[int, float]] = {}
        for group in sorted(frame[column].astype(str).unique()):
            mask = (frame[column].astype(str) == group).to_numpy()
            rates[group] = (int(mask.sum()), float(decided[mask].mean()))
        judged = {g: v for g, v in rates.items() if v[0] >= min_rows}
        top_rows, top = max(judged.values(), key=lambda v: v[1], default=(0, 0.0))
        for group, (rows, rate) in rates.items():
            if group in judged and top > 0:
                p = _two_proportion_p(rows, rate, top_rows, top)
                out.append(GroupRate(column, group, rows, rate, rate / top, p))
            else:
                out.append(GroupRate(column, group, rows, rate, None, None))
    return out


def weak_slices(slices: list[SliceMetric], min_rows: int, min_auc: float) -> list[SliceMetric]:
    return [
        s for s in slices if s.rows >= min_rows and s.roc_auc is not None and s.roc_auc < min_auc
    ]


def adverse_impact(
    groups: list[GroupRate], min_ratio: float, alpha: float = 0.05
) -> list[GroupRate]:
    """Groups below the ratio whose gap is also statistically significant (EEOC practice)."""
    return [
        g
        for g in groups
        if g.impact_ratio is not None
        and g.impact_ratio < min_ratio
        and g.p_value is not None
        and g.p_value < alpha
    ]
