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
    from sklearn.metrics import f1_score, roc_auc_score

    if len(labels) == 0:
        return None
    if task == "binary":
        y = np.asarray(labels, dtype=int)
        if len(set(y.tolist())) < 2:
            return None  # ROC AUC needs both classes
        return float(roc_auc_score(y, np.asarray(scores, dtype=float)))
    if task == "multiclass":
        y_text = [str(v) for v in labels]
        return float(f1_score(y_text, [str(v) for v in scores], average="macro", zero_division=0))
    err = np.asarray(scores, dtype=float) - np.asarray(labels, dtype=float)
    return float(np.sqrt(np.mean(err**2)))


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
    y, s = np.asarray(labels, dtype=object), np.asarray(scores, dtype=object)
    values = []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        value = live_metric(y[idx].tolist(), s[idx].tolist(), task)
        if value is not None:
            values.append(value)
    if not values:
        return None, None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
