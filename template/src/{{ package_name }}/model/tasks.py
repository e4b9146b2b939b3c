"""What depends on the task (``TASK`` in the data contract): one place for all three.

The live metric, the agreement of two predictions and the reading of a logged output all
differ between binary classification, multiclass classification and regression; everything
else (outcomes, live quality, the shadow) calls these functions and never asks which task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data import roles
from ..data.roles import TASK

METRICS = {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "rmse"}


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool


def metric(task: str = TASK) -> Metric:
    return Metric(METRICS[task], task != "regression")


def score_of(output: Mapping[str, Any], task: str = TASK) -> Any:
    """The part of a logged output the metric reads: a probability (binary) or the prediction."""
    return output["probability"] if task == "binary" else output["prediction"]


def agree(a: Mapping[str, Any], b: Mapping[str, Any], tolerance: float, task: str = TASK) -> bool:
    """Two outputs agree: same class, or (regression) within ``tolerance`` relative difference."""
    if task == "regression":
        x, y = float(a["prediction"]), float(b["prediction"])
        return abs(x - y) <= tolerance * max(abs(x), abs(y), 1e-12)
    return bool(a["prediction"] == b["prediction"])


def live_metric(labels: Sequence[Any], scores: Sequence[Any], task: str = TASK) -> float | None:
    """The task's metric of logged scores against outcomes; None where it is undefined."""
    if len(labels) == 0:
        return None
    y, s = _arrays(labels, scores, task)
    return _metric(y, s, task)


def _arrays(labels: Sequence[Any], scores: Sequence[Any], task: str) -> tuple[Any, Any]:
    if task == "binary":  # 1 where the outcome is the contract's positive class ("yes", 1, ...)
        return np.asarray(roles.positives(labels), dtype=int), np.asarray(scores, dtype=float)
    if task == "multiclass":
        return np.asarray([str(v) for v in labels]), np.asarray([str(v) for v in scores])
    return np.asarray(labels, dtype=float), np.asarray(scores, dtype=float)


def _metric(y: Any, s: Any, task: str) -> float | None:
    from scipy.stats import rankdata
    from sklearn.metrics import f1_score

    if task == "binary":
        positives = int(y.sum())
        negatives = len(y) - positives
        if not positives or not negatives:
            return None  # ROC AUC needs both classes
        # ROC AUC as the Mann-Whitney statistic (ties count half), equal to sklearn's and
        # ~50x cheaper per call, which the bootstrap repeats hundreds of times.
        ranks = rankdata(s)
        u = float(ranks[y == 1].sum()) - positives * (positives + 1) / 2
        return u / (positives * negatives)
    if task == "multiclass":
        return float(f1_score(y, s, average="macro", zero_division=0))
    return float(np.sqrt(np.mean((s - y) ** 2)))


def bootstrap_interval(
    labels: Sequence[Any],
    scores: Sequence[Any],
    resamples: int,
    seed: int,
    level: float = 0.95,
    task: str = TASK,
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of ``live_metric`` (resampling rows with replacement)."""
    n = len(labels)
    if n < 2 or resamples <= 0:
        return None, None
    rng = np.random.default_rng(seed)
    y, s = _arrays(labels, scores, task)
    values = []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        value = _metric(y[idx], s[idx], task)
        if value is not None:
            values.append(value)
    if not values:
        return None, None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
