"""Feature computation, shared by training and serving.

The fitted transformer is part of the registered model, so serving applies exactly the
transformation training learned; ``model/scorer.py`` compiles it to plain numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .data.schema import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES


def _encoder(categories: list[np.ndarray] | str = "auto") -> OneHotEncoder:
    return OneHotEncoder(
        categories=categories, handle_unknown="ignore", sparse_output=False, dtype=float
    )


def build_transformer(categories: list[np.ndarray] | None = None) -> ColumnTransformer:
    """``categories``: each categorical feature's, as ``categories_present`` finds them (the
    encoder then learns nothing it has to scan every row for); by default, learned in fit."""
    # Only the kinds the contract has: an empty group would stay unfitted.
    parts: list[tuple[str, Any, list[str]]] = []
    if NUMERIC_FEATURES:
        parts.append(("num", StandardScaler(), NUMERIC_FEATURES))
    if CATEGORICAL_FEATURES:
        encoder = _encoder("auto" if categories is None else categories)
        parts.append(("cat", encoder, CATEGORICAL_FEATURES))
    return ColumnTransformer(parts, verbose_feature_names_out=False)


def categories_present(frame: pd.DataFrame) -> list[np.ndarray]:
    """The categories the one-hot encoder would learn from ``frame``, learned by the encoder
    itself from each column's distinct values: the same sorted values, gaps included, without
    sorting every row's text (about a second per 1.5M rows and two columns)."""
    found = []
    for name in CATEGORICAL_FEATURES:
        distinct = pd.DataFrame({name: pd.unique(frame[name])})  # hashed, or a code per row
        found.append(_encoder().fit(distinct).categories_[0])
    return found


def feature_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Select the model inputs: PII, protected attributes, key and label never pass."""
    out: pd.DataFrame = frame[FEATURES].copy()
    for col in NUMERIC_FEATURES:
        out[col] = out[col].astype(float)
    return out
