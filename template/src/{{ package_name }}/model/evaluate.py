"""Measure a registered version for the gate: holdout metric, baseline, slices, champion.

Every model is scored on the same holdout: the split training used (same seed, or the latest
rows by time; ``model/holdout.py``) of the processed data that ``ingest`` wrote. The
version's ``data_sha256`` tag (the content hash ``data/lineage.py`` defines, which
ingest records) shows whether that is the data it was trained from; the gate refuses otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..data.lineage import content_hash
from ..data.schema import FEATURES, LABEL
from ..features import feature_frame
from ..settings import Settings
from . import bootstrap, metrics
from .gate import Evaluation, SliceScore, Verdict, judge
from .holdout import (
    data_hash,
    describe_split,
    group_labels,
    legacy_data_hash,
    predict,
    split,
    split_text,
)
from .registry import RegistryError, find_alias, get_version, load_pipeline
from .train import table_lineage

MIN_CLASS_ROWS = 10  # rows of each class a group needs for its ranking metric to be judged


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
    """Per gate slice column, each group's figure with its bootstrap bounds (None under
    ``min_slice_rows``). Classification: the gate metric. Regression: the group's MAE and
    its mean residual less the overall mean residual, each relative to the model's overall
    MAE: a holdout that is biased as a whole (the latest rows by time, say) biases every
    group alike, which says nothing about any one group."""
    missing = [c for c in settings.gate.slices if c not in rows.columns]
    if missing:
        raise RegistryError(f"setting APP_GATE__SLICES: column '{missing[0]}' is not in the data")
    gate, threshold = settings.gate, settings.model.decision_threshold
    level, seed = gate.slice_confidence, settings.model.seed
    y_all = metrics.label(rows).to_numpy()
    residual = y_all - out_ if metrics.CLASSES is None else None
    overall_mae = float(np.mean(np.abs(residual))) if residual is not None else 0.0
    mean_residual = float(np.mean(residual)) if residual is not None else 0.0
    out: dict[str, dict[str, SliceScore]] = {c: {} for c in gate.slices}
    ranked = metric == "roc_auc"
    for column in gate.slices:
        labels = group_labels(rows[column])
        for group in sorted(set(labels.tolist())):
            mask = labels == group
            n = int(mask.sum())
            pairs = ranked_pairs(y_all[mask], out_[mask]) if ranked else None
            if n < gate.min_slice_rows or pairs == 0:
                out[column][group] = SliceScore(n, None)
            elif residual is None:
                f = bootstrap.metric_figure(metric, y_all[mask], out_[mask], threshold, level, seed)
                out[column][group] = SliceScore(n, f.value, f.low, f.high, pairs=pairs)
            elif overall_mae > 0:
                err = bootstrap.mean_figure(np.abs(residual[mask]) / overall_mae, level)
                offset = residual[mask] - mean_residual
                bias = bootstrap.mean_figure(offset / overall_mae, level)
                out[column][group] = SliceScore(
                    n, err.value, err.low, err.high, bias.value, bias.low, bias.high
                )
            else:  # a perfect model: no error to compare
                out[column][group] = SliceScore(n, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0)
    return out


def ranked_pairs(y: np.ndarray, scores: np.ndarray) -> int:
    """The pairs a group's ranking metric ranks (positive x negative rows), or 0 when its
    interval is not worth judging. It is undefined where every score is equal (a group that
    one of the model's own features defines, the only one, say, cannot be ranked inside,
    which says nothing about fairness). With fewer than ``MIN_CLASS_ROWS`` rows of a class,
    the bootstrap resamples the same few rows, and the interval is far narrower than the
    truth: one positive row ranks the same in every resample (MONICA's patients never
    hospitalized: 1,922 died, 3 lived)."""
    if np.ptp(scores) == 0:
        return 0
    counts = pd.Series(y).value_counts()
    if len(counts) != 2 or int(counts.min()) < MIN_CLASS_ROWS:
        return 0
    return int(counts.iloc[0] * counts.iloc[1])


def same_data(recorded: str | None, frame: pd.DataFrame, content: str | None = None) -> bool:
    """The version was trained on these rows. ``content``: their content hash when known
    (the lineage record of the table they were read from). The older hashes are computed only
    when it differs: versions registered by earlier 0.3.0 builds carry ``data_hash``, those of
    releases before 0.3.0 ``legacy_data_hash``; they still promote without a retrain."""
    if recorded is None:
        return False
    if recorded == (content_hash(frame) if content is None else content):
        return True
    return recorded == data_hash(frame) or recorded == legacy_data_hash(frame)


def not_comparable(pipeline: Any) -> str | None:
    """Why a registered model cannot be scored on this contract's holdout (None: it can): a
    champion trained before the contract changed (another table or label adopted) reads
    other columns, or predicts for another task or other classes."""
    missing = [str(c) for c in getattr(pipeline, "feature_names_in_", []) if c not in FEATURES]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        return f"it reads columns this contract does not have ({', '.join(missing[:3])}{more})"
    classes, known = getattr(pipeline, "classes_", None), metrics.CLASSES  # a regressor: none
    if (classes is None) != (known is None):
        return "it was trained for another task"
    if classes is not None and known is not None and any(c not in known for c in classes):
        return "it predicts classes this contract's label does not have"
    return None


def evaluate_version(
    settings: Settings, version: str, frame: pd.DataFrame | None = None
) -> Verdict:
    # the table's hash is its lineage record's when the record describes the table on disk
    described = table_lineage(settings) if frame is None else None
    content = str(described["content_hash"]) if described else None
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

    # regression reads the paired MAE skill (bootstrap.py says why), classification the lead
    # in the gate metric
    lead_metric = metric if metrics.CLASSES is not None else bootstrap.MAE_SKILL
    y = y_test.to_numpy()
    lead_low = bootstrap.lead_lower_bound(
        lead_metric, y, out, baseline_out, threshold, settings.gate.confidence, settings.model.seed
    )
    skill = bootstrap.lead(lead_metric, y, out, baseline_out, threshold)
    lead_name = "" if lead_metric == metric or skill is None else f"MAE skill {skill:.3f}"

    null_tag = ref.tags.get("null_metric")

    champion_ref = find_alias(settings, settings.model.champion_alias)
    champion: float | None = None
    foreign: str | None = None
    if champion_ref is not None:
        champion_pipeline = load_pipeline(settings, champion_ref)
        foreign = not_comparable(champion_pipeline)
        if foreign is None:
            champion = score(predict(champion_pipeline, test_rows))

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
        champion_foreign=foreign,
        slices=slice_scores(settings, test_rows, out, metric),
        same_data=same_data(ref.tags.get("data_sha256"), frame, content),
        holdout_rows=len(test_rows),
        lead_low=lead_low,
        lead_name=lead_name,
        confidence=settings.gate.confidence,
        slice_figure="metric" if metrics.CLASSES is not None else "error",
        holdout=split_text(describe_split(train_rows, test_rows)),
        null=float(null_tag) if null_tag else None,
    )
    return judge(evaluation, settings.gate)
