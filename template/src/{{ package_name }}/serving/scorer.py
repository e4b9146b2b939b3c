"""The registered pipeline compiled to numpy: one fast, exact path for scores and reasons.

A scikit-learn pipeline spends most of a one-row call in pandas and validation overhead.
The fitted parameters (scaler, one-hot categories, coefficients) are read once at load,
and scoring becomes a handful of numpy operations. ``tests/test_scorer.py`` proves the
compiled scores equal the pipeline's to floating-point precision.

Explanations are exact for this model family: a logistic regression's log-odds are the
intercept plus coefficient times transformed value, so each input column's contribution is
the sum of its transformed features' terms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ..data.schema import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES


@dataclass(frozen=True)
class Scores:
    probability: np.ndarray  # (n,)
    contributions: np.ndarray  # (n, len(FEATURES)) log-odds contribution per input column
    intercept: float


class CompiledScorer:
    def __init__(self, pipeline: Pipeline) -> None:
        transformer = pipeline.named_steps["features"]
        model = pipeline.named_steps["model"]
        scaler = transformer.named_transformers_["num"]
        encoder = transformer.named_transformers_["cat"]
        coef = np.asarray(model.coef_[0], dtype=float)
        n_num = len(NUMERIC_FEATURES)
        self.intercept = float(model.intercept_[0])
        self._mean = np.asarray(scaler.mean_, dtype=float)
        self._scale = np.asarray(scaler.scale_, dtype=float)
        self._num_coef = coef[:n_num]
        # For each categorical column: category -> its coefficient (unknown categories -> 0,
        # as the encoder's handle_unknown="ignore" gives an all-zero row).
        self._cat_weights: list[dict[str, float]] = []
        offset = n_num
        for cats in encoder.categories_:
            self._cat_weights.append({str(c): float(coef[offset + i]) for i, c in enumerate(cats)})
            offset += len(cats)

    def score(self, rows: Sequence[Mapping[str, Any]]) -> Scores:
        n = len(rows)
        num = np.array([[r[c] for c in NUMERIC_FEATURES] for r in rows], dtype=float).reshape(
            n, len(NUMERIC_FEATURES)
        )
        contrib = np.empty((n, len(FEATURES)))
        contrib[:, : len(NUMERIC_FEATURES)] = (num - self._mean) / self._scale * self._num_coef
        for j, (col, weights) in enumerate(
            zip(CATEGORICAL_FEATURES, self._cat_weights, strict=True)
        ):
            contrib[:, len(NUMERIC_FEATURES) + j] = [weights.get(str(r[col]), 0.0) for r in rows]
        logit = contrib.sum(axis=1) + self.intercept
        return Scores(1.0 / (1.0 + np.exp(-logit)), contrib, self.intercept)

    def score_frame(self, frame: pd.DataFrame) -> Scores:
        """``score`` for a whole frame at once, column by column (batch scoring)."""
        num = frame[NUMERIC_FEATURES].to_numpy(dtype=float)
        contrib = np.empty((len(frame), len(FEATURES)))
        contrib[:, : len(NUMERIC_FEATURES)] = (num - self._mean) / self._scale * self._num_coef
        for j, (col, weights) in enumerate(
            zip(CATEGORICAL_FEATURES, self._cat_weights, strict=True)
        ):
            mapped = frame[col].astype("str").map(weights)
            contrib[:, len(NUMERIC_FEATURES) + j] = mapped.fillna(0.0).to_numpy(dtype=float)
        logit = contrib.sum(axis=1) + self.intercept
        return Scores(1.0 / (1.0 + np.exp(-logit)), contrib, self.intercept)


def top_contributions(contrib_row: np.ndarray, k: int = 3) -> dict[str, float]:
    order = np.argsort(-np.abs(contrib_row))[:k]
    return {FEATURES[i]: round(float(contrib_row[i]), 6) for i in order}


def top_contributions_rows(contrib: np.ndarray, k: int = 3) -> list[dict[str, float]]:
    """``top_contributions`` for every row at once (one argsort for the whole batch)."""
    order = np.argsort(-np.abs(contrib), axis=1)[:, :k]
    values = np.round(np.take_along_axis(contrib, order, axis=1), 6).tolist()
    return [
        {FEATURES[i]: v for i, v in zip(idx, vals, strict=True)}
        for idx, vals in zip(order.tolist(), values, strict=True)
    ]
