"""The holdout and its slices: one definition for training, the gate and governance.

Training fits on one part and logs metrics on the other; the gate judges every version on
that same other part (same seed, size and stratification); the model card and the ML Test
Score tests report slices computed here, so a reviewer reads the figures the gate held to a
threshold.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from ..data.schema import TASK
from ..features import feature_frame
from ..settings import ModelSettings
from . import metrics


def split(model: ModelSettings, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and holdout rows; the gate judges every model on the same holdout."""
    train_rows, test_rows = train_test_split(
        frame,
        test_size=model.test_size,
        random_state=model.seed,
        stratify=metrics.stratify(frame),
    )
    return train_rows, test_rows


def holdout(model: ModelSettings, frame: pd.DataFrame) -> pd.DataFrame:
    return split(model, frame)[1]


def predict(pipeline: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """The model's output for contract rows (``model/metrics.py`` says what it is per task)."""
    return metrics.output(pipeline, feature_frame(frame))


def data_hash(frame: pd.DataFrame) -> str:
    """Hash of the rows' text form: independent of row labels and of storage dtypes."""
    canonical = frame[sorted(frame.columns)].astype(str)
    hashed = pd.util.hash_pandas_object(canonical, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


@dataclass(frozen=True)
class SliceMetric:
    column: str
    value: str
    rows: int
    label_mean: float | None  # positive rate (binary) or mean label (regression)
    metric: float | None  # the task's metric; None when undefined or the slice is too small


def _label_mean(y: pd.Series) -> float | None:
    if metrics.CLASSES is None:
        return float(y.mean())
    if TASK == "binary":
        return float((y == metrics.CLASSES[1]).mean())
    return None


def slice_metrics(
    rows: pd.DataFrame,
    out: np.ndarray,
    columns: list[str],
    metric: str,
    threshold: float,
    min_rows: int,
) -> list[SliceMetric]:
    """The metric per value of each column; slices under ``min_rows`` are counted, not judged."""
    y_all = metrics.label(rows)
    result = []
    for column in columns:
        values = rows[column].astype(str)
        for value in sorted(values.unique()):
            mask = (values == value).to_numpy()
            y, n = y_all[mask], int(mask.sum())
            score = metrics.metric_value(metric, y, out[mask], threshold) if n >= min_rows else None
            result.append(SliceMetric(column, value, n, _label_mean(y), score))
    return result
