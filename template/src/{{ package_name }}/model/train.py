"""Training: fit the pipeline, log everything to MLflow, register a version, alias challenger.

A run records what is needed to audit and repeat it: parameters, metrics, the data lineage,
the git commit (and whether the tree was dirty), the data contract, an input example with
the signature, and a reference profile of the training features for drift checks. Training
is deterministic for a given seed and data: ``model_sha256`` fingerprints the whole fitted
pipeline. The estimator comes from ``model/estimators.py`` (family from settings), the
metrics from ``model/metrics.py`` (task from the contract).

`train` reads the training table `ingest` wrote (lineage describes it) instead of reading
the sources again; with no table yet it ingests first. A training part larger than
``model.max_train_rows`` is fitted on a sample of that size (stratified by class, or the most
recent rows when the contract has a time column); the holdout stays whole. The run records
the sample, how the holdout was taken (the time boundary when there is a time column) and a
learning curve (the metric at 25/50/100% of the sample) for the model card.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ..data.ingest import ingest
from ..data.lineage import code_version, content_hash, load_lineage
from ..data.schema import FEATURES, LABEL, SCHEMA_VERSION, TASK, TIME, PilotSchema
from ..features import build_transformer, feature_frame
from ..settings import ModelSettings, Settings
from . import metrics
from .estimators import build_estimator
from .holdout import data_hash, describe_split, split, split_text
from .profile import build_profile
from .registry import configure, ensure_experiment

# Explicit requirements: MLflow's guessing costs seconds and picks up test tools.
PIP_REQUIREMENTS = ["scikit-learn", "pandas", "numpy", "scipy", "skops", "lightgbm"]
PROFILE_ARTIFACT = "reference_profile.json"
CURVE_SHARES = (0.25, 0.5, 1.0)  # the learning curve's points, shares of the training sample
NULL_ROWS = 100_000  # the permutation null is fitted on at most this many training rows


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    version: str
    metrics: dict[str, float]
    fingerprint: str
    notes: tuple[str, ...] = ()  # for a person: the holdout, the sample, the learning curve


def build_pipeline(model: ModelSettings) -> Pipeline:
    return Pipeline([("features", build_transformer()), ("model", build_estimator(model))])


def holdout_metrics(
    model: ModelSettings, pipeline: Pipeline, rows: pd.DataFrame
) -> dict[str, float]:
    """Every reported metric of the pipeline on held-out rows."""
    out = metrics.output(pipeline, feature_frame(rows))
    return metrics.metrics_for(metrics.label(rows), out, model.decision_threshold)


def fingerprint(pipeline: Pipeline) -> str:
    """Hash of the whole fitted pipeline (every family): equal hashes mean identical models."""
    return hashlib.sha256(pickle.dumps(pipeline, protocol=5)).hexdigest()


def trusted_types(pipeline: Pipeline) -> list[str]:
    """Types skops must be told to load (LightGBM's): the pipeline is our own, just built."""
    import skops.io

    return list(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))


def git_state(settings: Settings) -> dict[str, str]:
    """Commit and dirty flag of the project checkout (no commit yet counts as dirty)."""
    version = code_version(settings.path("."))
    return {"git.sha": str(version["git_sha"]), "git.dirty": str(version["dirty"]).lower()}


def lineage(
    settings: Settings, frame: pd.DataFrame, content: str | None = None, sha: str | None = None
) -> dict[str, Any]:
    """The ingestion's lineage record if it describes these rows, plus the rows' own hashes."""
    record = load_lineage(settings)
    content = content_hash(frame) if content is None else content
    matches = record is not None and record.get("content_hash") == content
    return _with_record(record, matches, frame, sha)


def _with_record(
    record: dict[str, Any] | None, matches: bool, frame: pd.DataFrame, sha: str | None
) -> dict[str, Any]:
    return (record if record is not None and matches else {}) | {
        "ingest_lineage_matches": matches,
        "training_rows": len(frame),
        "training_sha256": data_hash(frame) if sha is None else sha,
    }


