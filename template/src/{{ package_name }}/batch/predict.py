"""The model a batch scores with, and the task's output columns (one function per concern).

The version comes from the registry: the batch alias (``champion``), another ``--alias`` or an
exact ``--version``. Binary logistic models score through the serving ``CompiledScorer``
(vectorised, exact, with explanations); other tasks use the registered pipeline itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data import schema as contract
from ..data.schema import FEATURES, KEY
from ..model.registry import ModelRef, RegistryError, find_alias, get_version, load_pipeline
from ..serving.scorer import CompiledScorer, top_contributions_rows
from ..settings import Settings
from .errors import BatchError

META_COLUMNS = ("model_name", "model_version", "batch_id")
# data/schema.py belongs to the user once the pilot exists (copier update skips it): a contract
# from before TASK existed is a binary one.
TASK: str = getattr(contract, "TASK", "binary")


@dataclass(frozen=True)
class BatchModel:
    ref: ModelRef
    pipeline: Any
    scorer: CompiledScorer | None  # binary logistic pipelines only
    threshold: float


def load_model(settings: Settings, alias: str | None, version: str | None) -> BatchModel:
    name = settings.model.name
    if version is not None:
        try:
            ref = get_version(settings, version)
        except RegistryError as exc:
            raise BatchError(str(exc)) from None
    else:
        alias = alias or settings.batch.alias
        found = find_alias(settings, alias)
        if found is None:
            raise BatchError(
                f"model '{name}' has no '{alias}' version in the registry; promote one first"
                " or pass --version"
            )
        ref = found
    pipeline = load_pipeline(settings, ref)
    scorer = None
    if TASK == "binary":
        try:
            scorer = CompiledScorer(pipeline)
        except (AttributeError, KeyError, IndexError):  # not a logistic pipeline: use it as is
            scorer = None
    return BatchModel(ref, pipeline, scorer, settings.batch.threshold)


def predict(model: BatchModel, frame: pd.DataFrame, explain: bool) -> dict[str, Any]:
    """The task's prediction columns for validated rows; the only place that knows the task.

    binary: ``probability`` of class 1 and ``prediction`` (1 from the threshold on);
    multiclass: ``prediction`` and one ``probability_<class>`` per class; regression: the value.
    """
    features = frame[FEATURES]
    n = len(features)  # a chunk whose rows were all quarantined still writes a (0-row) part
    out: dict[str, Any] = {}
    if TASK == "binary":
        if model.scorer is not None:
            scores = model.scorer.score_frame(features)
            probability = scores.probability
            if explain:
                out["explanation"] = [
                    json.dumps(t) for t in top_contributions_rows(scores.contributions)
                ]
        else:
            probability = _call(model.pipeline.predict_proba, features, (n, 2))[:, 1]
        out["probability"] = probability.astype("float64")
        out["prediction"] = (probability >= model.threshold).astype("int64")
    elif TASK == "multiclass":
        classes = list(model.pipeline.classes_)
        proba = _call(model.pipeline.predict_proba, features, (n, len(classes)))
        out["prediction"] = np.asarray(classes, dtype=object)[proba.argmax(axis=1)].astype(str)
        for i, cls in enumerate(classes):
            out[f"probability_{cls}"] = proba[:, i].astype("float64")
    elif TASK == "regression":
        out["prediction"] = _call(model.pipeline.predict, features, (n,))
    else:
        raise BatchError(f"data/schema.py: TASK {TASK!r} is not binary, multiclass or regression")
    if explain and "explanation" not in out:
        raise BatchError("--explain: explanations need a binary logistic model in this pilot")
    return out


def output_frame(
    model: BatchModel, accepted: pd.DataFrame, batch_id: str, explain: bool
) -> pd.DataFrame:
    """One output row per scored row: key, predictions, model name and version, batch id."""
    columns: dict[str, Any] = {KEY: accepted[KEY].astype("str").to_numpy(dtype=object)}
    columns |= predict(model, accepted, explain)
    frame = pd.DataFrame(columns)
    frame[KEY] = frame[KEY].astype("str")
    for name, value in zip(
        META_COLUMNS, (model.ref.name, model.ref.version, batch_id), strict=True
    ):
        frame[name] = pd.Series(value, index=frame.index, dtype="str")
    return frame


def _call(method: Any, features: pd.DataFrame, shape: tuple[int, ...]) -> np.ndarray:
    # scikit-learn refuses zero rows; an empty chunk gets empty columns of the right shape.
    if shape[0] == 0:
        return np.empty(shape, dtype="float64")
    return np.asarray(method(features), dtype="float64")
