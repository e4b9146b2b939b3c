"""The reference profile of the training data, logged with each run and compared in drift checks.

Numeric columns keep quantile bin edges with the share of rows per bin (for PSI) and a
bounded sample of values (for the KS test); categorical columns keep the share per category.
The model's output is profiled the same way, as its task says (``model/metrics.py``): the
positive probability and the predicted value as numbers, the predicted class as category
shares. The same functions bin the serving window, so both sides are counted identically.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data.schema import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from .metrics import OUTPUT_KIND

SAMPLE_SIZE = 2000
PREDICTION = "prediction"


def numeric_edges(values: np.ndarray, bins: int) -> list[float]:
    """Interior quantile edges; repeated edges (discrete columns) collapse into one bin."""
    quantiles = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return [float(x) for x in np.unique(quantiles)]


def bin_shares(values: np.ndarray, edges: Sequence[float]) -> list[float]:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return [float(c) for c in counts / max(len(values), 1)]


def category_shares(values: Sequence[Any] | pd.Series | np.ndarray) -> dict[str, float]:
    """Share per category (as text); counted on the values, then named, never a Python call
    per row."""
    counts = pd.Series(values).value_counts(normalize=True, dropna=False)
    shares: dict[str, float] = {}
    for k, v in counts[counts > 0].items():
        name = str(k)
        shares[name] = shares.get(name, 0.0) + float(v)
    return dict(sorted(shares.items()))


def numeric_profile(values: np.ndarray, bins: int) -> dict[str, Any]:
    values = np.asarray(values, dtype=float)
    edges = numeric_edges(values, bins)
    rng = np.random.default_rng(0)  # fixed: the same data always gives the same profile
    sample = values if len(values) <= SAMPLE_SIZE else rng.choice(values, SAMPLE_SIZE, False)
    return {
        "kind": "numeric",
        "edges": edges,
        "shares": bin_shares(values, edges),
        "sample": [round(float(v), 6) for v in np.sort(sample)],
    }


def build_profile(features: pd.DataFrame, outputs: Sequence[Any], bins: int) -> dict[str, Any]:
    profile: dict[str, Any] = {"rows": len(features), "features": {}}
    for col in NUMERIC_FEATURES:
        profile["features"][col] = numeric_profile(features[col].to_numpy(), bins)
    for col in CATEGORICAL_FEATURES:
        profile["features"][col] = {
            "kind": "categorical",
            "shares": category_shares(features[col]),
        }
    if OUTPUT_KIND == "class":
        profile[PREDICTION] = {"kind": "categorical", "shares": category_shares(outputs)}
    else:
        profile[PREDICTION] = numeric_profile(np.asarray(outputs, dtype=float), bins)
    return profile
