"""Measure a registered version for the gate: holdout metric, baseline, slices, champion.

Every model is scored on the same holdout: the split training used (same seed) of the
processed data that ``ingest`` wrote. The version's ``data_sha256`` tag shows whether that
is the data it was trained from; the gate refuses otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier

from ..data.schema import FEATURES, LABEL
from ..features import feature_frame
from ..settings import Settings
from .gate import Evaluation, SliceScore, Verdict, judge
from .registry import RegistryError, find_alias, get_version, load_pipeline
from .train import data_hash, metrics_for, predict_proba, split


def processed_frame(settings: Settings) -> pd.DataFrame:
    """The training table `ingest` wrote (validated then; here only its columns are checked)."""
    path = settings.path(settings.data.processed_dir) / "training.parquet"
    if not path.exists():
        raise RegistryError(f"no processed data at {path}: run `ingest` (or `train`) first")
    frame = pd.read_parquet(path)
    missing = [c for c in [*FEATURES, LABEL] if c not in frame.columns]
    if missing:
        raise RegistryError(f"processed data {path}: missing columns {', '.join(missing)}")
    return frame


def metric_value(metric: str, y: pd.Series, proba: np.ndarray) -> float | None:
    """The metric, or None when it is undefined (ROC AUC of a single-class group)."""
    if metric == "roc_auc" and y.nunique() < 2:
        return None
    return metrics_for(y, proba)[metric]


def slice_scores(
    settings: Settings, rows: pd.DataFrame, proba: np.ndarray
) -> dict[str, dict[str, SliceScore]]:
    out: dict[str, dict[str, SliceScore]] = {}
    y = rows[LABEL].astype(int)
    for column in settings.gate.slices:
        if column not in rows.columns:
            raise RegistryError(f"setting APP_GATE__SLICES: column '{column}' is not in the data")
        groups: dict[str, SliceScore] = {}
        for group in sorted(rows[column].astype(str).unique()):
            mask = (rows[column].astype(str) == group).to_numpy()
            n = int(mask.sum())
            value = (
                metric_value(settings.gate.metric, y[mask], proba[mask])
                if n >= settings.gate.min_slice_rows
                else None
            )
            groups[group] = SliceScore(n, value)
        out[column] = groups
    return out


def evaluate_version(
    settings: Settings, version: str, frame: pd.DataFrame | None = None
) -> Verdict:
    frame = processed_frame(settings) if frame is None else frame
    metric = settings.gate.metric
    train_rows, test_rows = split(settings, frame)
    y_test = test_rows[LABEL].astype(int)

    ref = get_version(settings, version)
    proba = predict_proba(load_pipeline(settings, ref), test_rows)
    baseline = DummyClassifier(strategy="prior").fit(
        feature_frame(train_rows), train_rows[LABEL].astype(int)
    )
    baseline_proba = baseline.predict_proba(feature_frame(test_rows))[:, 1]

    champion_ref = find_alias(settings, settings.model.champion_alias)
    champion: float | None = None
    if champion_ref is not None:
        champion_proba = predict_proba(load_pipeline(settings, champion_ref), test_rows)
        champion = metric_value(metric, y_test, champion_proba)

    candidate = metric_value(metric, y_test, proba)
    if candidate is None:
        raise RegistryError("the holdout has a single class: the metric is undefined")
    evaluation = Evaluation(
        version=version,
        metric=metric,
        candidate=candidate,
        baseline=metric_value(metric, y_test, baseline_proba) or 0.0,
        champion=champion,
        champion_version=champion_ref.version if champion_ref else None,
        slices=slice_scores(settings, test_rows, proba),
        same_data=ref.tags.get("data_sha256") == data_hash(frame),
        holdout_rows=len(test_rows),
    )
    return judge(evaluation, settings.gate)
