"""What a model's output is and how it is judged, per task: one module for training, the gate,
governance and serving.

The contract's ``TASK`` decides. A model's *output* for rows is:

- ``binary``: the probability of the positive class (the contract's ``POSITIVE``), (n,);
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

from ..data.roles import POSITIVE
from ..data.schema import LABEL, TASK, PilotSchema
from ..settings import GateSettings


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def label_classes() -> list[Any] | None:
    """The classes a classifier predicts, in the label's own values; None: regression.

    Multiclass: sorted, as scikit-learn orders them. Binary: ``[negative, POSITIVE]``, so the
    model's output is always P(POSITIVE) whichever value sorts first (``yes``/``no``,
    ``<=50K``/``>50K``, 0/1).
    """
    if TASK == "regression":
        return None
    for check in PilotSchema.to_schema().columns[LABEL].checks:
        if check.name == "isin":
            values = sorted(_plain(v) for v in check.statistics["allowed_values"])
            if TASK != "binary":
                return values
            if len(values) != 2 or POSITIVE not in values:
                raise ValueError(
                    f"data contract: the binary label '{LABEL}' needs two allowed values, one"
                    f" of them POSITIVE ({POSITIVE!r}); it allows {values}"
                )
            return [next(v for v in values if v != POSITIVE), POSITIVE]
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
    """The label as the task needs it: numbers for regression; for classes, the classes' own
    type (int64 or text), never pandas' object dtype holding numbers, which scikit-learn reads
    as an "unknown" target next to typed predictions."""
    y = frame[LABEL]
    if CLASSES is None:
        return y.astype(float)
    return y.astype(_CLASS_DTYPE)


def class_array(values: Any) -> np.ndarray:
    """Classes as a typed array (int64 for integer classes, text otherwise): the dtype that
    ``label`` gives the truth, so every comparison and metric sees one kind of target."""
    typed: np.ndarray = np.asarray(values).astype(_CLASS_DTYPE)
    return typed


def _class_dtype() -> Any:
    if CLASSES is None:
        return float
    if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in CLASSES):
        return np.int64
    if all(isinstance(c, (bool, np.bool_)) for c in CLASSES):
        return bool
    return str


_CLASS_DTYPE = _class_dtype()


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
    classes = class_array(CLASSES)
    if TASK == "binary":
        index = (np.asarray(out) >= threshold).astype(np.intp)
    else:
        index = np.argmax(out, axis=1)
    picked: np.ndarray = classes[index]
    return picked


def monitored(out: np.ndarray, threshold: float) -> list[Any]:
    """The one value per row that prediction drift watches (OUTPUT_KIND)."""
    if TASK == "multiclass":
        return list(decide(out, threshold).tolist())
    return list(np.asarray(out, dtype=float).tolist())


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
    metric: str, y: Sequence[Any] | pd.Series | np.ndarray, out: np.ndarray, threshold: float
) -> float | None:
    """One metric, or None when it is undefined for these rows (e.g. AUC of one class)."""
    return _metric(metric, np.asarray(y), out, threshold)


def _metric(metric: str, y: np.ndarray, out: np.ndarray, threshold: float) -> float | None:
    # scikit-learn is imported where it is used: scoring a compiled version needs none of it
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        mean_absolute_error,
        mean_squared_error,
        r2_score,
        roc_auc_score,
    )

    if len(y) == 0:
        return None
    if CLASSES is not None:
        y = class_array(y)
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
        # the probability given to each row's true class, columns in CLASSES order (not the
        # sorted order scikit-learn's log_loss would assume for its labels)
        if TASK == "binary":
            p_true = np.where(y == CLASSES[1], out, 1 - out)
        else:
            index = {c: i for i, c in enumerate(class_array(CLASSES).tolist())}
            p_true = out[np.arange(len(y)), [index[v] for v in y.tolist()]]
        return float(-np.mean(np.log(np.clip(p_true, 1e-15, 1))))
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
    from sklearn.dummy import DummyClassifier, DummyRegressor

    if CLASSES is None:
        return DummyRegressor(strategy="mean").fit(x_train, y_train)
    return DummyClassifier(strategy="prior").fit(x_train, y_train)


def stratify(frame: pd.DataFrame) -> pd.Series | None:
    """Split on the label's classes so every class is in both parts (not for regression, nor
    when a class has a single row, which no stratified split can put in both parts)."""
    if CLASSES is None:
        return None
    y = label(frame)
    return y if len(y) and int(y.value_counts().min()) >= 2 else None
