"""What a model's output is and how it is judged, per task: one module for training, the gate,
governance and serving.

The contract's ``TASK`` decides. A model's *output* for rows is:

- ``binary``: the probability of the positive class (the label's last allowed value), (n,);
- ``multiclass``: the probability of each class in ``CLASSES`` order, (n, k);
- ``regression``: the predicted value, (n,).

Gate metrics are all "higher is better" (ROC AUC, macro-F1, R²), so floors, slice gaps and
the champion comparison read the same for every task; log-loss, RMSE and MAE are reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from ..data.schema import LABEL, TASK, PilotSchema
from ..settings import GateSettings


def label_classes() -> list[Any] | None:
    """The classes a classifier predicts (sorted, as scikit-learn orders them); None: regression."""
    if TASK == "regression":
        return None
    for check in PilotSchema.to_schema().columns[LABEL].checks:
        if check.name == "isin":
            return sorted(check.statistics["allowed_values"])
    raise ValueError(f"data contract: the {TASK} label '{LABEL}' needs an isin=[...] check")


CLASSES = label_classes()
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "r2"}[TASK]
GATE_METRICS = {
    "binary": ("roc_auc", "accuracy", "f1"),
    "multiclass": ("macro_f1", "accuracy"),
    "regression": ("r2",),
}[TASK]
# scikit-learn scorer names, for cross-validation and permutation importance
SCORING = {"roc_auc": "roc_auc", "accuracy": "accuracy", "f1": "f1", "macro_f1": "f1_macro"}
SCORING |= {"r2": "r2"}
BASELINE = {
    "binary": "prior-probability baseline",
    "multiclass": "prior-probability baseline",
    "regression": "mean predictor",
}[TASK]
# What the service returns as `prediction`, and what drift watches per row.
OUTPUT_KIND = {"binary": "probability", "multiclass": "class", "regression": "value"}[TASK]


def gate_metric(gate: GateSettings) -> str:
    metric = DEFAULT_METRIC if gate.metric == "auto" else gate.metric
    if metric not in GATE_METRICS:
        raise ValueError(
            f"setting APP_GATE__METRIC: '{metric}' does not judge a {TASK} model"
            f" (choose {', '.join(GATE_METRICS)} or auto)"
        )
    return metric


def label(frame: pd.DataFrame) -> pd.Series:
    """The label as the task needs it (coerced by the contract; numbers for regression)."""
    y = frame[LABEL]
    return y.astype(float) if TASK == "regression" else y


def output(model: Any, x: pd.DataFrame) -> np.ndarray:
    """The model's output for feature rows (module docstring), columns aligned to CLASSES."""
    if CLASSES is None:
        return np.asarray(model.predict(x), dtype=float)
    proba = np.asarray(model.predict_proba(x), dtype=float)
    known = [CLASSES.index(c) for c in model.classes_]
    full = np.zeros((len(proba), len(CLASSES)))
    full[:, known] = proba
    return full[:, 1] if TASK == "binary" else full


def decide(out: np.ndarray, threshold: float) -> np.ndarray:
    """The decision per row: the class (threshold on the positive probability) or the value."""
    if CLASSES is None:
        return out
    if TASK == "binary":
        return np.asarray(np.where(out >= threshold, CLASSES[1], CLASSES[0]))
    return np.asarray(np.asarray(CLASSES, dtype=object)[np.argmax(out, axis=1)])


def monitored(out: np.ndarray, threshold: float) -> list[Any]:
    """The one value per row that prediction drift watches (OUTPUT_KIND)."""
    if TASK == "multiclass":
        return [_plain(c) for c in decide(out, threshold)]
    return [float(v) for v in out]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def metrics_for(
    y: Sequence[Any] | pd.Series, out: np.ndarray, threshold: float
) -> dict[str, float]:
    """Every metric of the task; undefined ones (one class, one row) are left out."""
    values = {m: metric_value(m, y, out, threshold) for m in reported()}
    return {k: v for k, v in values.items() if v is not None}


def reported() -> tuple[str, ...]:
    return {
        "binary": ("roc_auc", "accuracy", "f1", "log_loss"),
        "multiclass": ("macro_f1", "accuracy", "log_loss"),
        "regression": ("r2", "rmse", "mae"),
    }[TASK]


def metric_value(
    metric: str, y: Sequence[Any] | pd.Series, out: np.ndarray, threshold: float
) -> float | None:
    """One metric, or None when it is undefined for these rows (e.g. AUC of one class)."""
    return _metric(metric, np.asarray(y), out, threshold)


def _metric(metric: str, y: np.ndarray, out: np.ndarray, threshold: float) -> float | None:
    if len(y) == 0:
        return None
    if CLASSES is None:
        if metric == "r2":
            return float(r2_score(y, out)) if len(y) >= 2 and np.ptp(y) > 0 else None
        if metric == "rmse":
            return float(np.sqrt(mean_squared_error(y, out)))
        if metric == "mae":
            return float(mean_absolute_error(y, out))
        raise ValueError(f"metric '{metric}' is not a regression metric")
    decided = decide(out, threshold)
    if metric == "accuracy":
        return float(accuracy_score(y, decided))
    if metric == "log_loss":
        proba = np.column_stack([1 - out, out]) if TASK == "binary" else out
        return float(log_loss(y, np.clip(proba, 1e-15, 1), labels=CLASSES))
    if TASK == "binary":
        positive = y == CLASSES[1]
        if metric == "roc_auc":
            return float(roc_auc_score(positive, out)) if 0 < positive.sum() < len(y) else None
        if metric == "f1":
            return float(f1_score(positive, decided == CLASSES[1], zero_division=0))
    elif metric == "macro_f1":
        # over the classes present (in truth or prediction): a slice need not hold them all
        return float(f1_score(y, decided, average="macro", zero_division=0))
    raise ValueError(f"metric '{metric}' is not a {TASK} metric")


def baseline(x_train: pd.DataFrame, y_train: pd.Series) -> Any:
    """The model to beat: class priors (classification) or the training mean (regression)."""
    if CLASSES is None:
        return DummyRegressor(strategy="mean").fit(x_train, y_train)
    return DummyClassifier(strategy="prior").fit(x_train, y_train)


def stratify(frame: pd.DataFrame) -> pd.Series | None:
    """Split on the label's classes so every class is in both parts (not for regression)."""
    return None if CLASSES is None else frame[LABEL]
