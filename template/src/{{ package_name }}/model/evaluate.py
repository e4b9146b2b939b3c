"""Measure a registered version for the gate: holdout metric, baseline, slices, champion.

Every model is scored on the same holdout: the split training used (same seed) of the
processed data that ``ingest`` wrote. The version's ``data_sha256`` tag shows whether that
is the data it was trained from; the gate refuses otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.schema import FEATURES, LABEL
from ..features import feature_frame
from ..settings import Settings
from . import metrics
from .gate import Evaluation, SliceScore, Verdict, judge
from .holdout import data_hash, predict, slice_metrics, split
from .registry import RegistryError, find_alias, get_version, load_pipeline


def processed_frame(settings: Settings) -> pd.DataFrame:
    """The training table `ingest` wrote (validated then; here only its columns are checked)."""
    path = settings.training_table
    if not path.exists():
        raise RegistryError(f"no processed data at {path}: run `ingest` (or `train`) first")
    frame = pd.read_parquet(path)
    missing = [c for c in [*FEATURES, LABEL] if c not in frame.columns]
    if missing:
        raise RegistryError(f"processed data {path}: missing columns {', '.join(missing)}")
    return frame


def slice_scores(
    settings: Settings, rows: pd.DataFrame, out_: np.ndarray, metric: str
) -> dict[str, dict[str, SliceScore]]:
    """Per gate slice column, each group's rows and metric (None under ``min_slice_rows``)."""
    missing = [c for c in settings.gate.slices if c not in rows.columns]
    if missing:
        raise RegistryError(f"setting APP_GATE__SLICES: column '{missing[0]}' is not in the data")
    threshold, min_rows = settings.model.decision_threshold, settings.gate.min_slice_rows
    out: dict[str, dict[str, SliceScore]] = {c: {} for c in settings.gate.slices}
    for s in slice_metrics(rows, out_, settings.gate.slices, metric, threshold, min_rows):
        out[s.column][s.value] = SliceScore(s.rows, s.metric)
    return out


def evaluate_version(
    settings: Settings, version: str, frame: pd.DataFrame | None = None
) -> Verdict:
    frame = processed_frame(settings) if frame is None else frame
    try:
        metric = metrics.gate_metric(settings.gate)
    except ValueError as exc:
        raise RegistryError(str(exc)) from None
    threshold = settings.model.decision_threshold
    train_rows, test_rows = split(settings.model, frame)
    y_test = metrics.label(test_rows)

    def score(out: np.ndarray) -> float | None:
        return metrics.metric_value(metric, y_test, out, threshold)

    ref = get_version(settings, version)
    out = predict(load_pipeline(settings, ref), test_rows)
    baseline = metrics.baseline(feature_frame(train_rows), metrics.label(train_rows))
    baseline_out = metrics.output(baseline, feature_frame(test_rows))

    champion_ref = find_alias(settings, settings.model.champion_alias)
    champion: float | None = None
    if champion_ref is not None:
        champion = score(predict(load_pipeline(settings, champion_ref), test_rows))

    candidate = score(out)
    if candidate is None:
        raise RegistryError(f"the holdout is degenerate (one class or value): {metric} undefined")
    evaluation = Evaluation(
        version=version,
        metric=metric,
        candidate=candidate,
        baseline=score(baseline_out) or 0.0,
        baseline_name=metrics.BASELINE,
        champion=champion,
        champion_version=champion_ref.version if champion_ref else None,
        slices=slice_scores(settings, test_rows, out, metric),
        same_data=ref.tags.get("data_sha256") == data_hash(frame),
        holdout_rows=len(test_rows),
    )
    return judge(evaluation, settings.gate)
