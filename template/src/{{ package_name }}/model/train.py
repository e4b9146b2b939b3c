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
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from ..data.lineage import code_version, content_hash, load_lineage
from ..data.schema import SCHEMA_VERSION, TASK, PilotSchema
from ..features import build_transformer, feature_frame
from ..settings import Settings
from . import metrics
from .estimators import build_estimator
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


def build_pipeline(settings: Settings) -> Pipeline:
    return Pipeline([("features", build_transformer()), ("model", build_estimator(settings.model))])


def split(settings: Settings, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and holdout rows; the gate judges every model on the same holdout."""
    train_rows, test_rows = train_test_split(
        frame,
        test_size=settings.model.test_size,
        random_state=settings.model.seed,
        stratify=metrics.stratify(frame),
    )
    return train_rows, test_rows


def evaluate(settings: Settings, pipeline: Pipeline, rows: pd.DataFrame) -> dict[str, float]:
    out = metrics.output(pipeline, feature_frame(rows))
    return metrics.metrics_for(metrics.label(rows), out, settings.model.decision_threshold)


def fingerprint(pipeline: Pipeline) -> str:
    """Hash of the whole fitted pipeline (every family): equal hashes mean identical models."""
    return hashlib.sha256(pickle.dumps(pipeline, protocol=5)).hexdigest()


def trusted_types(pipeline: Pipeline) -> list[str]:
    """Types skops must be told to load (LightGBM's): the pipeline is our own, just built."""
    import skops.io

    return list(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))


def data_hash(frame: pd.DataFrame) -> str:
    """Hash of the rows' text form: independent of row labels and of storage dtypes."""
    canonical = frame[sorted(frame.columns)].astype(str)
    hashed = pd.util.hash_pandas_object(canonical, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


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

    train_rows, test_rows = split(settings, frame)
    x_train = feature_frame(train_rows)
    y_train = metrics.label(train_rows)
    if shuffle_labels:
        rng = np.random.default_rng(settings.model.seed)
        y_train = pd.Series(rng.permutation(y_train.to_numpy()), index=y_train.index)
    pipeline = build_pipeline(settings)
    started = time.perf_counter()
    pipeline.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - started
    measured = evaluate(settings, pipeline, test_rows) | {"fit_seconds": fit_seconds}
    model_sha = fingerprint(pipeline)
    train_out = metrics.output(pipeline, x_train)
    profile = build_profile(
        x_train,
        metrics.monitored(train_out, settings.model.decision_threshold),
        settings.monitoring.bins,
    )
    tags = git_state(settings) | {
        "model_sha256": model_sha,
        "data_sha256": data_hash(frame),  # what the gate compares its holdout with
        "data_hash": content_hash(frame),  # the ingestion lineage's hash of the same rows
    }
    if shuffle_labels:
        tags["drill"] = "shuffled_labels"

    client = configure(settings)
    experiment_id = ensure_experiment(settings)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params(
            {
                "task": TASK,
                "estimator": settings.model.estimator,
                **{
                    f"{settings.model.estimator}.{k}": v
                    for k, v in getattr(settings.model, settings.model.estimator)
                    .model_dump()
                    .items()
                },
                "seed": settings.model.seed,
                "test_size": settings.model.test_size,
                "rows": len(frame),
                "schema_version": SCHEMA_VERSION,
                "shuffle_labels": shuffle_labels,
            }
        )
        mlflow.log_metrics(measured)
        mlflow.set_tags(tags)
        mlflow.log_dict(lineage(settings, frame), "lineage.json")
        mlflow.log_dict(json.loads(PilotSchema.to_schema().to_json()), "schema.json")
        mlflow.log_dict(profile, PROFILE_ARTIFACT)
        example = x_train.head(5)
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
    return TrainResult(run.info.run_id, version, measured, model_sha)


def predict(pipeline: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """The model's output for contract rows (``model/metrics.py`` says what it is per task)."""
    return metrics.output(pipeline, feature_frame(frame))
