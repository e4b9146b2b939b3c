"""The model a batch scores with, and the task's output columns (one function per concern).

The version comes from the registry: the batch alias (``champion``), another ``--alias`` or an
exact ``--version``. Every family scores through the serving scorer (model/scorer.py) on the
whole chunk at once: the same numbers as online, and the same explanations (exact linear
attribution or TreeSHAP).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from ..data.schema import FEATURES, KEY, TASK
from ..model.metrics import CLASSES, decide
from ..model.registry import ModelRef, RegistryError, find_alias, get_version, load_scorer
from ..model.scorer import Scorer, top_contributions_rows
from ..settings import Settings
from .errors import BatchError

META_COLUMNS = ("model_name", "model_version", "batch_id")
# A contract without a key: each output row names its input row by position (the local engine
# reads the input in order) or, where positions are unknown (Spark), by a hash of its values.
ROW, ROW_HASH = "row", "row_hash"
# Output columns whose values repeat (Parquet dictionary-encodes these only).
REPEATED = frozenset(META_COLUMNS) | ({"prediction"} if TASK != "regression" else set())


@dataclass(frozen=True)
class BatchModel:
    ref: ModelRef
    scorer: Scorer
    threshold: float


def model_ref(settings: Settings, alias: str | None, version: str | None) -> ModelRef:
    """The registry version to score with: ``--version``, else the alias (one-line errors)."""
    name = settings.model.name
    if version is not None:
        try:
            return get_version(settings, version)
        except RegistryError as exc:
            raise BatchError(str(exc)) from None
    alias = alias or settings.batch.alias
    found = find_alias(settings, alias)
    if found is None:
        raise BatchError(
            f"model '{name}' has no '{alias}' version in the registry; promote one first"
            " or pass --version"
        )
    return found


# A registered version's artifacts do not change: a process that runs several batches (a
# scheduler, a notebook, the tests) loads each version once. Keyed by the registry and the
# version's run, so another registry's or a re-registered "version 1" is loaded afresh.
_SCORERS: dict[tuple[str, ...], Scorer] = {}
_KEEP = 4


def load_model(settings: Settings, ref: ModelRef) -> BatchModel:
    """That version's pipeline as the serving scorer, with the one decision threshold."""
    registry = settings.mlflow.registry_uri or settings.mlflow.tracking_uri
    key = (settings.sqlite_abs(registry), ref.name, ref.version, ref.run_id)
    scorer = _SCORERS.get(key)
    if scorer is None:
        try:
            scorer = load_scorer(settings, ref)
        except ValueError as exc:  # a family without a fast scorer, or classes that moved
            raise BatchError(f"model '{ref.name}' version {ref.version}: {exc}") from None
        while len(_SCORERS) >= _KEEP:
            del _SCORERS[next(iter(_SCORERS))]  # the oldest
        _SCORERS[key] = scorer
    return BatchModel(ref, scorer, settings.model.decision_threshold)


def predict(model: BatchModel, frame: pa.Table, explain: bool) -> dict[str, pa.Array]:
    """The task's prediction columns for validated rows; the only place that knows the task.

    binary: ``probability`` of the positive class and ``prediction`` (the threshold decides);
    multiclass: ``prediction`` and one ``probability_<class>`` per class; regression: the value.
    ``explanation`` (JSON, the top contributions) for every family with ``explain``.
    """
    scores = model.scorer.score_frame(frame.select(FEATURES), explain=explain)
    decided = decide(scores.output, model.threshold)
    out: dict[str, pa.Array] = {}
    if TASK == "binary":
        out["probability"] = pa.array(scores.output.astype("float64"))
        out["prediction"] = label_array(decided)
    elif TASK == "multiclass":
        out["prediction"] = label_array(decided)
        for i, cls in enumerate(CLASSES or []):
            out[f"probability_{cls}"] = pa.array(scores.output[:, i].astype("float64"))
    else:
        out["prediction"] = pa.array(scores.output.astype("float64"))
    if explain:
        explanations = [json.dumps(t) for t in top_contributions_rows(scores.contributions)]
        out["explanation"] = pa.array(explanations, pa.large_string())
    return out


def label_array(decided: np.ndarray) -> pa.Array:
    """Decided labels in the contract's own values: integers stay integers, anything else
    (``"yes"``/``"no"``, class names) is text."""
    classes = CLASSES or []
    if all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in classes):
        return pa.array(decided.astype("int64"))
    return pa.array(decided.astype(str), pa.large_string())


def constant(value: str, n: int) -> pa.Array:
    """``n`` copies of one string as a one-value dictionary: no Python object per row, and
    Parquet writes the dictionary as it is (a plain string column is hashed row by row)."""
    indices = pa.array(np.zeros(n, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], pa.large_string()))


def output_table(
    model: BatchModel,
    accepted: pa.Table,
    batch_id: str,
    explain: bool,
    positions: np.ndarray | None = None,
) -> pa.Table:
    """One output row per scored row: key, predictions, model name and version, batch id.

    Without a key in the contract, the key is ``row`` (``positions``: each row's position in
    the input, from 0) or, when positions are not known, ``row_hash`` (of the row's values)."""
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    if KEY is not None:
        key = accepted[KEY]  # passed through: no copy when it is text already
        # Text whatever the table stores, as the API and the decision log take keys.
        if not pa.types.is_large_string(key.type):
            key = pa.array(key.to_pandas().astype("str")).cast(pa.large_string())
        columns[KEY] = key
    elif positions is not None:
        columns[ROW] = pa.array(np.asarray(positions, dtype=np.int64))
    else:
        hashed = pd.util.hash_pandas_object(accepted.to_pandas(), index=False)
        columns[ROW_HASH] = pa.array(hashed.to_numpy(dtype=np.uint64))
    columns |= predict(model, accepted, explain)
    return with_meta(pa.table(columns), model, batch_id)


def with_meta(table: pa.Table, model: BatchModel, batch_id: str) -> pa.Table:
    """``table`` with the model name, version and batch id columns (one value, every row)."""
    for name, value in zip(
        META_COLUMNS, (model.ref.name, model.ref.version, batch_id), strict=True
    ):
        table = table.append_column(name, constant(value, len(table)))
    return table
