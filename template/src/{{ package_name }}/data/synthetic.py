"""Deterministic synthetic customers: a realistic stand-in until the real sources are wired.

The label depends on the features through a known logistic model, so a trained model has
something real to learn, and a fixed seed always yields the same table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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
    churned = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
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
            "churned": churned,
            "event_ts": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 300 * 24, rows), "h"),
        }
    )
