"""The holdout and its slices: one definition for training, the gate and governance.

Training fits on one part and logs metrics on the other; the gate judges every version on
that same other part; the model card and the ML Test Score tests report slices computed
here, so a reviewer reads the figures the gate held to a threshold.

With a time column (``TIME`` in the contract) the holdout is the latest ``test_size`` share
of the rows by time: production always scores the future, so the gate judges a model on
rows later than any it learned from. Ties are broken by the table's row order (a stable
sort), so the same table always splits the same way. Without one: a seeded random split,
stratified by class when every class has at least two rows.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from ..data.schema import TASK, TIME
from ..features import feature_frame
from ..settings import ModelSettings
from . import metrics

MISSING_GROUP = "missing"  # the group of rows whose slice / protected value is missing
# Rows per chunk when scoring held-out rows: the transformed matrix of a chunk, not of the
# whole holdout, is in memory at once (a 20M-row table holds out millions of rows).
CHUNK_ROWS = 200_000
MAX_RANKS = 1 << 16  # distinct instants that sort by rank: 16-bit ranks (``time_order``)
RANK_PROBE = 1_000_000  # rows looked at first: more distinct instants there, no ranks


def split(model: ModelSettings, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and holdout rows; the gate judges every model on the same holdout."""
    if TIME is not None and TIME in frame.columns and len(frame) >= 2:
        order = time_order(frame[TIME])
        n_test = min(len(frame) - 1, max(1, math.ceil(len(frame) * model.test_size)))
        cut = len(frame) - n_test
        return frame.iloc[order[:cut]], frame.iloc[order[cut:]]
    train_rows, test_rows = train_test_split(
        frame,
        test_size=model.test_size,
        random_state=model.seed,
        stratify=metrics.stratify(frame),
    )
    return train_rows, test_rows


def time_order(times: pd.Series, max_ranks: int = MAX_RANKS) -> np.ndarray:
    """The rows' positions in time order, ties in table order (a stable sort). A column of
    few distinct instants (dates, hours: at most ``max_ranks``) is sorted by each instant's
    rank, in one radix pass over 16-bit ranks: the same order in half the time of comparing
    the instants (over a second of ``train`` at 20M rows)."""
    max_ranks = min(max_ranks, MAX_RANKS)  # ranks are 16-bit
    values = pd.to_datetime(times).to_numpy()
    few = values.dtype.kind == "M" and not np.isnat(values).any()
    if few and len(pd.unique(values[:RANK_PROBE])) <= max_ranks:  # many there: no ranks
        ranks, instants = pd.factorize(values, sort=True)
        if len(instants) <= max_ranks:
            return np.argsort(ranks.astype(np.uint16), kind="stable")
    return np.argsort(values, kind="stable")


def holdout(model: ModelSettings, frame: pd.DataFrame) -> pd.DataFrame:
    return split(model, frame)[1]


def describe_split(train_rows: pd.DataFrame, test_rows: pd.DataFrame) -> dict[str, Any]:
    """How the holdout was taken, for lineage, the gate's record and the model card."""
    out: dict[str, Any] = {"training_part_rows": len(train_rows), "holdout_rows": len(test_rows)}
    if TIME is not None and TIME in test_rows.columns and len(test_rows):
        times = pd.to_datetime(test_rows[TIME])
        out |= {
            "kind": "time",
            "time_column": TIME,
            "boundary": str(times.min()),
            "latest": str(times.max()),
            "training_latest": str(pd.to_datetime(train_rows[TIME]).max()),
        }
    else:
        out["kind"] = "stratified random" if TASK != "regression" else "random"
    return out


def split_text(info: dict[str, Any]) -> str:
    """One line for a person: what the holdout is."""
    if info.get("kind") == "time":
        return (
            f"latest {info['holdout_rows']} rows by {info['time_column']}, from"
            f" {info['boundary']} (training rows up to {info['training_latest']})"
        )
    return f"{info.get('kind', 'random')} split, {info.get('holdout_rows', '?')} rows"


def predict(pipeline: Pipeline, frame: pd.DataFrame, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """The model's output for contract rows (``model/metrics.py`` says what it is per task),
    scored ``chunk_rows`` at a time: memory stays bounded whatever the holdout's size."""
    if len(frame) <= chunk_rows:
        return metrics.output(pipeline, feature_frame(frame))
    parts = [
        metrics.output(pipeline, feature_frame(frame.iloc[start : start + chunk_rows]))
        for start in range(0, len(frame), chunk_rows)
    ]
    return np.concatenate(parts)


def column_hash(column: pd.Series) -> np.ndarray:
    """Each value's hash as ``data_hash`` takes it: numbers by value as float64, instants as
    integers, everything else by its text (whether pandas holds it as object, str or
    category)."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        values: pd.Series = column.astype("float64")
    elif pd.api.types.is_datetime64_any_dtype(column):  # instants, not their text
        values = pd.Series(column.dt.tz_localize(None) if column.dt.tz else column)
        values = values.astype("datetime64[ns]").astype("int64")
    else:
        values = column.astype(str)
    hashed: np.ndarray = pd.util.hash_pandas_object(values, index=False).to_numpy()
    return hashed


def _digest(parts: list[np.ndarray], rows: int) -> str:
    """SHA-256 of the row hashes as one row-major matrix (a column per part), fed a block of
    rows at a time: the same digest without a copy of the whole matrix."""
    digest = hashlib.sha256()
    for start in range(0, rows if parts else 0, CHUNK_ROWS):
        block = np.column_stack([part[start : start + CHUNK_ROWS] for part in parts])
        digest.update(np.ascontiguousarray(block).tobytes())
    return digest.hexdigest()


def data_hash(frame: pd.DataFrame) -> str:
    """The hash versions registered by earlier 0.3.0 builds carry (``evaluate.same_data``
    still recognises it; new versions carry the content hash): of the rows' values,
    independent of row labels, column order and storage dtypes (``column_hash``)."""
    return _digest([column_hash(frame[name]) for name in sorted(frame.columns)], len(frame))


def legacy_data_hash(frame: pd.DataFrame) -> str:
    """The hash versions trained before 0.3.0 carry (the rows' text form): the gate still
    recognises their training data after an update, so they promote without a retrain."""
    canonical = frame[sorted(frame.columns)].astype(str)
    hashed = pd.util.hash_pandas_object(canonical, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def group_labels(values: pd.Series) -> np.ndarray:
    """Each row's group as text, missing values as their own group (``missing``): a slice
    or protected column with gaps never mixes floats with text, never drops rows."""
    out = values.astype(object).astype(str).to_numpy(dtype=object)
    out[values.isna().to_numpy()] = MISSING_GROUP
    return out


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
        values = group_labels(rows[column])
        for value in sorted(set(values.tolist())):
            mask = values == value
            y, n = y_all[mask], int(mask.sum())
            score = metrics.metric_value(metric, y, out[mask], threshold) if n >= min_rows else None
            result.append(SliceMetric(column, value, n, _label_mean(y), score))
    return result
