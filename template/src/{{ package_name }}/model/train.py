"""Training: fit the pipeline, log everything to MLflow, register a version, alias challenger.

A run records what is needed to audit and repeat it: parameters, metrics, the data lineage,
the git commit (and whether the tree was dirty), the data contract, an input example with
the signature, and a reference profile of the training features for drift checks. Training
is deterministic for a given seed and data: ``model_sha256`` fingerprints the whole fitted
pipeline. The estimator comes from ``model/estimators.py`` (family from settings), the
metrics from ``model/metrics.py`` (task from the contract).
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
from ..data.schema import SCHEMA_VERSION, TASK, PilotSchema
from ..features import build_transformer, feature_frame
from ..settings import ModelSettings, Settings
from . import metrics
from .estimators import build_estimator
from .holdout import data_hash, split
from .profile import build_profile
from .registry import configure, ensure_experiment

# Explicit requirements: MLflow's guessing costs seconds and picks up test tools.
PIP_REQUIREMENTS = ["scikit-learn", "pandas", "numpy", "scipy", "skops", "lightgbm"]
PROFILE_ARTIFACT = "reference_profile.json"


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    version: str
    metrics: dict[str, float]
    fingerprint: str


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


def lineage(settings: Settings, frame: pd.DataFrame) -> dict[str, Any]:
    """The ingestion's lineage record if it describes these rows, plus the rows' own hashes."""
    record = load_lineage(settings)
    matches = record is not None and record.get("content_hash") == content_hash(frame)
    return (record if record is not None and matches else {}) | {
        "ingest_lineage_matches": matches,
        "training_rows": len(frame),
        "training_sha256": data_hash(frame),
    }


@dataclass(frozen=True)
class Fitted:
    pipeline: Pipeline
    example: pd.DataFrame  # a few training rows: the logged input example and signature
    metrics: dict[str, float]
    profile: dict[str, Any]  # the training distribution drift is judged against


def fit(settings: Settings, frame: pd.DataFrame, shuffle_labels: bool = False) -> Fitted:
    """Fit on the training part, measure on the holdout, profile the training features."""
    train_rows, test_rows = split(settings.model, frame)
    x_train = feature_frame(train_rows)
    y_train = metrics.label(train_rows)
    if shuffle_labels:
        rng = np.random.default_rng(settings.model.seed)
        y_train = pd.Series(rng.permutation(y_train.to_numpy()), index=y_train.index)
    pipeline = build_pipeline(settings.model)
    started = time.perf_counter()
    pipeline.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - started
    measured = holdout_metrics(settings.model, pipeline, test_rows) | {"fit_seconds": fit_seconds}
    threshold = settings.model.decision_threshold
    monitored = metrics.monitored(metrics.output(pipeline, x_train), threshold)
    profile = build_profile(x_train, monitored, settings.monitoring.bins)
    return Fitted(pipeline, x_train.head(5), measured, profile)


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
        "rows": rows,
        "schema_version": SCHEMA_VERSION,
        "shuffle_labels": shuffle_labels,
    }


def train(
    settings: Settings,
    frame: pd.DataFrame,
    shuffle_labels: bool = False,
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
    tags = git_state(settings) | {
        "model_sha256": model_sha,
        "data_sha256": data_hash(frame),  # what the gate compares its holdout with
        "data_hash": content_hash(frame),  # the ingestion lineage's hash of the same rows
    }
    if shuffle_labels:
        tags["drill"] = "shuffled_labels"

    client = configure(settings)
    with mlflow.start_run(experiment_id=ensure_experiment(settings)) as run:
        mlflow.log_params(run_params(settings.model, len(frame), shuffle_labels))
        mlflow.log_metrics(fitted.metrics)
        mlflow.set_tags(tags)
        mlflow.log_dict(lineage(settings, frame), settings.lineage_file.name)
        mlflow.log_dict(json.loads(PilotSchema.to_schema().to_json()), "schema.json")
        mlflow.log_dict(fitted.profile, PROFILE_ARTIFACT)
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=infer_signature(example, metrics.output(pipeline, example)),
            input_example=example,
            pip_requirements=PIP_REQUIREMENTS,
            skops_trusted_types=trusted_types(pipeline),
            registered_model_name=settings.model.name,
        )
    version = str(info.registered_model_version)
    for key, value in tags.items():
        client.set_model_version_tag(settings.model.name, version, key, value)
    client.set_registered_model_alias(settings.model.name, settings.model.challenger_alias, version)
    return TrainResult(run.info.run_id, version, fitted.metrics, model_sha)


def train_from_sources(settings: Settings, shuffle_labels: bool = False) -> TrainResult:
    """The `train` stage: ingest the enabled sources, then ``train`` on the accepted rows."""
    return train(settings, ingest(settings).frame, shuffle_labels=shuffle_labels)
