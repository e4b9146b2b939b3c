"""The model a batch scores with, and the task's output columns (one function per concern).

The version comes from the registry: the batch alias (``champion``), another ``--alias`` or an
exact ``--version``. Every family scores through the serving scorer (model/scorer.py) on the
whole chunk at once: the same numbers as online, and the same explanations (exact linear
attribution or TreeSHAP).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..data.schema import FEATURES, KEY, TASK
from ..model.metrics import CLASSES, decide
from ..model.registry import ModelRef, RegistryError, find_alias, get_version, load_pipeline
from ..model.scorer import Scorer, build_scorer, top_contributions_rows
from ..settings import Settings
from .errors import BatchError

META_COLUMNS = ("model_name", "model_version", "batch_id")


@dataclass(frozen=True)
class BatchModel:
    ref: ModelRef
    scorer: Scorer
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
    try:
        scorer = build_scorer(load_pipeline(settings, ref))
    except ValueError as exc:  # a family without a fast scorer, or classes that moved
        raise BatchError(f"model '{name}' version {ref.version}: {exc}") from None
    return BatchModel(ref, scorer, settings.model.decision_threshold)  # the one threshold


def predict(model: BatchModel, frame: pd.DataFrame, explain: bool) -> dict[str, Any]:
    """The task's prediction columns for validated rows; the only place that knows the task.

    binary: ``probability`` of the positive class and ``prediction`` (the threshold decides);
    multiclass: ``prediction`` and one ``probability_<class>`` per class; regression: the value.
    ``explanation`` (JSON, the top contributions) for every family with ``explain``.
    """
    scores = model.scorer.score_frame(frame[FEATURES])
    decided = decide(scores.output, model.threshold)
    out: dict[str, Any] = {}
    if TASK == "binary":
        out["probability"] = scores.output.astype("float64")
        out["prediction"] = decided.astype("int64")
    elif TASK == "multiclass":
        out["prediction"] = decided.astype(str)
        for i, cls in enumerate(CLASSES or []):
            out[f"probability_{cls}"] = scores.output[:, i].astype("float64")
    else:
        out["prediction"] = scores.output.astype("float64")
    if explain:
        out["explanation"] = [json.dumps(t) for t in top_contributions_rows(scores.contributions)]
    return out


def output_frame(
    model: BatchModel, accepted: pd.DataFrame, batch_id: str, explain: bool
) -> pd.DataFrame:
    """One output row per scored row: key, predictions, model name and version, batch id."""
    columns: dict[str, Any] = {}
    if KEY is not None:  # a contract without a key: rows are identified by their order only
        columns[KEY] = accepted[KEY].astype("str").to_numpy(dtype=object)
    columns |= predict(model, accepted, explain)
    frame = pd.DataFrame(columns, index=range(len(accepted)))
    if KEY is not None:
        frame[KEY] = frame[KEY].astype("str")
    for name, value in zip(
        META_COLUMNS, (model.ref.name, model.ref.version, batch_id), strict=True
    ):
        frame[name] = pd.Series(value, index=frame.index, dtype="str")
    return frame
