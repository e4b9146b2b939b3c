"""Deterministic synthetic customers: a realistic stand-in until the real sources are wired.

The features are the same for every task; the label follows the contract's ``TASK``: churn
(binary, a known logistic model), the next action (multiclass, a known multinomial model) or
next year's spend (regression, linear plus noise). A trained model has something real to
learn, and a fixed seed always yields the same table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .schema import LABEL, TASK


def _multiclass(
    draw: np.ndarray,
    age: np.ndarray,
    tenure: np.ndarray,
    spend: np.ndarray,
    tickets: np.ndarray,
    plan: np.ndarray,
    region: np.ndarray,
) -> np.ndarray:
    """cancel: short tenure and many tickets; downgrade: paying more than the plan is worth."""
    cancel = -0.06 * (tenure - 60) + 0.8 * (tickets - 1.5) - 0.01 * (age - 48)
    cancel += np.where(plan == "basic", 0.4, 0.0) + np.where(region == "south", 0.4, 0.0)
    downgrade = 0.04 * (spend - 70) - 0.04 * (age - 48)
    downgrade += np.where(plan == "premium", 0.4, 0.0) + np.where(region == "north", 0.4, 0.0)
    logits = 4.0 * np.column_stack([cancel, downgrade, np.zeros(len(draw))])
    cumulative = np.cumsum(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), axis=1)
    names = np.array(["cancel", "downgrade", "stay"])
    picked: np.ndarray = names[(draw[:, None] > cumulative).sum(axis=1).clip(max=2)]
    return picked


def generate(rows: int, seed: int = 42, start: str = "2026-01-01") -> pd.DataFrame:
    # The demo contract's category sets; imported here, as an adopted contract has none.
    from .schema import GENDERS, PLANS, REGIONS  # type: ignore[attr-defined,unused-ignore]

    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    tenure = rng.integers(0, 120, rows)
    plan = rng.choice(PLANS, rows, p=[0.5, 0.35, 0.15])
    region = rng.choice(REGIONS, rows)
    spend = np.round(
        rng.gamma(2.0, 30.0, rows)
        + np.select([plan == "standard", plan == "premium"], [20.0, 60.0], 0.0),
        2,
    )
    tickets = rng.poisson(1.5, rows)
    logit = (
        -0.5
        - 0.03 * tenure
        + 0.45 * tickets
        + 0.004 * spend
        - 0.01 * (age - 40)
        + np.where(plan == "basic", 0.6, 0.0)
        + np.where(region == "south", 0.3, 0.0)
    )
    draw = rng.random(rows)
    if TASK == "binary":
        label: np.ndarray = (draw < 1.0 / (1.0 + np.exp(-1.2 * logit))).astype(int)
    elif TASK == "multiclass":
        label = _multiclass(draw, age, tenure, spend, tickets, plan, region)
    else:  # the noise is drawn here, after `draw`, so every task sees the same features
        noise = rng.normal(0.0, 200.0, rows)
        value = 12.0 * spend + 8.0 * tenure - 60.0 * tickets - 3.0 * (age - 40)
        value = value + np.where(plan == "basic", -120.0, 0.0)
        value = value + np.where(region == "south", -80.0, 0.0)
        value = value + noise
        label = np.round(np.clip(value, 0.0, 100_000.0), 2)
    ids = np.arange(1, rows + 1)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in ids],
            "email": [f"customer{i}@example.com" for i in ids],
            "age": age,
            "tenure_months": tenure,
            "monthly_spend": spend,
            "support_tickets": tickets,
            "plan": plan,
            "region": region,
            "gender": rng.choice(GENDERS, rows, p=[0.48, 0.47, 0.03, 0.02]),
            LABEL: label,
            "event_ts": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 300 * 24, rows), "h"),
        }
    )
