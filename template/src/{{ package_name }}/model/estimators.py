"""The model seam: one factory keyed by family and task, so switching is a setting.

``APP_MODEL__ESTIMATOR=gradient_boosting`` (``model.estimator``) picks the family; each
family's hyperparameters are its own settings section (``[model.gradient_boosting]``).
Adding a family is one entry in ``FAMILIES`` (a builder and the hyperparameter it is tuned
on) plus its scorer in ``model/scorer.py``; the tests run over whatever is configured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sklearn.linear_model import LogisticRegression, Ridge

from ..data.schema import TASK
from ..settings import ModelSettings


def _linear(m: ModelSettings, task: str) -> Any:
    if task == "regression":
        return Ridge(alpha=1.0 / m.linear.c)
    return LogisticRegression(C=m.linear.c, max_iter=1000, random_state=m.seed)


def _lightgbm(m: ModelSettings, task: str, params: dict[str, Any]) -> Any:
    import lightgbm as lgb

    # One thread and deterministic histograms: the same data and seed give the same model.
    common: dict[str, Any] = {"random_state": m.seed, "n_jobs": 1, "verbose": -1}
    common |= {"deterministic": True, "force_row_wise": True}
    cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    return cls(**common, **params)


def _gradient_boosting(m: ModelSettings, task: str) -> Any:
    return _lightgbm(m, task, m.gradient_boosting.model_dump())


def _random_forest(m: ModelSettings, task: str) -> Any:
    p = m.random_forest
    params = {
        "boosting_type": "rf",
        "n_estimators": p.n_estimators,
        "num_leaves": p.num_leaves,
        "max_depth": p.max_depth,
        "min_child_samples": p.min_child_samples,
        "subsample": p.bagging_fraction,
        "subsample_freq": 1,
        "colsample_bytree": p.feature_fraction,
    }
    return _lightgbm(m, task, params)


@dataclass(frozen=True)
class Family:
    build: Callable[[ModelSettings, str], Any]
    tuned: str  # the hyperparameter the tuning test (ML Test Score model-3) sweeps
    grid: tuple[float, ...]


FAMILIES: dict[str, Family] = {
    "linear": Family(_linear, "c", (0.01, 0.1, 1.0, 10.0)),
    "gradient_boosting": Family(_gradient_boosting, "n_estimators", (25, 50, 100, 200, 400)),
    "random_forest": Family(_random_forest, "min_child_samples", (5, 10, 20, 40)),
}


def build_estimator(m: ModelSettings, task: str = TASK) -> Any:
    return FAMILIES[m.estimator].build(m, task)


def with_param(m: ModelSettings, value: float) -> ModelSettings:
    """A copy of the settings with the family's tuned hyperparameter set to ``value``."""
    family = FAMILIES[m.estimator]
    section = getattr(m, m.estimator)
    kind = type(getattr(section, family.tuned))
    return m.model_copy(
        update={m.estimator: section.model_copy(update={family.tuned: kind(value)})}
    )


def tuned_value(m: ModelSettings) -> float:
    return float(getattr(getattr(m, m.estimator), FAMILIES[m.estimator].tuned))
