"""Feature computation, shared by training and serving.

The fitted transformer is part of the registered model, so serving applies exactly the
transformation training learned; ``model/scorer.py`` compiles it to plain numpy.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .data.schema import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES


def build_transformer() -> ColumnTransformer:
    # Only the kinds the contract has: an empty group would stay unfitted.
    parts: list[tuple[str, Any, list[str]]] = []
    if NUMERIC_FEATURES:
        parts.append(("num", StandardScaler(), NUMERIC_FEATURES))
    if CATEGORICAL_FEATURES:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=float)
        parts.append(("cat", encoder, CATEGORICAL_FEATURES))
    return ColumnTransformer(parts, verbose_feature_names_out=False)


def feature_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Select the model inputs: PII, protected attributes, key and label never pass."""
    out: pd.DataFrame = frame[FEATURES].copy()
    for col in NUMERIC_FEATURES:
        out[col] = out[col].astype(float)
    return out