def contract_typed(x: pd.DataFrame) -> pd.DataFrame:
    """Feature rows in the contract's own dtypes (int columns as int64, where they hold no
    gap): the input example and signature a registered model is called with, so that
    ``mlflow.pyfunc`` accepts rows typed as the contract says (``long``, not ``double``)."""
    columns = PilotSchema.to_schema().columns
    out = x.copy()
    for name in FEATURES:
        kind = str(columns[name].dtype)
        if kind.startswith(("int", "Int")) and out[name].notna().all():
            out[name] = out[name].astype("int64")
    return out


def sample_training(
    model: ModelSettings, rows: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """The rows to fit on: all of them, or ``max_train_rows`` of them (stratified by class,
    or the most recent by time), with what was done for lineage and the model card."""
    n, limit = len(rows), model.max_train_rows
    if n <= limit:
        return rows, None
    if TIME is not None and TIME in rows.columns:
        order = np.argsort(pd.to_datetime(rows[TIME]).to_numpy(), kind="stable")
        sample, how = rows.iloc[order[n - limit :]], f"the {limit} most recent rows by {TIME}"
    else:
        from sklearn.model_selection import train_test_split

        strata = metrics.stratify(rows)
        sample, _ = train_test_split(
            rows, train_size=limit, random_state=model.seed, stratify=strata
        )
        how = f"{'a stratified' if strata is not None else 'a'} random sample of {limit} rows"
    return sample, {"rows": len(sample), "of": n, "how": how, "seed": model.seed}


@dataclass(frozen=True)
class Fitted:
    pipeline: Pipeline
    example: pd.DataFrame  # a few training rows in contract dtypes: input example, signature
    metrics: dict[str, float]
    profile: dict[str, Any]  # the training distribution drift is judged against
    split: dict[str, Any]  # how the holdout was taken (time boundary) and the sample fitted
    curve: dict[str, float]  # the gate metric at 25/50/100% of the training sample
    null: float | None  # the gate metric of the permutation null (``null_metric``)


def _shuffled(model: ModelSettings, y: pd.Series) -> pd.Series:
    rng = np.random.default_rng(model.seed)
    return pd.Series(rng.permutation(y.to_numpy()), index=y.index)


def learning_curve(
    settings: Settings,
    x_train: pd.DataFrame,
    y_train: pd.Series,
    test_rows: pd.DataFrame,
    full: float | None,
) -> dict[str, float]:
    """The gate metric on the holdout when fitting on the first 25% and 50% of the (shuffled,
    seeded) training sample, and at 100% (``full``, the model just fitted): rising at 100%
    says more rows would still help."""
    metric, threshold = metrics.gate_metric(settings.gate), settings.model.decision_threshold
    y_test, x_test = metrics.label(test_rows), feature_frame(test_rows)
    order = np.random.default_rng(settings.model.seed).permutation(len(x_train))
    curve: dict[str, float] = {}
    for share in CURVE_SHARES:
        if share == 1.0:
            value = full
        else:
            take = order[: max(2, int(len(order) * share))]
            y_part = y_train.iloc[take]
            if metrics.CLASSES is not None and y_part.nunique() < y_train.nunique():
                continue  # too few rows to hold every class: no point on the curve
            part = build_pipeline(settings.model).fit(x_train.iloc[take], y_part)
            value = metrics.metric_value(metric, y_test, metrics.output(part, x_test), threshold)
        if value is not None:
            curve[f"{int(share * 100)}pct"] = value
    return curve


def null_metric(
    settings: Settings,
    x_train: pd.DataFrame,
    y_train: pd.Series,
    test_rows: pd.DataFrame,
) -> float | None:
    """The gate metric, on the holdout, of the permutation null: the same estimator fitted on
    the same rows with the labels permuted (seeded by ``model.seed``).

    With few, strong features a model that learned nothing can still rank the holdout well
    by chance: its random direction leans on the real signal (on the demo, ROC AUC from 0.40
    to 0.62 across permutations), and the holdout alone cannot tell it from a weak real
    model. What can is the training procedure: the gate asks the model to clearly beat what
    the same procedure learns when the labels carry nothing.
    """
    if len(x_train) > NULL_ROWS:  # a random direction needs no more rows to show its reach
        rng = np.random.default_rng(settings.model.seed)
        keep = np.sort(rng.choice(len(x_train), NULL_ROWS, replace=False))
        x_train, y_train = x_train.iloc[keep], y_train.iloc[keep]
    null = build_pipeline(settings.model).fit(x_train, _shuffled(settings.model, y_train))
    metric, threshold = metrics.gate_metric(settings.gate), settings.model.decision_threshold
    out = metrics.output(null, feature_frame(test_rows))
    return metrics.metric_value(metric, metrics.label(test_rows), out, threshold)


def fit(settings: Settings, frame: pd.DataFrame, shuffle_labels: bool = False) -> Fitted:
    """Fit on the training part (sampled if too large), measure on the holdout, profile."""
    train_all, test_rows = split(settings.model, frame)
    train_rows, sample = sample_training(settings.model, train_all)
    x_train = feature_frame(train_rows)
    y_train = metrics.label(train_rows)
    if shuffle_labels:
        y_train = _shuffled(settings.model, y_train)
    pipeline = build_pipeline(settings.model)
    started = time.perf_counter()
    pipeline.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - started
    measured = holdout_metrics(settings.model, pipeline, test_rows) | {"fit_seconds": fit_seconds}
    threshold = settings.model.decision_threshold
    monitored = metrics.monitored(metrics.output(pipeline, x_train), threshold)
    profile = build_profile(x_train, monitored, settings.monitoring.bins)
    info = describe_split(train_all, test_rows) | {"sample": sample}
    full = measured.get(metrics.gate_metric(settings.gate))
    curve = learning_curve(settings, x_train, y_train, test_rows, full)
    # The drill is the permutation null itself (same rows, estimator and seeded permutation,
    # and fitting is deterministic): refitting it would give the same model.
    null = full if shuffle_labels else null_metric(settings, x_train, y_train, test_rows)
    example = contract_typed(train_rows[FEATURES].head(5))
    return Fitted(pipeline, example, measured, profile, info, curve, null)


def run_params(model: ModelSettings, rows: int, shuffle_labels: bool) -> dict[str, Any]:
    """What the run is a function of: the task, the estimator and its settings, the split."""
    family = model.estimator
    hyper = getattr(model, family).model_dump()
    return {
        "task": TASK,
        "estimator": family,
        **{f"{family}.{k}": v for k, v in hyper.items()},
        "seed": model.seed,
        "test_size": model.test_size,
        "max_train_rows": model.max_train_rows,
        "rows": rows,
        "schema_version": SCHEMA_VERSION,
        "shuffle_labels": shuffle_labels,
    }


def table_lineage(settings: Settings) -> dict[str, Any] | None:
    """The lineage record when it describes the training table as it is on disk: ingest
    writes the table, then the record (both atomically), so a table no newer than its record
    is the one the record hashed; the rows need no hashing again."""
    record = load_lineage(settings)
    table, written = settings.training_table, settings.lineage_file
    if record is None or not table.is_file() or not record.get("content_hash"):
        return None
    return record if table.stat().st_mtime <= written.stat().st_mtime else None


def train(
    settings: Settings,
    frame: pd.DataFrame,
    shuffle_labels: bool = False,
    described: dict[str, Any] | None = None,
) -> TrainResult:
    """Fit, log, register and alias challenger (never champion: only `promote` moves that).

    ``shuffle_labels`` is a drill: a model without signal, which the gate must refuse.
    """
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    fitted = fit(settings, frame, shuffle_labels)
    pipeline, example = fitted.pipeline, fitted.example
    model_sha = fingerprint(pipeline)
    # each hashed once per run; the ingested table's content hash is its lineage's
    sha = data_hash(frame)
    content = str(described["content_hash"]) if described else content_hash(frame)
    sample = fitted.split.get("sample")
    tags = git_state(settings) | {
        "model_sha256": model_sha,
        "data_sha256": sha,  # what the gate compares its holdout with
        "data_hash": content,  # the ingestion lineage's hash of the same rows
        "holdout": split_text(fitted.split),
        "train.sample": "all training rows" if sample is None else
        f"{sample['how']} of {sample['of']} training rows",
    }  # fmt: skip
    if fitted.split.get("kind") == "time":
        tags["holdout.boundary"] = str(fitted.split["boundary"])
    if shuffle_labels:
        tags["drill"] = "shuffled_labels"
    if fitted.null is not None:
        tags["null_metric"] = repr(fitted.null)  # read by the gate (model/evaluate.py)
    run_lineage = (
        _with_record(described, True, frame, sha)
        if described
        else lineage(settings, frame, content, sha)
    ) | {"holdout": fitted.split}
    curve = {f"learning_curve.{k}": v for k, v in fitted.curve.items()}
    if fitted.null is not None:
        curve["null_metric"] = fitted.null

    client = configure(settings)
    with mlflow.start_run(experiment_id=ensure_experiment(settings)) as run:
        mlflow.log_params(run_params(settings.model, len(frame), shuffle_labels))
        mlflow.log_metrics(fitted.metrics | curve)
        mlflow.set_tags(tags)
        mlflow.log_dict(run_lineage, settings.lineage_file.name)
        mlflow.log_dict(json.loads(PilotSchema.to_schema().to_json()), "schema.json")
        mlflow.log_dict(fitted.profile, PROFILE_ARTIFACT)
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            # the contract's dtypes in, the label's own values out (what pyfunc returns)
            signature=infer_signature(example, pipeline.predict(example)),
            input_example=example,
            pip_requirements=PIP_REQUIREMENTS,
            skops_trusted_types=trusted_types(pipeline),
            registered_model_name=settings.model.name,
        )
    version = str(info.registered_model_version)
    for key, value in tags.items():
        client.set_model_version_tag(settings.model.name, version, key, value)
    client.set_registered_model_alias(settings.model.name, settings.model.challenger_alias, version)
    notes: tuple[str, ...] = (f"holdout: {tags['holdout']}", f"fitted on: {tags['train.sample']}")
    if fitted.curve:
        points = ", ".join(f"{k.removesuffix('pct')}%: {v:.3f}" for k, v in fitted.curve.items())
        notes += (f"learning curve ({metrics.gate_metric(settings.gate)}): {points}",)
    return TrainResult(run.info.run_id, version, fitted.metrics, model_sha, notes)


def train_from_sources(settings: Settings, shuffle_labels: bool = False) -> TrainResult:
    """Ingest the enabled sources afresh, then ``train`` on the accepted rows (`retrain`)."""
    return train(settings, ingest(settings).frame, shuffle_labels=shuffle_labels)


def training_frame(settings: Settings) -> pd.DataFrame | None:
    """The training table `ingest` wrote, when lineage describes it; None: ingest first."""
    path = settings.training_table
    if not path.is_file() or load_lineage(settings) is None:
        return None
    frame = pd.read_parquet(path)
    if any(c not in frame.columns for c in [*FEATURES, LABEL]):
        return None  # written under another contract: ingest again
    return frame


def train_from_table(settings: Settings, shuffle_labels: bool = False) -> TrainResult:
    """The `train` stage: the ingested training table (ingesting first when there is none)."""
    frame = training_frame(settings)
    if frame is None:
        return train_from_sources(settings, shuffle_labels=shuffle_labels)
    described = table_lineage(settings)
    return train(settings, frame, shuffle_labels=shuffle_labels, described=described)
