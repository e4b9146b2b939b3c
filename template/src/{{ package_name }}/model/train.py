"""Training: fit the pipeline, log everything to MLflow, register a version, alias challenger.

A run records what is needed to audit and repeat it: parameters, metrics, the data lineage,
the git commit (and whether the tree was dirty), the data contract, an input example with
the signature, and a reference profile of the training features for drift checks. Training
is deterministic for a given seed and data: ``model_sha256`` fingerprints the fitted values.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from ..data.lineage import code_version, content_hash, load_lineage
from ..data.schema import LABEL, SCHEMA_VERSION, PilotSchema
from ..features import build_transformer, feature_frame
from ..monitoring.profile import build_profile
from ..settings import Settings
from .registry import configure, ensure_experiment

# Explicit requirements: MLflow's guessing costs seconds and picks up test tools.
PIP_REQUIREMENTS = ["scikit-learn", "pandas", "numpy", "scipy", "skops"]
PROFILE_ARTIFACT = "reference_profile.json"


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    version: str
    metrics: dict[str, float]
    fingerprint: str


def build_pipeline(settings: Settings) -> Pipeline:
    return Pipeline(
        [
            ("features", build_transformer()),
            (
                "model",
                LogisticRegression(
                    C=settings.model.c, max_iter=1000, random_state=settings.model.seed
                ),
            ),
        ]
    )


def split(settings: Settings, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and holdout rows; the gate judges every model on the same holdout."""
    train_rows, test_rows = train_test_split(
        frame,
        test_size=settings.model.test_size,
        random_state=settings.model.seed,
        stratify=frame[LABEL],
    )
    return train_rows, test_rows


def metrics_for(y: np.ndarray | pd.Series, proba: np.ndarray) -> dict[str, float]:
    pred = (proba >= 0.5).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "accuracy": float(accuracy_score(y, pred)),
        "f1": float(f1_score(y, pred, zero_division=0)),
    }


def evaluate(pipeline: Pipeline, x: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    return metrics_for(y, pipeline.predict_proba(x)[:, 1])


def fingerprint(pipeline: Pipeline) -> str:
    """Hash of every fitted number: equal fingerprints mean identical models."""
    scaler = pipeline.named_steps["features"].named_transformers_["num"]
    model = pipeline.named_steps["model"]
    digest = hashlib.sha256()
    for array in (scaler.mean_, scaler.scale_, model.coef_, model.intercept_):
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return digest.hexdigest()


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
    x_train, x_test = feature_frame(train_rows), feature_frame(test_rows)
    y_train, y_test = train_rows[LABEL].astype(int), test_rows[LABEL].astype(int)
    if shuffle_labels:
        rng = np.random.default_rng(settings.model.seed)
        y_train = pd.Series(rng.permutation(y_train.to_numpy()), index=y_train.index)
    pipeline = build_pipeline(settings)
    started = time.perf_counter()
    pipeline.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - started
    metrics = evaluate(pipeline, x_test, y_test) | {"fit_seconds": fit_seconds}
    model_sha = fingerprint(pipeline)
    profile = build_profile(
        x_train, pipeline.predict_proba(x_train)[:, 1], settings.monitoring.bins
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
                "model": "logistic_regression",
                "C": settings.model.c,
                "seed": settings.model.seed,
                "test_size": settings.model.test_size,
                "rows": len(frame),
                "schema_version": SCHEMA_VERSION,
                "shuffle_labels": shuffle_labels,
            }
        )
        mlflow.log_metrics(metrics)
        mlflow.set_tags(tags)
        mlflow.log_dict(lineage(settings, frame), "lineage.json")
        mlflow.log_dict(json.loads(PilotSchema.to_schema().to_json()), "schema.json")
        mlflow.log_dict(profile, PROFILE_ARTIFACT)
        example = x_train.head(5)
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=infer_signature(example, pipeline.predict_proba(example)[:, 1]),
            input_example=example,
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=settings.model.name,
        )
    version = str(info.registered_model_version)
    for key, value in tags.items():
        client.set_model_version_tag(settings.model.name, version, key, value)
    client.set_registered_model_alias(settings.model.name, settings.model.challenger_alias, version)
    return TrainResult(run.info.run_id, version, metrics, model_sha)


def predict_proba(pipeline: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(pipeline.predict_proba(feature_frame(frame))[:, 1])
