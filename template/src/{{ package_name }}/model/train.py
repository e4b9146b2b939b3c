"""Training: fit the pipeline, log everything to MLflow, register a version, set the alias."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from ..data.lineage import content_hash, load_lineage
from ..data.schema import LABEL, SCHEMA_VERSION
from ..features import build_transformer, feature_frame
from ..settings import Settings
from .registry import configure, ensure_experiment

# Explicit requirements: MLflow's guessing costs seconds and picks up test tools.
PIP_REQUIREMENTS = ["scikit-learn", "pandas", "numpy", "scipy", "skops"]


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    version: str
    metrics: dict[str, float]


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


def evaluate(pipeline: Pipeline, x: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    proba = pipeline.predict_proba(x)[:, 1]
    pred = (proba >= 0.5).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "accuracy": float(accuracy_score(y, pred)),
        "f1": float(f1_score(y, pred)),
    }


def train(settings: Settings, frame: pd.DataFrame, alias: str = "champion") -> TrainResult:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    x = feature_frame(frame)
    y = frame[LABEL].astype(int)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=settings.model.test_size, random_state=settings.model.seed, stratify=y
    )
    pipeline = build_pipeline(settings)
    started = time.perf_counter()
    pipeline.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - started
    metrics = evaluate(pipeline, x_test, y_test) | {"fit_seconds": fit_seconds}

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
            }
        )
        mlflow.log_metrics(metrics)
        # Lineage of the training table (issue 3): attached only if it describes this frame.
        data_hash = content_hash(frame)
        mlflow.set_tag("data_hash", data_hash)
        lineage = load_lineage(settings)
        if lineage is not None and lineage.get("content_hash") == data_hash:
            mlflow.log_dict(lineage, "lineage.json")
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
    client.set_registered_model_alias(settings.model.name, alias, version)
    return TrainResult(run_id=run.info.run_id, version=version, metrics=metrics)


def predict_proba(pipeline: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(pipeline.predict_proba(feature_frame(frame))[:, 1])
